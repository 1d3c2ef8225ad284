package boot

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/vmm"
)

// TestStartInfoLayout pins hvm_start_info to start_info.h and checks that
// the PVH structures fit between their neighbours in layout_amd64.go.
func TestStartInfoLayout(t *testing.T) {
	assert.Equal(t, 56, siSize)
	assert.Equal(t, 48, siMemmapEntriesOff)
	assert.LessOrEqual(t, vmm.PVHStartInfoAddr+siSize, vmm.PVHModlistAddr)
	assert.LessOrEqual(t, vmm.PVHModlistAddr+modlistEntrySize, vmm.PVHMemmapAddr)
	assert.LessOrEqual(t, vmm.PVHMemmapAddr+memmapMaxEntries*memmapEntrySize, vmm.BootStackAddr-0x1000+0x10,
		"memmap leaves the boot stack a page")
}

// fillGuest writes a non-zero pattern so tests can see what the loader
// zeroed.
func fillGuest(t *testing.T, mem Memory, addr, n uint64) {
	t.Helper()
	_, err := mem.WriteAt(bytes.Repeat([]byte{0xaa}, int(n)), int64(addr))
	require.NoError(t, err)
}

func TestLoadPVH32(t *testing.T) {
	const memSize = 16 << 20
	mem := newMemory(t, memSize)
	fillGuest(t, mem, 0x100000, 4*4096)
	spec := goodPVH32()
	initrd := []byte("070701 a tiny cpio")
	cmdline := "console=ttyS0"

	cfg := configFor(spec.build(), initrd, cmdline)
	cfg.RSDP = vmm.ACPITablesStart
	entry, err := LoadPVH(mem, cfg)
	require.NoError(t, err)
	assert.Equal(t, &Entry{
		Mode: Mode32, IP: 0x100010, BootParams: vmm.PVHStartInfoAddr,
		GDTBase: vmm.BootGDTAddr, GDTLimit: 39, Stack: vmm.BootStackAddr,
	}, entry)

	// The segment, then its bss zeroed, then untouched memory.
	assert.Equal(t, spec.segs[0].data, readGuest(t, mem, 0x100000, 4096))
	assert.Equal(t, make([]byte, 2*4096), readGuest(t, mem, 0x101000, 2*4096), "bss tail zeroed")
	assert.Equal(t, byte(0xaa), readGuest(t, mem, 0x103000, 1)[0], "nothing written past p_memsz")

	le := binary.LittleEndian
	si := readGuest(t, mem, vmm.PVHStartInfoAddr, siSize)
	assert.Equal(t, uint32(0x336ec578), le.Uint32(si[siMagicOff:]))
	assert.Equal(t, uint32(1), le.Uint32(si[siVersionOff:]))
	assert.Equal(t, uint32(0), le.Uint32(si[siFlagsOff:]))
	assert.Equal(t, uint32(1), le.Uint32(si[siNrModulesOff:]))
	assert.Equal(t, uint64(vmm.PVHModlistAddr), le.Uint64(si[siModlistPaddrOff:]))
	assert.Equal(t, uint64(vmm.CmdlineAddr), le.Uint64(si[siCmdlinePaddrOff:]))
	assert.Equal(t, uint64(vmm.ACPITablesStart), le.Uint64(si[siRsdpPaddrOff:]))
	assert.Equal(t, uint64(vmm.PVHMemmapAddr), le.Uint64(si[siMemmapPaddrOff:]))
	assert.Equal(t, uint32(4), le.Uint32(si[siMemmapEntriesOff:]))
	assert.Equal(t, uint32(0), le.Uint32(si[52:]), "reserved: must be zero")
	assert.Equal(t, append([]byte(cmdline), 0), readGuest(t, mem, vmm.CmdlineAddr, len(cmdline)+1))

	mod := readGuest(t, mem, vmm.PVHModlistAddr, modlistEntrySize)
	initrdAddr := le.Uint64(mod)
	assert.Equal(t, uint64(len(initrd)), le.Uint64(mod[8:]))
	assert.Zero(t, le.Uint64(mod[16:]), "no module command line")
	assert.Zero(t, initrdAddr%4096)
	assert.Equal(t, uint64(memSize-4096), initrdAddr, "highest page that holds it")
	assert.Equal(t, initrd, readGuest(t, mem, initrdAddr, len(initrd)))

	memmap := readGuest(t, mem, vmm.PVHMemmapAddr, 4*memmapEntrySize)
	for i, w := range E820Map(mem.RAMRanges()) {
		b := memmap[i*memmapEntrySize:]
		assert.Equal(t, w, E820Entry{le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:])})
		assert.Zero(t, le.Uint32(b[20:]), "reserved")
	}
}

