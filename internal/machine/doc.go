// Package machine assembles a gvmm virtual machine from its parts, top to
// bottom, the way a builder does: open KVM, map guest memory, create the
// VM with its in-kernel interrupt controllers and timer, attach devices to
// the buses, load the kernel, create and initialise the vCPUs, run them, and
// tear everything down. Nothing registers itself: every part is created and
// wired here, explicitly, in the order the KVM API requires.
//
// Files: config.go (what to build and how to validate it), machine.go (the
// build and run sequence), cpu.go (boot vCPU registers from a boot.Entry),
// exits.go (the ExitHandler that feeds the buses), stop.go (why a VM
// stopped, and its exit code).
package machine
