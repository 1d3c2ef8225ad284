package virtiotest

import (
	"encoding/binary"
	"errors"
	"fmt"

	"gvmm/devices"
	"gvmm/devices/pci"
	"gvmm/devices/virtio"
	"gvmm/vmm"
)

// Offsets in struct virtio_pci_common_cfg (§4.1.4.3), from the driver's
// side.
const (
	DeviceFeatureSelect = 0x00
	DeviceFeature       = 0x04
	DriverFeatureSelect = 0x08
	DriverFeature       = 0x0c
	NumQueues           = 0x12
	DeviceStatus        = 0x14
	ConfigGeneration    = 0x15
	QueueSelect         = 0x16
	QueueSize           = 0x18
	QueueEnable         = 0x1c
	QueueNotifyOff      = 0x1e
	QueueDesc           = 0x20
	QueueDriver         = 0x28
	QueueDevice         = 0x30
)

// ErrFeaturesRefused is returned by Negotiate when the device clears
// FEATURES_OK.
var ErrFeaturesRefused = errors.New("device refused the features (FEATURES_OK not set)")

// Driver is a virtio-pci driver double. Not safe for concurrent use.
type Driver struct {
	Mem  *vmm.GuestMemory
	fn   *pci.Function
	mmio *devices.Bus

	// Absolute guest addresses of the structures the capabilities name.
	Common, ISR, DeviceCfg, Notify uint64
	notifyMul                      uint32

	next uint64 // bump allocator over [allocStart, allocEnd)

	// Line is the device's interrupt line, if the driver knows it
	// (Machine.Attach sets it); WaitUsed waits on it.
	Line *Line
}

// NewDriver enables memory decoding on fn and walks its capability list
// to find the four virtio structures, as a driver's probe does (§4.1.4).
func NewDriver(mem *vmm.GuestMemory, fn *pci.Function, mmio *devices.Bus) (*Driver, error) {
	d := &Driver{Mem: mem, fn: fn, mmio: mmio, next: allocStart}
	fn.WriteConfig(pci.CommandOffset, le16(pci.CommandMemorySpace|pci.CommandBusMaster))
	bar := uint64(d.cfg32(pci.BAR0Offset+4*virtio.BARIndex) &^ 0xf)
	found := 0
	for p := int(d.cfg8(pci.CapabilitiesOffset)); p != 0; p = int(d.cfg8(p + 1)) {
		if d.cfg8(p) != pci.CapabilityVendor {
			continue
		}
		typ, barNo, off := d.cfg8(p+3), d.cfg8(p+4), uint64(d.cfg32(p+8))
		if barNo != virtio.BARIndex {
			continue
		}
		switch typ {
		case 1:
			d.Common = bar + off
		case 2:
			d.Notify = bar + off
			d.notifyMul = d.cfg32(p + 16)
		case 3:
			d.ISR = bar + off
		case 4:
			d.DeviceCfg = bar + off
		default:
			continue
		}
		found++
	}
	if found != 4 {
		return nil, fmt.Errorf("found %d of the 4 virtio capabilities", found)
	}
	return d, nil
}

func (d *Driver) cfg8(off int) uint8 {
	b := make([]byte, 1)
	d.fn.ReadConfig(off, b)
	return b[0]
}

func (d *Driver) cfg32(off int) uint32 {
	b := make([]byte, 4)
	d.fn.ReadConfig(off, b)
	return binary.LittleEndian.Uint32(b)
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// Read reads n (1, 2, 4 or 8) bytes at a guest MMIO address.
func (d *Driver) Read(addr uint64, n int) uint64 {
	b := make([]byte, n)
	d.mmio.Read(addr, b)
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// Write writes the low n bytes of v at a guest MMIO address.
func (d *Driver) Write(addr uint64, n int, v uint64) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	d.mmio.Write(addr, b)
}

// Status reads device_status.
func (d *Driver) Status() uint8 { return uint8(d.Read(d.Common+DeviceStatus, 1)) }

// SetStatus writes device_status.
func (d *Driver) SetStatus(s uint8) { d.Write(d.Common+DeviceStatus, 1, uint64(s)) }

// ReadISR reads (and so clears) the ISR status.
func (d *Driver) ReadISR() uint8 { return uint8(d.Read(d.ISR, 1)) }

// DeviceFeatures reads both words of device_feature.
func (d *Driver) DeviceFeatures() uint64 {
	var f uint64
	for sel := uint64(0); sel < 2; sel++ {
		d.Write(d.Common+DeviceFeatureSelect, 4, sel)
		f |= d.Read(d.Common+DeviceFeature, 4) << (32 * sel)
	}
	return f
}

// WriteFeatures writes both words of driver_feature.
func (d *Driver) WriteFeatures(f uint64) {
	for sel := uint64(0); sel < 2; sel++ {
		d.Write(d.Common+DriverFeatureSelect, 4, sel)
		d.Write(d.Common+DriverFeature, 4, f>>(32*sel)&0xffff_ffff)
	}
}

// Negotiate resets the device and runs §3.1.1 steps 1-6: ACKNOWLEDGE,
// DRIVER, features (the device's offer masked with want), FEATURES_OK and
// its read-back. It returns the accepted features.
func (d *Driver) Negotiate(want uint64) (uint64, error) {
	d.SetStatus(0)
	d.SetStatus(virtio.StatusAcknowledge)
	d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver)
	f := d.DeviceFeatures() & want
	d.WriteFeatures(f)
	s := uint8(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	d.SetStatus(s)
	if d.Status()&virtio.StatusFeaturesOK == 0 {
		return 0, ErrFeaturesRefused
	}
	return f, nil
}

// DriverOK sets DRIVER_OK (§3.1.1 step 8).
func (d *Driver) DriverOK() {
	d.SetStatus(d.Status() | virtio.StatusDriverOK)
}

// Start brings the device up the way Linux's virtio_dev_probe and the
// device driver's probe do (§3.1.1, all eight steps): Negotiate want, set
// up queue i with sizes[i] for every size given (step 7), then DRIVER_OK.
// It returns the accepted features and the queues, in order. A driver
// that must do more between the queues and DRIVER_OK (MSI-X vectors) calls
// the steps itself.
func (d *Driver) Start(want uint64, sizes ...uint16) (uint64, []*Queue, error) {
	f, err := d.Negotiate(want)
	if err != nil {
		return 0, nil, err
	}
	queues := make([]*Queue, len(sizes))
	for i, size := range sizes {
		if queues[i], err = d.SetupQueue(uint16(i), size); err != nil {
			return 0, nil, err
		}
	}
	d.DriverOK()
	return f, queues, nil
}

// Alloc reserves n bytes of guest RAM aligned to align (a power of two).
func (d *Driver) Alloc(n, align uint64) (uint64, error) {
	a := (d.next + align - 1) &^ (align - 1)
	if a+n > allocEnd {
		return 0, fmt.Errorf("virtiotest: out of guest memory for %d bytes", n)
	}
	d.next = a + n
	return a, nil
}
