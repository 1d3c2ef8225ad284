package boot

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"gvmm/vmm"
)

// This file builds the synthetic kernels the tests load: bzImages with a
// chosen setup header and ELF executables with chosen segments and notes.
// Building them in code keeps every field visible next to the test that
// bends it.

// newMemory returns real guest memory of the given size, unmapped when the
// test ends.
func newMemory(t testing.TB, size uint64) *vmm.GuestMemory {
	t.Helper()
	mem, err := vmm.NewGuestMemory(size)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	return mem
}

// bzSpec describes a synthetic bzImage.
type bzSpec struct {
	setupSects    uint8 // 0 means 4, as in the protocol
	version       uint16
	loadFlags     uint8
	xloadFlags    uint16
	jumpLen       uint8 // byte at 0x201: header end is 0x202 + jumpLen
	syssize       uint32
	initrdAddrMax uint32
	alignment     uint32
	relocatable   bool
	cmdlineSize   uint32
	prefAddress   uint64
	initSize      uint32
	payload       []byte
}

// goodBz returns a bzImage spec shaped like a real 6.1 kernel, scaled
// down: relocatable, 2 MiB alignment, preferring 2 MiB, init_size 4 MiB.
func goodBz() bzSpec {
	payload := bytes.Repeat([]byte("KERNEL!!"), 8192) // 64 KiB
	return bzSpec{
		setupSects:    3,
		version:       0x020f,
		loadFlags:     loadflagLoadedHigh,
		xloadFlags:    xlfKernel64 | 1<<1,
		jumpLen:       0x6a, // header to 0x26c, like Linux 6.1
		syssize:       uint32(len(payload) / 16),
		initrdAddrMax: 0x7fffffff,
		alignment:     0x200000,
		relocatable:   true,
		cmdlineSize:   2047,
		prefAddress:   0x200000,
		initSize:      4 << 20,
		payload:       payload,
	}
}

// build lays the bzImage out: boot sector and setup sectors, then the
// payload.
func (s bzSpec) build() []byte {
	sects := int(s.setupSects)
	if sects == 0 {
		sects = 4
	}
	img := make([]byte, (sects+1)*sectorSize, (sects+1)*sectorSize+len(s.payload))
	le := binary.LittleEndian
	img[hdrSetupSectsOff] = s.setupSects
	le.PutUint32(img[hdrSyssizeOff:], s.syssize)
	le.PutUint16(img[0x1fe:], 0xaa55) // boot_flag
	img[hdrJumpOff], img[hdrJumpOff+1] = 0xeb, s.jumpLen
	copy(img[hdrMagicOff:], hdrMagic)
	le.PutUint16(img[hdrVersionOff:], s.version)
	img[hdrLoadflagsOff] = s.loadFlags
	le.PutUint32(img[hdrInitrdAddrMaxOff:], s.initrdAddrMax)
	le.PutUint32(img[hdrKernelAlignmentOff:], s.alignment)
	if s.relocatable {
		img[hdrRelocatableOff] = 1
	}
	le.PutUint16(img[hdrXLoadflagsOff:], s.xloadFlags)
	le.PutUint32(img[hdrCmdlineSizeOff:], s.cmdlineSize)
	le.PutUint64(img[hdrPrefAddressOff:], s.prefAddress)
	le.PutUint32(img[hdrInitSizeOff:], s.initSize)
	return append(img, s.payload...)
}

// elfSeg is one program header of a synthetic ELF.
type elfSeg struct {
	typ    elfProgType
	paddr  uint64
	data   []byte // file contents (p_filesz = len)
	memsz  uint64 // 0: same as len(data)
	off    uint64 // 0: placed by the builder
	filesz uint64 // 0: len(data); set to lie about the file size
	align  uint64
}

type elfProgType uint32

const (
	ptLoad elfProgType = 1
	ptNote elfProgType = 4
)

// elfSpec describes a synthetic ELF executable.
type elfSpec struct {
	class64 bool
	machine uint16 // 0: EM_386 or EM_X86_64 by class
	etype   uint16 // 0: ET_EXEC
	entry   uint64
	segs    []elfSeg
}

// pvhNote encodes a XEN_ELFNOTE_PHYS32_ENTRY note with an n-byte
// descriptor.
func pvhNote(entry uint64, n int) []byte {
	return elfNote(xenNoteName, xenElfnotePhys32Entry, entry, n)
}

