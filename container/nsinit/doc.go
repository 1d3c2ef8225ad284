// Package nsinit is the container's first process: the few hundred lines
// that run inside the new namespaces between clone(2) and the workload's
// execve(2). It builds the root file system, drops privileges and executes
// the workload, following a Plan the runtime (package container) computed
// beforehand: mounts already expanded, capability sets already decoded,
// the seccomp filter already assembled into BPF.
//
// # Why a separate, tiny package
//
// Go cannot run Go code between fork and exec, so init must be a whole
// program, and a Go program runs every package's init function before
// main: its start-up cost grows with what it links. Init therefore imports
// only the standard library's small packages and golang.org/x/sys/unix,
// and receives a ready-made plan in a compact binary form (codec.go)
// rather than JSON. The program exists twice: as gvmm-init
// (container/cmd/gvmm-init, about 1.5 MB, the fast path) and inside every
// binary that links package container, which re-executes itself as init
// when no gvmm-init lies beside it (the fallback; see the container
// package documentation for the measurements).
//
// # The conversation with the runtime
//
// The runtime starts init with these descriptors (exec.Cmd.ExtraFiles):
//
//	3  ReadyFD    the READY pipe, the only one the workload keeps
//	4  PlanFD     the plan; EOF is also the signal that the runtime has put
//	              init into its cgroup and network
//	5  ErrorFD    close-on-exec: EOF alone means the exec succeeded, else
//	              one kind byte and a message (WriteError, ReadError)
//	6  ConsoleFD  a socket for the pty master (terminal only)
//	7  ExeFD      the sealed handle init was executed from; closed at once
package nsinit
