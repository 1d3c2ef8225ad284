// Package virtiotest is a driver-side test double for virtio devices: it
// plays the part of the guest's virtio-pci driver against a real
// virtio.Transport, through PCI configuration space and the BAR mapped on
// a devices.Bus, with descriptor tables, rings and buffers laid out in a
// real vmm.GuestMemory. Devices are tested this way without KVM or a
// guest kernel, following the same steps Linux's virtio_pci_modern does
// (§3.1.1 of virtio 1.2), and hostile tests use its raw accessors to write
// what a broken or malicious driver would.
package virtiotest
