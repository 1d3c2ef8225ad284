// Package nsinit is the container's first process: the few hundred lines
// that run inside the new namespaces between clone(2) and the workload's
// execve(2). It builds the root file system, drops privileges and executes
// the workload, following a Plan the runtime (package container) computed
// beforehand: mounts already expanded, capability sets already decoded,
// the seccomp filter already assembled into BPF.
//
// # Two implementations of one plan
//
// The init that containers normally start with is the C program
// container/cinit/gvmm-init.c: a Go program pays several milliseconds
// for its runtime before main (see package container). This package is
// the same steps in Go, importing only the standard library's small
// packages and golang.org/x/sys/unix: the runtime's side of the plan
// (Plan, Encode, ReadError, the descriptors), the reference the C program
// is tested against, and the init of a binary that re-executes itself
// because no gvmm-init lies beside it. Both read the plan in the compact
// binary form of codec.go, never JSON.
//
// # The conversation with the runtime
//
// The runtime starts init with these descriptors (exec.Cmd.ExtraFiles),
// in the default Layout:
//
//	3  ReadyFD    the READY pipe, the only one the workload keeps
//	4  PlanFD     the plan; EOF is also the signal that the runtime has put
//	              init into its cgroup and network
//	5  ErrorFD    close-on-exec: EOF alone means the exec succeeded, else
//	              one kind byte and a message (WriteError, ReadError)
//	6  ConsoleFD  a socket for the pty master (terminal only)
//	7  ExeFD      the sealed handle init was executed from; closed at once
//
// With `--preserve-fds N` (runc's option) the workload keeps the caller's
// descriptors 3 to 3+N-1 instead of the READY pipe, and init's four follow
// them; KeepEnv in init's environment says N.
//
// The fast init is not this package but its C twin, container/cinit
// (gvmm-init), which follows the same plan and descriptors; this package
// is the reference it is tested against and the fallback a binary uses
// when no gvmm-init lies beside it.
package nsinit
