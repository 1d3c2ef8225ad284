package vmm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// VCPU is one virtual CPU: its fd and the kvm_run page shared with the
// kernel. A VCPU must be run from a single OS thread (see Run).
type VCPU struct {
	vm *VM
	id int
	fd int
	// run is the mmap'd struct kvm_run. mu guards unmapping it against a
	// concurrent Stop.
	mu  sync.Mutex
	run []byte

	// tid is the OS thread running KVM_RUN, recorded so Stop can signal
	// exactly that thread; 0 while the vCPU is not running.
	tid atomic.Int32
	// stopping is set by Stop; the run loop checks it after every exit.
	stopping atomic.Bool

	// exits counts the exits Run handled; only Run's thread writes it.
	exits ExitCounts
}

// ExitCounts returns the exits this vCPU brought to userspace so far. Call
// it once Run has returned: Run's thread counts without a lock.
func (c *VCPU) ExitCounts() ExitCounts { return c.exits.clone() }

// CreateVCPU creates vCPU id (its initial APIC ID) and maps its kvm_run
// structure.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := ioctl(vm.fd, KVM_CREATE_VCPU, uintptr(id))
	if err != nil {
		return nil, ioctlError(fmt.Sprintf("KVM_CREATE_VCPU %d", id), err)
	}
	unix.CloseOnExec(int(fd))
	run, err := unix.Mmap(int(fd), 0, vm.sys.mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("mmap kvm_run of vCPU %d: %w", id, err)
	}
	return &VCPU{vm: vm, id: id, fd: int(fd), run: run}, nil
}

// ID returns the vCPU's index (and initial APIC ID).
func (c *VCPU) ID() int { return c.id }

// Regs returns the general-purpose registers (KVM_GET_REGS).
func (c *VCPU) Regs() (Regs, error) {
	var r Regs
	if err := ioctlPtr(c.fd, KVM_GET_REGS, &r); err != nil {
		return r, ioctlError("KVM_GET_REGS", err)
	}
	return r, nil
}

// SetRegs sets the general-purpose registers (KVM_SET_REGS).
func (c *VCPU) SetRegs(r Regs) error {
	if err := ioctlPtr(c.fd, KVM_SET_REGS, &r); err != nil {
		return ioctlError("KVM_SET_REGS", err)
	}
	return nil
}

// Sregs returns the special registers (KVM_GET_SREGS).
func (c *VCPU) Sregs() (Sregs, error) {
	var s Sregs
	if err := ioctlPtr(c.fd, KVM_GET_SREGS, &s); err != nil {
		return s, ioctlError("KVM_GET_SREGS", err)
	}
	return s, nil
}

// SetSregs sets the special registers (KVM_SET_SREGS).
func (c *VCPU) SetSregs(s Sregs) error {
	if err := ioctlPtr(c.fd, KVM_SET_SREGS, &s); err != nil {
		return ioctlError("KVM_SET_SREGS", err)
	}
	return nil
}

// FPU control defaults after FNINIT and for SSE (Intel SDM Vol. 1 §8.1.5
// and §10.2.3): all exceptions masked, round to nearest.
const (
	fpuDefaultFCW   = 0x37f
	fpuDefaultMXCSR = 0x1f80
)

// SetFPU sets the x87/SSE state (KVM_SET_FPU).
func (c *VCPU) SetFPU(f FPU) error {
	if err := ioctlPtr(c.fd, KVM_SET_FPU, &f); err != nil {
		return ioctlError("KVM_SET_FPU", err)
	}
	return nil
}

// InitFPU puts the FPU in its power-on state with exceptions masked.
func (c *VCPU) InitFPU() error {
	return c.SetFPU(FPU{FCW: fpuDefaultFCW, MXCSR: fpuDefaultMXCSR})
}

// MSR is one model-specific register value.
type MSR struct {
	Index uint32
	Data  uint64
}

// Model-specific registers gvmm initialises (Intel SDM Vol. 4).
const (
	MSR_IA32_MISC_ENABLE = 0x1a0
	// MSR_IA32_MISC_ENABLE_FAST_STRING enables fast REP MOVS/STOS; Linux
	// expects firmware to have set it.
	MSR_IA32_MISC_ENABLE_FAST_STRING = 1 << 0
)

// SetMSRs writes MSRs (KVM_SET_MSRS). KVM returns how many it set; fewer
// than asked means the one after them was refused.
func (c *VCPU) SetMSRs(msrs []MSR) error {
	if len(msrs) == 0 {
		return nil
	}
	buf := msrBuffer(msrs)
	n, err := ioctlPtrResult(c.fd, KVM_SET_MSRS, &buf[0])
	if err != nil {
		return ioctlError("KVM_SET_MSRS", err)
	}
	if int(n) != len(msrs) {
		return fmt.Errorf("KVM_SET_MSRS: MSR %#x refused", msrs[n].Index)
	}
	return nil
}

// SetCPUID sets the CPUID leaves the guest sees (KVM_SET_CPUID2).
func (c *VCPU) SetCPUID(entries []CPUIDEntry) error {
	buf := cpuidBuffer(entries)
	if err := ioctlPtr(c.fd, KVM_SET_CPUID2, &buf[0]); err != nil {
		return ioctlError("KVM_SET_CPUID2", err)
	}
	return nil
}

// Local APIC register offsets and LVT delivery modes (Intel SDM Vol. 3A
// §11.5.1).
const (
	apicLVTLINT0        = 0x350
	apicLVTLINT1        = 0x360
	apicDeliveryModeMsk = 0x700
	apicDeliveryExtINT  = 0x700
	apicDeliveryNMI     = 0x400
)

// SetupLINTs programs the local APIC the way PC firmware leaves it:
// LINT0 as ExtINT (the 8259 PIC's output, "virtual wire" mode) and LINT1 as
// NMI. Linux relies on this for PIC-routed interrupts before it switches
// to the IO-APIC.
func (c *VCPU) SetupLINTs() error {
	var st kvmLAPICState
	if err := ioctlPtr(c.fd, KVM_GET_LAPIC, &st); err != nil {
		return ioctlError("KVM_GET_LAPIC", err)
	}
	setLVT := func(off int, mode uint32) {
		v := uint32(st.Regs[off]) | uint32(st.Regs[off+1])<<8 | uint32(st.Regs[off+2])<<16 | uint32(st.Regs[off+3])<<24
		v = v&^apicDeliveryModeMsk | mode
		st.Regs[off], st.Regs[off+1], st.Regs[off+2], st.Regs[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	setLVT(apicLVTLINT0, apicDeliveryExtINT)
	setLVT(apicLVTLINT1, apicDeliveryNMI)
	if err := ioctlPtr(c.fd, KVM_SET_LAPIC, &st); err != nil {
		return ioctlError("KVM_SET_LAPIC", err)
	}
	return nil
}

// Close unmaps kvm_run and closes the vCPU fd.
func (c *VCPU) Close() error {
	var err error
	c.mu.Lock()
	if c.run != nil {
		err = unix.Munmap(c.run)
		c.run = nil
	}
	c.mu.Unlock()
	if cerr := unix.Close(c.fd); err == nil {
		err = cerr
	}
	return err
}
