package acpi

import "encoding/binary"

// Resource descriptors (ACPI 6.5 §6.4, "Resource Data Types for ACPI"):
// the byte format of a _CRS buffer, which lists the I/O ports, interrupts
// and address windows a device decodes. Small descriptors have a one-byte
// tag (item name in bits 3-6, length in bits 0-2); large ones a tag byte
// with bit 7 set and a 16-bit length.
const (
	// resIOPort is the I/O Port Descriptor (§6.4.2.5): tag 0x47 (item
	// 0x08, 7 bytes follow).
	resIOPort       = 0x47
	resIODecode16   = 1 << 0 // Information bit 0: 16-bit decode
	resIRQ          = 0x22   // IRQ Descriptor, no flags byte (§6.4.2.1): edge, active high
	resEndTag       = 0x79   // End Tag (§6.4.2.9), then a checksum (0: none)
	resWordAddress  = 0x88   // Word Address Space Descriptor (§6.4.3.5.3)
	resDWordAddress = 0x87   // DWord Address Space Descriptor (§6.4.3.5.2)

	// Lengths of the large descriptors after their 3-byte header.
	resWordAddressLen  = 13
	resDWordAddressLen = 23

	// Address space descriptor Resource Type (Table 6.44 and friends).
	resTypeMemory = 0
	resTypeIO     = 1
	resTypeBus    = 2

	// General Flags: _MAF (max address fixed), _MIF (min address fixed);
	// bit 1 clear is positive decode, bit 0 clear means "this device
	// produces and consumes this resource", which is what a bridge's
	// window is.
	resMaxFixed = 1 << 3
	resMinFixed = 1 << 2

	// Type Specific Flags. I/O: _RNG = 3, both ISA and non-ISA ranges.
	// Memory: _RW bit 0 (read-write); _MEM bits 1-2 = 0, non-cacheable.
	resIOEntireRange = 3
	resMemReadWrite  = 1 << 0
)

// ioPort is IO(Decode16, base, base, 1, length): a fixed range of ports.
func ioPort(base uint16, length uint8) []byte {
	le := binary.LittleEndian
	b := []byte{resIOPort, resIODecode16}
	b = le.AppendUint16(b, base) // range minimum base
	b = le.AppendUint16(b, base) // range maximum base
	return append(b, 1, length)  // alignment, length
}

// irq is IRQNoFlags(){line}: one ISA interrupt, edge triggered, active
// high, exclusive.
func irq(line uint8) []byte {
	return binary.LittleEndian.AppendUint16([]byte{resIRQ}, 1<<line)
}

// wordWindow is a Word Address Space Descriptor for [min, max] of the
// given resource type, with no translation: WordBusNumber or WordIO with
// ResourceProducer, MinFixed, MaxFixed, PosDecode.
func wordWindow(typ, typeFlags uint8, lo, hi uint16) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16([]byte{resWordAddress}, resWordAddressLen)
	b = append(b, typ, resMinFixed|resMaxFixed, typeFlags)
	b = le.AppendUint16(b, 0) // granularity
	b = le.AppendUint16(b, lo)
	b = le.AppendUint16(b, hi)
	b = le.AppendUint16(b, 0) // translation offset
	return le.AppendUint16(b, hi-lo+1)
}

// dwordMemWindow is DWordMemory(ResourceProducer, PosDecode, MinFixed,
// MaxFixed, NonCacheable, ReadWrite, 0, lo, hi, 0, hi-lo+1).
func dwordMemWindow(lo, hi uint32) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16([]byte{resDWordAddress}, resDWordAddressLen)
	b = append(b, resTypeMemory, resMinFixed|resMaxFixed, resMemReadWrite)
	b = le.AppendUint32(b, 0) // granularity
	b = le.AppendUint32(b, lo)
	b = le.AppendUint32(b, hi)
	b = le.AppendUint32(b, 0) // translation offset
	return le.AppendUint32(b, hi-lo+1)
}

// resourceTemplate is ResourceTemplate(){...}: a buffer of descriptors
// closed by the End Tag.
func resourceTemplate(descs ...[]byte) []byte {
	b := concat(nil, descs...)
	return amlBuffer(append(b, resEndTag, 0))
}
