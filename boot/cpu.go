package boot

import (
	"encoding/binary"
	"fmt"

	"gvmm/vmm"
)

// Selectors of the boot GDT. Documentation/arch/x86/boot.rst, "32-bit boot
// protocol": "__BOOT_CS(0x10) and __BOOT_DS(0x18); both descriptors must be
// 4G flat segment; __BOOT_CS must have execute/read permission, and
// __BOOT_DS must have read/write permission". PVH asks for the same flat
// segments.
const (
	BootCSSelector = 0x10
	BootDSSelector = 0x18
	BootTSSelector = 0x20
)

// gdtEntry encodes one 8-byte segment descriptor (Intel SDM Vol. 3A §3.4.5):
// flags holds the access byte in bits 0-7 and the G/DB/L/AVL nibble in bits
// 12-15, the layout KVM and the SDM both use.
func gdtEntry(flags uint16, base, limit uint32) uint64 {
	return uint64(base&0xff000000)<<32 |
		uint64(flags&0xf0ff)<<40 |
		uint64(limit&0x000f0000)<<32 |
		uint64(base&0x00ffffff)<<16 |
		uint64(limit&0x0000ffff)
}

// Descriptor flag words for gdtEntry.
const (
	// flagsCode64: present, DPL 0, code execute/read accessed (0x9b),
	// G=1, L=1 (64-bit code segment).
	flagsCode64 = 0xa09b
	// flagsCode32: present, code execute/read accessed, G=1, D/B=1.
	flagsCode32 = 0xc09b
	// flagsData: present, data read/write accessed (0x93), G=1, D/B=1.
	flagsData = 0xc093
	// flagsTSS: present, 32/64-bit busy TSS (0x8b).
	flagsTSS = 0x008b
	// tssLimit is the limit of a 32-bit TSS, 104 bytes. The PVH entry
	// (arch/x86/platform/pvh/head.S) asks for it: "tr: must be a 32-bit
	// TSS (active) with a base of '0' and a limit of '0x67'."
	tssLimit = 0x67
)

// Segment describes one segment register as KVM's struct kvm_segment does,
// decoded from the boot GDT.
type Segment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  bool
	DPL      uint8
	DB       bool
	S        bool
	L        bool
	G        bool
}

// segmentFromFlags builds the hidden part of a segment register from a GDT
// entry's flags, so registers and GDT always agree.
func segmentFromFlags(sel uint16, flags uint16, base, limit uint32) Segment {
	g := flags&0x8000 != 0
	lim := limit
	if g {
		lim = limit<<12 | 0xfff
	}
	return Segment{
		Base:     uint64(base),
		Limit:    lim,
		Selector: sel,
		Type:     uint8(flags & 0xf),
		Present:  flags&0x80 != 0,
		DPL:      uint8(flags>>5) & 3,
		DB:       flags&0x4000 != 0,
		S:        flags&0x10 != 0,
		L:        flags&0x2000 != 0,
		G:        g,
	}
}

// BootSegments returns the code, data and task segments matching the GDT
// written by WriteBootGDT for the given mode.
func BootSegments(mode CPUMode) (code, data, tss Segment) {
	codeFlags := uint16(flagsCode32)
	if mode == Mode64 {
		codeFlags = flagsCode64
	}
	code = segmentFromFlags(BootCSSelector, codeFlags, 0, 0xfffff)
	data = segmentFromFlags(BootDSSelector, flagsData, 0, 0xfffff)
	tss = segmentFromFlags(BootTSSelector, flagsTSS, 0, tssLimit)
	return code, data, tss
}

// WriteBootGDT writes the boot GDT at vmm.BootGDTAddr: a null descriptor,
// an unused slot, __BOOT_CS, __BOOT_DS and a TSS descriptor (VMX requires a
// usable task register even though the guest never switches tasks). It
// returns the GDTR base and limit.
func WriteBootGDT(mem Memory, mode CPUMode) (base uint64, limit uint16, err error) {
	codeFlags := uint16(flagsCode32)
	if mode == Mode64 {
		codeFlags = flagsCode64
	}
	gdt := []uint64{
		0,                               // null descriptor
		0,                               // 0x08: unused
		gdtEntry(codeFlags, 0, 0xfffff), // 0x10: __BOOT_CS
		gdtEntry(flagsData, 0, 0xfffff), // 0x18: __BOOT_DS
		gdtEntry(flagsTSS, 0, tssLimit), // 0x20: TSS
	}
	buf := make([]byte, 8*len(gdt))
	for i, e := range gdt {
		binary.LittleEndian.PutUint64(buf[8*i:], e)
	}
	if _, err := mem.WriteAt(buf, vmm.BootGDTAddr); err != nil {
		return 0, 0, fmt.Errorf("write boot GDT: %w", err)
	}
	return vmm.BootGDTAddr, uint16(len(buf) - 1), nil
}

// Page-table entry bits (Intel SDM Vol. 3A §4.5).
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	ptePageSize = 1 << 7 // in a PD entry: maps a 2 MiB page
)

// identityMapSize is how much the boot page tables map: the first 1 GiB,
// enough for the kernel, zero page, command line and the decompressor's
// work area. The kernel builds its own tables early and never relies on
// ours beyond that.
const identityMapSize = 1 << 30

// WriteIdentityPageTables builds 4-level page tables at vmm.PML4Addr that
// identity-map the first 1 GiB with 2 MiB pages, and returns the CR3 value.
// Documentation/arch/x86/boot.rst, "64-bit boot protocol": "the range with
// setup_header.init_size from start address of loaded kernel and zero page
// and command line buffer get ident mapping".
func WriteIdentityPageTables(mem Memory) (cr3 uint64, err error) {
	page := make([]byte, 4096)
	binary.LittleEndian.PutUint64(page, vmm.PDPTAddr|ptePresent|pteWritable)
	if _, err := mem.WriteAt(page, vmm.PML4Addr); err != nil {
		return 0, fmt.Errorf("write PML4: %w", err)
	}
	clear(page)
	binary.LittleEndian.PutUint64(page, vmm.PDAddr|ptePresent|pteWritable)
	if _, err := mem.WriteAt(page, vmm.PDPTAddr); err != nil {
		return 0, fmt.Errorf("write PDPT: %w", err)
	}
	for i := uint64(0); i < identityMapSize>>21; i++ {
		binary.LittleEndian.PutUint64(page[8*i:], i<<21|ptePresent|pteWritable|ptePageSize)
	}
	if _, err := mem.WriteAt(page, vmm.PDAddr); err != nil {
		return 0, fmt.Errorf("write PD: %w", err)
	}
	return vmm.PML4Addr, nil
}
