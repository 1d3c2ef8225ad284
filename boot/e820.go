package boot

import "gvmm/vmm"

// E820 address range types (ACPI 6.2 §15, "System Address Map
// Interfaces"; also XEN_HVM_MEMMAP_TYPE_* in Xen's start_info.h, which
// reuses the same numbers).
const (
	E820RAM      = 1
	E820Reserved = 2
)

// E820Entry is one entry of the BIOS-style memory map: Size bytes at Addr
// of the given Type.
type E820Entry struct {
	Addr uint64
	Size uint64
	Type uint32
}

// lowZone is a fixed piece of the first megabyte and what the memory map
// calls it. Zones are half-open [start, end).
type lowZone struct {
	start, end uint64
	typ        uint32 // 0: not reported at all
}

// lowZones is how gvmm reports the first MiB, as a PC firmware would:
//
//   - [0, EBDA): conventional RAM. The boot structures (GDT, zero page,
//     page tables, command line) live here; the kernel copies or
//     reserves what it still needs before it frees the rest.
//   - [EBDA, 640 KiB): reserved, it holds the MP table, which the kernel
//     reads after its memory allocator is up.
//   - [640 KiB, 896 KiB): the legacy VGA and option ROM hole; not
//     reported, as on real PCs (Linux reserves it itself: trim_bios_range,
//     and init_pvh_bootparams for PVH).
//   - [896 KiB, 1 MiB): the BIOS area, reserved: it holds the ACPI
//     tables (vmm.ACPITablesStart), which must stay where they are for
//     as long as the guest runs.
//   - from 1 MiB up: RAM.
var lowZones = []lowZone{
	{0, vmm.EBDAStart, E820RAM},
	{vmm.EBDAStart, vmm.LowRAMEnd, E820Reserved},
	{vmm.LowRAMEnd, vmm.ACPITablesStart, 0},
	{vmm.ACPITablesStart, vmm.HighMemoryStart, E820Reserved},
	{vmm.HighMemoryStart, ^uint64(0), E820RAM},
}

// E820Map builds the guest memory map from the RAM ranges of guest
// memory: every range is cut along lowZones, so RAM below the MMIO hole
// and above 4 GiB is reported as RAM, the EBDA as reserved, and the
// VGA/ROM hole and the MMIO hole not at all (Linux places PCI BARs in the
// largest gap below 4 GiB).
func E820Map(ram []Range) []E820Entry {
	var out []E820Entry
	for _, r := range ram {
		for _, z := range lowZones {
			start := max(r.Start, z.start)
			end := min(r.End(), z.end)
			if z.typ == 0 || start >= end {
				continue
			}
			out = append(out, E820Entry{Addr: start, Size: end - start, Type: z.typ})
		}
	}
	return out
}
