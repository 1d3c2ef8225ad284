package virtio

import (
	"encoding/binary"
	"fmt"
	"log/slog"
)

// struct virtio_pci_common_cfg, §4.1.4.3. Offsets of its fields:
const (
	ccDeviceFeatureSelect = 0x00 // le32
	ccDeviceFeature       = 0x04 // le32, read-only
	ccDriverFeatureSelect = 0x08 // le32
	ccDriverFeature       = 0x0c // le32
	ccConfigMSIXVector    = 0x10 // le16
	ccNumQueues           = 0x12 // le16, read-only
	ccDeviceStatus        = 0x14 // u8
	ccConfigGeneration    = 0x15 // u8, read-only
	ccQueueSelect         = 0x16 // le16
	ccQueueSize           = 0x18 // le16
	ccQueueMSIXVector     = 0x1a // le16
	ccQueueEnable         = 0x1c // le16
	ccQueueNotifyOff      = 0x1e // le16, read-only
	ccQueueDesc           = 0x20 // le64
	ccQueueDriver         = 0x28 // le64
	ccQueueDevice         = 0x30 // le64
	commonCfgSize         = 0x38

	// noMSIXVector (VIRTIO_MSI_NO_VECTOR): no MSI-X vector for this
	// event, what the vector registers read after reset or when the
	// driver asked for a vector the table does not have.
	noMSIXVector = 0xffff
)

// queueRegs is the driver-programmed state of one queue.
type queueRegs struct {
	maxSize uint16
	cfg     QueueConfig
	enabled bool
	q       *Queue // validated at enable
}

// commonCfg is the state behind the common configuration structure.
type commonCfg struct {
	deviceFeatureSel, driverFeatureSel uint32
	driverFeatures                     uint64
	status                             uint8
	queueSel                           uint16
	queues                             []queueRegs
	active                             bool // device activated
}

// reset returns the registers to their power-on values (§2.4).
func (c *commonCfg) reset(maxSizes []uint16) {
	*c = commonCfg{queues: make([]queueRegs, len(maxSizes))}
	for i, m := range maxSizes {
		c.queues[i] = queueRegs{maxSize: m, cfg: QueueConfig{Size: m}}
	}
}

// selected returns the queue queue_select points at, or nil.
func (c *commonCfg) selected() *queueRegs {
	if int(c.queueSel) < len(c.queues) {
		return &c.queues[c.queueSel]
	}
	return nil
}

// readCommon serves a read of the common configuration.
func (t *Transport) readCommon(off uint64, data []byte) {
	if off >= commonCfgSize || uint64(len(data)) > commonCfgSize-off {
		return
	}
	var img [commonCfgSize]byte
	t.mu.Lock()
	c := &t.cc
	le := binary.LittleEndian
	le.PutUint32(img[ccDeviceFeatureSelect:], c.deviceFeatureSel)
	if c.deviceFeatureSel < 2 {
		le.PutUint32(img[ccDeviceFeature:], uint32(t.offered>>(32*c.deviceFeatureSel)))
	}
	le.PutUint32(img[ccDriverFeatureSelect:], c.driverFeatureSel)
	if c.driverFeatureSel < 2 {
		le.PutUint32(img[ccDriverFeature:], uint32(c.driverFeatures>>(32*c.driverFeatureSel)))
	}
	le.PutUint16(img[ccNumQueues:], uint16(len(c.queues)))
	img[ccDeviceStatus] = c.status
	le.PutUint16(img[ccQueueSelect:], c.queueSel)
	// §4.1.4.3.2: an unavailable queue reads queue_size 0.
	if q := c.selected(); q != nil {
		le.PutUint16(img[ccQueueSize:], q.cfg.Size)
		if q.enabled {
			le.PutUint16(img[ccQueueEnable:], 1)
		}
		le.PutUint16(img[ccQueueNotifyOff:], c.queueSel)
		le.PutUint64(img[ccQueueDesc:], q.cfg.DescAddr)
		le.PutUint64(img[ccQueueDriver:], q.cfg.DriverAddr)
		le.PutUint64(img[ccQueueDevice:], q.cfg.DeviceAddr)
	}
	sel := c.queueSel
	t.mu.Unlock()
	t.irqMu.Lock()
	img[ccConfigGeneration] = t.configGen
	le.PutUint16(img[ccConfigMSIXVector:], t.configVector)
	qv := uint16(noMSIXVector)
	if int(sel) < len(t.queueVectors) {
		qv = t.queueVectors[sel]
	}
	le.PutUint16(img[ccQueueMSIXVector:], qv)
	if t.needsReset {
		img[ccDeviceStatus] |= StatusDeviceNeedsReset
	}
	t.irqMu.Unlock()
	copy(data, img[off:])
}

