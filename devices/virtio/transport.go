package virtio

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"gvmm/devices"
	"gvmm/devices/pci"
	"gvmm/vmm"
)

// PCI identity of virtio devices, §4.1.2.
const (
	PCIVendorID = 0x1af4
	// PCIDeviceIDBase + device type is the device ID of a modern
	// (non-transitional) device.
	PCIDeviceIDBase = 0x1040
	// pciRevision: non-transitional devices SHOULD have revision >= 1.
	pciRevision = 1
	// pciSubsystemID: non-transitional devices SHOULD use >= 0x40.
	pciSubsystemID = 0x40
)

// Layout of the one memory BAR (BAR0) of a virtio PCI function. Each
// structure starts on its own page so a VMM could map or trap them
// separately; the capabilities (§4.1.4) tell the driver where they are.
const (
	BARIndex        = 0
	BARSize         = 0x8000
	CommonCfgOffset = 0x0000
	ISROffset       = 0x1000
	DeviceCfgOffset = 0x2000
	NotifyOffset    = 0x3000
	MSIXTableOffset = 0x4000 // MSI-X vector table (with an MSISignaler)
	MSIXPBAOffset   = 0x5000 // MSI-X Pending Bit Array
	regionSize      = 0x1000

	// NotifyOffMultiplier: queue i is notified by a write at
	// NotifyOffset + i*NotifyOffMultiplier (§4.1.4.4, queue_notify_off = i).
	NotifyOffMultiplier = 4
	maxQueues           = regionSize / NotifyOffMultiplier
)

// virtio_pci_cap.cfg_type values, §4.1.4.
const (
	capCommonCfg = 1
	capNotifyCfg = 2
	capISRCfg    = 3
	capDeviceCfg = 4
	capPCICfg    = 5
)

// Transport is a virtio device on the PCI transport (§4.1).
type Transport struct {
	name string
	mem  *vmm.GuestMemory
	dev  Device
	fn   *pci.Function

	offered uint64 // features offered: device bits plus transport bits

	msix *pci.MSIX // nil: INTx only

	mu sync.Mutex // common configuration state; taken before the device's lock
	cc commonCfg

	irqMu        sync.Mutex // interrupt state below; taken after mu and the device's lock
	isr          uint8
	needsReset   bool
	configGen    uint8
	configVector uint16      // config_msix_vector
	queueVectors []uint16    // queue_msix_vector of each queue
	irqQueues    []*Queue    // the active queues, to find a queue's vector
	notifyActive atomic.Bool // DRIVER_OK and not broken: pass kicks on

	log devices.GuestLog // refused feature sets and broken rings, which the guest can repeat
}

// NewTransport wraps dev in a virtio PCI function. name is used in logs
// and bus listings ("virtio-net"). Add the Function to a pci.Root. With a
// non-nil msi the function also offers MSI-X with one vector per queue
// plus one for configuration changes (§4.1.4.3, §4.1.5.1.2); drivers
// that do not enable it get INTx.
func NewTransport(name string, mem *vmm.GuestMemory, dev Device, msi pci.MSISignaler) (*Transport, error) {
	nq := len(dev.QueueMaxSizes())
	if nq == 0 || nq > maxQueues {
		return nil, fmt.Errorf("virtio %s: %d queues, want 1..%d", name, nq, maxQueues)
	}
	if dev.ConfigSize() > regionSize {
		return nil, fmt.Errorf("virtio %s: device config of %d bytes exceeds %d", name, dev.ConfigSize(), regionSize)
	}
	t := &Transport{name: name, mem: mem, dev: dev}
	t.offered = dev.Features() | FeatureVersion1 | FeatureIndirectDesc
	t.cc.reset(dev.QueueMaxSizes())
	t.resetVectors()
	caps := t.capabilities()
	if msi != nil {
		m, err := pci.NewMSIX(nq+1, BARIndex, MSIXTableOffset, MSIXPBAOffset, msi)
		if err != nil {
			return nil, fmt.Errorf("virtio %s: %w", name, err)
		}
		t.msix = m
		caps = append(caps, m.Capability())
	}
	class, sub := pciClass(dev.Type())
	fn, err := pci.NewFunction(name, pci.Header{
		VendorID: PCIVendorID, DeviceID: PCIDeviceIDBase + uint16(dev.Type()),
		RevisionID: pciRevision, Class: class, Subclass: sub,
		SubsystemVendorID: PCIVendorID, SubsystemID: pciSubsystemID,
		InterruptPin: 1,
	}, []pci.BAR{{Size: BARSize, Device: barDevice{t}}}, caps)
	if err != nil {
		return nil, fmt.Errorf("virtio %s: %w", name, err)
	}
	t.fn = fn
	return t, nil
}

