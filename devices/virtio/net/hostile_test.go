package net

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/virtiotest"
)

// pairRig is a netRig on a socket-pair backend; peer is the host side.
func pairRig(t *testing.T) (*netRig, *os.File) {
	t.Helper()
	backend, peer, err := socketPair()
	require.NoError(t, err)
	t.Cleanup(func() { peer.Close() })
	return newNetRig(t, backend), peer
}

// TestNetReceiveWaitsForBuffers: a frame that arrives before the guest
// posts buffers is held and delivered when the guest's notification
// comes — no timer involved.
func TestNetReceiveWaitsForBuffers(t *testing.T) {
	r, peer := pairRig(t)
	frame := append(make([]byte, netHdrSize), testFrame(guestMAC, guestMAC, "early bird")...)
	_, err := peer.Write(frame)
	require.NoError(t, err)
	assert.Empty(t, r.rx.WaitUsed(1, 200*time.Millisecond), "no buffers, nothing delivered")
	r.postRx(t, 1)
	used := r.rx.WaitUsed(1, 5*time.Second)
	require.Len(t, used, 1)
	assert.Equal(t, frame[netHdrSize:], used[0].Data[netHdrSize:])
}

func TestNetBadPacketsAreDroppedNotFatal(t *testing.T) {
	r, peer := pairRig(t)
	// A header asking for GSO, which was never negotiated.
	gso := make([]byte, netHdrSize)
	gso[hdrGSOType] = 1
	_, err := r.tx.Add(virtiotest.Readable(gso), virtiotest.Readable(testFrame(guestMAC, guestMAC, "tso")))
	require.NoError(t, err)
	// A packet shorter than its header.
	_, err = r.tx.Add(virtiotest.Readable([]byte{1, 2, 3}))
	require.NoError(t, err)
	// Then a good one.
	good := testFrame(guestMAC, guestMAC, "good")
	r.send(t, good)
	require.Len(t, r.tx.TakeUsed(), 3, "every chain is returned")
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := peer.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, good, buf[netHdrSize:n], "only the good packet went out")
	assert.False(t, r.t.NeedsReset())

	// A receive buffer too small for the frame: the frame is dropped
	// and the buffer comes back empty.
	_, err = r.rx.Add(virtiotest.Writable(20))
	require.NoError(t, err)
	r.rx.Kick()
	_, err = peer.Write(append(make([]byte, netHdrSize), testFrame(guestMAC, guestMAC, "too big for 20 bytes")...))
	require.NoError(t, err)
	used := r.rx.WaitUsed(1, 5*time.Second)
	require.Len(t, used, 1)
	assert.Zero(t, used[0].Len)
	assert.False(t, r.t.NeedsReset())
}

func TestNetHostileQueues(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, r *netRig, peer *os.File)
	}{
		{"tx descriptor outside RAM", func(t *testing.T, r *netRig, _ *os.File) {
			r.tx.WriteDesc(0, virtio.Desc{Addr: 1 << 40, Len: 100})
			r.tx.PutAvail(0)
			r.tx.Kick()
		}},
		{"rx cyclic chain hit by an incoming frame", func(t *testing.T, r *netRig, peer *os.File) {
			r.rx.WriteDesc(0, virtio.Desc{Addr: 0x2000, Len: 8, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 1})
			r.rx.WriteDesc(1, virtio.Desc{Addr: 0x2000, Len: 8, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 0})
			r.rx.PutAvail(0)
			r.rx.Kick()
			_, err := peer.Write(make([]byte, netHdrSize+60))
			require.NoError(t, err)
		}},
		{"rx avail idx jumps ahead", func(t *testing.T, r *netRig, peer *os.File) {
			r.rx.SetAvailIdx(1000)
			r.rx.Kick()
			_, err := peer.Write(make([]byte, netHdrSize+60))
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, peer := pairRig(t)
			tc.run(t, r, peer)
			deadline := time.Now().Add(5 * time.Second)
			for !r.t.NeedsReset() && time.Now().Before(deadline) {
				r.m.Line.WaitRaised(50 * time.Millisecond)
			}
			require.True(t, r.t.NeedsReset())
			assert.NotZero(t, r.d.Status()&virtio.StatusDeviceNeedsReset)
			assert.NotZero(t, r.d.ReadISR()&virtio.ISRConfig)

			// Reset and the device works again.
			_, qs, err := r.d.Start(^uint64(0), 16, 16) // ReceiveQueue, TransmitQueue
			require.NoError(t, err)
			_, err = qs[TransmitQueue].Add(virtiotest.Readable(make([]byte, netHdrSize)), virtiotest.Readable([]byte("after reset")))
			require.NoError(t, err)
			qs[TransmitQueue].Kick()
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2048)
			for {
				n, err := peer.Read(buf)
				require.NoError(t, err)
				if string(buf[netHdrSize:n]) == "after reset" {
					break
				}
			}
		})
	}
}
