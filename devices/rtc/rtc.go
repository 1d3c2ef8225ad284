package rtc

import (
	"sync"
	"time"
)

// The two ports, offsets from the device's base (vmm.CMOSPort).
const (
	// RegIndex selects a register (bits 0-6) and holds the NMI mask (bit 7).
	RegIndex = 0
	// RegData reads and writes the selected register.
	RegData = 1
	// NumPorts is how many ports the device occupies.
	NumPorts = 2
)

// The chip's registers (MC146818A "Address Map").
const (
	regSeconds   = 0x00
	regMinutes   = 0x02
	regHours     = 0x04
	regWeekday   = 0x06 // 1-7, Sunday is 1
	regDay       = 0x07
	regMonth     = 0x08
	regYear      = 0x09 // two digits
	regA         = 0x0a
	regB         = 0x0b
	regC         = 0x0c
	regD         = 0x0d
	firstRAMByte = 0x0e
	// regCentury is where PC firmware keeps the century (the IBM PC/AT
	// convention that ACPI's FADT CENTURY field usually points at).
	regCentury = 0x32
	numRegs    = 0x80
	indexMask  = numRegs - 1
)

// Register bits (include/linux/mc146818rtc.h).
const (
	aUIP      = 0x80 // update in progress: never set here
	bSET      = 0x80 // halt updates while the time is being set
	b24Hour   = 0x02 // 24-hour mode (else 12-hour, bit 7 of hours = PM)
	bBinary   = 0x04 // DM: binary (else BCD)
	dVRT      = 0x80 // valid RAM and time: the battery is fine
	hourPM    = 0x80 // in 12-hour mode
	aDefault  = 0x26 // 32.768 kHz time base, 1.024 kHz rate: what firmware sets
	bDefault  = b24Hour
	unmapped  = 0xff
	maxSecond = 59
)

// snapshotWindow is how long a burst of reads is answered from one reading
// of the host clock. The chip promises 244 µs without an update after UIP
// reads clear; one snapshot for a burst keeps seconds, minutes and hours
// from different seconds out of one answer.
const snapshotWindow = time.Millisecond

// RTC is the device. Its zero value is not ready: use New.
type RTC struct {
	// now reads the host clock (time.Now, or a test's clock).
	now func() time.Time

	mu    sync.Mutex
	index uint8
	regs  [numRegs]uint8
	// offset is the guest's clock minus the host's: zero until the guest
	// sets the time.
	offset time.Duration
	// snap is the guest time the current burst of reads sees, taken at
	// host time snapAt.
	snap, snapAt time.Time
	// setting is the time being written while register B's SET bit is on.
	setting time.Time
}

// New returns a clock that reads the host's time through now (time.Now in
// a VM) and keeps UTC, as QEMU's default -rtc base=utc does.
func New(now func() time.Time) *RTC {
	r := &RTC{now: now}
	r.regs[regA] = aDefault
	r.regs[regB] = bDefault
	r.regs[regD] = dVRT
	return r
}

