package sandbox

import (
	"golang.org/x/sys/unix"

	"gvmm/internal/seccomp"
	"gvmm/vmm"
)

// A call is allowed when one of its rules matches; every rule's action
// is SECCOMP_RET_ALLOW. The list is what gvmm makes after set-up, and
// why (Go runtime = what any Go program needs; the rest = the run loop,
// the devices and the exit). Compare Firecracker (resources/seccomp/
// x86_64-unknown-linux-musl.json, v1.x): 50 calls for its VMM thread, 39
// of them argument-filtered, 27 for a vCPU thread, 31 for the API thread.
// gvmm is one process, so its single list is the union of what its
// goroutines need.

// allowed are the calls allowed with any arguments.
var allowed = []struct {
	nr  uint32
	why string
}{
	// Go runtime: memory, threads, scheduling, signals, time.
	{unix.SYS_MUNMAP, "Go runtime: free memory"},
	{unix.SYS_MADVISE, "Go runtime: return memory to the host (the scavenger)"},
	{unix.SYS_MINCORE, "guest RAM actually backed, reported at exit (GuestMemory.Resident)"},
	{unix.SYS_FUTEX, "Go runtime: sleep and wake threads"},
	{unix.SYS_NANOSLEEP, "Go runtime: usleep"},
	{unix.SYS_CLOCK_NANOSLEEP, "Go runtime: sleep"},
	{unix.SYS_SCHED_YIELD, "Go runtime: osyield"},
	{unix.SYS_SCHED_GETAFFINITY, "Go runtime: GOMAXPROCS updates (Go 1.25+)"},
	{unix.SYS_GETPID, "Go runtime: signals to itself"},
	{unix.SYS_GETTID, "Go runtime: signals to a thread"},
	{unix.SYS_TGKILL, "Go runtime: preemption (SIGURG); the vCPU kick (vmm.VCPU.Stop)"},
	{unix.SYS_RT_SIGACTION, "Go runtime: signal handlers"},
	{unix.SYS_RT_SIGPROCMASK, "Go runtime: signal masks of new threads"},
	{unix.SYS_RT_SIGRETURN, "Go runtime: return from a signal handler"},
	{unix.SYS_SIGALTSTACK, "Go runtime: signal stacks of new threads"},
	{unix.SYS_RESTART_SYSCALL, "kernel: a call interrupted by a signal resumes"},
	{unix.SYS_CLOCK_GETTIME, "time (when the vDSO falls back)"},
	{unix.SYS_GETTIMEOFDAY, "time (when the vDSO falls back)"},
	{unix.SYS_GETRANDOM, "Go runtime and math/rand seeds"},
	{unix.SYS_EXIT, "Go runtime: a thread ends"},
	{unix.SYS_EXIT_GROUP, "gvmm exits"},
	// Go's network poller, which serves the TAP device, pipes and the
	// console.
	{unix.SYS_EPOLL_PWAIT, "Go netpoller: wait"},
	{unix.SYS_EPOLL_WAIT, "Go netpoller: wait (older runtimes)"},
	{unix.SYS_EPOLL_CTL, "Go netpoller: add and remove descriptors"},
	{unix.SYS_EPOLL_CREATE1, "Go netpoller: created on first use"},
	{unix.SYS_EVENTFD2, "Go netpoller: its wake-up descriptor"},
	{unix.SYS_PIPE2, "Go netpoller: its wake-up pipe (older runtimes)"},
	// Descriptors opened during set-up: guest console, TAP, disks, KVM.
	{unix.SYS_READ, "console input, TAP frames, ioeventfds, KVM statistics"},
	{unix.SYS_WRITE, "console output, TAP frames, irqfds, log lines"},
	{unix.SYS_READV, "TAP frames"},
	{unix.SYS_WRITEV, "TAP frames"},
	{unix.SYS_PREAD64, "virtio-blk reads; Go runtime: cgroup CPU limits"},
	{unix.SYS_PWRITE64, "virtio-blk writes"},
	{unix.SYS_PREADV, "virtio-blk reads into guest memory"},
	{unix.SYS_PWRITEV, "virtio-blk writes from guest memory"},
	{unix.SYS_FDATASYNC, "virtio-blk FLUSH"},
	{unix.SYS_FSYNC, "virtio-blk FLUSH"},
	{unix.SYS_FALLOCATE, "virtio-blk DISCARD and WRITE_ZEROES"},
	{unix.SYS_LSEEK, "files"},
	{unix.SYS_FCNTL, "Go os package: a new descriptor's flags (KVM statistics)"},
	{unix.SYS_FSTAT, "Go os package"},
	{unix.SYS_NEWFSTATAT, "Go os package"},
	{unix.SYS_CLOSE, "descriptors at exit; a TAP device gvmm created goes with its"},
	// Netlink, at exit, to take a host address off an existing TAP.
	{unix.SYS_BIND, "netlink"},
	{unix.SYS_SENDTO, "netlink"},
	{unix.SYS_RECVFROM, "netlink"},
	{unix.SYS_RECVMSG, "netlink"},
	{unix.SYS_GETSOCKNAME, "netlink"},
	{unix.SYS_SETSOCKOPT, "netlink"},
}

