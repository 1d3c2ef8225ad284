package net

import (
	"bytes"
	"testing"
	"time"

	"gvmm/devices/virtio/virtiotest"
)

// FuzzNet runs a hostile driver program (virtiotest.RunOps) against a
// virtio-net on a socket-pair backend, with frames arriving from the
// backend meanwhile, then resets it and checks a frame still goes out.
// Seeds are in testdata/fuzz/FuzzNet.
func FuzzNet(f *testing.F) {
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAdd, 1, 40, 0, 0, 0, virtiotest.OpKick, 1}, []byte("frame"))
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAdd, 0, 0, 0, 0, 8, virtiotest.OpKick, 0}, bytes.Repeat([]byte{1}, 40))
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAvailIdx, 0, 0x20, 0, virtiotest.OpKick, 0}, []byte{})
	f.Fuzz(func(t *testing.T, ops []byte, frame []byte) {
		backend, peer, err := socketPair()
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		m, err := virtiotest.NewMachine()
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		n, err := New(backend, guestMAC)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		tr, d, err := m.Attach("virtio-net", n)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if len(frame) > 0 {
			peer.Write(frame) // races with the program, on purpose
		}
		d.RunOps(2, ops)

		// After a reset a well-formed packet reaches the backend.
		_, qs, err := d.Start(^uint64(0), 16, 16) // ReceiveQueue, TransmitQueue
		if err != nil {
			t.Fatalf("after reset: %v", err)
		}
		tx := qs[TransmitQueue]
		want := []byte("after-reset-frame")
		if _, err := tx.Add(virtiotest.Readable(make([]byte, netHdrSize)), virtiotest.Readable(want)); err != nil {
			t.Skip("test memory used up by the program")
		}
		tx.Kick()
		// Frames the program sent before the reset may come first.
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, netHdrSize+maxFrame)
		for {
			k, err := peer.Read(buf)
			if err != nil {
				t.Fatalf("device broken after reset: %v, needs reset %v", err, tr.NeedsReset())
			}
			if k >= netHdrSize && bytes.Equal(buf[netHdrSize:k], want) {
				break
			}
		}
	})
}