// Read serves a guest read of one of the two ports.
func (r *RTC) Read(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	for i := range data {
		data[i] = unmapped
	}
	if offset != RegData {
		return // the index port is write-only
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	data[0] = r.readReg(r.index)
}

// Write serves a guest write of one of the two ports.
func (r *RTC) Write(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch offset {
	case RegIndex:
		// Bit 7 masks NMIs on a PC; a VM has no NMI source to mask.
		r.index = data[0] & indexMask
	case RegData:
		r.writeReg(r.index, data[0])
	}
}

// guestTime is the time the guest sees now: the latched time while it
// sets the clock, else a snapshot of the host's clock plus its offset.
func (r *RTC) guestTime() time.Time {
	if r.regs[regB]&bSET != 0 {
		return r.setting
	}
	host := r.now()
	if r.snapAt.IsZero() || host.Sub(r.snapAt) > snapshotWindow || host.Before(r.snapAt) {
		r.snap, r.snapAt = host.Add(r.offset).UTC(), host
	}
	return r.snap
}

func (r *RTC) readReg(reg uint8) uint8 {
	switch reg {
	case regSeconds, regMinutes, regHours, regWeekday, regDay, regMonth, regYear, regCentury:
		return r.encodeField(reg, r.guestTime())
	case regA:
		return r.regs[regA] &^ aUIP // an update is never in progress
	case regC:
		return 0 // no interrupt flags: the model raises none
	case regD:
		return dVRT
	default:
		return r.regs[reg]
	}
}

func (r *RTC) writeReg(reg, v uint8) {
	switch reg {
	case regSeconds, regMinutes, regHours, regWeekday, regDay, regMonth, regYear, regCentury:
		r.setField(reg, v)
	case regA:
		r.regs[regA] = v &^ aUIP // UIP is read-only
	case regB:
		r.writeB(v)
	case regC, regD:
		// Read-only status registers.
	default:
		r.regs[reg] = v // alarms and CMOS RAM
	}
}

// writeB handles register B. Turning SET on latches the current time so
// the guest can write it field by field; turning it off starts the clock
// from what was written (the chip's "update cycle" resumes).
func (r *RTC) writeB(v uint8) {
	old := r.regs[regB]
	if old&bSET == 0 && v&bSET != 0 {
		r.setting = r.guestTime()
	}
	r.regs[regB] = v
	if old&bSET != 0 && v&bSET == 0 {
		host := r.now()
		r.offset = r.setting.Sub(host)
		r.snap, r.snapAt = r.setting, host
	}
}

// setField writes one date or time field. Outside SET mode the chip takes
// the write at once; the model does the same by latching, changing and
// restarting in one step.
func (r *RTC) setField(reg, v uint8) {
	inSet := r.regs[regB]&bSET != 0
	if !inSet {
		r.setting = r.guestTime()
	}
	r.setting = r.applyField(r.setting, reg, v)
	if !inSet {
		host := r.now()
		r.offset = r.setting.Sub(host)
		r.snap, r.snapAt = r.setting, host
	}
}

// encodeField returns one field of t in the register's format (BCD or
// binary, 12- or 24-hour, as register B says).
func (r *RTC) encodeField(reg uint8, t time.Time) uint8 {
	var v int
	switch reg {
	case regSeconds:
		v = t.Second()
	case regMinutes:
		v = t.Minute()
	case regHours:
		h := t.Hour()
		if r.regs[regB]&b24Hour != 0 {
			v = h
			break
		}
		pm := h >= 12
		if h = h % 12; h == 0 {
			h = 12
		}
		out := r.toReg(h)
		if pm {
			out |= hourPM
		}
		return out
	case regWeekday:
		v = int(t.Weekday()) + 1
	case regDay:
		v = t.Day()
	case regMonth:
		v = int(t.Month())
	case regYear:
		v = t.Year() % 100
	case regCentury:
		v = t.Year() / 100
	}
	return r.toReg(v)
}

// applyField returns t with one field replaced by the register value v.
// Values out of range are clamped, as a guest has no business writing
// them; the weekday follows from the date and is ignored.
func (r *RTC) applyField(t time.Time, reg, v uint8) time.Time {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	switch reg {
	case regSeconds:
		sec = clamp(r.fromReg(v), 0, maxSecond)
	case regMinutes:
		minute = clamp(r.fromReg(v), 0, 59)
	case regHours:
		if r.regs[regB]&b24Hour != 0 {
			hour = clamp(r.fromReg(v), 0, 23)
		} else {
			h := clamp(r.fromReg(v&^hourPM), 1, 12) % 12
			if v&hourPM != 0 {
				h += 12
			}
			hour = h
		}
	case regDay:
		day = clamp(r.fromReg(v), 1, 31)
	case regMonth:
		month = time.Month(clamp(r.fromReg(v), 1, 12))
	case regYear:
		year = year/100*100 + clamp(r.fromReg(v), 0, 99)
	case regCentury:
		year = clamp(r.fromReg(v), 19, 99)*100 + year%100
	case regWeekday:
		return t
	}
	return time.Date(year, month, day, hour, minute, sec, t.Nanosecond(), time.UTC)
}

// toReg encodes a value 0-99 as register B's data mode says.
func (r *RTC) toReg(v int) uint8 {
	if r.regs[regB]&bBinary != 0 {
		return uint8(v)
	}
	return uint8(v/10<<4 | v%10)
}

// fromReg decodes a register value; a BCD digit above 9 counts as 9.
func (r *RTC) fromReg(v uint8) int {
	if r.regs[regB]&bBinary != 0 {
		return int(v)
	}
	return min(int(v>>4), 9)*10 + min(int(v&0xf), 9)
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
