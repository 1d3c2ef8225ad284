package net

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"

	"golang.org/x/sys/unix"

	"gvmm/devices/virtio"
)

// struct virtio_net_hdr, §5.1.6.
const (
	hdrFlags      = 0  // u8
	hdrGSOType    = 1  // u8
	hdrNumBuffers = 10 // le16

	hdrFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	gsoNone          = 0 // VIRTIO_NET_HDR_GSO_NONE
)

// transmitLocked sends every chain on the transmit queue to the backend
// (§5.1.6.2) and returns the buffers.
//
// Precondition: n.mu held.
func (n *Net) transmitLocked() {
	if !n.active {
		return
	}
	used := false
	for {
		ch, err := n.tx.Pop()
		if err != nil {
			n.failLocked(err)
			return
		}
		if ch == nil {
			break
		}
		n.transmitChain(ch)
		if err := n.tx.Push(ch.Head, 0); err != nil {
			n.failLocked(err)
			return
		}
		used = true
	}
	if used {
		n.signal.UsedBuffers(n.tx)
	}
}

// transmitChain writes one packet. A packet the device cannot send is
// dropped and logged at debug level, like a NIC counting a TX error: it
// is one bad packet, not a broken queue.
func (n *Net) transmitChain(ch *virtio.Chain) {
	size := ch.ReadableLen()
	if size < netHdrSize || size > netHdrSize+maxFrame {
		slog.Debug("virtio-net: tx packet size out of range, dropped", "size", size)
		return
	}
	buf := n.txBuf[:size]
	if _, err := io.ReadFull(ch, buf); err != nil {
		slog.Debug("virtio-net: tx read", "err", err)
		return
	}
	// We offered neither VIRTIO_NET_F_CSUM nor any HOST_* GSO feature,
	// so the driver must not ask for checksum or segmentation work
	// (§5.1.6.2.1); we could not do it and the frame would go out broken.
	if buf[hdrFlags]&hdrFlagNeedsCsum != 0 || buf[hdrGSOType] != gsoNone {
		slog.Debug("virtio-net: tx offload requested without negotiation, dropped",
			"flags", buf[hdrFlags], "gso_type", buf[hdrGSOType])
		return
	}
	// The TAP takes the same 12-byte header; hand it a clean one.
	clear(buf[:netHdrSize])
	var werr error
	if err := n.raw.Control(func(fd uintptr) { _, werr = unix.Write(int(fd), buf) }); err != nil {
		werr = err
	}
	if werr != nil {
		// EAGAIN (backend queue full) or EIO (host link down): drop.
		slog.Debug("virtio-net: tx write", "err", werr)
	}
}

// receiveLoop moves frames from the backend to the guest until Close.
// It blocks in read(2) until the backend is readable, then delivers up
// to rxBatch frames that are already queued before interrupting once.
func (n *Net) receiveLoop() {
	defer close(n.done)
	buf := make([]byte, netHdrSize+maxFrame)
	for {
		k, err := n.readFrame(buf, true)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !n.isClosed() {
				slog.Error("virtio-net: backend read failed, receive stopped", "err", err)
			}
			return
		}
		n.mu.Lock()
		n.deliverLocked(buf[:k])
		for i := 1; i < rxBatch && n.active; i++ {
			if k, err = n.readFrame(buf, false); err != nil {
				break
			}
			n.deliverLocked(buf[:k])
		}
		n.flushInterruptLocked()
		closed := n.closed
		n.mu.Unlock()
		if closed {
			return
		}
	}
}

func (n *Net) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// readFrame reads one frame (with its header). With wait it blocks in the
// netpoller until one arrives; without, it returns EAGAIN if none is
// queued.
func (n *Net) readFrame(buf []byte, wait bool) (int, error) {
	var k int
	var rerr error
	read := func(fd uintptr) bool {
		k, rerr = unix.Read(int(fd), buf)
		return !wait || rerr != unix.EAGAIN
	}
	var err error
	if wait {
		err = n.raw.Read(read)
	} else {
		err = n.raw.Control(func(fd uintptr) { read(fd) })
	}
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case k == 0:
		return 0, io.EOF
	}
	return k, nil
}

// deliverLocked puts one frame from the backend into a receive buffer
// (§5.1.6.4), waiting for the guest to post one if the queue is empty.
// Frames that arrive while the device is not active are dropped.
//
// Precondition: n.mu held.
func (n *Net) deliverLocked(frame []byte) {
	if len(frame) < netHdrSize {
		return
	}
	payload := frame[netHdrSize:]
	var ch *virtio.Chain
	for {
		if !n.active {
			return
		}
		var err error
		if ch, err = n.rx.Pop(); err != nil {
			n.failLocked(err)
			return
		}
		if ch != nil {
			break
		}
		n.flushInterruptLocked() // the guest must see what it has before we wait
		n.wake.Wait()
	}
	if need := uint64(netHdrSize + len(payload)); ch.WritableLen() < need {
		// Without VIRTIO_NET_F_MRG_RXBUF each buffer must hold a whole
		// packet (§5.1.6.3.1); drop the frame and return the buffer empty.
		slog.Debug("virtio-net: rx buffer too small, frame dropped", "need", need, "have", ch.WritableLen())
		n.pushRxLocked(ch.Head, 0)
		return
	}
	// A fresh header: no checksum or GSO information (none negotiated)
	// and num_buffers = 1, as §5.1.6.4 requires without MRG_RXBUF.
	var hdr [netHdrSize]byte
	binary.LittleEndian.PutUint16(hdr[hdrNumBuffers:], 1)
	if _, err := ch.Write(hdr[:]); err != nil {
		n.failLocked(err)
		return
	}
	if _, err := ch.Write(payload); err != nil {
		n.failLocked(err)
		return
	}
	n.pushRxLocked(ch.Head, ch.Written())
}

// pushRxLocked returns a receive buffer; the interrupt is sent by
// flushInterruptLocked, once per batch.
//
// Precondition: n.mu held.
func (n *Net) pushRxLocked(head uint16, written uint32) {
	if err := n.rx.Push(head, written); err != nil {
		n.failLocked(err)
		return
	}
	n.rxPending = true
}

// flushInterruptLocked interrupts the guest for receive buffers pushed
// since the last interrupt.
//
// Precondition: n.mu held.
func (n *Net) flushInterruptLocked() {
	if n.rxPending && n.active {
		n.signal.UsedBuffers(n.rx)
	}
	n.rxPending = false
}
