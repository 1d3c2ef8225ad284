package acpi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The encodings below are worked out by hand from ACPI 6.5 §20.2 and
// checked against what iasl emits for the same ASL.

func TestPkgLength(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x01}},
		{62, []byte{0x3f}},                // the largest one-byte length: 63
		{63, []byte{0x40 | 1, 0x04}},      // 65 = 0x41: low nibble 1, then 0x04
		{0xffd, []byte{0x40 | 0xf, 0xff}}, // 0xfff, the largest two-byte length
		{0xffe, []byte{0x80 | 1, 0x00, 0x01}},
		{1 << 20, []byte{0xc0 | 4, 0x00, 0x00, 0x01}},
	} {
		got := pkgLength(tc.n)
		assert.Equal(t, tc.want, got, "pkgLength(%d)", tc.n)
		// The encoded value counts itself: decode and compare.
		total := int(got[0] & 0x3f)
		if len(got) > 1 {
			total = int(got[0] & 0x0f)
			for i, b := range got[1:] {
				total |= int(b) << (4 + 8*i)
			}
		}
		assert.Equal(t, tc.n+len(got), total, "pkgLength(%d) decodes to its own length plus n", tc.n)
	}
	assert.Panics(t, func() { pkgLength(1 << 28) })
}

func TestNameString(t *testing.T) {
	assert.Equal(t, []byte("COM1"), nameString("COM1"))
	assert.Equal(t, []byte("RTC_"), nameString("RTC"))
	assert.Equal(t, []byte(`\_S5_`), nameString(`\_S5`))
	assert.Equal(t, append([]byte{'\\', 0x2e}, "_SB_PCI0"...), nameString(`\_SB.PCI0`))
	assert.Equal(t, append([]byte{0x2f, 3}, "_SB_PCI0COM1"...), nameString("_SB.PCI0.COM1"))
	for _, bad := range []string{"", "TOOLONG", "1ABC", "ab", "A-B"} {
		assert.Panics(t, func() { nameString(bad) }, "%q", bad)
	}
}

func TestAMLInteger(t *testing.T) {
	assert.Equal(t, []byte{0x00}, amlInteger(0))
	assert.Equal(t, []byte{0x01}, amlInteger(1))
	assert.Equal(t, []byte{0x0a, 0x05}, amlInteger(5))
	assert.Equal(t, []byte{0x0b, 0xf8, 0x03}, amlInteger(0x3f8))
	assert.Equal(t, []byte{0x0c, 0x00, 0x00, 0x00, 0xd0}, amlInteger(0xd000_0000))
	assert.Equal(t, []byte{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}, amlInteger(1<<32))
	assert.Equal(t, []byte{0x0c, 0x01, 0, 0, 0}, amlDWord(1))
	assert.Equal(t, []byte{0x0d, 'h', 'i', 0}, amlString("hi"))
}

func TestEISAID(t *testing.T) {
	// iasl: EisaId ("PNP0A03") is the DWord 0x030AD041.
	assert.Equal(t, uint32(0x030ad041), eisaID("PNP0A03"))
	assert.Equal(t, uint32(0x0105d041), eisaID("PNP0501"))
	assert.Equal(t, uint32(0x000bd041), eisaID("PNP0B00"))
	assert.Equal(t, uint32(0x020cd041), eisaID("PNP0C02"))
	for _, bad := range []string{"PNP0A0", "pnp0a03", "PNP0A0G", "P1P0A03"} {
		assert.Panics(t, func() { eisaID(bad) }, "%q", bad)
	}
}

func TestAMLTerms(t *testing.T) {
	// Name (\_S5, Package () { 5, 5 })
	assert.Equal(t,
		[]byte{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05},
		amlName(`\_S5`, amlPackage(amlInteger(5), amlInteger(5))))
	// Device (RTC) { Name (_UID, 1) }
	assert.Equal(t,
		[]byte{0x5b, 0x82, 0x0b, 'R', 'T', 'C', '_', 0x08, '_', 'U', 'I', 'D', 0x01},
		amlDevice("RTC", amlName("_UID", amlInteger(1))))
	// Scope (\_SB) {}
	assert.Equal(t, []byte{0x10, 0x06, '\\', '_', 'S', 'B', '_'}, amlScope(`\_SB`))
	// Buffer () { 0x79, 0x00 }: size as a byte constant
	assert.Equal(t, []byte{0x11, 0x05, 0x0a, 0x02, 0x79, 0x00}, resourceTemplate())
}

func TestResourceDescriptors(t *testing.T) {
	// IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
	assert.Equal(t, []byte{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}, ioPort(0x3f8, 8))
	// IRQNoFlags () {4}
	assert.Equal(t, []byte{0x22, 0x10, 0x00}, irq(4))
	// WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
	//     0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
	assert.Equal(t, []byte{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00}, wordWindow(resTypeBus, 0, 0, 0))
	// WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
	//     0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
	assert.Equal(t, []byte{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03,
		0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3},
		wordWindow(resTypeIO, resIOEntireRange, 0xd00, 0xffff))
	// DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
	//     NonCacheable, ReadWrite, 0, 0xD0000000, 0xDFFFFFFF, 0, 0x10000000)
	assert.Equal(t, []byte{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
		0, 0, 0, 0, 0x00, 0x00, 0x00, 0xd0, 0xff, 0xff, 0xff, 0xdf, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x10},
		dwordMemWindow(0xd000_0000, 0xdfff_ffff))
}
