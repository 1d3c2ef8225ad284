package boot

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"slices"

	"gvmm/vmm"
)

// LoadPVH loads an ELF kernel through the PVH boot protocol
// (xen/include/public/arch-x86/hvm/start_info.h and Xen's
// docs/misc/pvh.pandoc): the PT_LOAD segments at their physical addresses,
// the initrd as module 0, the command line and e820 map, all described by
// a struct hvm_start_info. The kernel is entered at its
// XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode with paging off and
// EBX pointing at hvm_start_info.
//
// Both tiny 32-bit test guests and Linux's vmlinux (ELF64, CONFIG_PVH=y)
// load this way. Everything is validated before the first byte is written.
func LoadPVH(mem Memory, cfg Config) (*Entry, error) {
	p, err := planPVH(mem.RAMRanges(), cfg)
	if err != nil {
		return nil, err
	}
	return p.write(mem, cfg)
}

// pvhPlan is what planPVH decided: the segments to copy, the entry point
// and where the initrd goes (0 for none).
type pvhPlan struct {
	segs       []*elf.Prog
	entry      uint64
	initrdAddr uint64
	ram        []Range
}

// planPVH validates a PVH boot against a RAM layout without touching
// guest memory.
func planPVH(ram []Range, cfg Config) (*pvhPlan, error) {
	f, err := openELF(cfg.Kernel, cfg.KernelSize)
	if err != nil {
		return nil, err
	}
	ramEnd, err := lowRAMEnd(ram)
	if err != nil {
		return nil, err
	}
	segs, err := loadSegments(f, cfg.KernelSize, ramEnd)
	if err != nil {
		return nil, err
	}
	entry, err := findPVHEntry(f, cfg.KernelSize)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(segs, func(p *elf.Prog) bool { return fitsIn(entry, 1, p.Paddr, p.Paddr+p.Memsz) }) {
		return nil, fmt.Errorf("%w: PVH entry %#x is outside every PT_LOAD segment", ErrBadELF, entry)
	}
	if err := checkCmdline(cfg.Cmdline, vmm.CmdlineMaxSize-1); err != nil {
		return nil, err
	}
	var kernelEnd uint64
	for _, p := range segs {
		kernelEnd = max(kernelEnd, p.Paddr+p.Memsz)
	}
	initrdAddr, err := planInitrd(cfg, ramEnd, kernelEnd)
	if err != nil {
		return nil, err
	}
	return &pvhPlan{segs: segs, entry: entry, initrdAddr: initrdAddr, ram: ram}, nil
}

// write carries out the plan: segments, initrd, command line,
// hvm_start_info and the boot GDT.
func (p *pvhPlan) write(mem Memory, cfg Config) (*Entry, error) {
	if err := copySegments(mem, cfg, p.segs); err != nil {
		return nil, err
	}
	if err := writeInitrd(mem, cfg, p.initrdAddr); err != nil {
		return nil, err
	}
	if err := writeCmdline(mem, cfg.Cmdline, vmm.CmdlineMaxSize-1); err != nil {
		return nil, err
	}
	si := &startInfo{cmdlineAddr: vmm.CmdlineAddr, rsdpAddr: cfg.RSDP, e820: E820Map(p.ram)}
	if p.initrdAddr != 0 {
		si.initrdAddr, si.initrdSize = p.initrdAddr, uint64(cfg.InitrdSize)
	}
	if err := writeStartInfo(mem, si); err != nil {
		return nil, err
	}
	gdtBase, gdtLimit, err := WriteBootGDT(mem, Mode32)
	if err != nil {
		return nil, err
	}
	return &Entry{
		Mode:       Mode32,
		IP:         p.entry,
		BootParams: vmm.PVHStartInfoAddr,
		GDTBase:    gdtBase,
		GDTLimit:   gdtLimit,
		Stack:      vmm.BootStackAddr,
	}, nil
}

