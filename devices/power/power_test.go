package power

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// newDevice returns a device that counts its power-offs and resets.
func newDevice() (*Device, *int, *int) {
	var off, reset int
	return &Device{
		OffType: 5, ResetValue: 1,
		PowerOff:     func() { off++ },
		ResetMachine: func() { reset++ },
	}, &off, &reset
}

func TestSoftOff(t *testing.T) {
	d, off, reset := newDevice()
	// Linux's acpi_hw_extended_sleep(S5): (SLP_TYP << 2) | SLP_EN = 0x34.
	d.Write(SleepControl, []byte{5<<2 | 1<<5})
	assert.Equal(t, 1, *off)
	assert.Zero(t, *reset)
}

func TestSleepTypeWithoutEnableDoesNothing(t *testing.T) {
	d, off, _ := newDevice()
	d.Write(SleepControl, []byte{5 << 2})
	assert.Zero(t, *off, "SLP_TYP alone is only a selection")
	buf := []byte{0xaa}
	d.Read(SleepStatus, buf)
	assert.Equal(t, byte(0), buf[0], "still awake, WAK_STS clear")
}

func TestOtherSleepStatesWakeAtOnce(t *testing.T) {
	d, off, _ := newDevice()
	d.Write(SleepControl, []byte{3<<2 | 1<<5}) // S3: not offered
	assert.Zero(t, *off)
	buf := []byte{0}
	d.Read(SleepStatus, buf)
	assert.Equal(t, byte(0x80), buf[0], "WAK_STS: the OS's wait loop ends")
	d.Write(SleepStatus, []byte{0x80})
	d.Read(SleepStatus, buf)
	assert.Equal(t, byte(0), buf[0], "write 1 to clear")
}

func TestReset(t *testing.T) {
	d, off, reset := newDevice()
	d.Write(Reset, []byte{0x02})
	assert.Zero(t, *reset, "only RESET_VALUE resets")
	d.Write(Reset, []byte{0x01})
	assert.Equal(t, 1, *reset)
	assert.Zero(t, *off)
}

func TestHostileAccesses(t *testing.T) {
	d, off, reset := newDevice()
	for _, offset := range []uint64{NumRegisters, 0xff, ^uint64(0)} {
		d.Write(offset, []byte{0x34})
		d.Write(offset, []byte{0x01})
		buf := []byte{0, 0}
		d.Read(offset, buf)
		assert.Equal(t, []byte{0xff, 0xff}, buf, "offset %#x reads as unassigned", offset)
	}
	d.Write(SleepControl, nil)
	d.Read(SleepControl, nil)
	wide := []byte{0, 0, 0, 0}
	d.Read(SleepControl, wide)
	assert.Equal(t, []byte{0, 0xff, 0xff, 0xff}, wide, "only the byte register answers")
	assert.Zero(t, *off)
	assert.Zero(t, *reset)
	// A device without callbacks ignores the requests.
	(&Device{OffType: 5, ResetValue: 1}).Write(SleepControl, []byte{0x34})
	(&Device{OffType: 5, ResetValue: 1}).Write(Reset, []byte{1})
}
