package devices

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kbc drives an I8042 the way Linux's __i8042_command does.
type kbc struct {
	t *testing.T
	k *I8042
}

func (c kbc) status() byte {
	b := []byte{0}
	c.k.CommandPort().Read(0, b)
	return b[0]
}

func (c kbc) command(cmd byte, params ...byte) {
	c.t.Helper()
	require.Zero(c.t, c.status()&0x02, "input buffer never full: no wait before a write")
	c.k.CommandPort().Write(0, []byte{cmd})
	for _, p := range params {
		c.k.DataPort().Write(0, []byte{p})
	}
}

// result reads one answer, failing where Linux's i8042_wait_read would
// have polled the status 10,000 times in vain.
func (c kbc) result() byte {
	c.t.Helper()
	require.NotZero(c.t, c.status()&i8042StatusOutputFull, "an answer is waiting at once")
	b := []byte{0}
	c.k.DataPort().Read(0, b)
	return b[0]
}

// TestLinuxProbeEndsAtOnce follows i8042_controller_init and
// i8042_check_aux (drivers/input/serio/i8042.c, Linux 6.1): every command
// that wants an answer has one waiting, and the AUX probe concludes that
// there is no AUX port.
func TestLinuxProbeEndsAtOnce(t *testing.T) {
	c := kbc{t, NewI8042(nil)}
	assert.Zero(t, c.status()&i8042StatusOutputFull, "i8042_flush finds nothing")
	assert.NotZero(t, c.status()&i8042StatusNotInhibited, "no keylock warning")

	c.command(i8042CmdReadCTR)
	ctr := c.result()
	c.command(i8042CmdReadCTR)
	assert.Equal(t, ctr, c.result(), "two reads agree, as the driver insists")
	assert.Equal(t, byte(i8042CTRDefault), ctr)

	ctr = (ctr | i8042CTRKbdDisable) &^ 0x01
	c.command(i8042CmdWriteCTR, ctr)
	c.command(i8042CmdReadCTR)
	assert.Equal(t, ctr, c.result(), "the configuration byte is kept")

	// i8042_check_aux: the loop test comes back without AUXDATA…
	c.command(i8042CmdWriteAuxOut, 0x5a)
	assert.NotZero(t, c.status()&i8042StatusOutputFull)
	assert.Zero(t, c.status()&0x20, "AUXDATA clear: __i8042_command fails the loop at once")
	// …and the interface test reports a stuck clock: "no AUX port".
	c.command(i8042CmdAuxTest)
	assert.Equal(t, byte(i8042AuxClockStuckLow), c.result(), "the new answer replaced the loop byte")
	assert.Zero(t, c.status()&i8042StatusOutputFull, "nothing left over for the next command")
}

func TestI8042Commands(t *testing.T) {
	c := kbc{t, NewI8042(nil)}
	c.command(i8042CmdSelfTest)
	assert.Equal(t, byte(i8042SelfTestPassed), c.result())
	c.command(i8042CmdKbdTest)
	assert.Equal(t, byte(i8042KbdTestOK), c.result())

	c.command(i8042CmdAuxEnable)
	c.command(i8042CmdReadCTR)
	assert.Zero(t, c.result()&i8042CTRAuxDisable)
	c.command(i8042CmdAuxDisable)
	c.command(i8042CmdReadCTR)
	assert.NotZero(t, c.result()&i8042CTRAuxDisable)
	c.command(i8042CmdKbdEnable)
	c.command(i8042CmdReadCTR)
	assert.Zero(t, c.result()&i8042CTRKbdDisable)
	c.command(i8042CmdKbdDisable)
	c.command(i8042CmdReadCTR)
	assert.NotZero(t, c.result()&i8042CTRKbdDisable)

	c.command(i8042CmdWriteKbdOut, 0x1c)
	assert.Equal(t, byte(0x1c), c.result(), "written as if the keyboard sent it")

	// A byte for the keyboard, which is not there, is dropped; it is not
	// taken as a parameter of an earlier command.
	c.command(i8042CmdReadCTR)
	before := c.result()
	c.k.DataPort().Write(0, []byte{0xf2}) // atkbd's GET ID
	assert.Zero(t, c.status()&i8042StatusOutputFull)
	c.command(i8042CmdReadCTR)
	assert.Equal(t, before, c.result())

	// An unknown command is ignored; zero-length accesses too.
	c.command(0xc0)
	assert.Zero(t, c.status()&i8042StatusOutputFull)
	c.k.CommandPort().Write(0, nil)
	c.k.DataPort().Write(0, nil)
	c.k.DataPort().Read(0, nil)
	c.k.CommandPort().Read(0, nil)
}

func TestI8042StatusCommandBit(t *testing.T) {
	c := kbc{t, NewI8042(nil)}
	c.command(i8042CmdWriteCTR)
	assert.NotZero(t, c.status()&i8042StatusCommand, "last write went to the command port")
	c.k.DataPort().Write(0, []byte{i8042CTRDefault})
	assert.Zero(t, c.status()&i8042StatusCommand)
}
