// Package e2e boots real Linux kernels with gvmm and the u-root initramfs
// and checks what the guest prints on its console, with deadlines.
//
// On a host with hardware KVM the VM could run directly; on this project's
// CI machines /dev/kvm is kvm_pvm, a software nested hypervisor under which
// Linux does not boot, so every test here runs gvmm inside the nested rig
// (internal/rig: a QEMU-emulated L1 with kvm-amd). The tests are enabled by
// GVMM_E2E=1 (make e2e sets it) and then fail, never skip, when a kernel,
// the initramfs or QEMU is missing.
package e2e
