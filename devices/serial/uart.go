package serial

import (
	"io"
	"log/slog"
	"sync"

	"gvmm/devices"
)

// Register offsets from the base port (PC16550D table 2). Some offsets are
// two registers, chosen by the access direction or by LCR.DLAB.
const (
	regRBR = 0 // receiver buffer (read, DLAB=0)
	regTHR = 0 // transmitter holding (write, DLAB=0)
	regDLL = 0 // divisor latch low (DLAB=1)
	regIER = 1 // interrupt enable (DLAB=0)
	regDLM = 1 // divisor latch high (DLAB=1)
	regIIR = 2 // interrupt identification (read)
	regFCR = 2 // FIFO control (write)
	regLCR = 3 // line control
	regMCR = 4 // modem control
	regLSR = 5 // line status
	regMSR = 6 // modem status
	regSCR = 7 // scratch

	// NumRegisters is the size of the UART's port range.
	NumRegisters = 8
)

// Register bits.
const (
	ierRxData = 1 << 0 // interrupt when received data is available
	ierTHRE   = 1 << 1 // interrupt when the transmitter holding register is empty
	ierMask   = 0x0f

	iirNoInterrupt = 0x01
	iirTHRE        = 0x02
	iirRxData      = 0x04
	iirFIFOEnabled = 0xc0

	fcrEnableFIFO = 1 << 0
	fcrClearRx    = 1 << 1

	lcrDLAB = 1 << 7 // divisor latch access

	mcrDTR  = 1 << 0
	mcrRTS  = 1 << 1
	mcrOUT1 = 1 << 2
	mcrOUT2 = 1 << 3
	mcrLoop = 1 << 4
	mcrMask = 0x1f

	lsrDataReady = 1 << 0
	lsrTHRE      = 1 << 5 // transmitter holding register empty
	lsrTEMT      = 1 << 6 // transmitter empty

	msrCTS = 1 << 4
	msrDSR = 1 << 5
	msrRI  = 1 << 6
	msrDCD = 1 << 7
)

// rxCapacity bounds the receive queue. A real 16550A holds 16 bytes; a
// larger queue lets pasted input wait for the guest instead of being lost,
// and Receive applies back-pressure past it.
const rxCapacity = 4096

// UART is one 16550A. The zero value is not usable: use New.
type UART struct {
	out io.Writer
	irq devices.Interrupt

	mu       sync.Mutex
	space    *sync.Cond // signalled when rx has room again
	ier      uint8
	lcr      uint8
	mcr      uint8
	scr      uint8
	dll, dlm uint8
	fifo     bool
	rx       []byte
	// threPending is the "transmitter holding register empty" interrupt:
	// raised when THR empties (instantly, we transmit synchronously) or
	// when the guest enables it, cleared by reading IIR while it is the
	// reported source or by writing THR.
	threPending bool
	irqLevel    bool
	closed      bool
}

// New returns a UART that transmits to out and signals irq.
func New(out io.Writer, irq devices.Interrupt) *UART {
	u := &UART{
		out: out,
		irq: irq,
		// Power-on divisor 12 = 9600 baud; Linux reprograms it anyway.
		dll: 12,
	}
	u.space = sync.NewCond(&u.mu)
	return u
}

