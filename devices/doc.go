// Package devices holds what a guest sees besides RAM and CPUs: the buses
// that route port I/O and MMIO exits to device models, and the small
// legacy devices a Linux guest needs (the i8042 reset line and gvmm's own
// debug/boot-timer port). Larger devices live in sub-packages
// (devices/serial, devices/pci, devices/virtio).
//
// A Device sees only offsets relative to where it was registered, never
// absolute addresses, so the same model can sit anywhere (Firecracker's
// BusDevice does the same). Device models never touch KVM: interrupts go out
// through the Interrupt interface and the VMM wires it to the irqchip.
package devices