// ioctls are the requests the run loop makes, each allowed on its own.
var ioctls = []struct {
	req uintptr
	why string
}{
	{vmm.KVM_RUN, "run a vCPU"},
	{vmm.KVM_IRQ_LINE, "raise and lower an interrupt line (UART, virtio INTx)"},
	{vmm.KVM_SIGNAL_MSI, "virtio MSI-X messages"},
	{vmm.KVM_GET_STATS_FD, "KVM's exit counters, read at exit"},
	{vmm.KVM_GET_REGS, "the registers at a triple fault"},
	{vmm.KVM_GET_SREGS, "the registers at a triple fault"},
	{unix.TCGETS, "the terminal's mode"},
	{unix.TCSETS, "the terminal back to cooked mode at exit"},
}

// Masks for the argument filters.
const (
	// threadFlag is one of the clone flags every Go thread has (the
	// runtime's cloneFlags), and the one that tells a thread from a
	// process.
	threadFlag = unix.CLONE_THREAD
	// namespaceFlags would make a thread in new namespaces.
	namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	// writeFlags are open flags that could change a file.
	writeFlags = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC | unix.O_APPEND
	// archSetFS is arch_prctl's ARCH_SET_FS: a new Go thread sets its TLS.
	archSetFS = 0x1002
	// prSetVMA is prctl's PR_SET_VMA: Go 1.25+ names its mappings.
	prSetVMA = 0x53564d41
)

// Rules returns the allowlist.
func Rules() []seccomp.Rule {
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	var r []seccomp.Rule
	for _, a := range allowed {
		r = append(r, seccomp.Rule{Nr: a.nr, Action: allow})
	}
	for _, i := range ioctls {
		r = append(r, seccomp.Rule{Nr: unix.SYS_IOCTL, Action: allow,
			Conds: []seccomp.Cond{{Arg: 1, Op: seccomp.Equal, Value: uint64(i.req)}}})
	}
	noExec := []seccomp.Cond{{Arg: 2, Op: seccomp.MaskedEqual, Value: unix.PROT_EXEC, Datum: 0}}
	r = append(r,
		// Memory, never executable: no new code in gvmm.
		seccomp.Rule{Nr: unix.SYS_MMAP, Action: allow, Conds: noExec},
		seccomp.Rule{Nr: unix.SYS_MPROTECT, Action: allow, Conds: noExec},
		// Threads only: not a process, not in new namespaces.
		seccomp.Rule{Nr: unix.SYS_CLONE, Action: allow, Conds: []seccomp.Cond{
			{Arg: 0, Op: seccomp.MaskedEqual, Value: threadFlag, Datum: threadFlag},
			{Arg: 0, Op: seccomp.MaskedEqual, Value: namespaceFlags, Datum: 0},
		}},
		seccomp.Rule{Nr: unix.SYS_ARCH_PRCTL, Action: allow,
			Conds: []seccomp.Cond{{Arg: 0, Op: seccomp.Equal, Value: archSetFS}}},
		seccomp.Rule{Nr: unix.SYS_PRCTL, Action: allow,
			Conds: []seccomp.Cond{{Arg: 0, Op: seccomp.Equal, Value: prSetVMA}}},
		// Read-only opens: the Go runtime's cgroup files, /proc.
		seccomp.Rule{Nr: unix.SYS_OPENAT, Action: allow,
			Conds: []seccomp.Cond{{Arg: 2, Op: seccomp.MaskedEqual, Value: writeFlags, Datum: 0}}},
		// Netlink sockets only, for the TAP's host address at exit.
		seccomp.Rule{Nr: unix.SYS_SOCKET, Action: allow,
			Conds: []seccomp.Cond{{Arg: 0, Op: seccomp.Equal, Value: unix.AF_NETLINK}}},
	)
	return r
}

// Count returns how many system calls the allowlist names, and how many
// of those are argument-filtered, for the documentation's comparison.
func Count() (calls, filtered int) {
	seen := map[uint32]bool{}
	cond := map[uint32]bool{}
	for _, r := range Rules() {
		seen[r.Nr] = true
		if len(r.Conds) > 0 {
			cond[r.Nr] = true
		}
	}
	return len(seen), len(cond)
}
