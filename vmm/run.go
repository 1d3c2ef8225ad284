package vmm

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ExitHandler receives the exits that need the VMM: accesses to I/O ports
// and to guest-physical addresses that are not RAM. For a read, the
// handler fills data; for a write, data holds what the guest wrote. An
// error stops the vCPU and is returned from Run.
type ExitHandler interface {
	PortIO(port uint16, data []byte, write bool) error
	MMIO(addr uint64, data []byte, write bool) error
}

// kickSignal interrupts a thread blocked in KVM_RUN. SIGURG is the signal
// the Go runtime itself uses to preempt goroutines: it always has a
// handler installed (a signal with no handler, or an ignored one, would not
// interrupt KVM_RUN) and receiving a spare one is harmless.
const kickSignal = unix.SIGURG

// Run runs the vCPU until the guest stops it, an exit handler fails, or ctx
// is cancelled (which returns nil). It must own its OS thread for the whole
// run: KVM ties a vCPU to the thread that runs it, and Stop signals that
// thread.
func (c *VCPU) Run(ctx context.Context, h ExitHandler) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)

	// The watcher turns cancellation into Stop. Run waits for it to
	// finish, so no Stop from this run can land after Run returns (and
	// after a Close that may follow).
	done := make(chan struct{})
	watcherDone := make(chan struct{})
	defer func() {
		close(done)
		<-watcherDone
	}()
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			c.Stop()
		case <-done:
		}
	}()

	for !c.stopping.Load() {
		if _, err := ioctl(c.fd, KVM_RUN, 0); err != nil {
			// EINTR: a signal (our kick, or Go's own preemption)
			// arrived; the loop condition decides whether to go on.
			// EAGAIN: KVM asks to retry.
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return fmt.Errorf("vCPU %d: KVM_RUN: %w", c.id, err)
		}
		if err := c.handleExit(h); err != nil {
			return err
		}
	}
	return nil
}

// Stop makes Run return soon: it sets the stop flag, sets
// kvm_run.immediate_exit so a KVM_RUN about to start returns at once with
// EINTR, and signals the vCPU thread to interrupt a KVM_RUN in progress
// (api.rst, "immediate_exit"). Safe from any goroutine, any number of times.
func (c *VCPU) Stop() {
	c.stopping.Store(true)
	c.mu.Lock()
	if c.run != nil {
		c.setImmediateExit(1)
	}
	c.mu.Unlock()
	if tid := c.tid.Load(); tid != 0 {
		// ESRCH only means the thread has already left Run.
		_ = unix.Tgkill(unix.Getpid(), int(tid), kickSignal)
	}
}

// handleExit decodes the exit in the vCPU's kvm_run page and acts on it.
func (c *VCPU) handleExit(h ExitHandler) error {
	e, err := decodeExit(c.run)
	if err != nil {
		return fmt.Errorf("vCPU %d: %w", c.id, err)
	}
	c.exits.record(e)
	return dispatchExit(c.id, e, h, c.rip)
}

// dispatchExit acts on one decoded exit, the way api.rst lists them: I/O
// and MMIO go to the handler; the guest's own ends (HLT without an
// in-kernel APIC, shutdown, a system event) and KVM's failures become
// errors. rip reads the instruction pointer for failure reports. A plain
// function of its inputs, so tests drive it with fake exits.
func dispatchExit(vcpu int, e Exit, h ExitHandler, rip func() uint64) error {
	switch e.Reason {
	case KVM_EXIT_IO:
		for i := 0; i < e.IO.Count; i++ {
			if err := h.PortIO(e.IO.Port, e.IO.Data[i*e.IO.Size:(i+1)*e.IO.Size], e.IO.Write); err != nil {
				return err
			}
		}
		return nil
	case KVM_EXIT_MMIO:
		return h.MMIO(e.MMIO.Addr, e.MMIO.Data, e.MMIO.Write)
	case KVM_EXIT_INTR:
		return nil // interrupted by a signal before entering the guest
	case KVM_EXIT_HLT:
		return ErrHalted
	case KVM_EXIT_SHUTDOWN:
		return ErrShutdown
	case KVM_EXIT_SYSTEM_EVENT:
		return &SystemEvent{VCPU: vcpu, Type: e.SystemEventType}
	case KVM_EXIT_FAIL_ENTRY:
		return &EntryFailure{VCPU: vcpu, Reason: e.FailReason, RIP: rip()}
	case KVM_EXIT_INTERNAL_ERROR:
		return &InternalError{VCPU: vcpu, Suberror: e.InternalSuberror, Data: e.InternalData, RIP: rip()}
	default:
		return &UnexpectedExit{VCPU: vcpu, Reason: e.Reason, RIP: rip()}
	}
}

// rip reads the instruction pointer for an error report; 0 if unreadable.
func (c *VCPU) rip() uint64 {
	r, err := c.Regs()
	if err != nil {
		return 0
	}
	return r.RIP
}
