// Package vmm is gvmm's thin layer over the Linux KVM API
// (Documentation/virt/kvm/api.rst): the /dev/kvm system handle, VMs, vCPUs,
// guest memory and the vCPU run loop.
//
// KVM is driven entirely by ioctl(2) on three kinds of file descriptor:
//
//   - the system fd (/dev/kvm): API version, capabilities, supported CPUID,
//     and KVM_CREATE_VM;
//   - the VM fd: memory slots, the in-kernel interrupt controllers and
//     timer, interrupt lines, and KVM_CREATE_VCPU;
//   - one vCPU fd per virtual CPU: registers, CPUID, MSRs, and KVM_RUN,
//     whose results come back in the shared struct kvm_run page.
//
// Constants and structures keep their kernel names (KVM_RUN, kvm_regs) so
// that the code reads side by side with include/uapi/linux/kvm.h. The
// package knows nothing about devices: when the guest touches an I/O port or
// unbacked memory, the run loop calls an ExitHandler.
//
// Files: kvm_abi_unsafe_amd64.go (ioctl numbers and structs, sized with
// unsafe.Sizeof), ioctl_unsafe.go (the ioctl calls, generic over the
// argument's type), abi_unsafe.go (structures with variable-length
// tails), system.go, vm.go, vcpu.go (register state), cpuid.go, run.go
// (the run loop and exit dispatch), kvmrun.go (decoding the kvm_run page,
// a pure function), exit.go (exit errors), exitcount.go (the exits that
// reached userspace, by reason, port and MMIO page, for --stats), stats.go
// (KVM's own counters, KVM_GET_STATS_FD), memory.go (GuestMemory, checked
// access), layout_amd64.go (the guest physical address map).
// Only the _unsafe.go files import unsafe.
package vmm