// Function returns the PCI function to add to the bus.
func (t *Transport) Function() *pci.Function { return t.fn }

// pciClass gives each device type a matching PCI class for lspci; the
// virtio driver matches on vendor and device ID only.
func pciClass(dt DeviceType) (class, subclass uint8) {
	switch dt {
	case DeviceTypeNet:
		return 0x02, 0x00 // network controller, Ethernet
	case DeviceTypeBlock:
		return 0x01, 0x00 // mass storage controller, SCSI (as QEMU's virtio-blk-pci)
	case DeviceTypeConsole:
		return 0x07, 0x80 // simple communication controller, other
	}
	return 0xff, 0x00
}

// capabilities builds the vendor capabilities of §4.1.4: struct
// virtio_pci_cap is cap_vndr, cap_next (filled by pci), cap_len, cfg_type,
// bar, id, padding[2], le32 offset, le32 length; the notify capability
// adds le32 notify_off_multiplier, the PCI access capability le32
// pci_cfg_data.
func (t *Transport) capabilities() []pci.Capability {
	c := func(typ uint8, off, length uint32, extra ...uint32) []byte {
		b := make([]byte, 14+4*len(extra))
		b[0] = byte(2 + len(b)) // cap_len counts cap_vndr and cap_next
		b[1], b[2] = typ, BARIndex
		binary.LittleEndian.PutUint32(b[6:], off)
		binary.LittleEndian.PutUint32(b[10:], length)
		for i, e := range extra {
			binary.LittleEndian.PutUint32(b[14+4*i:], e)
		}
		return b
	}
	return []pci.Capability{
		{ID: pci.CapabilityVendor, Body: c(capCommonCfg, CommonCfgOffset, commonCfgSize)},
		{ID: pci.CapabilityVendor, Body: c(capNotifyCfg, NotifyOffset, regionSize, NotifyOffMultiplier)},
		{ID: pci.CapabilityVendor, Body: c(capISRCfg, ISROffset, 1)},
		{ID: pci.CapabilityVendor, Body: c(capDeviceCfg, DeviceCfgOffset, uint32(max(t.dev.ConfigSize(), 1)))},
		{ID: pci.CapabilityVendor, Body: c(capPCICfg, 0, 0, 0), Access: pciCfgAccess{t}},
	}
}

// barDevice dispatches BAR0 accesses to the four structures.
type barDevice struct{ t *Transport }

// Read implements devices.Device.
func (b barDevice) Read(off uint64, data []byte) {
	t := b.t
	switch {
	case off < ISROffset:
		t.readCommon(off-CommonCfgOffset, data)
	case off < DeviceCfgOffset:
		if off == ISROffset {
			data[0] = t.readISR()
		}
	case off < NotifyOffset:
		o := off - DeviceCfgOffset
		if size := t.dev.ConfigSize(); o <= size && uint64(len(data)) <= size-o {
			t.dev.ReadConfig(o, data)
		}
	case off >= MSIXTableOffset && t.msix != nil:
		if dev, o, ok := t.msixRegion(off); ok {
			dev.Read(o, data)
		}
	}
	// The notification area reads as zero.
}

// msixRegion maps a BAR offset into the MSI-X table or PBA.
func (t *Transport) msixRegion(off uint64) (devices.Device, uint64, bool) {
	switch {
	case off >= MSIXTableOffset && off-MSIXTableOffset < t.msix.TableSize():
		return t.msix.Table(), off - MSIXTableOffset, true
	case off >= MSIXPBAOffset && off-MSIXPBAOffset < t.msix.PBASize():
		return t.msix.PBA(), off - MSIXPBAOffset, true
	}
	return nil, 0, false
}

// Write implements devices.Device.
func (b barDevice) Write(off uint64, data []byte) {
	t := b.t
	switch {
	case off < ISROffset:
		t.writeCommon(off-CommonCfgOffset, data)
	case off < DeviceCfgOffset:
		// The ISR is read-only (§4.1.4.5).
	case off < NotifyOffset:
		o := off - DeviceCfgOffset
		if size := t.dev.ConfigSize(); o <= size && uint64(len(data)) <= size-o {
			t.dev.WriteConfig(o, data)
		}
	case off < MSIXTableOffset:
		o := off - NotifyOffset
		if o%NotifyOffMultiplier == 0 {
			t.Notify(uint16(o / NotifyOffMultiplier))
		}
	case t.msix != nil:
		if dev, o, ok := t.msixRegion(off); ok {
			dev.Write(o, data)
		}
	}
}

