package boot

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSetupHeaderOffsets pins the offsets to the table in
// Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header".
func TestSetupHeaderOffsets(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"setup_sects", hdrSetupSectsOff, 0x1f1},
		{"syssize", hdrSyssizeOff, 0x1f4},
		{"jump", hdrJumpOff, 0x200},
		{"header", hdrMagicOff, 0x202},
		{"version", hdrVersionOff, 0x206},
		{"type_of_loader", hdrTypeOfLoaderOff, 0x210},
		{"loadflags", hdrLoadflagsOff, 0x211},
		{"ramdisk_image", hdrRamdiskImageOff, 0x218},
		{"ramdisk_size", hdrRamdiskSizeOff, 0x21c},
		{"heap_end_ptr", hdrHeapEndPtrOff, 0x224},
		{"cmd_line_ptr", hdrCmdLinePtrOff, 0x228},
		{"initrd_addr_max", hdrInitrdAddrMaxOff, 0x22c},
		{"kernel_alignment", hdrKernelAlignmentOff, 0x230},
		{"relocatable_kernel", hdrRelocatableOff, 0x234},
		{"xloadflags", hdrXLoadflagsOff, 0x236},
		{"cmdline_size", hdrCmdlineSizeOff, 0x238},
		{"pref_address", hdrPrefAddressOff, 0x258},
		{"init_size", hdrInitSizeOff, 0x260},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
}

func TestParseSetupHeader(t *testing.T) {
	img := goodBz().build()
	h, err := ParseSetupHeader(bytes.NewReader(img), int64(len(img)))
	require.NoError(t, err)
	assert.Equal(t, uint16(0x020f), h.Version)
	assert.Equal(t, uint32(3), h.SetupSects)
	assert.Equal(t, int64(4*512), h.PayloadOffset)
	assert.Equal(t, int64(64<<10), h.PayloadSize)
	assert.Equal(t, uint32(4<<20), h.InitSize)
	assert.Equal(t, uint64(0x200000), h.PrefAddress)
	assert.Equal(t, uint32(2047), h.CmdlineSize)
	assert.True(t, h.Relocatable)
	assert.Len(t, h.Raw, 0x26c-0x1f1, "header copied up to 0x202 + jump byte")
	assert.Equal(t, []byte(hdrMagic), h.Raw[hdrMagicOff-hdrStartOff:][:4])

	// "If this field is 0, the real value is 4."
	s := goodBz()
	s.setupSects = 0
	img = s.build()
	h, err = ParseSetupHeader(bytes.NewReader(img), int64(len(img)))
	require.NoError(t, err)
	assert.Equal(t, uint32(4), h.SetupSects)
	assert.Equal(t, int64(5*512), h.PayloadOffset)

	// A header claiming to run past boot_params' copy is capped at 0x290.
	s = goodBz()
	s.jumpLen = 0xff
	img = s.build()
	h, err = ParseSetupHeader(bytes.NewReader(img), int64(len(img)))
	require.NoError(t, err)
	assert.Len(t, h.Raw, hdrMaxEnd-hdrStartOff)
}

func TestParseSetupHeaderErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*bzSpec)
		image  func([]byte) []byte // applied after build
		want   error
	}{
		{name: "no HdrS magic", image: func(b []byte) []byte { copy(b[hdrMagicOff:], "Nope"); return b }, want: ErrNotBzImage},
		{name: "too short for a header", image: func(b []byte) []byte { return b[:0x100] }, want: ErrNotBzImage},
		{name: "protocol 2.11", mutate: func(s *bzSpec) { s.version = 0x020b }, want: ErrProtocolTooOld},
		{name: "protocol 2.00", mutate: func(s *bzSpec) { s.version = 0x0200 }, want: ErrProtocolTooOld},
		{name: "no XLF_KERNEL_64", mutate: func(s *bzSpec) { s.xloadFlags = 0 }, want: ErrNot64Bit},
		{name: "zImage without LOADED_HIGH", mutate: func(s *bzSpec) { s.loadFlags = 0 }, want: ErrNotBzImage},
		{name: "header ends before init_size", mutate: func(s *bzSpec) { s.jumpLen = 0x20 }, want: ErrBadHeader},
		{name: "truncated setup header", image: func(b []byte) []byte { return b[:0x240] }, want: ErrTruncated},
		{name: "truncated setup sectors", image: func(b []byte) []byte { return b[:3*512] }, want: ErrTruncated},
		{name: "no payload", image: func(b []byte) []byte { return b[:4*512] }, want: ErrTruncated},
		{name: "truncated payload", image: func(b []byte) []byte { return b[:len(b)-100] }, want: ErrTruncated},
		{name: "init_size 0", mutate: func(s *bzSpec) { s.initSize = 0 }, want: ErrBadHeader},
		{name: "alignment not a power of two", mutate: func(s *bzSpec) { s.alignment = 0x300000 }, want: ErrBadHeader},
		{name: "alignment 0", mutate: func(s *bzSpec) { s.alignment = 0 }, want: ErrBadHeader},
		{name: "fixed kernel below 1 MiB", mutate: func(s *bzSpec) { s.relocatable, s.prefAddress = false, 0x10000 }, want: ErrBadHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := goodBz()
			if c.mutate != nil {
				c.mutate(&s)
			}
			img := s.build()
			if c.image != nil {
				img = c.image(img)
			}
			_, err := ParseSetupHeader(bytes.NewReader(img), int64(len(img)))
			require.ErrorIs(t, err, c.want)
			t.Log(err)
		})
	}
}

func TestRuntimeEnd(t *testing.T) {
	for _, c := range []struct {
		name        string
		relocatable bool
		align       uint32
		pref        uint64
		initSize    uint32
		payload     int64
		want        uint64
	}{
		// Linux 6.1 defaults: LOAD_PHYSICAL_ADDR 16 MiB wins over
		// align_up(1 MiB, 2 MiB).
		{"relocatable, pref 16 MiB", true, 0x200000, 0x1000000, 0x2000000, 0x800000, 0x3000000},
		{"relocatable, pref 0", true, 0x200000, 0, 0x100000, 0x1000, 0x300000},
		{"fixed at pref", false, 0x200000, 0x400000, 0x100000, 0x1000, 0x500000},
		// A huge payload reaches further than init_size.
		{"payload beyond init_size", true, 0x200000, 0x200000, 0x1000, 0x800000, 0x900000},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &SetupHeader{Relocatable: c.relocatable, KernelAlignment: c.align,
				PrefAddress: c.pref, InitSize: c.initSize, PayloadSize: c.payload}
			end, ok := h.runtimeEnd()
			require.True(t, ok)
			assert.Equal(t, c.want, end)
		})
	}
	h := &SetupHeader{PrefAddress: ^uint64(0) - 10, InitSize: 100}
	_, ok := h.runtimeEnd()
	assert.False(t, ok, "overflow must be detected")
}

// TestSetupHeaderLittleEndian guards the builder and parser against
// disagreeing on a multi-byte field.
func TestSetupHeaderLittleEndian(t *testing.T) {
	s := goodBz()
	s.prefAddress = 0x0102030405060708 &^ 0xfff
	img := s.build()
	assert.Equal(t, uint64(0x0102030405060000), binary.LittleEndian.Uint64(img[hdrPrefAddressOff:])&^0xffff)
	h, err := ParseSetupHeader(bytes.NewReader(img), int64(len(img)))
	require.NoError(t, err)
	assert.Equal(t, s.prefAddress, h.PrefAddress)
}
