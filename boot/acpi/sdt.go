package acpi

import "encoding/binary"

// System Description Table header (ACPI 6.5 §5.2.6, Table 5.4): every
// table but the RSDP starts with these 36 bytes.
const (
	sdtSignatureOff       = 0  // 4 ASCII bytes, e.g. "FACP"
	sdtLengthOff          = 4  // length of the table, header included
	sdtRevisionOff        = 8  // revision of the table's structure
	sdtChecksumOff        = 9  // the whole table sums to zero
	sdtOEMIDOff           = 10 // 6 bytes
	sdtOEMTableIDOff      = 16 // 8 bytes
	sdtOEMRevisionOff     = 24
	sdtCreatorIDOff       = 28 // vendor ID of the utility that made the table
	sdtCreatorRevisionOff = 32
	sdtHeaderSize         = 36
)

// What gvmm writes in the identification fields.
const (
	oemID           = "GVMM  "   // 6 bytes
	oemTableID      = "MICROVM " // 8 bytes
	oemRevision     = 1
	creatorID       = "GVMM"
	creatorRevision = 1
)

// table builds an ACPI table: the header with signature sig and revision
// rev, then body, with Length and Checksum filled in.
func table(sig string, rev uint8, body []byte) []byte {
	le := binary.LittleEndian
	t := make([]byte, sdtHeaderSize, sdtHeaderSize+len(body))
	copy(t[sdtSignatureOff:], sig)
	t[sdtRevisionOff] = rev
	copy(t[sdtOEMIDOff:], oemID)
	copy(t[sdtOEMTableIDOff:], oemTableID)
	le.PutUint32(t[sdtOEMRevisionOff:], oemRevision)
	copy(t[sdtCreatorIDOff:], creatorID)
	le.PutUint32(t[sdtCreatorRevisionOff:], creatorRevision)
	t = append(t, body...)
	le.PutUint32(t[sdtLengthOff:], uint32(len(t)))
	t[sdtChecksumOff] = Checksum(t)
	return t
}

// Checksum returns the byte that makes b (with its checksum byte still
// zero) sum to zero modulo 256: "the entire table, including the checksum
// field, must add to zero to be considered valid" (§5.2.6). The MP
// table's CHECKSUM fields (boot/mptable.go) follow the same rule.
func Checksum(b []byte) uint8 {
	var sum uint8
	for _, c := range b {
		sum += c
	}
	return -sum
}

// Generic Address Structure (§5.2.3.2, Table 5.1): how a fixed ACPI
// register is reached. 12 bytes.
const (
	gasSize = 12
	// Address space IDs.
	gasSystemIO = 1
	// Access sizes.
	gasAccessByte = 1
)

// ioRegister encodes a GAS for a byte-wide register at an I/O port.
func ioRegister(port uint16) []byte {
	g := make([]byte, gasSize)
	g[0] = gasSystemIO
	g[1] = 8 // Register Bit Width
	g[2] = 0 // Register Bit Offset
	g[3] = gasAccessByte
	binary.LittleEndian.PutUint64(g[4:], uint64(port))
	return g
}
