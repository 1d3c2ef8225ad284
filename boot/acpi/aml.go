package acpi

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// This file is a tiny encoder for ACPI Machine Language (ACPI 6.5 §20,
// "ACPI Machine Language (AML) Specification"): just the terms a static
// DSDT needs, named objects, integers, strings, packages, buffers, scopes
// and devices. Each function returns the encoded bytes of one term; terms
// nest by passing bytes to the enclosing term. Names and IDs are
// constants of this package, so a malformed one is a programming error
// and panics (the tests build every table).

// AML opcodes (§20.3, "AML Byte Stream Byte Values").
const (
	amlZeroOp        = 0x00
	amlOneOp         = 0x01
	amlNameOp        = 0x08
	amlBytePrefix    = 0x0a
	amlWordPrefix    = 0x0b
	amlDWordPrefix   = 0x0c
	amlStringPrefix  = 0x0d
	amlQWordPrefix   = 0x0e
	amlScopeOp       = 0x10
	amlBufferOp      = 0x11
	amlPackageOp     = 0x12
	amlDualNamePfx   = 0x2e
	amlMultiNamePfx  = 0x2f
	amlExtOpPrefix   = 0x5b
	amlDeviceOp      = 0x82 // after amlExtOpPrefix
	amlRootChar      = '\\'
	amlNameSegLength = 4
)

// pkgLength encodes a PkgLength (§20.2.4) for a package whose contents,
// after the PkgLength itself, are n bytes long. The encoded value counts
// its own bytes too. One byte holds up to 63 in bits 0-5; longer lengths
// put the number of extra bytes (1 to 3) in bits 6-7 of the lead byte,
// the low 4 bits of the length in its bits 0-3, and the rest in the
// extra bytes, least significant first.
func pkgLength(n int) []byte {
	if n+1 <= 0x3f {
		return []byte{byte(n + 1)}
	}
	for extra := 1; extra <= 3; extra++ {
		total := n + 1 + extra
		if total < 1<<(4+8*extra) {
			b := []byte{byte(extra<<6) | byte(total&0xf)}
			for i := range extra {
				b = append(b, byte(total>>(4+8*i)))
			}
			return b
		}
	}
	panic(fmt.Sprintf("acpi: AML package of %d bytes is longer than PkgLength can say", n))
}

// nameSeg encodes one NameSeg (§20.2.2): a lead character A-Z or '_',
// then digits, letters or '_', padded with '_' to four bytes.
func nameSeg(s string) []byte {
	if len(s) == 0 || len(s) > amlNameSegLength {
		panic(fmt.Sprintf("acpi: AML name segment %q is not 1 to 4 characters", s))
	}
	for i, c := range s {
		ok := c >= 'A' && c <= 'Z' || c == '_' || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			panic(fmt.Sprintf("acpi: AML name segment %q has a bad character %q", s, c))
		}
	}
	return []byte(s + strings.Repeat("_", amlNameSegLength-len(s)))
}

// nameString encodes a NameString (§20.2.2): an optional root prefix '\',
// then one segment, two (DualNamePrefix) or more (MultiNamePrefix and a
// count), written here with dots: `\_SB.PCI0`.
func nameString(path string) []byte {
	var b []byte
	if strings.HasPrefix(path, string(amlRootChar)) {
		b = append(b, amlRootChar)
		path = path[1:]
	}
	segs := strings.Split(path, ".")
	switch {
	case len(segs) == 2:
		b = append(b, amlDualNamePfx)
	case len(segs) > 2:
		b = append(b, amlMultiNamePfx, byte(len(segs)))
	}
	for _, s := range segs {
		b = append(b, nameSeg(s)...)
	}
	return b
}

// amlName is DefName (§20.2.5.1): Name(name, value).
func amlName(name string, value []byte) []byte {
	b := append([]byte{amlNameOp}, nameString(name)...)
	return append(b, value...)
}

