package devices

import "sync"

// The i8042 keyboard controller, reduced to what a VM needs: its command
// port's "pulse output line" command, which on PCs is wired to the CPU
// reset line. Linux's reboot=k uses it (arch/x86/kernel/reboot.c,
// BOOT_KBD: outb(0xfe, 0x64)).
const (
	// I8042CmdResetCPU pulses output port bit 0, the reset line.
	I8042CmdResetCPU = 0xfe
	// i8042CmdReadCTR asks for the controller configuration byte.
	i8042CmdReadCTR = 0x20
	// i8042StatusOutputFull: a byte is waiting at the data port.
	i8042StatusOutputFull = 1 << 0
	// i8042StatusSystemFlag is set after a successful self-test, as
	// firmware leaves it.
	i8042StatusSystemFlag = 1 << 2
)

// I8042 is the keyboard controller's data (0x60) and command/status
// (0x64) ports. Register it twice: NewI8042Ports returns the two halves.
type I8042 struct {
	onReset func()

	mu     sync.Mutex
	output []byte // bytes waiting at the data port
}

// NewI8042 returns a controller that calls onReset when the guest pulses
// the reset line.
func NewI8042(onReset func()) *I8042 { return &I8042{onReset: onReset} }

// DataPort is the device for port 0x60.
func (k *I8042) DataPort() Device { return i8042Data{k} }

// CommandPort is the device for port 0x64.
func (k *I8042) CommandPort() Device { return i8042Command{k} }

type i8042Data struct{ k *I8042 }

func (d i8042Data) Read(_ uint64, data []byte) {
	d.k.mu.Lock()
	defer d.k.mu.Unlock()
	if len(d.k.output) > 0 && len(data) > 0 {
		data[0] = d.k.output[0]
		d.k.output = d.k.output[1:]
	}
}

func (d i8042Data) Write(uint64, []byte) {} // keyboard commands: no keyboard

type i8042Command struct{ k *I8042 }

// Read returns the status register.
func (c i8042Command) Read(_ uint64, data []byte) {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	if len(data) == 0 {
		return
	}
	data[0] = i8042StatusSystemFlag
	if len(c.k.output) > 0 {
		data[0] |= i8042StatusOutputFull
	}
}

// Write takes a controller command.
func (c i8042Command) Write(_ uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	switch data[0] {
	case I8042CmdResetCPU:
		if c.k.onReset != nil {
			c.k.onReset()
		}
	case i8042CmdReadCTR:
		// Configuration byte: both ports' interrupts and clocks off.
		c.k.mu.Lock()
		c.k.output = append(c.k.output[:0], 0x00)
		c.k.mu.Unlock()
	}
}
