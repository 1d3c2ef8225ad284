package virtio

import "gvmm/vmm"

// Device is one virtio device type (§5) behind a transport. The transport
// calls it from vCPU goroutines; implementations lock their own state.
type Device interface {
	// Type returns the virtio device ID.
	Type() DeviceType
	// Features returns the device-specific feature bits offered (bits
	// 0-23 and the ones the device implements among 24-40); the
	// transport adds VIRTIO_F_VERSION_1 and the ring features it handles.
	Features() uint64
	// QueueMaxSizes returns the maximum size of each queue; its length is
	// the number of queues.
	QueueMaxSizes() []uint16
	// ConfigSize returns the size of the device configuration structure.
	ConfigSize() uint64
	// ReadConfig and WriteConfig access the device configuration
	// (§4.1.4.6); off+len(data) <= ConfigSize().
	ReadConfig(off uint64, data []byte)
	WriteConfig(off uint64, data []byte)
	// Activate starts the device when the driver sets DRIVER_OK.
	Activate(a Activation) error
	// Notify tells the device the driver added buffers to queue i.
	Notify(queue int)
	// Reset stops the device (driver reset, or VM teardown). When it
	// returns the device no longer touches guest memory or its queues.
	Reset()
}

// Activation is what an active device works with.
type Activation struct {
	Mem *vmm.GuestMemory
	// Features are the negotiated feature bits.
	Features uint64
	// Queues has one entry per queue; nil for a queue the driver did not
	// enable.
	Queues []*Queue
	// Signal reports back to the transport.
	Signal Signal
}

// Signal is the device's way back to the driver.
type Signal interface {
	// UsedBuffers raises the queue interrupt (ISR bit 0) after the device
	// pushed used buffers to q, unless the driver suppressed it.
	UsedBuffers(q *Queue)
	// ConfigChanged bumps config_generation and raises the configuration
	// change interrupt (ISR bit 1).
	ConfigChanged()
	// Fail reports a driver error that breaks the device: it logs err and
	// sets DEVICE_NEEDS_RESET. The device stops using its queues.
	Fail(err error)
}
