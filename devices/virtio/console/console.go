package console

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"gvmm/devices/virtio"
)

// Queues and configuration layout, virtio 1.2 §5.3.2 and §5.3.4.
const (
	ReceiveQueue  = 0 // port 0 receiveq: host to guest
	TransmitQueue = 1 // port 0 transmitq: guest to host
	QueueSize     = 256

	// FeatureEmergWrite is VIRTIO_CONSOLE_F_EMERG_WRITE.
	FeatureEmergWrite = 1 << 2

	configCols       = 0 // le16
	configRows       = 2 // le16
	configMaxNrPorts = 4 // le32
	configEmergWr    = 8 // le32, write-only
	configSize       = 12

	// maxPending bounds input read from the terminal but not yet taken
	// by the guest; the input goroutine waits when it is full.
	maxPending = 64 << 10
	readChunk  = 4096

	// maxOutput bounds output taken from the guest but not yet written
	// to the terminal. When it is full the device stops taking transmit
	// buffers, and the guest's driver waits for them as it would for a
	// slow line; the vCPU does not.
	maxOutput = 64 << 10

	// flushWait bounds how long Close waits for buffered output to reach
	// a terminal that is not reading.
	flushWait = time.Second
)

// Console is a virtio-console device. Create it with New.
//
// Output goes through a bounded buffer and a goroutine of its own
// (writeOutput): the vCPU that notifies the transmit queue copies the
// guest's bytes into the buffer and returns, so a terminal or pipe that
// nobody reads cannot stall the guest's vCPU, and the guest cannot make
// the host hold more than maxOutput bytes of its output.
type Console struct {
	out io.Writer

	mu      sync.Mutex
	space   *sync.Cond // signalled when pending shrinks or on Close
	pending []byte     // terminal input waiting for receive buffers
	closed  bool

	outWake *sync.Cond    // signalled when output arrives or on Close
	output  []byte        // guest output not yet written, at most maxOutput
	partial *virtio.Chain // a transmit chain copied in part: output was full
	flushed chan struct{} // closed when writeOutput ends

	active bool // between Activate and Reset, and not broken
	rx, tx *virtio.Queue
	signal virtio.Signal
}

// New returns a console writing guest output to out. If in is not nil a
// goroutine reads it and passes the bytes to the guest; it ends when in
// returns an error (EOF). Close cannot interrupt a Read that is blocked
// on a terminal, so the goroutine may outlive the device until then.
func New(out io.Writer, in io.Reader) *Console {
	c := &Console{out: out, flushed: make(chan struct{})}
	c.space = sync.NewCond(&c.mu)
	c.outWake = sync.NewCond(&c.mu)
	go c.writeOutput()
	if in != nil {
		go c.readInput(in)
	}
	return c
}

// writeOutput writes the buffered output to out, one batch at a time and
// without the lock, so only this goroutine waits for a slow terminal.
// After each batch it takes the chains the guest left on the transmit
// queue while the buffer was full. It ends at Close, once it has written
// everything.
func (c *Console) writeOutput() {
	defer close(c.flushed)
	var spare []byte
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.output) == 0 && !c.closed {
			c.outWake.Wait()
		}
		if len(c.output) == 0 {
			return // closed, and everything written
		}
		batch := c.output
		c.output = spare[:0]
		c.mu.Unlock()
		if _, err := c.out.Write(batch); err != nil {
			// A failing terminal loses output but does not break the
			// device: it is not the guest's fault.
			slog.Debug("virtio-console: output", "err", err)
		}
		c.mu.Lock()
		spare = batch
		c.transmitLocked()
	}
}

