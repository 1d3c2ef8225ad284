// Package sandbox confines the VMM once the VM is set up, before its first
// KVM_RUN, the way Firecracker confines its threads: from then on gvmm
// parses what a hostile guest writes, and a bug there should find as
// little of the host within reach as possible.
//
// Enter does three things, each for the whole process:
//
//  1. no_new_privs (prctl(2) PR_SET_NO_NEW_PRIVS): nothing executed later
//     could gain privileges, and seccomp may be installed without
//     CAP_SYS_ADMIN;
//  2. drops every capability it is not told to keep, from the effective,
//     permitted, inheritable and bounding sets (capabilities(7)); gvmm
//     keeps CAP_NET_ADMIN only when it must take a host address off an
//     existing TAP device at exit;
//  3. installs a seccomp-BPF allowlist (policy.go): the system calls the Go
//     runtime and the run loop make, with argument filters on ioctl (the
//     KVM and terminal requests the run loop makes), mmap and mprotect (no
//     PROT_EXEC: no new code in gvmm's address space), clone (threads
//     only: no fork, no namespaces), socket (netlink only) and openat
//     (read-only). Any other call kills the process (SECCOMP_RET_KILL_PROCESS).
//
// Capabilities and no_new_privs are per thread in Linux, and a Go program
// runs on threads it does not choose, so the first two go through
// syscall.AllThreadsSyscall; the filter through seccomp's TSYNC flag.
// A filter cannot be taken back: `gvmm boot --no-seccomp` skips all of it,
// for debugging.
package sandbox
