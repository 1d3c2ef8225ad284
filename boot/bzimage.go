package boot

import (
	"fmt"

	"gvmm/vmm"
)

// loadAddr is where the protected-mode kernel goes: 1 MiB.
// boot.rst, loadflags: "LOADED_HIGH ... If 1, the protected-mode code is
// loaded at 0x100000."
const loadAddr = vmm.HighMemoryStart

// entry64Offset is the offset of the 64-bit entry point in the loaded
// kernel. boot.rst, 64-bit boot protocol: "the kernel is started by
// jumping to the 64-bit kernel entry point, which is the start address of
// loaded 64-bit kernel plus 0x200."
const entry64Offset = 0x200

// LoadBzImage loads a bzImage through the Linux 64-bit boot protocol
// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): the
// protected-mode kernel at 1 MiB, the command line, the initrd placed
// high, the zero page with the e820 map, identity page tables and the boot
// GDT. The real-mode setup code is never run: the VMM does its job.
//
// Everything is validated before the first byte is written: planBzImage
// decides every address from the headers and the RAM layout alone, and
// only then does write copy anything (as rust-vmm's linux-loader keeps
// loading apart from the boot parameters).
func LoadBzImage(mem Memory, cfg Config) (*Entry, error) {
	p, err := planBzImage(mem.RAMRanges(), cfg)
	if err != nil {
		return nil, err
	}
	return p.write(mem, cfg)
}

// bzPlan is what planBzImage decided: the validated header and where the
// initrd goes (0 for none).
type bzPlan struct {
	hdr        *SetupHeader
	initrdAddr uint64
	ram        []Range
}

// planBzImage validates a bzImage boot against a RAM layout without
// touching guest memory.
func planBzImage(ram []Range, cfg Config) (*bzPlan, error) {
	hdr, err := ParseSetupHeader(cfg.Kernel, cfg.KernelSize)
	if err != nil {
		return nil, err
	}
	ramEnd, err := lowRAMEnd(ram)
	if err != nil {
		return nil, err
	}
	kernelEnd, ok := hdr.runtimeEnd()
	if !ok {
		return nil, fmt.Errorf("%w: pref_address %#x + init_size %#x overflows", ErrBadHeader, hdr.PrefAddress, hdr.InitSize)
	}
	if kernelEnd > ramEnd {
		return nil, fmt.Errorf("%w: the kernel needs RAM up to %#x (pref_address %#x + init_size %s), the guest has %s below the MMIO hole; raise --mem",
			ErrMemoryTooSmall, kernelEnd, hdr.PrefAddress, sizeString(uint64(hdr.InitSize)), sizeString(ramEnd))
	}
	// The identity map must cover the init_size range (see
	// WriteIdentityPageTables).
	if kernelEnd > identityMapSize {
		return nil, fmt.Errorf("%w: the kernel needs memory up to %#x, beyond the %d MiB identity map",
			ErrBadHeader, kernelEnd, identityMapSize>>20)
	}
	if err := checkCmdline(cfg.Cmdline, uint64(hdr.CmdlineSize)); err != nil {
		return nil, err
	}
	// initrd_addr_max is the highest byte the initrd may occupy; the
	// initrd must also stay in RAM below the MMIO hole. Kernels with
	// XLF_CAN_BE_LOADED_ABOVE_4G would take it higher, but low RAM is
	// always enough for gvmm's initramfs.
	initrdLimit := min(uint64(hdr.InitrdAddrMax)+1, ramEnd)
	initrdAddr, err := planInitrd(cfg, initrdLimit, kernelEnd)
	if err != nil {
		return nil, err
	}
	return &bzPlan{hdr: hdr, initrdAddr: initrdAddr, ram: ram}, nil
}

// write carries out the plan: kernel, initrd, command line, zero page,
// page tables and GDT.
func (p *bzPlan) write(mem Memory, cfg Config) (*Entry, error) {
	if err := copyToGuest(mem, loadAddr, cfg.Kernel, p.hdr.PayloadOffset, p.hdr.PayloadSize, "bzImage payload"); err != nil {
		return nil, err
	}
	if err := writeInitrd(mem, cfg, p.initrdAddr); err != nil {
		return nil, err
	}
	if err := writeCmdline(mem, cfg.Cmdline, uint64(p.hdr.CmdlineSize)); err != nil {
		return nil, err
	}
	zp := &zeroPage{
		hdr:         p.hdr,
		cmdlineAddr: vmm.CmdlineAddr,
		initrdAddr:  p.initrdAddr,
		rsdpAddr:    cfg.RSDP,
		e820:        E820Map(p.ram),
	}
	if p.initrdAddr != 0 {
		zp.initrdSize = uint64(cfg.InitrdSize)
	}
	if err := writeZeroPage(mem, zp); err != nil {
		return nil, err
	}
	return enter64(mem, loadAddr+entry64Offset)
}

// enter64 writes the identity page tables and the 64-bit boot GDT and
// returns the entry state of the 64-bit boot protocol: "At entry, the CPU
// must be in 64-bit mode with paging enabled ... %rsi must hold the base
// address of the struct boot_params."
func enter64(mem Memory, ip uint64) (*Entry, error) {
	cr3, err := WriteIdentityPageTables(mem)
	if err != nil {
		return nil, err
	}
	gdtBase, gdtLimit, err := WriteBootGDT(mem, Mode64)
	if err != nil {
		return nil, err
	}
	return &Entry{
		Mode:       Mode64,
		IP:         ip,
		BootParams: vmm.ZeroPageAddr,
		GDTBase:    gdtBase,
		GDTLimit:   gdtLimit,
		CR3:        cr3,
		Stack:      vmm.BootStackAddr,
	}, nil
}
