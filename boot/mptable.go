package boot

import (
	"encoding/binary"
	"fmt"

	"gvmm/boot/acpi"
	"gvmm/vmm"
)

// This file writes the Intel MultiProcessor Specification 1.4 tables
// (MP spec, chapter 4), which tell a kernel without ACPI how many CPUs
// there are, where the local APICs and the I/O APIC live, and how the ISA
// and PCI interrupt lines reach the I/O APIC. Linux reads them with
// CONFIG_X86_MPPARSE (arch/x86/kernel/mpparse.c).
//
// Layout at vmm.EBDAStart, the first kilobyte of the Extended BIOS Data
// Area, one of the places MP spec §4 says the floating pointer may be
// ("a. In the first kilobyte of Extended BIOS Data Area (EBDA), or b.
// Within the last kilobyte of system base memory ... if the EBDA segment is
// undefined"); 0x9fc00 is both, and Linux's smp_scan_config looks there:
//
//	EBDAStart      MP floating pointer structure (16 bytes)
//	EBDAStart+16   MP configuration table header (44 bytes)
//	               entries: processors, buses, I/O APIC, interrupts
//	LowRAMEnd      (640 KiB) end of the space
//
// The e820 map reports [EBDAStart, LowRAMEnd) as reserved.

// Floating pointer structure (MP spec §4.1, Table 4-1).
const (
	mpfSignature = "_MP_"
	mpfSize      = 16
	mpfPhysPtr   = 4  // PHYSICAL ADDRESS POINTER: the configuration table
	mpfLength    = 8  // LENGTH in 16-byte paragraphs: 1
	mpfSpecRev   = 9  // SPEC_REV: 4 for version 1.4
	mpfChecksum  = 10 // CHECKSUM: all 16 bytes sum to zero
	// MP FEATURE INFORMATION BYTE 1 (offset 11) = 0: "the MP
	// configuration table is present"; BYTE 2 (offset 12) bit 7 IMCRP =
	// 0: "Virtual Wire Mode is implemented", which is what KVM's
	// in-kernel irqchip models.
)

// Configuration table header (MP spec §4.2, Table 4-2).
const (
	mpcSignature   = "PCMP"
	mpcHeaderSize  = 44
	mpcLength      = 4  // BASE TABLE LENGTH, header included
	mpcSpecRev     = 6  // SPEC_REV
	mpcChecksum    = 7  // CHECKSUM of the base table
	mpcOEMID       = 8  // OEM ID, 8 bytes, space padded
	mpcProductID   = 16 // PRODUCT ID, 12 bytes, space padded
	mpcEntryCount  = 34 // ENTRY COUNT
	mpcLAPICAddr   = 36 // ADDRESS OF LOCAL APIC
	mpSpecRevision = 4  // MP spec 1.4
)

// Entry types and sizes (MP spec §4.3, Table 4-3).
const (
	mpEntryProcessor = 0 // 20 bytes
	mpEntryBus       = 1 // 8 bytes
	mpEntryIOAPIC    = 2 // 8 bytes
	mpEntryIOIntr    = 3 // 8 bytes: I/O interrupt assignment
	mpEntryLocalIntr = 4 // 8 bytes: local interrupt assignment

	mpProcessorSize = 20
	mpSmallSize     = 8
)

