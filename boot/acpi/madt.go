package acpi

import "encoding/binary"

// Multiple APIC Description Table (ACPI 6.5 §5.2.12, Table 5.19),
// signature "APIC": the local APIC address and flags, then one
// Interrupt Controller Structure per local APIC, I/O APIC, override and
// NMI source.
const (
	madtSignature = "APIC"
	madtRevision  = 5
	// After the header: Local Interrupt Controller Address (4), Flags (4).
	madtFixedSize = 8
	// madtPCATCompat: "the system also has a PC-AT-compatible dual-8259
	// setup" (KVM's in-kernel PIC). A hardware-reduced x86 Linux leaves
	// it alone either way.
	madtPCATCompat = 1 << 0

	// Interrupt Controller Structure types and lengths (Table 5.21).
	madtLocalAPIC       = 0 // §5.2.12.2, 8 bytes
	madtIOAPIC          = 1 // §5.2.12.3, 12 bytes
	madtIntSrcOverride  = 2 // §5.2.12.5, 10 bytes
	madtLocalAPICNMI    = 4 // §5.2.12.7, 6 bytes
	madtLocalAPICLen    = 8
	madtIOAPICLen       = 12
	madtIntSrcOverLen   = 10
	madtLocalAPICNMILen = 6

	// madtLAPICEnabled is the Local APIC Flags' Enabled bit.
	madtLAPICEnabled = 1 << 0
	// madtAllProcessors as ACPI Processor UID means every processor.
	madtAllProcessors = 0xff
	// madtBusISA is the only Bus value an override may have: "0 Constant,
	// meaning ISA".
	madtBusISA = 0

	// MPS INTI flags (Table 5.26): polarity in bits 0-1, trigger mode in
	// bits 2-3; 0 in a field means "conforms to the bus".
	intiActiveHigh = 0x1
	intiLevel      = 0x3 << 2
	intiConforming = 0
)

// madtConfig is what varies in the MADT.
type madtConfig struct {
	cpus       int
	lapicAddr  uint32
	ioapicID   uint8
	ioapicAddr uint32
	sciIRQ     uint8
}

// madt builds the MADT: local APIC i for CPU i (ACPI processor UID and
// APIC ID both i, as in the MP table and leaf 1 of each vCPU's CPUID), the
// I/O APIC with GSIs from 0, the SCI's override (level, active high, as
// the ACPI SCI must be shareable and level, §5.2.12.5) and NMI on LINT1 of
// every CPU.
//
// There is no override for IRQ 0: KVM's default routing wires GSI n to
// I/O APIC pin n, the PIT included, which is also the identity Linux
// assumes without one; a hardware-reduced guest does not use the PIT.
func madt(c madtConfig) []byte {
	le := binary.LittleEndian
	b := make([]byte, madtFixedSize)
	le.PutUint32(b[0:], c.lapicAddr)
	le.PutUint32(b[4:], madtPCATCompat)
	for id := range c.cpus {
		e := []byte{madtLocalAPIC, madtLocalAPICLen, byte(id), byte(id)}
		b = le.AppendUint32(append(b, e...), madtLAPICEnabled)
	}
	b = append(b, madtIOAPIC, madtIOAPICLen, c.ioapicID, 0)
	b = le.AppendUint32(b, c.ioapicAddr)
	b = le.AppendUint32(b, 0) // Global System Interrupt Base
	b = append(b, madtIntSrcOverride, madtIntSrcOverLen, madtBusISA, c.sciIRQ)
	b = le.AppendUint32(b, uint32(c.sciIRQ))
	b = le.AppendUint16(b, intiLevel|intiActiveHigh)
	b = append(b, madtLocalAPICNMI, madtLocalAPICNMILen, madtAllProcessors)
	b = le.AppendUint16(b, intiConforming)
	b = append(b, 1) // Local APIC LINT# 1
	return table(madtSignature, madtRevision, b)
}
