// Package seccomp compiles system call rules into a seccomp-BPF filter,
// runs such a filter the way the kernel does (for tests and for reading),
// and installs it. Two parts of gvmm use it: the container runtime, which
// turns an OCI profile into Rules for its workloads (container/seccomp.go),
// and the VMM, which filters itself before the first KVM_RUN
// (internal/sandbox).
//
// A rule names a system call by its x86_64 number, optional conditions on
// its arguments that must all hold, and the action taken then; the first
// matching rule wins, and a call no rule matches gets the default action.
// Compile lays the rules out as a linear program of short jumps (compile.go
// has its shape).
//
// Why not a library: gvmm used github.com/elastic/go-seccomp-bpf first.
// Its package arch builds name tables for every architecture when a
// program starts, 0.25-0.3 ms of every gvmm process (GODEBUG=inittrace=1),
// `gvmm boot` and `gvmm container run` included, to look up the names of
// one architecture. The compiler here has no start-up cost; TestCompile*
// and the container package's tests run its output through Run, and
// through the kernel.
package seccomp
