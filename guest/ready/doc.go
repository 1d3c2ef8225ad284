// Package ready is gvmm's READY protocol, spelled once for both worlds.
//
// A workload says "I am ready" by writing one byte, [Magic], either to the
// VMM's boot-timer port (in a VM: the guest agent or a test guest) or to the
// pipe the container runtime hands it as GVMM_READY_FD (in a container).
// The runtime timestamps that byte on its process clock ([Since]) and
// prints one line on stderr, [Line]: "gvmm: READY at N us". bench reads the
// same line from a VM and from a container ([ParseLine]), so the two worlds
// are measured on the same scale, from the same event.
//
// The value 123 is Firecracker's: its boot-timer pseudo-device takes the
// same byte, MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE, as "the guest has
// booted" (src/vmm/src/devices/pseudo/boot_timer.rs), so a guest init
// written for one VMM signals the other.
//
// This package imports only "time" and "strconv": the guest agent, the
// container's tiny namespace init and the device models import it, and none
// of them may pull in more. It is a leaf; nothing in gvmm sits below it.
package ready
