// Package pvpanic is the paravirtual panic device as QEMU defines it
// (docs/specs/pvpanic.rst in QEMU): a PCI function, vendor 0x1b36 (Red
// Hat), device 0x0011, with one memory BAR whose first byte is a register.
// Reading it returns the events the VMM understands; the guest kernel
// writes an event there from its panic notifier (Linux's
// drivers/misc/pvpanic/pvpanic-pci.c, CONFIG_PVPANIC_PCI).
//
// gvmm uses it to tell a kernel panic from a normal reset: with panic=-1
// the kernel reboots right after panicking, which looks exactly like
// reboot=k, but the pvpanic write comes first and makes the VM stop as
// crashed, with a non-zero exit code.
package pvpanic

import (
	"gvmm/devices"
	"gvmm/devices/pci"
)

// Identity and register of the pvpanic PCI function.
const (
	VendorRedHat = 0x1b36
	DevicePanic  = 0x0011
	// classSystemPeripheral is base class 0x08 (base system peripheral),
	// subclass 0x80 (other), as QEMU's pvpanic-pci reports.
	classSystemPeripheral = 0x08
	subclassOther         = 0x80

	// Events (QEMU include/hw/misc/pvpanic.h, Linux
	// include/uapi/misc/pvpanic.h).
	EventPanicked    = 1 << 0 // the guest kernel panicked
	EventCrashLoaded = 1 << 1 // a crash kernel took over (kdump)
	supportedEvents  = EventPanicked | EventCrashLoaded
	barSize          = 4096 // the smallest BAR the PCI model maps
	registerOffset   = 0
)

// Device is the pvpanic register.
type Device struct {
	// OnEvent is called with the event bits the guest wrote.
	OnEvent func(events uint8)
}

// Read returns the supported events at the register; zeros elsewhere.
func (d *Device) Read(off uint64, data []byte) {
	if off == registerOffset && len(data) > 0 {
		data[0] = supportedEvents
	}
}

// Write reports the guest's events.
func (d *Device) Write(off uint64, data []byte) {
	if off != registerOffset || len(data) == 0 {
		return
	}
	if ev := data[0] & supportedEvents; ev != 0 && d.OnEvent != nil {
		d.OnEvent(ev)
	}
}

// NewFunction wraps d as a PCI function ready for pci.Root.Add.
func NewFunction(d *Device) (*pci.Function, error) {
	return pci.NewFunction("pvpanic", pci.Header{
		VendorID: VendorRedHat, DeviceID: DevicePanic, RevisionID: 1,
		Class: classSystemPeripheral, Subclass: subclassOther,
		SubsystemVendorID: VendorRedHat, SubsystemID: DevicePanic,
	}, []pci.BAR{{Size: barSize, Device: d}}, nil)
}

var _ devices.Device = (*Device)(nil)
