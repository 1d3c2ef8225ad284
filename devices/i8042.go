package devices

import "sync"

// The i8042 keyboard controller, reduced to what a VM needs and modelled
// as a controller with a keyboard channel and no auxiliary (mouse) channel,
// nothing plugged in:
//
//   - its "pulse output line" command, which on PCs is wired to the CPU
//     reset line: Linux's reboot=k (arch/x86/kernel/reboot.c, BOOT_KBD:
//     outb(0xfe, 0x64)) ends the VM through it;
//   - the commands Linux's i8042 driver sends while probing
//     (drivers/input/serio/i8042.c), each answered at once, so that the
//     probe ends without a single timeout. A command the model did not
//     answer would cost the guest I8042_CTL_TIMEOUT = 10,000 status polls,
//     each an exit: before this model, the AUX probe's two unanswered
//     commands were 20,000 exits per boot.
//
// The commands (IBM PS/2 Technical Reference, "Keyboard/Auxiliary Device
// Controller"; Linux's include/linux/i8042.h names them):
const (
	// I8042CmdResetCPU pulses output port bit 0, the reset line.
	I8042CmdResetCPU = 0xfe
	// i8042CmdReadCTR returns the controller configuration byte.
	i8042CmdReadCTR = 0x20
	// i8042CmdWriteCTR takes the next data-port byte as the configuration.
	i8042CmdWriteCTR = 0x60
	// i8042CmdAuxDisable and i8042CmdAuxEnable set and clear the CTR's
	// AUX-disable bit; the keyboard's pair does the same for its bit.
	i8042CmdAuxDisable = 0xa7
	i8042CmdAuxEnable  = 0xa8
	i8042CmdKbdDisable = 0xad
	i8042CmdKbdEnable  = 0xae
	// i8042CmdAuxTest is the auxiliary interface test. With no auxiliary
	// channel the model answers 0x01, "clock line stuck low"; Linux's
	// i8042_check_aux then knows there is no AUX port.
	i8042CmdAuxTest = 0xa9
	// i8042CmdSelfTest answers 0x55, "passed".
	i8042CmdSelfTest = 0xaa
	// i8042CmdKbdTest is the keyboard interface test: 0x00, "no error".
	i8042CmdKbdTest = 0xab
	// i8042CmdWriteKbdOut and i8042CmdWriteAuxOut put the next data-port
	// byte into the output buffer as if the keyboard, or the auxiliary
	// device, had sent it (Linux's AUX_LOOP test). With no auxiliary
	// channel, both come back as keyboard data: the AUXDATA status bit
	// stays clear, and Linux's __i8042_command fails the loop test at once.
	i8042CmdWriteKbdOut = 0xd2
	i8042CmdWriteAuxOut = 0xd3
)

// Status register bits (include/linux/i8042.h, I8042_STR_*).
const (
	// i8042StatusOutputFull: a byte is waiting at the data port.
	i8042StatusOutputFull = 1 << 0
	// i8042StatusSystemFlag is set after a successful self-test, as
	// firmware leaves it.
	i8042StatusSystemFlag = 1 << 2
	// i8042StatusCommand: the last byte written went to the command port.
	i8042StatusCommand = 1 << 3
	// i8042StatusNotInhibited: the keyboard lock switch is off (Linux's
	// I8042_STR_KEYLOCK; clear, the driver warns "Keylock active").
	i8042StatusNotInhibited = 1 << 4
	// i8042StatusAuxData: the byte waiting came from the auxiliary
	// channel. Never set: there is none.
)

// Configuration byte bits (I8042_CTR_*).
const (
	i8042CTRSystemFlag = 1 << 2
	i8042CTRKbdDisable = 1 << 4
	i8042CTRAuxDisable = 1 << 5
	// i8042CTRDefault: both interrupts off, both clocks off, translation
	// off, the system flag set: a controller no one has configured.
	i8042CTRDefault = i8042CTRKbdDisable | i8042CTRAuxDisable | i8042CTRSystemFlag
)

// Answers to the tests.
const (
	i8042SelfTestPassed   = 0x55
	i8042KbdTestOK        = 0x00
	i8042AuxClockStuckLow = 0x01
)

// I8042 is the keyboard controller's data (0x60) and command/status
// (0x64) ports. Register both halves: DataPort and CommandPort.
//
// Like the chip, it has a one-byte output buffer: a new answer replaces an
// unread one, so a byte the guest did not collect cannot be taken later as
// the answer to another command.
type I8042 struct {
	onReset func()

	mu         sync.Mutex
	output     byte // the output buffer
	outputFull bool
	ctr        byte // the configuration byte ("command byte")
	// pending is the command whose parameter the next data-port write is
	// (0 for none); lastCommand records which port was written last.
	pending     byte
	lastCommand bool
}

// NewI8042 returns a controller that calls onReset when the guest pulses
// the reset line.
func NewI8042(onReset func()) *I8042 { return &I8042{onReset: onReset, ctr: i8042CTRDefault} }

// DataPort is the device for port 0x60.
func (k *I8042) DataPort() Device { return i8042Data{k} }

// CommandPort is the device for port 0x64.
func (k *I8042) CommandPort() Device { return i8042Command{k} }

// answer puts b in the output buffer, replacing an unread byte.
func (k *I8042) answer(b byte) { k.output, k.outputFull = b, true }

type i8042Data struct{ k *I8042 }

// Read takes the byte in the output buffer (the last one again if it is
// empty, as the chip's data register keeps its value).
func (d i8042Data) Read(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	d.k.mu.Lock()
	defer d.k.mu.Unlock()
	data[0] = d.k.output
	d.k.outputFull = false
}

// Write is a command's parameter, or else a byte for the keyboard, which
// is not there: it is dropped, as the chip drops it when no device clocks
// it out (Linux's atkbd then times out waiting for an ACK, with no exits).
func (d i8042Data) Write(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	k := d.k
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastCommand = false
	cmd := k.pending
	k.pending = 0
	switch cmd {
	case i8042CmdWriteCTR:
		k.ctr = data[0]
	case i8042CmdWriteKbdOut, i8042CmdWriteAuxOut:
		k.answer(data[0])
	}
}

type i8042Command struct{ k *I8042 }

// Read returns the status register.
func (c i8042Command) Read(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	data[0] = i8042StatusSystemFlag | i8042StatusNotInhibited
	if c.k.outputFull {
		data[0] |= i8042StatusOutputFull
	}
	if c.k.lastCommand {
		data[0] |= i8042StatusCommand
	}
}

// Write takes a controller command.
func (c i8042Command) Write(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	k := c.k
	if data[0] == I8042CmdResetCPU {
		if k.onReset != nil {
			k.onReset() // outside the lock: it stops the VM
		}
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastCommand = true
	k.pending = 0
	switch data[0] {
	case i8042CmdReadCTR:
		k.answer(k.ctr)
	case i8042CmdWriteCTR, i8042CmdWriteKbdOut, i8042CmdWriteAuxOut:
		k.pending = data[0]
	case i8042CmdAuxDisable:
		k.ctr |= i8042CTRAuxDisable
	case i8042CmdAuxEnable:
		k.ctr &^= i8042CTRAuxDisable
	case i8042CmdKbdDisable:
		k.ctr |= i8042CTRKbdDisable
	case i8042CmdKbdEnable:
		k.ctr &^= i8042CTRKbdDisable
	case i8042CmdAuxTest:
		k.answer(i8042AuxClockStuckLow)
	case i8042CmdSelfTest:
		k.answer(i8042SelfTestPassed)
	case i8042CmdKbdTest:
		k.answer(i8042KbdTestOK)
	}
}
