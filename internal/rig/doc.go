// Package rig is gvmm's end-to-end test rig: it runs gvmm on a real KVM when
// the host's own KVM cannot boot Linux.
//
// The host KVM of the development machine is kvm_pvm, a software nested
// hypervisor whose instruction emulator cannot run a Linux kernel to user
// space (NESTED.md). The rig therefore boots an L1 Linux (Debian's cloud
// kernel, `make kernel-debian`) under QEMU's TCG emulator with `-cpu max`
// (less vGIF, below), which emulates an AMD CPU with SVM and nested
// paging; in L1, kvm-amd gives
// a /dev/kvm backed by (emulated) hardware virtualization, and gvmm inside L1
// boots an L2 Linux normally.
//
// Run takes a Config: a shell command for L1 to run, the static gvmm binary
// (BuildGVMM), the L2 kernel and initramfs, and extra files. It writes an
// uncompressed newc cpio (the L1 initramfs: static busybox, a generated
// /init, the KVM modules, the files), boots QEMU with a per-attempt timeout,
// captures the serial console line by line with timestamps, and returns the
// command's exit status, read from a marker line carrying a per-run random
// nonce so that no guest output can forge it.
//
// QEMU's TCG SVM emulation has a race that can freeze L1 while L2 runs
// (NESTED.md: ~2% of L2 boots with -smp 2): helper_vmrun sets a bit in the
// vCPU's interrupt_request without the big QEMU lock, and the I/O thread's
// timer interrupt, set under it, is lost. The rig therefore prefers its own
// build of Debian's QEMU 7.2 with that lock taken (internal/rig/qemu,
// `make rig-qemu`); with the distribution's QEMU it warns. It also hides
// vGIF from L1, whose emulation crashed L2 guests under load
// (Config.CPUModel). Run still
// retries a timed-out attempt once, logging the retry, and a second timeout
// is an error (ErrTimeout).
//
// All times the rig measures are emulator times: good for pass/fail and
// ordering, labelled "rig" when reported, never a performance figure.
//
// Package rigtest wraps Run for Go tests (skip unless GVMM_E2E=1, the whole
// console in the log on failure).
package rig
