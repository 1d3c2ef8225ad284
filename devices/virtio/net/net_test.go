package net

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/virtiotest"
)

// testEtherType is the IEEE 802 "local experimental" EtherType: frames
// of this type are the tests' own, whatever else the host sends.
const testEtherType = 0x88b5

var guestMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0xab, 0xcd, 0x01}

type netRig struct {
	m      *virtiotest.Machine
	t      *virtio.Transport
	d      *virtiotest.Driver
	n      *Net
	rx, tx *virtiotest.Queue
}

// newNetRig attaches a virtio-net on backend to a test machine and brings
// it up like Linux: VERSION_1, MAC, STATUS; both queues; DRIVER_OK.
func newNetRig(t *testing.T, backend *os.File) *netRig {
	t.Helper()
	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	n, err := New(backend, guestMAC)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	tr, d, err := m.Attach("virtio-net", n)
	require.NoError(t, err)
	t.Cleanup(tr.Close)
	r := &netRig{m: m, t: tr, d: d, n: n}
	f, qs, err := d.Start(virtio.FeatureVersion1|FeatureMAC|FeatureStatus, 64, 64)
	require.NoError(t, err)
	require.Equal(t, uint64(virtio.FeatureVersion1|FeatureMAC|FeatureStatus), f)
	r.rx, r.tx = qs[ReceiveQueue], qs[TransmitQueue]
	require.False(t, tr.NeedsReset())
	return r
}

// postRx gives the device n receive buffers of Linux's small-buffer size.
func (r *netRig) postRx(t *testing.T, n int) {
	for range n {
		_, err := r.rx.Add(virtiotest.Writable(netHdrSize + 1518))
		require.NoError(t, err)
	}
	r.rx.Kick()
}

// send queues frame with a clean header on the transmit queue and kicks.
func (r *netRig) send(t *testing.T, frame []byte) {
	_, err := r.tx.Add(virtiotest.Readable(make([]byte, netHdrSize)), virtiotest.Readable(frame))
	require.NoError(t, err)
	r.tx.Kick()
}

func testFrame(dst, src net.HardwareAddr, payload string) []byte {
	f := append(append([]byte{}, dst...), src...)
	f = binary.BigEndian.AppendUint16(f, testEtherType)
	return append(f, payload...)
}

// packetSocket opens an AF_PACKET socket on ifname: the host side of the
// wire, seeing frames the device transmits and injecting frames to it.
func packetSocket(t *testing.T, ifname string) (int, int) {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	require.NoError(t, err)
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}))
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	require.NoError(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv))
	return fd, ifi.Index
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// recvTestFrame returns the next incoming frame of testEtherType.
func recvTestFrame(t *testing.T, fd int) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		require.NoError(t, err, "no frame from the device")
		ll := from.(*unix.SockaddrLinklayer)
		if ll.Pkttype != unix.PACKET_OUTGOING && n >= 14 && binary.BigEndian.Uint16(buf[12:]) == testEtherType {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

func openTestTAP(t *testing.T) *TAP {
	t.Helper()
	needRoot(t)
	tap, err := OpenTAP("")
	require.NoError(t, err)
	t.Cleanup(func() { tap.Close() })
	quietIPv6(tap.Name)
	linkUp(t, tap.Name, nil)
	return tap
}

func TestNetConfigSpace(t *testing.T) {
	a, b, err := socketPair()
	require.NoError(t, err)
	defer b.Close()
	r := newNetRig(t, a)
	for i := range 6 {
		assert.Equal(t, uint64(guestMAC[i]), r.d.Read(r.d.DeviceCfg+uint64(i), 1))
	}
	assert.Equal(t, uint64(statusLinkUp), r.d.Read(r.d.DeviceCfg+configStatus, 2))
}

func TestNetTransmitToTAP(t *testing.T) {
	tap := openTestTAP(t)
	fd, _ := packetSocket(t, tap.Name)
	r := newNetRig(t, tap.File())
	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	frames := [][]byte{
		testFrame(broadcast, guestMAC, "first frame from the guest"),
		testFrame(broadcast, guestMAC, string(bytes.Repeat([]byte{0xa5}, 1400))),
	}
	for _, f := range frames {
		r.send(t, f)
	}
	for _, f := range frames {
		assert.Equal(t, f, recvTestFrame(t, fd))
	}
	used := r.tx.TakeUsed()
	assert.Len(t, used, 2)
	assert.False(t, r.t.NeedsReset())
}

func TestNetReceiveFromTAP(t *testing.T) {
	tap := openTestTAP(t)
	fd, ifindex := packetSocket(t, tap.Name)
	r := newNetRig(t, tap.File())
	r.postRx(t, 8)
	src := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	var sent [][]byte
	for i := range 3 {
		f := testFrame(guestMAC, src, string(bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1))))
		sent = append(sent, f)
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6, Protocol: htons(testEtherType)}
		copy(sa.Addr[:], guestMAC)
		require.NoError(t, unix.Sendto(fd, f, 0, sa))
	}
	var got [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(sent) && time.Now().Before(deadline) {
		for _, u := range r.rx.WaitUsed(1, time.Second) {
			require.GreaterOrEqual(t, len(u.Data), netHdrSize)
			assert.Equal(t, uint16(1), binary.LittleEndian.Uint16(u.Data[hdrNumBuffers:]), "num_buffers")
			frame := u.Data[netHdrSize:]
			if len(frame) >= 14 && binary.BigEndian.Uint16(frame[12:]) == testEtherType {
				got = append(got, frame)
			}
		}
	}
	assert.Equal(t, sent, got)
}

// TestNetARPWithHostStack has the "guest" ask the host's real network
// stack for its MAC address over the TAP and checks the host's answer
// arrives in a receive buffer.
func TestNetARPWithHostStack(t *testing.T) {
	needRoot(t)
	tap, err := OpenTAP("")
	require.NoError(t, err)
	t.Cleanup(func() { tap.Close() })
	quietIPv6(tap.Name)
	hostIP, guestIP := net.IPv4(10, 213, 9, 1).To4(), net.IPv4(10, 213, 9, 2).To4()
	linkUp(t, tap.Name, &net.IPNet{IP: hostIP, Mask: net.CIDRMask(24, 32)})
	ifi, err := net.InterfaceByName(tap.Name)
	require.NoError(t, err)

	r := newNetRig(t, tap.File())
	r.postRx(t, 16)
	// RFC 826 request: Ethernet, IPv4, who has hostIP, tell guestIP.
	req := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, guestMAC...)
	req = append(req, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1)
	req = append(append(req, guestMAC...), guestIP...)
	req = append(append(req, 0, 0, 0, 0, 0, 0), hostIP...)
	r.send(t, req)

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, u := range r.rx.WaitUsed(1, time.Second) {
			f := u.Data[netHdrSize:]
			if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 || binary.BigEndian.Uint16(f[20:]) != 2 {
				continue
			}
			assert.Equal(t, []byte(guestMAC), f[0:6], "reply to the guest's MAC")
			assert.Equal(t, []byte(ifi.HardwareAddr), f[22:28], "sender MAC is the TAP's")
			assert.Equal(t, []byte(hostIP), f[28:32], "sender IP is the host's")
			assert.Equal(t, []byte(guestIP), f[38:42])
			return
		}
	}
	t.Fatal("no ARP reply from the host")
}
