package vmm

import (
	"errors"
	"fmt"
)

// How a vCPU's run can end, as errors the machine layer sorts into exit
// codes: a guest-requested end (shutdown, reset, halt) is a normal stop; the
// rest are failures.
var (
	// ErrShutdown is KVM_EXIT_SHUTDOWN: the guest triple-faulted or
	// otherwise asked the CPU to shut down. On a PC this resets the machine;
	// like QEMU's -no-reboot, gvmm ends the VM instead.
	ErrShutdown = errors.New("guest shutdown (triple fault)")
	// ErrHalted is KVM_EXIT_HLT: without an in-kernel local APIC, a HLT
	// comes to userspace and there is nothing left to wake the vCPU.
	ErrHalted = errors.New("guest halted")
)

// exitReasonNames names KVM_EXIT_* values for error messages.
var exitReasonNames = map[uint32]string{
	KVM_EXIT_UNKNOWN:         "KVM_EXIT_UNKNOWN",
	KVM_EXIT_EXCEPTION:       "KVM_EXIT_EXCEPTION",
	KVM_EXIT_IO:              "KVM_EXIT_IO",
	KVM_EXIT_HYPERCALL:       "KVM_EXIT_HYPERCALL",
	KVM_EXIT_DEBUG:           "KVM_EXIT_DEBUG",
	KVM_EXIT_HLT:             "KVM_EXIT_HLT",
	KVM_EXIT_MMIO:            "KVM_EXIT_MMIO",
	KVM_EXIT_IRQ_WINDOW_OPEN: "KVM_EXIT_IRQ_WINDOW_OPEN",
	KVM_EXIT_SHUTDOWN:        "KVM_EXIT_SHUTDOWN",
	KVM_EXIT_FAIL_ENTRY:      "KVM_EXIT_FAIL_ENTRY",
	KVM_EXIT_INTR:            "KVM_EXIT_INTR",
	KVM_EXIT_NMI:             "KVM_EXIT_NMI",
	KVM_EXIT_INTERNAL_ERROR:  "KVM_EXIT_INTERNAL_ERROR",
	KVM_EXIT_SYSTEM_EVENT:    "KVM_EXIT_SYSTEM_EVENT",
}

// ExitReasonName returns the kernel's name for an exit reason.
func ExitReasonName(r uint32) string {
	if n, ok := exitReasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("exit reason %d", r)
}

var internalSuberrorNames = map[uint32]string{
	KVM_INTERNAL_ERROR_EMULATION:              "emulation failure",
	KVM_INTERNAL_ERROR_SIMUL_EX:               "exception while delivering an exception",
	KVM_INTERNAL_ERROR_DELIVERY_EV:            "exit during event delivery",
	KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: "unexpected exit reason",
}

// InternalError is KVM_EXIT_INTERNAL_ERROR: KVM could not go on, most often
// because its instruction emulator met an instruction it cannot emulate.
type InternalError struct {
	VCPU     int
	Suberror uint32
	Data     []uint64
	RIP      uint64
}

func (e *InternalError) Error() string {
	what := internalSuberrorNames[e.Suberror]
	if what == "" {
		what = "unknown"
	}
	return fmt.Sprintf("vCPU %d: KVM_EXIT_INTERNAL_ERROR, suberror %d (%s) at RIP %#x, data %#x",
		e.VCPU, e.Suberror, what, e.RIP, e.Data)
}

// EntryFailure is KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the
// guest, usually because of inconsistent register state.
type EntryFailure struct {
	VCPU   int
	Reason uint64
	RIP    uint64
}

func (e *EntryFailure) Error() string {
	return fmt.Sprintf("vCPU %d: KVM_EXIT_FAIL_ENTRY, hardware entry failure reason %#x at RIP %#x",
		e.VCPU, e.Reason, e.RIP)
}

// SystemEvent is KVM_EXIT_SYSTEM_EVENT: the guest asked for a shutdown,
// reset or reported a crash through a mechanism KVM handles (PSCI, Hyper-V).
type SystemEvent struct {
	VCPU int
	Type uint32
}

func (e *SystemEvent) Error() string {
	names := map[uint32]string{
		KVM_SYSTEM_EVENT_SHUTDOWN: "shutdown",
		KVM_SYSTEM_EVENT_RESET:    "reset",
		KVM_SYSTEM_EVENT_CRASH:    "crash",
	}
	n := names[e.Type]
	if n == "" {
		n = fmt.Sprintf("type %d", e.Type)
	}
	return fmt.Sprintf("vCPU %d: guest system event: %s", e.VCPU, n)
}

// UnexpectedExit is an exit reason gvmm does not handle.
type UnexpectedExit struct {
	VCPU   int
	Reason uint32
	RIP    uint64
}

func (e *UnexpectedExit) Error() string {
	return fmt.Sprintf("vCPU %d: unexpected %s at RIP %#x", e.VCPU, ExitReasonName(e.Reason), e.RIP)
}
