package virtiotest

import (
	"fmt"
	"sync"
	"time"

	"gvmm/devices"
	"gvmm/devices/pci"
	"gvmm/devices/virtio"
	"gvmm/vmm"
)

// Test machine layout: RAM, where the driver allocates rings and buffers,
// and the PCI BAR window.
const (
	MemSize     = 16 << 20
	allocStart  = 1 << 20
	allocEnd    = MemSize
	BARWindow   = vmm.MMIOGapStart
	BARWindowSz = 1 << 20
	// TestIRQ is the interrupt line number given to the device.
	TestIRQ = 5
)

// Line is a devices.Interrupt that records the level and lets tests wait
// for the line to rise.
type Line struct {
	mu     sync.Mutex
	level  bool
	raised chan struct{}
}

// NewLine returns a low line.
func NewLine() *Line { return &Line{raised: make(chan struct{}, 1)} }

// SetLevel implements devices.Interrupt.
func (l *Line) SetLevel(high bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if high && !l.level {
		select {
		case l.raised <- struct{}{}:
		default:
		}
	}
	l.level = high
	return nil
}

// Level returns the current level.
func (l *Line) Level() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}

// WaitRaised waits until the line has risen since the last call, or the
// timeout passes; it reports whether it rose.
func (l *Line) WaitRaised(timeout time.Duration) bool {
	select {
	case <-l.raised:
		return true
	case <-time.After(timeout):
		return false
	}
}

// MSI is a pci.MSISignaler that records messages, as the local APIC
// would receive them, and lets tests wait for them.
type MSI struct {
	mu   sync.Mutex
	msgs []MSIMessage
	sent chan struct{}
}

// MSIMessage is one delivered message.
type MSIMessage struct {
	Address uint64
	Data    uint32
}

// NewMSI returns an empty recorder.
func NewMSI() *MSI { return &MSI{sent: make(chan struct{}, 1)} }

// SignalMSI implements pci.MSISignaler.
func (m *MSI) SignalMSI(address uint64, data uint32) error {
	m.mu.Lock()
	m.msgs = append(m.msgs, MSIMessage{address, data})
	m.mu.Unlock()
	select {
	case m.sent <- struct{}{}:
	default:
	}
	return nil
}

// Take returns and forgets the messages delivered so far.
func (m *MSI) Take() []MSIMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.msgs
	m.msgs = nil
	return out
}

// Wait waits until a message has been delivered since the last Wait, or
// the timeout passes.
func (m *MSI) Wait(timeout time.Duration) bool {
	select {
	case <-m.sent:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Machine is the smallest machine a virtio device needs: guest RAM, an
// MMIO bus, a PCI root, an INTx line and an MSI receiver.
type Machine struct {
	Mem  *vmm.GuestMemory
	MMIO *devices.Bus
	Root *pci.Root
	Line *Line
	MSI  *MSI
}

// NewMachine maps MemSize bytes of guest RAM and an empty PCI bus.
func NewMachine() (*Machine, error) {
	mem, err := vmm.NewGuestMemory(MemSize)
	if err != nil {
		return nil, err
	}
	mmio := devices.NewBus("mmio")
	root, err := pci.NewRoot(mmio, BARWindow, BARWindowSz)
	if err != nil {
		mem.Close()
		return nil, err
	}
	return &Machine{Mem: mem, MMIO: mmio, Root: root, Line: NewLine(), MSI: NewMSI()}, nil
}

// Attach wraps dev in a transport (with MSI-X), plugs it into the bus
// and returns a driver probed against it. The driver uses INTx unless
// the test calls Driver.EnableMSIX.
func (m *Machine) Attach(name string, dev virtio.Device) (*virtio.Transport, *Driver, error) {
	t, err := virtio.NewTransport(name, m.Mem, dev, m.MSI)
	if err != nil {
		return nil, nil, err
	}
	if _, err := m.Root.Add(t.Function(), m.Line, TestIRQ); err != nil {
		return nil, nil, err
	}
	d, err := NewDriver(m.Mem, t.Function(), m.MMIO)
	if err != nil {
		return nil, nil, fmt.Errorf("probe %s: %w", name, err)
	}
	d.Line = m.Line
	return t, d, nil
}

// Close unmaps guest memory.
func (m *Machine) Close() error { return m.Mem.Close() }
