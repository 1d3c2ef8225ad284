package net

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"gvmm/devices/virtio"
)

// Queues, features and configuration layout, virtio 1.2 §5.1.
const (
	ReceiveQueue  = 0 // receiveq1
	TransmitQueue = 1 // transmitq1
	QueueSize     = 256

	// FeatureMAC is VIRTIO_NET_F_MAC: the device configuration has a MAC.
	FeatureMAC = 1 << 5
	// FeatureStatus is VIRTIO_NET_F_STATUS: the status field is valid.
	FeatureStatus = 1 << 16

	configMAC    = 0 // u8 mac[6]
	configStatus = 6 // le16 status
	configSize   = 8
	statusLinkUp = 1 // VIRTIO_NET_S_LINK_UP

	// netHdrSize is struct virtio_net_hdr with num_buffers: the header is
	// always 12 bytes once VIRTIO_F_VERSION_1 is negotiated (§5.1.6).
	netHdrSize = 12
	// maxFrame is the largest frame the TAP can carry (64 KiB).
	maxFrame = 65535
	// rxBatch bounds the frames delivered per receive interrupt.
	rxBatch = 64
)

// Net is a virtio-net device. Create it with New.
type Net struct {
	backend *os.File
	raw     syscall.RawConn
	mac     [6]byte

	mu        sync.Mutex
	wake      *sync.Cond // receive buffers posted, reset, or close
	active    bool       // between Activate and Reset, and not broken
	closed    bool
	rx, tx    *virtio.Queue
	signal    virtio.Signal
	txBuf     []byte
	rxPending bool // receive buffers pushed but not yet signalled

	done chan struct{} // closed when the receive goroutine ends
}

// New returns a virtio-net device on backend, a TAP file (TAP.File) or
// any packet file that carries a 12-byte virtio_net_hdr before each frame.
// It starts the receive goroutine; Close stops it and closes backend.
func New(backend *os.File, mac net.HardwareAddr) (*Net, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("virtio-net: MAC %q is not 6 bytes", mac)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("virtio-net: MAC %s is a multicast address; use a unicast one", mac)
	}
	raw, err := backend.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("virtio-net: backend: %w", err)
	}
	n := &Net{backend: backend, raw: raw, txBuf: make([]byte, netHdrSize+maxFrame), done: make(chan struct{})}
	copy(n.mac[:], mac)
	n.wake = sync.NewCond(&n.mu)
	go n.receiveLoop()
	return n, nil
}

// RandomMAC returns a random locally administered unicast MAC address.
func RandomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	rand.Read(m)
	m[0] = m[0]&^0x01 | 0x02 // unicast, locally administered (IEEE 802 §8.2)
	return m
}

// ParseMAC parses a MAC option and checks it is unicast.
func ParseMAC(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return nil, fmt.Errorf("MAC %q: want six hex bytes like 52:54:00:12:34:56", s)
	}
	if m[0]&1 != 0 {
		return nil, fmt.Errorf("MAC %s is multicast (low bit of the first byte set); use a unicast one", s)
	}
	return m, nil
}

// MAC returns the device's MAC address.
func (n *Net) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), n.mac[:]...) }

// Type implements virtio.Device.
func (n *Net) Type() virtio.DeviceType { return virtio.DeviceTypeNet }

// Features implements virtio.Device.
func (n *Net) Features() uint64 { return FeatureMAC | FeatureStatus }

// QueueMaxSizes implements virtio.Device.
func (n *Net) QueueMaxSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ConfigSize implements virtio.Device.
func (n *Net) ConfigSize() uint64 { return configSize }

// ReadConfig implements virtio.Device: the MAC and a link that is up.
func (n *Net) ReadConfig(off uint64, data []byte) {
	var img [configSize]byte
	copy(img[configMAC:], n.mac[:])
	img[configStatus] = statusLinkUp
	copy(data, img[off:])
}

// WriteConfig implements virtio.Device. The modern configuration is
// read-only for the driver (§5.1.4.2); writes are ignored.
func (n *Net) WriteConfig(uint64, []byte) {}

// Activate implements virtio.Device.
func (n *Net) Activate(a virtio.Activation) error {
	if a.Queues[ReceiveQueue] == nil || a.Queues[TransmitQueue] == nil {
		return errors.New("virtio-net needs receiveq1 and transmitq1 enabled")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rx, n.tx, n.signal, n.active = a.Queues[ReceiveQueue], a.Queues[TransmitQueue], a.Signal, true
	n.wake.Broadcast()
	return nil
}

// Reset implements virtio.Device. Frames arriving while the device is
// reset are dropped, as by a NIC whose driver is not loaded.
func (n *Net) Reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.active, n.rx, n.tx, n.signal = false, nil, nil, nil
	n.wake.Broadcast()
}

// Notify implements virtio.Device.
func (n *Net) Notify(queue int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch queue {
	case ReceiveQueue:
		n.wake.Broadcast() // the receive goroutine may be waiting for buffers
	case TransmitQueue:
		n.transmitLocked()
	}
}

// Close stops the receive goroutine and closes the backend.
func (n *Net) Close() error {
	n.mu.Lock()
	n.active, n.closed = false, true
	n.wake.Broadcast()
	n.mu.Unlock()
	err := n.backend.Close()
	<-n.done
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	return err
}

// failLocked breaks the device after a queue error.
//
// Precondition: n.mu held.
func (n *Net) failLocked(err error) {
	n.active = false
	n.signal.Fail(err)
}