// amlInteger encodes an integer constant in the shortest form (§20.2.3):
// ZeroOp, OneOp, or a byte, word, dword or qword prefix.
func amlInteger(v uint64) []byte {
	le := binary.LittleEndian
	switch {
	case v == 0:
		return []byte{amlZeroOp}
	case v == 1:
		return []byte{amlOneOp}
	case v <= 0xff:
		return []byte{amlBytePrefix, byte(v)}
	case v <= 0xffff:
		return le.AppendUint16([]byte{amlWordPrefix}, uint16(v))
	case v <= 0xffff_ffff:
		return le.AppendUint32([]byte{amlDWordPrefix}, uint32(v))
	default:
		return le.AppendUint64([]byte{amlQWordPrefix}, v)
	}
}

// amlDWord encodes v with the DWord prefix whatever its size, as EisaId
// values are (so a disassembler shows them as IDs).
func amlDWord(v uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte{amlDWordPrefix}, v)
}

// amlString encodes a String (§20.2.3): ASCII characters and a NUL.
func amlString(s string) []byte {
	b := append([]byte{amlStringPrefix}, s...)
	return append(b, 0)
}

// amlPackage is DefPackage (§20.2.5.4): PkgLength, the element count (one
// byte, so at most 255 elements), the elements.
func amlPackage(elems ...[]byte) []byte {
	if len(elems) > 0xff {
		panic(fmt.Sprintf("acpi: AML package of %d elements", len(elems)))
	}
	body := []byte{byte(len(elems))}
	for _, e := range elems {
		body = append(body, e...)
	}
	return withPkgLength([]byte{amlPackageOp}, body)
}

// amlBuffer is DefBuffer (§20.2.5.4): PkgLength, the size as an integer
// term, the bytes.
func amlBuffer(data []byte) []byte {
	body := append(amlInteger(uint64(len(data))), data...)
	return withPkgLength([]byte{amlBufferOp}, body)
}

// amlScope is DefScope (§20.2.5.1): Scope(name) { terms }.
func amlScope(name string, terms ...[]byte) []byte {
	return withPkgLength([]byte{amlScopeOp}, concat(nameString(name), terms...))
}

// amlDevice is DefDevice (§20.2.5.2): Device(name) { terms }.
func amlDevice(name string, terms ...[]byte) []byte {
	return withPkgLength([]byte{amlExtOpPrefix, amlDeviceOp}, concat(nameString(name), terms...))
}

// withPkgLength returns op, the PkgLength of body, body.
func withPkgLength(op, body []byte) []byte {
	b := append(op, pkgLength(len(body))...)
	return append(b, body...)
}

// concat appends the terms to head.
func concat(head []byte, terms ...[]byte) []byte {
	b := append([]byte(nil), head...)
	for _, t := range terms {
		b = append(b, t...)
	}
	return b
}

// eisaID compresses a PNP ID such as "PNP0A03" into the 32-bit EISA ID
// form that _HID uses (§6.1.5: "EISA ID ... compressed"): three letters of
// 5 bits each (A = 1), then four hex digits, stored so that the bytes in
// memory read letters-high, letters-low, digits 1-2, digits 3-4.
func eisaID(id string) uint32 {
	if len(id) != 7 {
		panic(fmt.Sprintf("acpi: EISA ID %q is not 3 letters and 4 hex digits", id))
	}
	var letters uint16
	for _, c := range id[:3] {
		if c < 'A' || c > 'Z' {
			panic(fmt.Sprintf("acpi: EISA ID %q: %q is not an upper-case letter", id, c))
		}
		letters = letters<<5 | uint16(c-'@')
	}
	var product uint16
	for _, c := range id[3:] {
		var d uint16
		switch {
		case c >= '0' && c <= '9':
			d = uint16(c - '0')
		case c >= 'A' && c <= 'F':
			d = uint16(c-'A') + 10
		default:
			panic(fmt.Sprintf("acpi: EISA ID %q: %q is not an upper-case hex digit", id, c))
		}
		product = product<<4 | d
	}
	// Both halves are big-endian in memory; the DWord is little-endian.
	return uint32(letters>>8) | uint32(letters&0xff)<<8 | uint32(product>>8)<<16 | uint32(product&0xff)<<24
}
