package acpi

import "encoding/binary"

// Root System Description Pointer (ACPI 6.5 §5.2.5.3, Table 5.3), revision
// 2: 36 bytes, on a 16-byte boundary.
const (
	rsdpSignature             = "RSD PTR "
	rsdpChecksumOff           = 8  // the first 20 bytes (the ACPI 1.0 part) sum to zero
	rsdpOEMIDOff              = 9  // 6 bytes
	rsdpRevisionOff           = 15 // 2: ACPI 2.0 and later, with the XSDT
	rsdpRSDTAddrOff           = 16 // 32-bit RSDT address: 0, gvmm has no RSDT
	rsdpLengthOff             = 20 // 36
	rsdpXSDTAddrOff           = 24 // 64-bit XSDT address
	rsdpExtChecksumOff        = 32 // all 36 bytes sum to zero
	rsdpV1Size                = 20
	rsdpSize                  = 36
	rsdpRevision              = 2
	xsdtRevision              = 1
	xsdtEntrySize             = 8
	rsdpAlignment      uint64 = 16
)

// rsdp builds the RSDP pointing at the XSDT at xsdt. ACPICA uses the XSDT
// whenever the revision is above 1 and the address is set
// (acpi_tb_parse_root_table), so no 32-bit RSDT is written.
func rsdp(xsdt uint64) []byte {
	b := make([]byte, rsdpSize)
	copy(b, rsdpSignature)
	copy(b[rsdpOEMIDOff:], oemID)
	b[rsdpRevisionOff] = rsdpRevision
	binary.LittleEndian.PutUint32(b[rsdpLengthOff:], rsdpSize)
	binary.LittleEndian.PutUint64(b[rsdpXSDTAddrOff:], xsdt)
	b[rsdpChecksumOff] = Checksum(b[:rsdpV1Size])
	b[rsdpExtChecksumOff] = Checksum(b)
	return b
}

// xsdt builds the Extended System Description Table (§5.2.8): the header
// and one 64-bit physical address per table.
func xsdt(tables ...uint64) []byte {
	body := make([]byte, 0, len(tables)*xsdtEntrySize)
	for _, t := range tables {
		body = binary.LittleEndian.AppendUint64(body, t)
	}
	return table("XSDT", xsdtRevision, body)
}
