package rtc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a host clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(t time.Time) (*RTC, *clock) {
	c := &clock{t}
	return New(c.now), c
}

func read(r *RTC, reg uint8) uint8 {
	r.Write(RegIndex, []byte{reg})
	b := []byte{0}
	r.Read(RegData, b)
	return b[0]
}

func write(r *RTC, reg, v uint8) {
	r.Write(RegIndex, []byte{reg})
	r.Write(RegData, []byte{v})
}

// 2026-12-07 23:59:58 UTC, a Monday.
var monday = time.Date(2026, 12, 7, 23, 59, 58, 0, time.UTC)

func TestReadsHostTimeInBCD(t *testing.T) {
	r, _ := newTest(monday)
	assert.Equal(t, uint8(0x58), read(r, regSeconds))
	assert.Equal(t, uint8(0x59), read(r, regMinutes))
	assert.Equal(t, uint8(0x23), read(r, regHours), "24-hour mode, BCD: firmware's default")
	assert.Equal(t, uint8(2), read(r, regWeekday), "Sunday is 1")
	assert.Equal(t, uint8(0x07), read(r, regDay))
	assert.Equal(t, uint8(0x12), read(r, regMonth))
	assert.Equal(t, uint8(0x26), read(r, regYear))
	assert.Equal(t, uint8(0x20), read(r, regCentury))
}

func TestStatusRegisters(t *testing.T) {
	r, _ := newTest(monday)
	assert.Zero(t, read(r, regA)&aUIP, "UIP is never stuck")
	assert.Equal(t, uint8(aDefault), read(r, regA))
	assert.Equal(t, uint8(dVRT), read(r, regD), "valid RAM and time")
	assert.Zero(t, read(r, regC), "no interrupt flags")
	write(r, regA, 0xff)
	assert.Equal(t, uint8(0x7f), read(r, regA), "UIP cannot be written")
	write(r, regD, 0)
	assert.Equal(t, uint8(dVRT), read(r, regD), "D is read-only")
}

func TestBinaryAnd12HourModes(t *testing.T) {
	r, _ := newTest(monday)
	write(r, regB, bBinary) // binary, 12-hour
	assert.Equal(t, uint8(58), read(r, regSeconds))
	assert.Equal(t, uint8(11|hourPM), read(r, regHours), "23h is 11 PM")
	assert.Equal(t, uint8(26), read(r, regYear))

	r, _ = newTest(time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC))
	write(r, regB, 0) // BCD, 12-hour
	assert.Equal(t, uint8(0x12), read(r, regHours), "midnight is 12 AM")
}

// A burst of reads across a second boundary sees one time, as the chip's
// registers hold still after UIP reads clear.
func TestBurstIsConsistent(t *testing.T) {
	r, c := newTest(monday)
	require.Equal(t, uint8(0x58), read(r, regSeconds))
	c.t = c.t.Add(500 * time.Microsecond)
	assert.Equal(t, uint8(0x58), read(r, regSeconds), "within the window: the same snapshot")
	c.t = c.t.Add(2 * time.Second)
	assert.Equal(t, uint8(0x00), read(r, regSeconds), "after it: the clock has moved")
	assert.Equal(t, uint8(0x00), read(r, regMinutes), "…and carried into the minutes")
	assert.Equal(t, uint8(0x08), read(r, regDay), "…and the day")
}

// Linux's rtc_set_time: SET on, write the fields, SET off; the clock then
// runs on from what was written.
func TestSettingTheClock(t *testing.T) {
	r, c := newTest(monday)
	write(r, regB, bDefault|bSET)
	write(r, regYear, 0x30)
	write(r, regMonth, 0x06)
	write(r, regDay, 0x15)
	write(r, regHours, 0x08)
	write(r, regMinutes, 0x00)
	write(r, regSeconds, 0x00)
	c.t = c.t.Add(time.Hour)
	assert.Equal(t, uint8(0x08), read(r, regHours), "SET holds the clock still")
	write(r, regB, bDefault)
	c.t = c.t.Add(90 * time.Second)
	assert.Equal(t, uint8(0x01), read(r, regMinutes), "runs on from 08:00:00")
	assert.Equal(t, uint8(0x30), read(r, regSeconds))
	assert.Equal(t, uint8(0x30), read(r, regYear))
	assert.Equal(t, uint8(0x15), read(r, regDay))

	// A single write outside SET mode changes the clock at once.
	write(r, regHours, 0x09)
	assert.Equal(t, uint8(0x09), read(r, regHours))
	assert.Equal(t, uint8(0x01), read(r, regMinutes))
}

func TestRAMAndPorts(t *testing.T) {
	r, _ := newTest(monday)
	write(r, firstRAMByte, 0xa5)
	write(r, 0x7f, 0x5a)
	assert.Equal(t, uint8(0xa5), read(r, firstRAMByte))
	assert.Equal(t, uint8(0x5a), read(r, 0x7f))
	r.Write(RegIndex, []byte{0x80 | firstRAMByte}) // NMI mask bit set
	b := []byte{0}
	r.Read(RegData, b)
	assert.Equal(t, uint8(0xa5), b[0], "bit 7 of the index is the NMI mask, not the register")
	r.Read(RegIndex, b)
	assert.Equal(t, uint8(0xff), b[0], "the index port is write-only")
	r.Read(RegData, nil)  // zero-length accesses are ignored
	r.Write(RegData, nil) //
	r.Write(7, []byte{1}) // an offset outside the device
}

// Hostile values: BCD digits above 9 and out-of-range fields are clamped,
// never a panic or a time that breaks later reads.
func TestHostileWrites(t *testing.T) {
	r, _ := newTest(monday)
	for reg := uint8(0); reg < 0x10; reg++ {
		for _, v := range []uint8{0x00, 0x99, 0xff, 0xaa} {
			write(r, reg, v)
		}
	}
	write(r, regB, bDefault)
	for reg := uint8(0); reg < numRegs; reg++ {
		read(r, reg)
	}
	assert.Zero(t, read(r, regA)&aUIP)
}

func FuzzRTC(f *testing.F) {
	f.Add([]byte{0, 0x0b, 1, 0x80, 0, 0x09, 1, 0x99, 0, 0x0b, 1, 0x02})
	f.Fuzz(func(t *testing.T, ops []byte) {
		r, c := newTest(monday)
		for i := 0; i+1 < len(ops); i += 2 {
			c.t = c.t.Add(time.Duration(ops[i]) * time.Millisecond)
			port := uint64(ops[i] & 1)
			if ops[i]&2 != 0 {
				b := []byte{0}
				r.Read(port, b)
			} else {
				r.Write(port, []byte{ops[i+1]})
			}
		}
		if read(r, regA)&aUIP != 0 {
			t.Fatal("UIP set")
		}
	})
}
