package boot

import (
	"io"

	"gvmm/vmm"
)

// Memory is the guest RAM as the loaders see it: checked random access and
// the list of RAM ranges (for the e820 map). vmm.GuestMemory implements it.
type Memory interface {
	io.ReaderAt
	io.WriterAt
	// RAMRanges lists the guest-physical ranges backed by RAM, in
	// ascending order.
	RAMRanges() []Range
}

// Range is a guest-physical address range [Start, Start+Size).
type Range = vmm.Range

// CPUMode is the processor mode a kernel expects at its entry point.
type CPUMode int

const (
	// Mode32 is flat 32-bit protected mode with paging disabled
	// (the PVH entry).
	Mode32 CPUMode = iota + 1
	// Mode64 is 64-bit long mode with identity-mapped paging
	// (the Linux 64-bit boot protocol entry).
	Mode64
)

func (m CPUMode) String() string {
	switch m {
	case Mode32:
		return "32-bit protected mode"
	case Mode64:
		return "64-bit long mode"
	}
	return "unknown mode"
}

// Entry is the boot vCPU state a loader asks for. The loader has already
// written the GDT (and, for Mode64, the page tables) into guest memory.
type Entry struct {
	Mode CPUMode
	// IP is the entry point (EIP or RIP).
	IP uint64
	// BootParams is the address of the boot information: RSI holds it for
	// the Linux protocol (the zero page), EBX for PVH (hvm_start_info).
	BootParams uint64
	// GDTBase and GDTLimit describe the boot GDT to load into GDTR.
	GDTBase  uint64
	GDTLimit uint16
	// CR3 is the page-table root for Mode64; zero for Mode32.
	CR3 uint64
	// Stack is the initial stack pointer.
	Stack uint64
}