// Field values.
const (
	// Processor entry CPU FLAGS: EN (usable) and BP (the bootstrap CPU).
	mpCPUEnabled = 1 << 0
	mpCPUBoot    = 1 << 1
	// mpCPUSignature is family 6, model 0, stepping 0; mpCPUFeatures is
	// CPUID.1:EDX with FPU (bit 0) and APIC (bit 9). Linux only prints
	// them.
	mpCPUSignature = 0x600
	mpCPUFeatures  = 1<<0 | 1<<9
	// lapicVersion and ioapicVersion are what KVM's emulated APICs
	// report (APIC_VERSION in arch/x86/kvm/lapic.c, IOAPIC_VERSION_ID in
	// arch/x86/kvm/ioapic.h). A local APIC version of 0x1X means an
	// integrated xAPIC, so Linux leaves the I/O APIC IDs alone.
	lapicVersion  = 0x14
	ioapicVersion = 0x11
	// ioapicPins is the number of inputs of KVM's I/O APIC.
	ioapicPins = 24
	// mpIOAPICEnabled is the I/O APIC entry's EN flag.
	mpIOAPICEnabled = 1 << 0

	// Interrupt types (Table 4-9).
	mpIntINT    = 0 // vectored through the I/O APIC
	mpIntNMI    = 1
	mpIntExtINT = 3 // from the 8259 PIC
	// Interrupt flags (Table 4-10): PO bits 0-1, EL bits 2-3.
	// 0 means "conforms to the specifications of the bus" (ISA: edge,
	// active high). PCI INTx lines are level triggered; they are active
	// low on the wire, but KVM_IRQ_LINE's level 1 means "asserted" and
	// KVM ignores IO-APIC polarity, so we declare active high, as SeaBIOS
	// does on KVM.
	mpIntConforming = 0
	mpIntPCI        = 0x1 | 0x3<<2
	// mpAllLAPICs as DESTINATION LOCAL APIC ID means every local APIC.
	mpAllLAPICs = 0xff

	// Bus ids. Linux matches a PCI interrupt entry's SOURCE BUS ID
	// against the PCI bus number (IO_APIC_get_PCI_irq_vector), so PCI
	// bus 0 must be MP bus 0; the ISA bus comes after it, as in SeaBIOS.
	mpBusPCI = 0
	mpBusISA = 1

	// isaCascadeIRQ is the 8259 cascade input, never a device interrupt.
	isaCascadeIRQ = 2
	isaIRQs       = 16
)

// maxAPICID bounds CPUs and the I/O APIC id: 0xff is the broadcast id.
const maxAPICID = 0xfe

// mpTableSpace is the room between vmm.EBDAStart and 640 KiB.
const mpTableSpace = vmm.LowRAMEnd - vmm.EBDAStart

// PCIInterrupt says which I/O APIC input a PCI device's INTx# line drives.
type PCIInterrupt struct {
	// Device is the device (slot) number on PCI bus 0, 0 to 31.
	Device uint8
	// Pin is the config-space Interrupt Pin: 1 for INTA# to 4 for INTD#.
	Pin uint8
	// IRQ is the I/O APIC input (GSI), 0 to 23; with KVM's default
	// routing, GSI n is I/O APIC pin n.
	IRQ uint8
}

// MPTableMaxCPUs returns how many CPUs fit in the MP table next to the
// given number of PCI interrupt entries.
func MPTableMaxCPUs(pciInterrupts int) int {
	fixed := mpfSize + mpcHeaderSize + mpSmallSize*(2+1+(isaIRQs-1)+2+pciInterrupts)
	n := (mpTableSpace - fixed) / mpProcessorSize
	return max(0, min(n, maxAPICID))
}

// WriteMPTable writes the MP floating pointer and configuration table for
// cpus CPUs (local APIC ids 0 to cpus-1, CPU 0 boots), one I/O APIC (id
// cpus) at vmm.IOAPICAddr, a PCI bus and an ISA bus, the ISA interrupts and
// the given PCI interrupts.
func WriteMPTable(mem Memory, cpus int, pci ...PCIInterrupt) error {
	if maxCPUs := MPTableMaxCPUs(len(pci)); cpus < 1 || cpus > maxCPUs {
		return fmt.Errorf("%w: %d CPUs, the MP table holds 1 to %d; lower --cpus", ErrTooManyCPUs, cpus, maxCPUs)
	}
	for _, p := range pci {
		if p.Device > 31 || p.Pin < 1 || p.Pin > 4 || p.IRQ >= ioapicPins {
			return fmt.Errorf("%w: device %d pin %d IRQ %d (want device 0-31, pin 1-4, IRQ 0-%d)",
				ErrBadPCIInterrupt, p.Device, p.Pin, p.IRQ, ioapicPins-1)
		}
	}
	table := mpConfigTable(cpus, pci)
	mpf := make([]byte, mpfSize)
	copy(mpf, mpfSignature)
	binary.LittleEndian.PutUint32(mpf[mpfPhysPtr:], vmm.EBDAStart+mpfSize)
	mpf[mpfLength] = 1
	mpf[mpfSpecRev] = mpSpecRevision
	mpf[mpfChecksum] = acpi.Checksum(mpf)
	buf := append(mpf, table...)
	if _, err := mem.WriteAt(buf, vmm.EBDAStart); err != nil {
		return fmt.Errorf("write MP table: %w", err)
	}
	return nil
}

