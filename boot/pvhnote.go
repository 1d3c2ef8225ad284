package boot

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY from Xen's
// include/public/elfnote.h: "Physical entry point into the kernel. 32bit
// entry point into the kernel. When requested to launch the guest kernel,
// use this entry point to launch the guest in 32bit protected mode with
// paging disabled."
const xenElfnotePhys32Entry = 18

// xenNoteName is the owner name of Xen notes ("Xen" plus its NUL).
const xenNoteName = "Xen\x00"

// maxNoteBytes bounds how much the loader reads of all PT_NOTE segments
// together. A real kernel's notes are a few hundred bytes. Bounding each
// segment is not enough: the program header table may hold 65,535
// entries, all pointing at the same megabyte, which would be 64 GiB of
// reads and note walking.
const maxNoteBytes = 1 << 20

// noteHeaderSize is the fixed part of an ELF note: namesz, descsz, type,
// three 4-byte words in both ELF classes.
const noteHeaderSize = 12

// findPVHEntry scans the PT_NOTE segments for the PHYS32_ENTRY note and
// returns the 32-bit physical entry address it holds.
func findPVHEntry(f *elf.File, fileSize int64) (uint64, error) {
	var total uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		// Filesz is at most 2^64-1 and total at most maxNoteBytes, so
		// the test is written not to overflow.
		if p.Filesz > maxNoteBytes-total {
			return 0, fmt.Errorf("%w: PT_NOTE segments of over %d bytes in all (this one: %d bytes)",
				ErrBadELF, maxNoteBytes, p.Filesz)
		}
		total += p.Filesz
		if !fitsIn(p.Off, p.Filesz, 0, uint64(fileSize)) {
			return 0, fmt.Errorf("%w: PT_NOTE segment [%#x, +%#x) runs past the end of the %d-byte file",
				ErrTruncated, p.Off, p.Filesz, fileSize)
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return 0, fmt.Errorf("%w: read PT_NOTE segment: %v", ErrTruncated, err)
		}
		entry, found, err := scanNotes(data, p.Align, f.ByteOrder)
		if err != nil {
			return 0, err
		}
		if found {
			return entry, nil
		}
	}
	return 0, fmt.Errorf("%w: no XEN_ELFNOTE_PHYS32_ENTRY (type %d) in any PT_NOTE segment; build Linux with CONFIG_PVH=y or add the note to the guest",
		ErrNoPVHNote, xenElfnotePhys32Entry)
}

// scanNotes walks the notes in one segment. ELF gABI, "Note Section": each
// note is namesz, descsz, type, then the name and the descriptor, each
// padded to the note alignment. Linux and Xen use 4-byte alignment in both
// ELF classes; a segment aligned to 8 uses 8 (gABI, ELF64).
func scanNotes(data []byte, segAlign uint64, bo binary.ByteOrder) (entry uint64, found bool, err error) {
	align := uint64(4)
	if segAlign == 8 {
		align = 8
	}
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }
	for len(data) >= noteHeaderSize {
		namesz := uint64(bo.Uint32(data[0:]))
		descsz := uint64(bo.Uint32(data[4:]))
		typ := bo.Uint32(data[8:])
		rest := uint64(len(data) - noteHeaderSize)
		// namesz and descsz are 32-bit, so the padded sums cannot
		// overflow a uint64.
		if pad(namesz) > rest || descsz > rest-pad(namesz) {
			return 0, false, fmt.Errorf("%w: note of type %d (namesz %d, descsz %d) runs past its PT_NOTE segment",
				ErrBadELF, typ, namesz, descsz)
		}
		name := data[noteHeaderSize : noteHeaderSize+namesz]
		desc := data[noteHeaderSize+pad(namesz):][:descsz]
		if string(name) == xenNoteName && typ == xenElfnotePhys32Entry {
			e, err := decodePVHEntry(desc, bo)
			return e, err == nil, err
		}
		next := noteHeaderSize + pad(namesz) + pad(descsz)
		if next >= uint64(len(data)) {
			break
		}
		data = data[next:]
	}
	return 0, false, nil
}

// decodePVHEntry reads the entry address of a PHYS32_ENTRY note. Linux
// emits it with _ASM_PTR, so it is 8 bytes in a 64-bit vmlinux and 4 in a
// 32-bit one; either way it is a 32-bit physical address.
func decodePVHEntry(desc []byte, bo binary.ByteOrder) (uint64, error) {
	var e uint64
	switch len(desc) {
	case 4:
		e = uint64(bo.Uint32(desc))
	case 8:
		e = bo.Uint64(desc)
	default:
		return 0, fmt.Errorf("%w: PHYS32_ENTRY note has a %d-byte descriptor, want 4 or 8", ErrBadELF, len(desc))
	}
	if e == 0 || e > 0xffff_ffff {
		return 0, fmt.Errorf("%w: PHYS32_ENTRY %#x is not a non-zero 32-bit address", ErrBadELF, e)
	}
	return e, nil
}