func TestLoadPVHVmlinux(t *testing.T) {
	mem := newMemory(t, 64<<20)
	spec := goodVmlinux()
	entry, err := LoadPVH(mem, configFor(spec.build(), nil, "console=hvc0"))
	require.NoError(t, err)
	assert.Equal(t, Mode32, entry.Mode)
	assert.Equal(t, uint64(0x1000100), entry.IP, "physical PVH entry, not the virtual e_entry")
	assert.Equal(t, spec.segs[0].data, readGuest(t, mem, 0x1000000, len(spec.segs[0].data)))
	assert.Equal(t, spec.segs[1].data, readGuest(t, mem, 0x1200000, len(spec.segs[1].data)))
	si := readGuest(t, mem, vmm.PVHStartInfoAddr, siSize)
	assert.Zero(t, binary.LittleEndian.Uint64(si[siRsdpPaddrOff:]), "no RSDP given, none passed")
	assert.Zero(t, binary.LittleEndian.Uint32(si[siNrModulesOff:]))
	assert.Zero(t, binary.LittleEndian.Uint64(si[siModlistPaddrOff:]))
}

func TestLoadPVHErrors(t *testing.T) {
	seg := func(paddr uint64, n int) elfSeg {
		return elfSeg{typ: ptLoad, paddr: paddr, data: bytes.Repeat([]byte{0x90}, n)}
	}
	note := elfSeg{typ: ptNote, data: pvhNote(0x100000, 4)}
	for _, c := range []struct {
		name  string
		spec  elfSpec
		image func([]byte) []byte
		cfg   func(*Config)
		want  error
	}{
		{name: "no PVH note", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64)}}, want: ErrNoPVHNote},
		{name: "note of another owner", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64),
			{typ: ptNote, data: elfNote("Linux\x00", xenElfnotePhys32Entry, 0x100000, 4)}}}, want: ErrNoPVHNote},
		{name: "note descriptor 2 bytes", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64),
			{typ: ptNote, data: pvhNote(0x100000, 2)}}}, want: ErrBadELF},
		{name: "note entry above 4 GiB", spec: elfSpec{class64: true, segs: []elfSeg{seg(0x100000, 64),
			{typ: ptNote, data: pvhNote(1<<32|0x100000, 8)}}}, want: ErrBadELF},
		{name: "note runs past its segment", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64),
			{typ: ptNote, data: pvhNote(0x100000, 4)[:14]}}}, want: ErrBadELF},
		{name: "entry outside the segments", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64),
			{typ: ptNote, data: pvhNote(0x200000, 4)}}}, want: ErrBadELF},
		{name: "segment below 1 MiB", spec: elfSpec{segs: []elfSeg{seg(0x7000, 64), note}}, want: ErrSegmentOutsideRAM},
		{name: "segment past the end of RAM", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64), seg(0xfff000, 8192), note}}, want: ErrSegmentOutsideRAM},
		{name: "segment at 4 GiB - 1", spec: elfSpec{class64: true, segs: []elfSeg{seg(0x100000, 64),
			{typ: ptLoad, paddr: 0xffff_ffff, data: []byte{1}, memsz: 1 << 40}, note}}, want: ErrSegmentOutsideRAM},
		{name: "memsz wraps around", spec: elfSpec{class64: true, segs: []elfSeg{
			{typ: ptLoad, paddr: 0x100000, data: []byte{1}, memsz: ^uint64(0)}, note}}, want: ErrSegmentOutsideRAM},
		{name: "filesz > memsz", spec: elfSpec{segs: []elfSeg{{typ: ptLoad, paddr: 0x100000, data: make([]byte, 64), memsz: 32}, note}}, want: ErrBadELF},
		{name: "overlapping segments", spec: elfSpec{segs: []elfSeg{seg(0x100000, 8192), seg(0x101000, 64), note}}, want: ErrBadELF},
		{name: "no loadable segment", spec: elfSpec{segs: []elfSeg{note}}, want: ErrBadELF},
		{name: "ARM machine", spec: elfSpec{machine: 40, segs: []elfSeg{seg(0x100000, 64), note}}, want: ErrBadELF},
		{name: "shared object", spec: elfSpec{etype: 3, segs: []elfSeg{seg(0x100000, 64), note}}, want: ErrBadELF},
		{name: "segment data past end of file", spec: elfSpec{segs: []elfSeg{
			{typ: ptLoad, paddr: 0x100000, data: make([]byte, 64), filesz: 1 << 20}, note}}, want: ErrTruncated},
		{name: "file cut inside a segment", spec: goodPVH32(), image: func(b []byte) []byte { return b[:200] }, want: ErrTruncated},
		{name: "file cut inside the ELF header", spec: goodPVH32(), image: func(b []byte) []byte { return b[:30] }, want: ErrTruncated},
		{name: "empty file", spec: goodPVH32(), image: func(b []byte) []byte { return nil }, want: ErrTruncated},
		{name: "corrupt ELF class", spec: goodPVH32(), image: func(b []byte) []byte { b[4] = 9; return b }, want: ErrBadELF},
		{name: "command line too long", spec: goodPVH32(),
			cfg: func(c *Config) { c.Cmdline = strings.Repeat("y", vmm.CmdlineMaxSize) }, want: ErrCmdlineTooLong},
		{name: "initrd larger than RAM", spec: goodPVH32(),
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(nil), 64<<20 }, want: ErrInitrdTooLarge},
		{name: "initrd would overlap the kernel", spec: elfSpec{segs: []elfSeg{seg(0x100000, 64),
			{typ: ptLoad, paddr: 0xe00000, data: []byte{1}, memsz: 0x100000}, note}},
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(make([]byte, 2<<20)), 2<<20 }, want: ErrOverlap},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemory(t, 16<<20)
			img := c.spec.build()
			if c.image != nil {
				img = c.image(img)
			}
			cfg := configFor(img, nil, "")
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			rec := &writeCounter{Memory: mem}
			_, err := LoadPVH(rec, cfg)
			require.ErrorIs(t, err, c.want)
			t.Log(err)
			assert.Zero(t, rec.writes, "guest memory must be untouched when validation fails")
			// Check sniffs the format first, as Load does: an empty file is
			// "not a kernel" there rather than a truncated ELF.
			assert.Error(t, Check(mem.RAMRanges(), cfg), "Check refuses what LoadPVH refuses")
		})
	}
}

