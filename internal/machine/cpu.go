package machine

import (
	"fmt"

	"gvmm/boot"
	"gvmm/vmm"
)

// Control register and EFER bits (Intel SDM Vol. 3A §2.5, §2.2.1).
const (
	cr0PE   = 1 << 0  // protected mode
	cr0ET   = 1 << 4  // extension type, hard-wired to 1 on modern CPUs
	cr0PG   = 1 << 31 // paging
	cr4PAE  = 1 << 5  // physical address extension, required by long mode
	eferLME = 1 << 8  // long mode enable
	eferLMA = 1 << 10 // long mode active
	// rflagsReserved is bit 1 of RFLAGS, which always reads as 1.
	rflagsReserved = 1 << 1
)

// kvmSegment converts a boot segment into KVM's register form.
func kvmSegment(s boot.Segment) vmm.Segment {
	b := func(v bool) uint8 {
		if v {
			return 1
		}
		return 0
	}
	return vmm.Segment{
		Base: s.Base, Limit: s.Limit, Selector: s.Selector, Type: s.Type,
		Present: b(s.Present), DPL: s.DPL, DB: b(s.DB), S: b(s.S), L: b(s.L), G: b(s.G),
	}
}

// setupBootCPU puts the boot vCPU in the state the loader asked for:
//
//   - PVH (Mode32): "The domain builder must load the kernel ... in 32-bit
//     protected mode with paging disabled; CS, DS, ES, SS flat 4 GiB
//     segments; EBX the physical address of the start info structure"
//     (xen/include/public/arch-x86/hvm/start_info.h).
//   - Linux (Mode64): "the CPU must be in 64-bit mode with paging enabled
//     ... __BOOT_CS/__BOOT_DS loaded, rsi holds the base address of struct
//     boot_params" (Documentation/arch/x86/boot.rst, 64-bit boot protocol).
func setupBootCPU(c *vmm.VCPU, e *boot.Entry) error {
	sregs, err := c.Sregs()
	if err != nil {
		return err
	}
	code, data, tss := boot.BootSegments(e.Mode)
	sregs.CS = kvmSegment(code)
	sregs.DS, sregs.ES, sregs.FS, sregs.GS, sregs.SS =
		kvmSegment(data), kvmSegment(data), kvmSegment(data), kvmSegment(data), kvmSegment(data)
	sregs.TR = kvmSegment(tss)
	sregs.GDT = vmm.DTable{Base: e.GDTBase, Limit: e.GDTLimit}
	sregs.IDT = vmm.DTable{}
	regs := vmm.Regs{RIP: e.IP, RSP: e.Stack, RFLAGS: rflagsReserved}
	switch e.Mode {
	case boot.Mode32:
		sregs.CR0 = cr0PE | cr0ET
		sregs.CR3, sregs.CR4, sregs.EFER = 0, 0, 0
		regs.RBX = e.BootParams
	case boot.Mode64:
		sregs.CR0 = cr0PE | cr0ET | cr0PG
		sregs.CR3 = e.CR3
		sregs.CR4 = cr4PAE
		sregs.EFER = eferLME | eferLMA
		regs.RSI = e.BootParams
	default:
		return fmt.Errorf("boot entry in unknown CPU mode %d", e.Mode)
	}
	if err := c.SetSregs(sregs); err != nil {
		return err
	}
	return c.SetRegs(regs)
}

// initVCPU does the per-vCPU set-up every vCPU needs, boot CPU or not:
// CPUID, local APIC wiring, FPU and MSRs.
func initVCPU(c *vmm.VCPU, supported []vmm.CPUIDEntry) error {
	if err := c.SetCPUID(vmm.GuestCPUID(supported, c.ID())); err != nil {
		return err
	}
	if err := c.SetupLINTs(); err != nil {
		return err
	}
	if err := c.InitFPU(); err != nil {
		return err
	}
	return c.SetMSRs([]vmm.MSR{
		{Index: vmm.MSR_IA32_MISC_ENABLE, Data: vmm.MSR_IA32_MISC_ENABLE_FAST_STRING},
	})
}