// readInput copies the terminal's input into pending and delivers it.
func (c *Console) readInput(in io.Reader) {
	buf := make([]byte, readChunk)
	for {
		n, err := in.Read(buf)
		c.mu.Lock()
		for len(c.pending) >= maxPending && !c.closed {
			c.space.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.pending = append(c.pending, buf[:n]...)
		c.deliverLocked()
		c.mu.Unlock()
		if err != nil {
			if err != io.EOF {
				slog.Warn("virtio-console: input", "err", err)
			}
			return
		}
	}
}

// Type implements virtio.Device.
func (c *Console) Type() virtio.DeviceType { return virtio.DeviceTypeConsole }

// Features implements virtio.Device.
func (c *Console) Features() uint64 { return FeatureEmergWrite }

// QueueMaxSizes implements virtio.Device.
func (c *Console) QueueMaxSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ConfigSize implements virtio.Device.
func (c *Console) ConfigSize() uint64 { return configSize }

// ReadConfig implements virtio.Device: cols and rows are 0 (no
// VIRTIO_CONSOLE_F_SIZE), max_nr_ports is 1, emerg_wr reads 0.
func (c *Console) ReadConfig(off uint64, data []byte) {
	var img [configSize]byte
	binary.LittleEndian.PutUint32(img[configMaxNrPorts:], 1)
	copy(data, img[off:])
}

// WriteConfig implements virtio.Device: a write to emerg_wr outputs its
// low byte (§5.3.4, VIRTIO_CONSOLE_F_EMERG_WRITE).
func (c *Console) WriteConfig(off uint64, data []byte) {
	if off != configEmergWr || len(data) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bufferLocked(data[:1])
}

// bufferLocked queues guest output for writeOutput, dropping what does
// not fit (only emergency writes can meet a full buffer: the transmit
// queue waits for room instead).
//
// Precondition: c.mu held.
func (c *Console) bufferLocked(p []byte) {
	if room := maxOutput - len(c.output); len(p) > room {
		p = p[:room]
	}
	if len(p) > 0 {
		c.output = append(c.output, p...)
		c.outWake.Signal()
	}
}

// Activate implements virtio.Device.
func (c *Console) Activate(a virtio.Activation) error {
	if a.Queues[ReceiveQueue] == nil || a.Queues[TransmitQueue] == nil {
		return fmt.Errorf("virtio-console needs both port 0 queues enabled")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rx, c.tx, c.signal, c.active = a.Queues[ReceiveQueue], a.Queues[TransmitQueue], a.Signal, true
	c.deliverLocked()
	return nil
}

// Reset implements virtio.Device. Pending input stays for the next
// driver, and output already taken is still written; a chain taken in
// part belonged to the old queue and is dropped.
func (c *Console) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active, c.rx, c.tx, c.signal, c.partial = false, nil, nil, nil, nil
}

// Close stops the device, releases the input goroutine's wait, and
// flushes the output the guest wrote: the last lines before a power-off
// are the ones a user reads. A terminal that takes none of it for
// flushWait is given up on.
func (c *Console) Close() {
	c.mu.Lock()
	c.active, c.closed, c.partial = false, true, nil
	c.space.Broadcast()
	c.outWake.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.flushed:
	case <-time.After(flushWait):
		slog.Warn("virtio-console: the terminal took no output for a second; the rest is lost")
	}
}

// Notify implements virtio.Device.
func (c *Console) Notify(queue int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch queue {
	case ReceiveQueue:
		c.deliverLocked()
	case TransmitQueue:
		c.transmitLocked()
	}
}

// fail breaks the device after a queue error.
//
// Precondition: c.mu held.
func (c *Console) failLocked(err error) {
	c.active = false
	c.signal.Fail(err)
}

// transmitLocked copies the transmit queue's chains into the output
// buffer, as long as it has room. A chain that does not fit is copied in
// part and finished when writeOutput has made room; until then it and the
// chains after it stay the guest's, not yet used.
//
// Precondition: c.mu held.
func (c *Console) transmitLocked() {
	if !c.active {
		return
	}
	used := false
	for len(c.output) < maxOutput {
		if c.partial == nil {
			ch, err := c.tx.Pop()
			if err != nil {
				c.failLocked(fmt.Errorf("transmitq: %w", err))
				return
			}
			if ch == nil {
				break
			}
			c.partial = ch
		}
		start := len(c.output)
		if cap(c.output) < maxOutput {
			c.output = append(make([]byte, 0, maxOutput), c.output...)
		}
		n, err := c.partial.Read(c.output[start:maxOutput])
		c.output = c.output[:start+n]
		switch {
		case err == io.EOF:
			if err := c.tx.Push(c.partial.Head, 0); err != nil {
				c.failLocked(fmt.Errorf("transmitq: %w", err))
				return
			}
			c.partial, used = nil, true
		case err != nil:
			c.failLocked(fmt.Errorf("transmitq: %w", err))
			return
		}
	}
	if len(c.output) > 0 {
		c.outWake.Signal()
	}
	if used {
		c.signal.UsedBuffers(c.tx)
	}
}

// deliverLocked copies pending input into receive buffers.
//
// Precondition: c.mu held.
func (c *Console) deliverLocked() {
	if !c.active || len(c.pending) == 0 {
		return
	}
	used := false
	for len(c.pending) > 0 {
		ch, err := c.rx.Pop()
		if err != nil {
			c.failLocked(fmt.Errorf("receiveq: %w", err))
			return
		}
		if ch == nil {
			break
		}
		n, err := ch.Write(c.pending)
		if err != nil && err != io.ErrShortWrite {
			c.failLocked(fmt.Errorf("receiveq: %w", err))
			return
		}
		c.pending = c.pending[n:]
		if err := c.rx.Push(ch.Head, ch.Written()); err != nil {
			c.failLocked(fmt.Errorf("receiveq: %w", err))
			return
		}
		used = true
	}
	if len(c.pending) == 0 {
		c.pending = nil
	}
	c.space.Broadcast()
	if used {
		c.signal.UsedBuffers(c.rx)
	}
}