// Notify handles the driver's notification for queue (§4.1.5.2). The BAR
// calls it; a VMM with an ioeventfd per queue can call it directly.
func (t *Transport) Notify(queue uint16) {
	if !t.notifyActive.Load() {
		return
	}
	if int(queue) >= len(t.dev.QueueMaxSizes()) {
		slog.Debug("virtio: notify for a queue that does not exist", "device", t.name, "queue", queue)
		return
	}
	t.dev.Notify(int(queue))
}

// NotifyAddress returns the guest address the driver writes to notify
// queue, given the BAR address (for a VMM that registers ioeventfds).
func NotifyAddress(barAddr uint64, queue uint16) uint64 {
	return barAddr + NotifyOffset + uint64(queue)*NotifyOffMultiplier
}

// readISR returns and clears the ISR, which deasserts INTx (§4.1.4.5.1).
func (t *Transport) readISR() uint8 {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	v := t.isr
	t.isr = 0
	t.fn.SetINTx(false)
	return v
}

// raise signals the driver. With MSI-X enabled the message goes to the
// vector the driver chose (none for VIRTIO_MSI_NO_VECTOR); otherwise the
// ISR bits are set and INTx asserted, and the line stays high until the
// driver reads the ISR: PCI INTx is level-triggered. The configuration
// bit is set in the ISR either way (§4.1.4.5.1).
func (t *Transport) raise(bits uint8, q *Queue) {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	t.raiseLocked(bits, q)
}

// Precondition: t.irqMu held.
func (t *Transport) raiseLocked(bits uint8, q *Queue) {
	if t.msix != nil && t.msix.Enabled() {
		if bits&ISRConfig != 0 {
			t.isr |= ISRConfig
			t.signalVector(t.configVector)
		}
		if bits&ISRQueue != 0 {
			for i, aq := range t.irqQueues {
				if aq == q && aq != nil {
					t.signalVector(t.queueVectors[i])
				}
			}
		}
		return
	}
	t.isr |= bits
	t.fn.SetINTx(true)
}

// Precondition: t.irqMu held.
func (t *Transport) signalVector(v uint16) {
	if v != noMSIXVector {
		t.msix.Signal(v)
	}
}

// resetVectors unmaps every MSI-X vector (§4.1.4.3: reset value
// VIRTIO_MSI_NO_VECTOR) and forgets the active queues.
func (t *Transport) resetVectors() {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	t.configVector = noMSIXVector
	t.queueVectors = make([]uint16, len(t.dev.QueueMaxSizes()))
	for i := range t.queueVectors {
		t.queueVectors[i] = noMSIXVector
	}
	t.irqQueues = nil
}

// mapVector validates a vector the driver writes: one the table does not
// have reads back as VIRTIO_MSI_NO_VECTOR, which tells the driver the
// mapping failed (§4.1.5.1.2.1).
func (t *Transport) mapVector(v uint16) uint16 {
	if t.msix == nil || int(v) >= t.msix.Vectors() {
		return noMSIXVector
	}
	return v
}

// signal is the Signal handed to an activated device.
type signal struct{ t *Transport }

// UsedBuffers implements Signal.
func (s signal) UsedBuffers(q *Queue) {
	if q.NeedsInterrupt() {
		s.t.raise(ISRQueue, q)
	}
}

// ConfigChanged implements Signal.
func (s signal) ConfigChanged() {
	s.t.irqMu.Lock()
	s.t.configGen++
	s.t.irqMu.Unlock()
	s.t.raise(ISRConfig, nil)
}

// Fail implements Signal.
func (s signal) Fail(err error) { s.t.fail(err) }

// fail marks the device broken (§2.1.2): DEVICE_NEEDS_RESET, a
// configuration change interrupt, and no more notifications to the device
// until the driver resets it.
func (t *Transport) fail(err error) {
	t.notifyActive.Store(false)
	t.irqMu.Lock()
	first := !t.needsReset
	t.needsReset = true
	t.raiseLocked(ISRConfig, nil) // the driver sees both at once
	t.irqMu.Unlock()
	if first {
		// Once per breakage; a guest that resets and breaks the ring in
		// a loop is rate-limited too.
		t.log.Error("virtio: device needs reset", "device", t.name, "err", err)
	}
}

// NeedsReset reports whether the device is in DEVICE_NEEDS_RESET.
func (t *Transport) NeedsReset() bool {
	t.irqMu.Lock()
	defer t.irqMu.Unlock()
	return t.needsReset
}

// Close resets the device, stopping its work (VM teardown).
func (t *Transport) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resetLocked()
}
