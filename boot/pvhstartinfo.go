package boot

import (
	"encoding/binary"
	"fmt"

	"gvmm/vmm"
)

// struct hvm_start_info, version 1 (xen/include/public/arch-x86/hvm/
// start_info.h, whose comment draws the layout with these offsets).
const (
	siMagicOff         = 0  // magic: XEN_HVM_START_MAGIC_VALUE
	siVersionOff       = 4  // version: 1
	siFlagsOff         = 8  // flags: SIF_xxx, none used
	siNrModulesOff     = 12 // nr_modules
	siModlistPaddrOff  = 16 // modlist_paddr
	siCmdlinePaddrOff  = 24 // cmdline_paddr
	siRsdpPaddrOff     = 32 // rsdp_paddr: the ACPI RSDP, 0 for none
	siMemmapPaddrOff   = 40 // memmap_paddr (version 1+)
	siMemmapEntriesOff = 48 // memmap_entries (version 1+)
	siSize             = 56 // 52: reserved, "Must be zero."

	// "#define XEN_HVM_START_MAGIC_VALUE 0x336ec578" ("xEn3" with the
	// 0x80 bit of the "E" set).
	xenHVMStartMagic = 0x336ec578
	// "Version 1: Added the memmap_paddr/memmap_entries fields".
	startInfoVersion = 1

	// struct hvm_modlist_entry: paddr, size, cmdline_paddr, reserved.
	modlistEntrySize = 32
	// struct hvm_memmap_table_entry: addr, size, type, reserved.
	memmapEntrySize = 24
	// memmapMaxEntries bounds the map so it stays inside its page
	// (vmm.PVHMemmapAddr up to the boot stack); Linux copies at most
	// E820_MAX_ENTRIES_ZEROPAGE (128) entries.
	memmapMaxEntries = 128
)

// startInfo is what LoadPVH describes to the kernel.
type startInfo struct {
	cmdlineAddr uint64
	initrdAddr  uint64 // 0: no initrd
	initrdSize  uint64
	rsdpAddr    uint64 // 0: no ACPI tables
	e820        []E820Entry
}

// writeStartInfo writes the memory map at vmm.PVHMemmapAddr, the module
// list at vmm.PVHModlistAddr and hvm_start_info at vmm.PVHStartInfoAddr.
//
// start_info.h: "nothing will be loaded at physical address 0, so a 0
// value in any of the address fields should be treated as not present."
// Linux's PVH entry treats "the first module is always ramdisk"
// (arch/x86/platform/pvh/enlighten.c).
func writeStartInfo(mem Memory, s *startInfo) error {
	le := binary.LittleEndian
	if len(s.e820) == 0 || len(s.e820) > memmapMaxEntries {
		return fmt.Errorf("PVH memory map has %d entries, want 1 to %d", len(s.e820), memmapMaxEntries)
	}
	memmap := make([]byte, len(s.e820)*memmapEntrySize)
	for i, e := range s.e820 {
		b := memmap[i*memmapEntrySize:]
		le.PutUint64(b[0:], e.Addr)
		le.PutUint64(b[8:], e.Size)
		le.PutUint32(b[16:], e.Type) // then 4 reserved bytes, zero
	}
	if _, err := mem.WriteAt(memmap, vmm.PVHMemmapAddr); err != nil {
		return fmt.Errorf("write PVH memory map: %w", err)
	}

	si := make([]byte, siSize)
	le.PutUint32(si[siMagicOff:], xenHVMStartMagic)
	le.PutUint32(si[siVersionOff:], startInfoVersion)
	le.PutUint64(si[siCmdlinePaddrOff:], s.cmdlineAddr)
	// A PVH kernel has no BIOS area to scan: rsdp_paddr is how it finds
	// ACPI (Linux: pvh_start_info.rsdp_paddr → acpi_rsdp_addr).
	le.PutUint64(si[siRsdpPaddrOff:], s.rsdpAddr)
	le.PutUint64(si[siMemmapPaddrOff:], vmm.PVHMemmapAddr)
	le.PutUint32(si[siMemmapEntriesOff:], uint32(len(s.e820)))
	if s.initrdAddr != 0 {
		mod := make([]byte, modlistEntrySize)
		le.PutUint64(mod[0:], s.initrdAddr)
		le.PutUint64(mod[8:], s.initrdSize) // cmdline_paddr 0: none
		if _, err := mem.WriteAt(mod, vmm.PVHModlistAddr); err != nil {
			return fmt.Errorf("write PVH module list: %w", err)
		}
		le.PutUint32(si[siNrModulesOff:], 1)
		le.PutUint64(si[siModlistPaddrOff:], vmm.PVHModlistAddr)
	}
	if _, err := mem.WriteAt(si, vmm.PVHStartInfoAddr); err != nil {
		return fmt.Errorf("write hvm_start_info: %w", err)
	}
	return nil
}