// writeCommon serves a write of the common configuration. Fields are
// written with their natural width; 64-bit fields also as two 32-bit
// halves (§4.1.3.1). Other accesses are ignored.
func (t *Transport) writeCommon(off uint64, data []byte) {
	var v uint64
	for i := len(data) - 1; i >= 0; i-- {
		v = v<<8 | uint64(data[i])
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &t.cc
	switch w := len(data); {
	case off == ccDeviceFeatureSelect && w == 4:
		c.deviceFeatureSel = uint32(v)
	case off == ccDriverFeatureSelect && w == 4:
		c.driverFeatureSel = uint32(v)
	case off == ccDriverFeature && w == 4:
		t.writeDriverFeatures(uint32(v))
	case off == ccDeviceStatus && w == 1:
		t.writeStatus(uint8(v))
	case off == ccQueueSelect && w == 2:
		c.queueSel = uint16(v)
	case off == ccQueueSize && w == 2:
		if q := t.writableQueue("queue_size"); q != nil {
			q.cfg.Size = uint16(v)
		}
	case off == ccQueueEnable && w == 2:
		t.enableQueue(uint16(v))
	case off >= ccQueueDesc && off < commonCfgSize && (w == 8 || w == 4 && off%4 == 0):
		t.writeQueueAddr(off, w, v)
	case off == ccConfigMSIXVector && w == 2:
		t.irqMu.Lock()
		t.configVector = t.mapVector(uint16(v))
		t.irqMu.Unlock()
	case off == ccQueueMSIXVector && w == 2:
		if int(c.queueSel) < len(c.queues) {
			t.irqMu.Lock()
			t.queueVectors[c.queueSel] = t.mapVector(uint16(v))
			t.irqMu.Unlock()
		}
	default:
		slog.Debug("virtio: ignored common config write", "device", t.name, "off", off, "width", w)
	}
}

// writeDriverFeatures stores one word of driver_feature. After
// FEATURES_OK the driver may not change its features (§3.1.1).
//
// Precondition: t.mu held.
func (t *Transport) writeDriverFeatures(v uint32) {
	c := &t.cc
	if c.status&StatusFeaturesOK != 0 || c.driverFeatureSel > 1 {
		return
	}
	shift := 32 * c.driverFeatureSel
	c.driverFeatures = c.driverFeatures&^(0xffff_ffff<<shift) | uint64(v)<<shift
}

// writableQueue returns the selected queue if its registers may change:
// it exists and is not yet enabled.
//
// Precondition: t.mu held.
func (t *Transport) writableQueue(field string) *queueRegs {
	q := t.cc.selected()
	if q == nil || q.enabled {
		slog.Debug("virtio: write to a missing or enabled queue ignored", "device", t.name, "field", field, "queue", t.cc.queueSel)
		return nil
	}
	return q
}

// writeQueueAddr writes queue_desc, queue_driver or queue_device, whole
// or one 32-bit half.
//
// Precondition: t.mu held.
func (t *Transport) writeQueueAddr(off uint64, width int, v uint64) {
	q := t.writableQueue("queue address")
	if q == nil {
		return
	}
	field := off &^ 7
	var p *uint64
	switch field {
	case ccQueueDesc:
		p = &q.cfg.DescAddr
	case ccQueueDriver:
		p = &q.cfg.DriverAddr
	default:
		p = &q.cfg.DeviceAddr
	}
	switch {
	case width == 8:
		*p = v
	case off == field:
		*p = *p&^0xffff_ffff | v&0xffff_ffff
	default:
		*p = *p&0xffff_ffff | v<<32
	}
}

// enableQueue handles queue_enable = 1: the queue's configuration is
// validated now, once (§4.1.4.3.2; the driver MUST configure the queue
// before enabling it and after FEATURES_OK, §3.1.1 step 7).
//
// Precondition: t.mu held.
func (t *Transport) enableQueue(v uint16) {
	c := &t.cc
	q := c.selected()
	switch {
	case v != 1:
		slog.Debug("virtio: queue_enable write of a value other than 1 ignored", "device", t.name, "value", v)
		return
	case q == nil:
		t.fail(fmt.Errorf("%w: enable of queue %d, the device has %d", ErrQueueConfig, c.queueSel, len(c.queues)))
		return
	case c.status&StatusFeaturesOK == 0:
		t.fail(fmt.Errorf("%w: queue %d enabled before FEATURES_OK", ErrQueueConfig, c.queueSel))
		return
	case q.enabled || c.status&StatusDriverOK != 0:
		return
	}
	nq, err := NewQueue(t.mem, q.cfg, q.maxSize, c.driverFeatures&FeatureIndirectDesc != 0)
	if err != nil {
		t.fail(fmt.Errorf("queue %d: %w", c.queueSel, err))
		return
	}
	q.enabled, q.q = true, nq
}
