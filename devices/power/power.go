package power

import (
	"gvmm/devices"
	"sync"
)

// Register offsets and bits (ACPI 6.5 Table 4.19, "Sleep Control
// Register", and Table 4.20, "Sleep Status Register").
const (
	SleepControl = 0
	SleepStatus  = 1
	Reset        = 2
	// NumRegisters is the size of the port block.
	NumRegisters = 3

	// sleepTypeShift and sleepTypeMask select SLP_TYPx, sleepEnable is
	// SLP_EN: "setting this bit causes the system to sequence into the
	// sleeping state associated with the SLP_TYPx fields".
	sleepTypeShift = 2
	sleepTypeMask  = 0x7 << sleepTypeShift
	sleepEnable    = 1 << 5
	// wakeStatus is WAK_STS, "set when the system is woken".
	wakeStatus = 1 << 7
)

// Device is the register block. OffType is the SLP_TYP of soft-off (the
// DSDT's \_S5) and ResetValue the FADT's RESET_VALUE; PowerOff and
// ResetMachine are called once each time the guest asks.
type Device struct {
	OffType      uint8
	ResetValue   uint8
	PowerOff     func()
	ResetMachine func()

	mu     sync.Mutex
	status uint8 // the sleep status register

	log devices.GuestLog // for unsupported values, which the guest can repeat
}

// Read returns a register. Only the sleep status register has a value; the
// other two read as 0, and a read past the block or wider than a byte
// fills the rest with 0xff, as an unassigned port would.
func (d *Device) Read(offset uint64, data []byte) {
	for i := range data {
		data[i] = 0xff
	}
	if len(data) == 0 || offset >= NumRegisters {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch offset {
	case SleepStatus:
		data[0] = d.status
	default:
		data[0] = 0
	}
}

// Write acts on a register. Only the first byte of a wider write counts:
// the FADT describes byte registers.
func (d *Device) Write(offset uint64, data []byte) {
	if len(data) == 0 || offset >= NumRegisters {
		return
	}
	v := data[0]
	switch offset {
	case SleepControl:
		if v&sleepEnable == 0 {
			return // SLP_TYP written without SLP_EN: nothing happens yet
		}
		typ := (v & sleepTypeMask) >> sleepTypeShift
		if typ == d.OffType && d.PowerOff != nil {
			d.PowerOff()
			return
		}
		d.log.Warn("ACPI sleep control: unsupported sleep type, staying awake", "slp_typ", typ)
		d.mu.Lock()
		d.status |= wakeStatus
		d.mu.Unlock()
	case SleepStatus:
		d.mu.Lock()
		d.status &^= v // write 1 to clear
		d.mu.Unlock()
	case Reset:
		if v == d.ResetValue && d.ResetMachine != nil {
			d.ResetMachine()
			return
		}
		d.log.Warn("ACPI reset register: ignoring a value that is not RESET_VALUE", "value", v)
	}
}
