// Package pci is a minimal conventional PCI bus: one host bridge, one bus
// (bus 0), single-function devices, type 0 configuration headers, memory
// BARs and legacy INTx interrupts.
//
// The guest reaches configuration space through configuration mechanism #1
// (PCI Local Bus 3.0 §3.2.2.3.2): a 32-bit CONFIG_ADDRESS register at port
// 0xCF8 selects bus, device, function and register, and CONFIG_DATA at
// 0xCFC-0xCFF reads or writes the selected dword. Root.ConfigPorts is the
// devices.Device to register on the port I/O bus over those eight ports.
//
// Each Function keeps its 256-byte configuration space as bytes plus a mask
// of the bits software may write, so read-only fields stay read-only and
// BAR sizing (write all ones, read back the size mask, §6.2.5.1) falls out
// of the mask. When the guest enables memory decoding or moves a BAR, the
// Function re-registers the BAR's device on the MMIO bus at the new address.
//
// Interrupts are legacy INTx: level-triggered, shared, active as long as the
// device has a reason (virtio: a non-zero ISR). Function.SetINTx drives the
// devices.Interrupt given to Root.Add unless the guest set Interrupt Disable
// in the command register (§6.2.2). MSIX adds message-signalled
// interrupts (§6.8.2): a vector table and Pending Bit Array that live in
// a BAR, delivered through an MSISignaler (KVM_SIGNAL_MSI in the VMM).
package pci