// Read handles a guest read of register offset.
func (u *UART) Read(offset uint64, data []byte) {
	if len(data) != 1 || offset >= NumRegisters {
		return // the bus already zero-filled data
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	data[0] = u.readReg(offset)
	u.updateIRQ()
}

func (u *UART) readReg(offset uint64) uint8 {
	dlab := u.lcr&lcrDLAB != 0
	switch {
	case offset == regDLL && dlab:
		return u.dll
	case offset == regDLM && dlab:
		return u.dlm
	case offset == regRBR:
		if len(u.rx) == 0 {
			return 0
		}
		b := u.rx[0]
		u.rx = u.rx[1:]
		u.space.Signal()
		return b
	case offset == regIER:
		return u.ier
	case offset == regIIR:
		return u.iir(true)
	case offset == regLCR:
		return u.lcr
	case offset == regMCR:
		return u.mcr
	case offset == regLSR:
		lsr := uint8(lsrTHRE | lsrTEMT) // we transmit instantly
		if len(u.rx) > 0 {
			lsr |= lsrDataReady
		}
		return lsr
	case offset == regMSR:
		return u.msr()
	case offset == regSCR:
		return u.scr
	}
	return 0
}

// iir reports the highest-priority pending interrupt (PC16550D table 4).
// Reading IIR while THRE is the reported source clears it; consume
// distinguishes that read from internal queries.
func (u *UART) iir(consume bool) uint8 {
	var v uint8 = iirNoInterrupt
	switch {
	case u.ier&ierRxData != 0 && len(u.rx) > 0:
		v = iirRxData
	case u.ier&ierTHRE != 0 && u.threPending:
		v = iirTHRE
		if consume {
			u.threPending = false
		}
	}
	if u.fifo {
		v |= iirFIFOEnabled
	}
	return v
}

// msr returns modem status. In loopback mode the modem control outputs
// are wired back to the inputs; Linux's 8250 probe checks exactly this.
// Otherwise report a connected, ready line.
func (u *UART) msr() uint8 {
	if u.mcr&mcrLoop == 0 {
		return msrDCD | msrDSR | msrCTS
	}
	var v uint8
	if u.mcr&mcrDTR != 0 {
		v |= msrDSR
	}
	if u.mcr&mcrRTS != 0 {
		v |= msrCTS
	}
	if u.mcr&mcrOUT1 != 0 {
		v |= msrRI
	}
	if u.mcr&mcrOUT2 != 0 {
		v |= msrDCD
	}
	return v
}

// Write handles a guest write to register offset.
func (u *UART) Write(offset uint64, data []byte) {
	if len(data) != 1 || offset >= NumRegisters {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.writeReg(offset, data[0])
	u.updateIRQ()
}

func (u *UART) writeReg(offset uint64, v uint8) {
	dlab := u.lcr&lcrDLAB != 0
	switch {
	case offset == regDLL && dlab:
		u.dll = v
	case offset == regDLM && dlab:
		u.dlm = v
	case offset == regTHR:
		// Writing THR empties "THR empty": the interrupt drops, and rises
		// again once the byte is sent (at once, here). The drop matters:
		// the ISA input is edge-triggered, and a driver that writes THR
		// while the line is still high (after handling a receive
		// interrupt first) must see a new edge, as on a real 16550.
		u.threPending = false
		u.updateIRQ()
		if u.mcr&mcrLoop != 0 {
			// Loopback: the byte comes straight back to the receiver.
			if len(u.rx) < rxCapacity {
				u.rx = append(u.rx, v)
			}
		} else if _, err := u.out.Write([]byte{v}); err != nil {
			slog.Debug("serial output", "err", err)
		}
		u.threPending = true
	case offset == regIER:
		// Enabling the THRE interrupt with an empty THR raises it at once.
		if v&ierTHRE != 0 && u.ier&ierTHRE == 0 {
			u.threPending = true
		}
		u.ier = v & ierMask
	case offset == regFCR:
		u.fifo = v&fcrEnableFIFO != 0
		if v&fcrClearRx != 0 {
			u.rx = u.rx[:0]
			u.space.Broadcast()
		}
	case offset == regLCR:
		u.lcr = v
	case offset == regMCR:
		u.mcr = v & mcrMask
	case offset == regSCR:
		u.scr = v
	}
	// LSR and MSR are read-only: writes are ignored.
}

// updateIRQ drives the interrupt line to match the pending state. The
// line follows the level of "an enabled interrupt is pending", as the real
// chip's INTR pin does; the edge-triggered ISA input sees each rising edge.
// Precondition: u.mu is held.
func (u *UART) updateIRQ() {
	level := u.iir(false)&iirNoInterrupt == 0
	if level == u.irqLevel || u.irq == nil {
		return
	}
	u.irqLevel = level
	if err := u.irq.SetLevel(level); err != nil {
		slog.Error("serial interrupt", "err", err)
	}
}

// Receive queues input bytes for the guest, blocking while the receive
// queue is full. It returns early, with the count queued, after Close.
func (u *UART) Receive(p []byte) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for n < len(p) && !u.closed {
		for len(u.rx) >= rxCapacity && !u.closed {
			u.space.Wait()
		}
		free := rxCapacity - len(u.rx)
		k := min(free, len(p)-n)
		u.rx = append(u.rx, p[n:n+k]...)
		n += k
		u.updateIRQ()
	}
	return n
}

// Close releases a Receive blocked on a full queue.
func (u *UART) Close() {
	u.mu.Lock()
	u.closed = true
	u.space.Broadcast()
	u.mu.Unlock()
}

var _ devices.Device = (*UART)(nil)
