package console

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"

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
)

// Console is a virtio-console device. Create it with New.
type Console struct {
	out io.Writer

	mu      sync.Mutex
	space   *sync.Cond // signalled when pending shrinks or on Close
	pending []byte     // terminal input waiting for receive buffers
	closed  bool

	active bool // between Activate and Reset, and not broken
	rx, tx *virtio.Queue
	signal virtio.Signal
}

// New returns a console writing guest output to out. If in is not nil a
// goroutine reads it and passes the bytes to the guest; it ends when in
// returns an error (EOF). Close cannot interrupt a Read that is blocked
// on a terminal, so the goroutine may outlive the device until then.
func New(out io.Writer, in io.Reader) *Console {
	c := &Console{out: out}
	c.space = sync.NewCond(&c.mu)
	if in != nil {
		go c.readInput(in)
	}
	return c
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
	c.write(data[:1])
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
// driver.
func (c *Console) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active, c.rx, c.tx, c.signal = false, nil, nil, nil
}

// Close stops the device and releases the input goroutine's wait.
func (c *Console) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active, c.closed = false, true
	c.space.Broadcast()
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

// transmitLocked writes every chain on the transmit queue to out.
//
// Precondition: c.mu held.
func (c *Console) transmitLocked() {
	if !c.active {
		return
	}
	used := false
	for {
		ch, err := c.tx.Pop()
		if err != nil {
			c.failLocked(fmt.Errorf("transmitq: %w", err))
			return
		}
		if ch == nil {
			break
		}
		if _, err := io.Copy(writerFunc(c.write), ch); err != nil {
			c.failLocked(fmt.Errorf("transmitq: %w", err))
			return
		}
		if err := c.tx.Push(ch.Head, 0); err != nil {
			c.failLocked(fmt.Errorf("transmitq: %w", err))
			return
		}
		used = true
	}
	if used {
		c.signal.UsedBuffers(c.tx)
	}
}

// write sends guest output to out. A failing terminal loses output but
// does not break the device: it is not the guest's fault.
func (c *Console) write(p []byte) (int, error) {
	if _, err := c.out.Write(p); err != nil {
		slog.Debug("virtio-console: output", "err", err)
	}
	return len(p), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

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