// TestManyNoteHeaders is the regression test for a PVH ELF whose program
// headers list the same megabyte of notes thousands of times: each
// segment was within its own bound, and the loader read them all (2,000
// headers: 2 GiB of reads). The total is bounded now.
func TestManyNoteHeaders(t *testing.T) {
	const headers = 2000
	good := goodPVH32()
	load, pvh := good.segs[0], good.segs[1]
	spec := elfSpec{class64: true, entry: good.entry}
	notes := make([]byte, 1<<20) // zero-sized notes of type 0: 87,381 to walk
	// The builder puts the program headers first, then each segment's data
	// in order: the load segment's, then the notes every header shares.
	at := uint64(64+56*(headers+2)) + uint64(len(load.data))
	spec.segs = append(spec.segs, load, elfSeg{typ: ptNote, data: notes})
	for i := 1; i < headers; i++ {
		spec.segs = append(spec.segs, elfSeg{typ: ptNote, off: at, filesz: uint64(len(notes))})
	}
	spec.segs = append(spec.segs, pvh) // the entry is there, after the flood
	_, err := LoadPVH(newMemory(t, 16<<20), configFor(spec.build(), nil, ""))
	require.ErrorIs(t, err, ErrBadELF, "refused after the first megabyte, not 2 GiB later")
	assert.Contains(t, err.Error(), "PT_NOTE segments of over")
}