// mpConfigTable builds the configuration table: header, then entries in
// the order MP spec §4.3 asks for ("sorted by entry type in ascending
// order").
func mpConfigTable(cpus int, pci []PCIInterrupt) []byte {
	le := binary.LittleEndian
	ioapicID := uint8(cpus)
	t := make([]byte, mpcHeaderSize)
	count := 0
	add := func(e []byte) { t = append(t, e...); count++ }

	for id := range cpus {
		e := make([]byte, mpProcessorSize)
		e[0], e[1], e[2] = mpEntryProcessor, uint8(id), lapicVersion
		e[3] = mpCPUEnabled
		if id == 0 {
			e[3] |= mpCPUBoot
		}
		le.PutUint32(e[4:], mpCPUSignature)
		le.PutUint32(e[8:], mpCPUFeatures)
		add(e)
	}
	add(append([]byte{mpEntryBus, mpBusPCI}, "PCI   "...))
	add(append([]byte{mpEntryBus, mpBusISA}, "ISA   "...))
	ioapic := []byte{mpEntryIOAPIC, ioapicID, ioapicVersion, mpIOAPICEnabled, 0, 0, 0, 0}
	le.PutUint32(ioapic[4:], vmm.IOAPICAddr)
	add(ioapic)
	intr := func(typ, kind uint8, flags uint16, bus, busIRQ, dst, dstPin uint8) {
		e := []byte{typ, kind, 0, 0, bus, busIRQ, dst, dstPin}
		le.PutUint16(e[2:], flags)
		add(e)
	}
	// ISA IRQ n drives I/O APIC pin n, including IRQ 0 (the PIT):
	// KVM's default GSI routing (kvm_setup_default_irq_routing,
	// arch/x86/kvm/irq_comm.c) wires GSI n to pin n. PCs and QEMU put
	// the timer on pin 2 and say so with an override, but QEMU installs
	// its own routing for that; gvmm keeps KVM's.
	// An ISA entry for a line that a PCI device also uses would give Linux
	// two trigger modes for one pin, and it would refuse the interrupt:
	// such lines get only their PCI entry.
	usedByPCI := map[uint8]bool{}
	for _, p := range pci {
		usedByPCI[p.IRQ] = true
	}
	for irq := uint8(0); irq < isaIRQs; irq++ {
		if irq != isaCascadeIRQ && !usedByPCI[irq] {
			intr(mpEntryIOIntr, mpIntINT, mpIntConforming, mpBusISA, irq, ioapicID, irq)
		}
	}
	// PCI SOURCE BUS IRQ (MP spec §D.3): bits 0-1 the pin (0 = INTA#),
	// bits 2-6 the device number.
	for _, p := range pci {
		intr(mpEntryIOIntr, mpIntINT, mpIntPCI, mpBusPCI, p.Device<<2|(p.Pin-1), ioapicID, p.IRQ)
	}
	// MP spec §5.1 default configuration: the 8259 (ExtINT) on LINT0 of
	// the boot CPU, NMI on LINT1 of every CPU.
	intr(mpEntryLocalIntr, mpIntExtINT, mpIntConforming, mpBusISA, 0, 0, 0)
	intr(mpEntryLocalIntr, mpIntNMI, mpIntConforming, mpBusISA, 0, mpAllLAPICs, 1)

	copy(t, mpcSignature)
	le.PutUint16(t[mpcLength:], uint16(len(t)))
	t[mpcSpecRev] = mpSpecRevision
	copy(t[mpcOEMID:], "GVMM    ")
	copy(t[mpcProductID:], "MICROVM     ")
	le.PutUint16(t[mpcEntryCount:], uint16(count))
	le.PutUint32(t[mpcLAPICAddr:], vmm.LAPICAddr)
	t[mpcChecksum] = acpi.Checksum(t)
	return t
}
