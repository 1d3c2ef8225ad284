package machine

import (
	"errors"
	"fmt"

	"gvmm/vmm"
)

// StopReason says why a VM stopped.
type StopReason string

// The ways a VM can stop. All but Failure are normal ends with exit code 0,
// except GuestExit, which carries the guest's own status.
const (
	// GuestExit: the guest wrote a status to the debug device.
	GuestExit StopReason = "guest-exit"
	// Reset: the guest pulsed the i8042 reset line (Linux reboot=k).
	// gvmm does not reboot, like QEMU's -no-reboot.
	Reset StopReason = "reset"
	// Shutdown: the CPU shut down (a triple fault), reported by KVM.
	Shutdown StopReason = "shutdown"
	// Poweroff: the guest powered off: ACPI soft-off through the sleep
	// control register (devices/power), or a mechanism KVM reports as a
	// shutdown system event.
	Poweroff StopReason = "poweroff"
	// Halted: a vCPU halted with nothing left to wake it.
	Halted StopReason = "halted"
	// Stopped: the VMM was asked to stop (Ctrl-A x, a signal, a cancelled
	// context).
	Stopped StopReason = "stopped"
	// Crashed: the guest reported a crash (a KVM crash system event).
	Crashed StopReason = "crashed"
	// Failure: KVM or the VMM failed; Err says how.
	Failure StopReason = "failure"
)

// Result is how a VM ended.
type Result struct {
	Reason StopReason
	// ExitCode is what `gvmm boot` exits with.
	ExitCode int
	// Err is the failure, for Reason == Failure or Crashed.
	Err error
	// ReadyAt is the READY timestamp in microseconds since process
	// start, or -1 if the guest never signalled READY.
	ReadyAt int64
	// SetupDoneAt is when the VM was built and the vCPUs were about to
	// enter the guest for the first time (microseconds since process
	// start).
	SetupDoneAt int64
	// FirstOutputAt is when the guest first wrote to its console, or -1.
	FirstOutputAt int64
	// CPUState, for Reason Shutdown, is the stopping vCPU's registers as
	// KVM left them (RIP, RSP, control registers, IDT), what one needs to
	// start on a triple fault; empty otherwise.
	CPUState string
	// Exits sums the exits every vCPU brought to userspace (vmm.ExitCounts).
	Exits vmm.ExitCounts
	// KVM sums KVM's own counters (vmm.Stats: exits, io_exits,
	// pf_taken…, every exit including those KVM handled) over the vCPUs,
	// read when they stopped; nil when KVMErr says why they could not be.
	KVM    map[string]uint64
	KVMErr error
	// GuestResident is how much guest RAM the host had backed when the VM
	// stopped (vmm.GuestMemory.Resident); HugePages whether the RAM was
	// advised MADV_HUGEPAGE and the kernel took it (or is hugetlb
	// memory); HugeTLB whether it came from the hugetlb pool.
	GuestResident uint64
	HugePages     bool
	HugeTLB       bool
}

func (r Result) String() string {
	if r.Err != nil {
		return fmt.Sprintf("%s: %v", r.Reason, r.Err)
	}
	return fmt.Sprintf("%s (exit code %d)", r.Reason, r.ExitCode)
}

// The x86 reset vector: CS selector 0xf000 and IP 0xfff0 (SDM vol. 3,
// 9.1.4 "First Instruction Executed").
const (
	resetRIP = 0xfff0
	resetCS  = 0xf000
)

// cpuState formats the registers worth seeing after a triple fault: where
// the CPU was, its stack, the faulting address of the last page fault
// (CR2) and the descriptor tables the failed exception delivery used.
func cpuState(c *vmm.VCPU) string {
	r, err := c.Regs()
	if err != nil {
		return fmt.Sprintf("vcpu%d: registers unavailable: %v", c.ID(), err)
	}
	s, err := c.Sregs()
	if err != nil {
		return fmt.Sprintf("vcpu%d: rip=%#x rsp=%#x (sregs unavailable: %v)", c.ID(), r.RIP, r.RSP, err)
	}
	state := fmt.Sprintf("vcpu%d: rip=%#x rsp=%#x rflags=%#x cs=%#x cr0=%#x cr2=%#x cr3=%#x cr4=%#x efer=%#x idt=%#x/%#x gdt=%#x/%#x",
		c.ID(), r.RIP, r.RSP, r.RFLAGS, s.CS.Selector, s.CR0, s.CR2, s.CR3, s.CR4, s.EFER,
		s.IDT.Base, s.IDT.Limit, s.GDT.Base, s.GDT.Limit)
	if r.RIP == resetRIP && s.CS.Selector == resetCS {
		// kvm-amd treats the SHUTDOWN intercept as leaving the VMCB
		// undefined and resets the vCPU before it exits to us
		// (arch/x86/kvm/svm/svm.c, shutdown_interception), so on AMD
		// hosts these are reset values, not the guest's last state.
		state += " (the reset state: this KVM resets the vCPU on shutdown, the fault's registers are gone)"
	}
	return state
}

// resultFromVCPU classifies the error a vCPU's run loop returned.
func resultFromVCPU(err error) Result {
	var ev *vmm.SystemEvent
	switch {
	case err == nil:
		return Result{Reason: Stopped}
	case errors.Is(err, vmm.ErrShutdown):
		return Result{Reason: Shutdown}
	case errors.Is(err, vmm.ErrHalted):
		return Result{Reason: Halted}
	case errors.As(err, &ev):
		switch ev.Type {
		case vmm.KVM_SYSTEM_EVENT_CRASH:
			return Result{Reason: Crashed, ExitCode: 1, Err: err}
		case vmm.KVM_SYSTEM_EVENT_SHUTDOWN:
			return Result{Reason: Poweroff}
		}
		return Result{Reason: Reset}
	}
	return Result{Reason: Failure, ExitCode: 1, Err: err}
}
