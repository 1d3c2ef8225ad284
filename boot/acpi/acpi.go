package acpi

import (
	"errors"
	"fmt"
	"io"

	"gvmm/vmm"
)

// Power register offsets in the vmm.ACPIPMPort block and the reset value;
// devices/power implements them.
const (
	SleepControlOffset = 0
	SleepStatusOffset  = 1
	ResetOffset        = 2
	// ResetValue is the FADT's RESET_VALUE: what the OS writes to the
	// reset register to reset the machine.
	ResetValue = 0x01
)

// maxAPICID bounds CPUs and the I/O APIC id: xAPIC ids are 8 bits and 0xff
// is the broadcast id.
const maxAPICID = 0xfe

// PCIRoute says which GSI a PCI device's INTx# pin drives (a _PRT entry).
type PCIRoute struct {
	// Device is the device (slot) number on bus 0, 0 to 31.
	Device uint8
	// Pin is the config-space Interrupt Pin: 1 (INTA#) to 4 (INTD#).
	Pin uint8
	// GSI is the I/O APIC input, 0 to 23.
	GSI uint8
}

// Platform is what the tables describe.
type Platform struct {
	// CPUs is the number of vCPUs: local APIC ids 0 to CPUs-1.
	CPUs int
	// PCI lists the INTx routes of the PCI devices.
	PCI []PCIRoute
}

// Sentinel errors of Build and Write.
var (
	ErrBadPlatform = errors.New("ACPI tables cannot describe this platform")
)

// ioapicPins is the number of inputs of KVM's I/O APIC.
const ioapicPins = 24

// Tables is a built set of ACPI tables, ready to be copied to Base.
type Tables struct {
	// Base is the guest-physical address of Image; the RSDP is at Base.
	Base uint64
	// Image holds every table, each at its offset from Base.
	Image []byte
}

// RSDP returns the guest-physical address of the RSDP, for the boot
// protocols' pointers (boot_params.acpi_rsdp_addr, hvm_start_info's
// rsdp_paddr).
func (t *Tables) RSDP() uint64 { return t.Base }

// tableAlign is the alignment of each table after the RSDP; the spec asks
// 16 bytes of the RSDP only, 8 keeps the 64-bit fields aligned.
const tableAlign = 8

// Build lays the tables out from vmm.ACPITablesStart: RSDP, XSDT, FADT,
// MADT, DSDT. It validates p first.
func Build(p Platform) (*Tables, error) {
	if p.CPUs < 1 || p.CPUs > maxAPICID {
		// The I/O APIC takes id CPUs, so CPUs itself must be a valid id.
		return nil, fmt.Errorf("%w: %d CPUs, ACPI's xAPIC ids allow 1 to %d; lower --cpus",
			ErrBadPlatform, p.CPUs, maxAPICID)
	}
	for _, r := range p.PCI {
		if r.Device > 31 || r.Pin < 1 || r.Pin > 4 || r.GSI >= ioapicPins {
			return nil, fmt.Errorf("%w: PCI device %d pin %d GSI %d (want device 0-31, pin 1-4, GSI 0-%d)",
				ErrBadPlatform, r.Device, r.Pin, r.GSI, ioapicPins-1)
		}
	}
	base := uint64(vmm.ACPITablesStart)
	img := make([]byte, rsdpSize)
	place := func(t []byte) uint64 {
		for len(img)%tableAlign != 0 {
			img = append(img, 0)
		}
		addr := base + uint64(len(img))
		img = append(img, t...)
		return addr
	}
	dsdtAddr := place(dsdt(dsdtConfig{
		com1Port: vmm.COM1Port, com1IRQ: vmm.COM1IRQ,
		rtcPort: vmm.CMOSPort, rtcPortSize: vmm.CMOSPortSize,
		reserved: []portRange{
			{vmm.ACPIPMPort, vmm.ACPIPMPortSize},
			{vmm.DebugPort, vmm.DebugPortSize},
		},
		pciMMIOLo: vmm.PCIMMIOStart, pciMMIOHi: vmm.PCIMMIOStart + vmm.PCIMMIOSize - 1,
		pci: p.PCI,
	}))
	fadtAddr := place(fadt(fadtConfig{
		dsdt:         dsdtAddr,
		sciIRQ:       vmm.ACPISCIIRQ,
		sleepControl: vmm.ACPIPMPort + SleepControlOffset,
		sleepStatus:  vmm.ACPIPMPort + SleepStatusOffset,
		resetReg:     vmm.ACPIPMPort + ResetOffset,
		resetValue:   ResetValue,
	}))
	madtAddr := place(madt(madtConfig{
		cpus: p.CPUs, lapicAddr: vmm.LAPICAddr,
		ioapicID: uint8(p.CPUs), ioapicAddr: vmm.IOAPICAddr,
		sciIRQ: vmm.ACPISCIIRQ,
	}))
	xsdtAddr := place(xsdt(fadtAddr, madtAddr))
	copy(img, rsdp(xsdtAddr))
	if uint64(len(img)) > vmm.ACPITablesEnd-vmm.ACPITablesStart {
		return nil, fmt.Errorf("%w: the tables take %d bytes, more than the %d of [%#x, %#x)",
			ErrBadPlatform, len(img), vmm.ACPITablesEnd-vmm.ACPITablesStart, vmm.ACPITablesStart, vmm.ACPITablesEnd)
	}
	return &Tables{Base: base, Image: img}, nil
}

// Write copies the tables into guest memory.
func (t *Tables) Write(mem io.WriterAt) error {
	if _, err := mem.WriteAt(t.Image, int64(t.Base)); err != nil {
		return fmt.Errorf("write ACPI tables: %w", err)
	}
	return nil
}