// copySegments copies each PT_LOAD segment's file bytes to its physical
// address and zeroes the rest up to p_memsz (gABI: "If the segment's
// memory size (p_memsz) is larger than the file size (p_filesz), the
// "extra" bytes are defined to hold the value 0"). The segments' ranges
// were checked by loadSegments.
func copySegments(mem Memory, cfg Config, segs []*elf.Prog) error {
	for _, p := range segs {
		if err := copyToGuest(mem, p.Paddr, cfg.Kernel, int64(p.Off), int64(p.Filesz), "ELF segment"); err != nil {
			return err
		}
		if err := zeroGuest(mem, p.Paddr+p.Filesz, p.Memsz-p.Filesz); err != nil {
			return err
		}
	}
	return nil
}

// openELF parses the ELF headers and checks that this is an x86 executable.
func openELF(r io.ReaderAt, size int64) (f *elf.File, err error) {
	if r == nil || size <= 0 {
		return nil, fmt.Errorf("%w: the kernel file is empty", ErrTruncated)
	}
	f, err = elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: ELF headers end early: %v; the file is cut short", ErrTruncated, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadELF, err)
	}
	switch {
	case f.Class == elf.ELFCLASS32 && f.Machine == elf.EM_386:
	case f.Class == elf.ELFCLASS64 && f.Machine == elf.EM_X86_64:
	default:
		return nil, fmt.Errorf("%w: %v %v, want an x86 kernel (EM_386 or EM_X86_64)", ErrBadELF, f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("%w: type %v, want ET_EXEC (a linked kernel, not an object or a shared library)", ErrBadELF, f.Type)
	}
	return f, nil
}

// loadSegments returns the PT_LOAD segments after checking each one:
//
//   - p_filesz <= p_memsz (ELF gABI, "Program Header": "The file size may
//     not be larger than the memory size");
//   - the file bytes [p_offset, p_offset+p_filesz) exist in the file;
//   - the physical range [p_paddr, p_paddr+p_memsz) lies in RAM between
//     1 MiB and ramEnd: below 1 MiB are the GDT, hvm_start_info, e820
//     map, command line and MP table that the VMM writes, and above ramEnd
//     is the MMIO hole, which the 32-bit, paging-off entry could not reach
//     beyond anyway;
//   - no two segments overlap, which a linker never produces.
//
// Segments with p_memsz 0 occupy nothing and are skipped.
func loadSegments(f *elf.File, fileSize int64, ramEnd uint64) ([]*elf.Prog, error) {
	var segs []*elf.Prog
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("%w: PT_LOAD at %#x has p_filesz %#x > p_memsz %#x", ErrBadELF, p.Paddr, p.Filesz, p.Memsz)
		}
		if !fitsIn(p.Off, p.Filesz, 0, uint64(fileSize)) {
			return nil, fmt.Errorf("%w: PT_LOAD file range [%#x, +%#x) runs past the end of the %d-byte file; the file is cut short",
				ErrTruncated, p.Off, p.Filesz, fileSize)
		}
		if !fitsIn(p.Paddr, p.Memsz, vmm.HighMemoryStart, ramEnd) {
			return nil, fmt.Errorf("%w: PT_LOAD [%#x, +%#x) is not inside guest RAM [1 MiB, %#x); link the kernel at or above 1 MiB or raise --mem",
				ErrSegmentOutsideRAM, p.Paddr, p.Memsz, ramEnd)
		}
		segs = append(segs, p)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: no PT_LOAD segment with contents", ErrBadELF)
	}
	sorted := slices.Clone(segs)
	slices.SortFunc(sorted, func(a, b *elf.Prog) int {
		switch {
		case a.Paddr < b.Paddr:
			return -1
		case a.Paddr > b.Paddr:
			return 1
		}
		return 0
	})
	for i := 1; i < len(sorted); i++ {
		// Both ends were checked against ramEnd, so no overflow.
		if prev := sorted[i-1]; prev.Paddr+prev.Memsz > sorted[i].Paddr {
			return nil, fmt.Errorf("%w: PT_LOAD segments at %#x and %#x overlap", ErrBadELF, prev.Paddr, sorted[i].Paddr)
		}
	}
	return segs, nil
}
