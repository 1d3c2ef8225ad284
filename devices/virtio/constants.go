package virtio

// Device status bits, virtio 1.2 §2.1.
const (
	StatusAcknowledge      = 1
	StatusDriver           = 2
	StatusDriverOK         = 4
	StatusFeaturesOK       = 8
	StatusDeviceNeedsReset = 64
	StatusFailed           = 128
)

// Feature bits independent of the device type, §6.
const (
	// FeatureIndirectDesc: the driver may use indirect descriptor tables
	// (§2.7.5.3).
	FeatureIndirectDesc = 1 << 28
	// FeatureEventIdx: used_event/avail_event notification suppression
	// (§2.7.7, §2.7.10). Not offered by gvmm.
	FeatureEventIdx = 1 << 29
	// FeatureVersion1 marks a virtio 1.x device; gvmm only speaks 1.x
	// and refuses FEATURES_OK without it (§6.1).
	FeatureVersion1 = 1 << 32
)

// DeviceType is a virtio device ID, §5.
type DeviceType uint16

// Device types gvmm implements.
const (
	DeviceTypeNet     DeviceType = 1
	DeviceTypeBlock   DeviceType = 2
	DeviceTypeConsole DeviceType = 3
)

// Split virtqueue layout, §2.7.
const (
	// MaxQueueSize is the largest queue size the split ring allows
	// (§2.7: "Queue Size ... maximum is 32768").
	MaxQueueSize = 32768

	descSize       = 16 // struct virtq_desc: le64 addr, le32 len, le16 flags, le16 next
	descAlign      = 16 // §2.7, table "Virtqueue Part Alignment"
	availAlign     = 2
	usedAlign      = 4
	ringHeaderSize = 4 // le16 flags, le16 idx
	availElemSize  = 2 // le16 ring[]
	usedElemSize   = 8 // struct virtq_used_elem: le32 id, le32 len

	// DescFlagNext, DescFlagWrite, DescFlagIndirect are virtq_desc.flags,
	// §2.7.5.
	DescFlagNext     = 1
	DescFlagWrite    = 2
	DescFlagIndirect = 4

	// availFlagNoInterrupt: the driver asks not to be interrupted
	// (§2.7.7, without VIRTIO_F_EVENT_IDX).
	availFlagNoInterrupt = 1

	// maxIndirectDescs bounds an indirect table (its length is guest
	// supplied; Linux uses at most a few dozen entries).
	maxIndirectDescs = 1024
)

// ISR status bits, §4.1.4.5.
const (
	ISRQueue  = 1 << 0
	ISRConfig = 1 << 1
)
