package devices

import (
	"time"

	"gvmm/guest/ready"
)

// DebugDevice is gvmm's guest-to-VMM signalling port (vmm.DebugPort):
//
//	offset 0, write ready.Magic (123): the boot timer. The guest's
//	          workload is ready; the device reports the microseconds since
//	          Start, the VMM's process clock (Firecracker's BootTimer is
//	          likewise handed its start_ts and takes the same magic).
//	offset 1, write S: stop the VM with exit status S. Kernels without ACPI
//	          cannot power a PC off; the guest agent writes 0 here instead.
//
// Reads return zero. Any other value or offset is ignored.
type DebugDevice struct {
	// Start is the zero of the READY timestamp: the VMM passes its process
	// clock's (ready.Start). The device reads no clock of its own choosing.
	Start time.Time
	// Ready is called with the READY timestamp, once per magic write.
	Ready func(us int64)
	// Exit is called with the status byte the guest wrote.
	Exit func(status uint8)
}

// Debug device registers and values.
const (
	DebugRegReady = 0
	DebugRegExit  = 1
)

func (d *DebugDevice) Read(uint64, []byte) {}

func (d *DebugDevice) Write(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	switch offset {
	case DebugRegReady:
		if data[0] == ready.Magic && d.Ready != nil {
			d.Ready(time.Since(d.Start).Microseconds())
		}
	case DebugRegExit:
		if d.Exit != nil {
			d.Exit(data[0])
		}
	}
}
