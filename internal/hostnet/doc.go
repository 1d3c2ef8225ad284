// Package hostnet sets up the host's end of a VM's network link: it gives
// the TAP interface the host's address (gvmm boot --host-addr) and brings
// the link up, and it undoes exactly what it did when the VM stops.
//
// This is host configuration, not device emulation. The virtio-net model
// (devices/virtio/net) sees only frames on a file descriptor, as the guest
// sees only frames on its queues; which addresses the host's interface
// carries is the machine's business (internal/machine wires the two), the
// way Firecracker leaves the TAP's set-up to whoever creates it and QEMU
// leaves it to its ifup script.
//
// The kernel interface is rtnetlink (RTM_NEWADDR, RTM_NEWLINK with IFF_UP;
// see rtnetlink(7)), through github.com/vishvananda/netlink.
package hostnet
