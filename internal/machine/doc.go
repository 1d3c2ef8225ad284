// Package machine assembles a gvmm virtual machine from its parts, top to
// bottom, the way a builder does: open KVM, map guest memory, create the
// VM with its in-kernel interrupt controllers and timer, attach devices to
// the buses, load the kernel, create and initialise the vCPUs, run them, and
// tear everything down. Nothing registers itself: every part is created and
// wired here, explicitly, in the order the KVM API requires.
//
// Validation comes first and needs no KVM: Config.Validate checks sizes
// and counts, then opens the kernel and initrd and runs boot.Check
// against the memory layout, so a wrong file is reported as such on any
// host, before /dev/kvm is opened.
//
// Files: config.go (what to build and how to validate it), bootfiles.go
// (opening the kernel and initrd, the pre-KVM boot check), machine.go (the
// build and run sequence), cpu.go (boot vCPU registers from a boot.Entry),
// pci.go (the PCI bus, pvpanic, virtio console and net; the TAP and,
// through internal/hostnet, its host end), exits.go (the ExitHandler that
// feeds the buses), stop.go (why a VM stopped, and its exit code), stats.go
// (the --stats report: timings and the exits that reached gvmm).
package machine