// TestScanNotesAlignment checks note walking with gABI 8-byte padding.
func TestScanNotesAlignment(t *testing.T) {
	le := binary.LittleEndian
	var b []byte
	// A 5-byte name ("Linux" without NUL) pads to 8 with 8-byte alignment.
	b = le.AppendUint32(b, 5)
	b = le.AppendUint32(b, 4)
	b = le.AppendUint32(b, 1)
	b = append(b, "Linux\x00\x00\x00"...)
	b = append(b, 1, 2, 3, 4, 0, 0, 0, 0)
	b = le.AppendUint32(b, 4)
	b = le.AppendUint32(b, 8)
	b = le.AppendUint32(b, xenElfnotePhys32Entry)
	b = append(b, "Xen\x00\x00\x00\x00\x00"...)
	b = le.AppendUint64(b, 0x123456)
	entry, found, err := scanNotes(b, 8, le)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, uint64(0x123456), entry)
}

func TestLoadFrontDoor(t *testing.T) {
	for _, c := range []struct {
		name  string
		image []byte
		mode  CPUMode
		want  error
	}{
		{name: "ELF goes through PVH", image: goodPVH32().build(), mode: Mode32},
		{name: "bzImage goes through the 64-bit protocol", image: goodBz().build(), mode: Mode64},
		{name: "text file", image: []byte("#!/bin/sh\necho not a kernel\n"), want: ErrNotKernel},
		{name: "zeros", image: make([]byte, 4096), want: ErrNotKernel},
		{name: "empty", image: nil, want: ErrNotKernel},
		{name: "PE without HdrS", image: append([]byte("MZ"), make([]byte, 1024)...), want: ErrNotKernel},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemory(t, 16<<20)
			entry, err := Load(mem, configFor(c.image, nil, ""))
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				assert.Contains(t, err.Error(), "not an ELF or bzImage kernel")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.mode, entry.Mode)
		})
	}
	_, err := Load(newMemory(t, 16<<20), Config{})
	require.ErrorIs(t, err, ErrNotKernel)
}

func TestE820Map(t *testing.T) {
	const gib = 1 << 30
	got := E820Map([]Range{{Start: 0, Size: vmm.MMIOGapStart}, {Start: vmm.HighRAMStart, Size: 2 * gib}})
	assert.Equal(t, []E820Entry{
		{0, 0x9fc00, E820RAM},
		{0x9fc00, 0x400, E820Reserved},
		{0xe0000, 0x20000, E820Reserved},
		{0x100000, vmm.MMIOGapStart - 0x100000, E820RAM},
		{vmm.HighRAMStart, 2 * gib, E820RAM},
	}, got)
	// Less than 640 KiB of RAM: only the part that exists is reported.
	assert.Equal(t, []E820Entry{{0, 0x80000, E820RAM}}, E820Map([]Range{{Start: 0, Size: 0x80000}}))
}

// TestPVHSegments checks the segment state the PVH entry asks for
// (arch/x86/platform/pvh/head.S): flat 32-bit code and data, and "tr: must
// be a 32-bit TSS (active) with a base of '0' and a limit of '0x67'".
func TestPVHSegments(t *testing.T) {
	code, data, tss := BootSegments(Mode32)
	assert.Equal(t, Segment{Base: 0, Limit: 0xffffffff, Selector: 0x10, Type: 0xb, Present: true, DB: true, S: true, G: true}, code)
	assert.Equal(t, Segment{Base: 0, Limit: 0xffffffff, Selector: 0x18, Type: 0x3, Present: true, DB: true, S: true, G: true}, data)
	assert.Equal(t, Segment{Base: 0, Limit: 0x67, Selector: 0x20, Type: 0xb, Present: true}, tss)
	code64, _, _ := BootSegments(Mode64)
	assert.True(t, code64.L, "64-bit code segment")
	assert.False(t, code64.DB, "L=1 requires D=0")
}
