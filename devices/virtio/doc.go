// Package virtio implements the device side of virtio 1.2 ("modern",
// VIRTIO_F_VERSION_1 only) over PCI, and the split virtqueue.
//
// Three layers, bottom up:
//
//   - Queue and Chain (queue.go, chain.go): the split virtqueue of §2.7.
//     The device pops descriptor chains that the driver made available and
//     pushes them to the used ring. Every descriptor is copied out of guest
//     memory through the checked vmm.GuestMemory accessors and validated
//     before use; ring indexes are read and published with 32-bit atomics
//     (ring_unsafe.go), the only place this package touches memory through
//     a pointer.
//   - Transport (transport.go, commoncfg.go): the virtio PCI transport of
//     §4.1: a PCI function with vendor capabilities that point into one
//     memory BAR holding the common configuration, the ISR, the device
//     configuration and the notification area. It runs the device status
//     state machine (§2.1, §3.1.1) and feature negotiation, validates each
//     queue when the driver enables it, and interrupts through legacy INTx
//     or, when the driver enables it, MSI-X.
//   - Device: the interface a device type (console, net) implements. The
//     transport activates it at DRIVER_OK with the validated queues, passes
//     on queue notifications and resets it when the driver resets.
//
// The guest is hostile. Anything a driver can get wrong ends in
// Signal.Fail: the transport logs it, sets DEVICE_NEEDS_RESET, raises a
// configuration-change interrupt (§2.1.2) and stops passing notifications
// to the device until the driver resets it. The host never panics and never
// touches memory outside guest RAM.
package virtio
