package devices

import "gvmm/internal/clock"

// DebugDevice is gvmm's guest-to-VMM signalling port (vmm.DebugPort):
//
//	offset 0, write DebugReadyMagic: the boot timer. The guest's workload
//	          is ready; the VMM timestamps the moment in microseconds since
//	          its own process started (Firecracker's boot-timer device uses
//	          the same magic, 123).
//	offset 1, write S: stop the VM with exit status S. Kernels without ACPI
//	          cannot power a PC off; the guest agent writes 0 here instead.
//
// Reads return zero. Any other value or offset is ignored.
type DebugDevice struct {
	// Ready is called with the READY timestamp, once per magic write.
	Ready func(us int64)
	// Exit is called with the status byte the guest wrote.
	Exit func(status uint8)
}

// Debug device registers and values.
const (
	DebugRegReady = 0
	DebugRegExit  = 1
	// DebugReadyMagic mirrors vmm.DebugReadyMagic for devices' users.
	DebugReadyMagic = 123
)

func (d *DebugDevice) Read(uint64, []byte) {}

func (d *DebugDevice) Write(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	switch offset {
	case DebugRegReady:
		if data[0] == DebugReadyMagic && d.Ready != nil {
			d.Ready(clock.SinceStart())
		}
	case DebugRegExit:
		if d.Exit != nil {
			d.Exit(data[0])
		}
	}
}