// elfNote encodes one 4-byte-aligned ELF note.
func elfNote(name string, typ uint32, value uint64, n int) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(len(name)))
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, typ)
	b = append(b, name...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	desc := le.AppendUint64(nil, value)
	if n < 8 {
		desc = desc[:n]
	}
	b = append(b, desc...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// build writes the ELF header, program headers, then each segment's data.
func (s elfSpec) build() []byte {
	le := binary.LittleEndian
	ehsize, phentsize := 52, 32
	machine, class := uint16(3), byte(1) // EM_386, ELFCLASS32
	if s.class64 {
		ehsize, phentsize = 64, 56
		machine, class = 62, 2 // EM_X86_64, ELFCLASS64
	}
	if s.machine != 0 {
		machine = s.machine
	}
	etype := s.etype
	if etype == 0 {
		etype = 2 // ET_EXEC
	}
	phoff := uint64(ehsize)
	dataOff := phoff + uint64(phentsize*len(s.segs))
	out := make([]byte, dataOff)
	copy(out, []byte{0x7f, 'E', 'L', 'F', class, 1, 1})
	le.PutUint16(out[16:], etype)
	le.PutUint16(out[18:], machine)
	le.PutUint32(out[20:], 1)
	if s.class64 {
		le.PutUint64(out[24:], s.entry)
		le.PutUint64(out[32:], phoff)
		le.PutUint16(out[52:], uint16(ehsize))
		le.PutUint16(out[54:], uint16(phentsize))
		le.PutUint16(out[56:], uint16(len(s.segs)))
	} else {
		le.PutUint32(out[24:], uint32(s.entry))
		le.PutUint32(out[28:], uint32(phoff))
		le.PutUint16(out[40:], uint16(ehsize))
		le.PutUint16(out[42:], uint16(phentsize))
		le.PutUint16(out[44:], uint16(len(s.segs)))
	}
	for i, g := range s.segs {
		off := g.off
		if off == 0 {
			off = uint64(len(out))
			out = append(out, g.data...)
		}
		filesz, memsz := g.filesz, g.memsz
		if filesz == 0 {
			filesz = uint64(len(g.data))
		}
		if memsz == 0 {
			memsz = filesz
		}
		align := g.align
		if align == 0 {
			align = 4
		}
		ph := out[phoff+uint64(i*phentsize):]
		if s.class64 {
			le.PutUint32(ph[0:], uint32(g.typ))
			le.PutUint32(ph[4:], 7) // RWX
			le.PutUint64(ph[8:], off)
			le.PutUint64(ph[16:], g.paddr) // vaddr
			le.PutUint64(ph[24:], g.paddr)
			le.PutUint64(ph[32:], filesz)
			le.PutUint64(ph[40:], memsz)
			le.PutUint64(ph[48:], align)
		} else {
			le.PutUint32(ph[0:], uint32(g.typ))
			le.PutUint32(ph[4:], uint32(off))
			le.PutUint32(ph[8:], uint32(g.paddr))
			le.PutUint32(ph[12:], uint32(g.paddr))
			le.PutUint32(ph[16:], uint32(filesz))
			le.PutUint32(ph[20:], uint32(memsz))
			le.PutUint32(ph[24:], 7)
			le.PutUint32(ph[28:], uint32(align))
		}
	}
	return out
}

// goodPVH32 is a tiny 32-bit PVH guest: 4 KiB of code at 1 MiB plus 8 KiB
// of bss, entered at 1 MiB + 0x10.
func goodPVH32() elfSpec {
	return elfSpec{
		entry: 0x100010,
		segs: []elfSeg{
			{typ: ptLoad, paddr: 0x100000, data: bytes.Repeat([]byte{0xf4}, 4096), memsz: 3 * 4096},
			{typ: ptNote, data: pvhNote(0x100010, 4)},
		},
	}
}

// goodVmlinux is shaped like a Linux vmlinux: ELF64, text at 16 MiB and a
// data segment with a bss tail, several notes with the PVH entry (an
// 8-byte descriptor, as _ASM_PTR emits) not first.
func goodVmlinux() elfSpec {
	notes := append(elfNote("GNU\x00", 3, 0x1234, 8), elfNote("Linux\x00", 1, 0, 4)...)
	notes = append(notes, pvhNote(0x1000100, 8)...)
	return elfSpec{
		class64: true,
		entry:   0xffffffff81000000,
		segs: []elfSeg{
			{typ: ptLoad, paddr: 0x1000000, data: bytes.Repeat([]byte("text"), 2048), align: 0x200000},
			{typ: ptLoad, paddr: 0x1200000, data: bytes.Repeat([]byte("data"), 1024), memsz: 0x10000, align: 0x200000},
			{typ: ptNote, data: notes},
		},
	}
}

// readGuest reads n bytes of guest memory at addr.
func readGuest(t testing.TB, mem Memory, addr uint64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := mem.ReadAt(b, int64(addr))
	require.NoError(t, err)
	return b
}

// configFor wraps an in-memory kernel (and optional initrd) as a Config.
func configFor(kernel, initrd []byte, cmdline string) Config {
	cfg := Config{Kernel: bytes.NewReader(kernel), KernelSize: int64(len(kernel)), Cmdline: cmdline}
	if initrd != nil {
		cfg.Initrd, cfg.InitrdSize = bytes.NewReader(initrd), int64(len(initrd))
	}
	return cfg
}

// writeCounter is a Memory that counts the writes reaching it, for the
// tests that check the loaders write nothing before they have validated
// everything.
type writeCounter struct {
	Memory
	writes int
}

func (w *writeCounter) WriteAt(p []byte, off int64) (int, error) {
	w.writes++
	return w.Memory.WriteAt(p, off)
}
