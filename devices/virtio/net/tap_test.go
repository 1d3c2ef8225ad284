package net

import (
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"gvmm/internal/testenv"
)

// needRoot skips (under CI: fails) tests that create network interfaces
// when not root or without the tun driver.
func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "TAP devices (CAP_NET_ADMIN)")
	testenv.NeedFile(t, tunDevice, "modprobe tun")
}

// linkUp brings the host end of a test TAP up and gives it addr (nil for
// none). gvmm itself does this in internal/hostnet; the device's tests
// only need a link that carries frames.
func linkUp(t *testing.T, name string, addr *net.IPNet) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	require.NoError(t, err)
	if addr != nil {
		require.NoError(t, netlink.AddrAdd(l, &netlink.Addr{IPNet: addr}))
	}
	require.NoError(t, netlink.LinkSetUp(l))
}

// quietIPv6 stops the host from sending router solicitations and MLD
// reports on a test interface, so the tests see only their own frames.
func quietIPv6(name string) {
	os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
}

func TestOpenTAPCreatesAndCleansUp(t *testing.T) {
	needRoot(t)
	tap, err := OpenTAP("")
	require.NoError(t, err)
	assert.True(t, tap.Created)
	assert.Regexp(t, `^gvmm\d+$`, tap.Name)
	l, err := netlink.LinkByName(tap.Name)
	require.NoError(t, err)
	tt, ok := l.(*netlink.Tuntap)
	require.True(t, ok, "a tun/tap link, not %s", l.Type())
	assert.Equal(t, netlink.TUNTAP_MODE_TAP, tt.Mode)

	require.NoError(t, tap.Close())
	_, err = netlink.LinkByName(tap.Name)
	assert.Error(t, err, "a TAP gvmm created is gone after Close")
}

func TestOpenTAPAttachesToExisting(t *testing.T) {
	needRoot(t)
	const name = "gvmmtest0"
	pers := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP,
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR}
	require.NoError(t, netlink.LinkAdd(pers))
	// LinkAdd leaves the queue fds open in pers.Fds; the link is persistent.
	for _, f := range pers.Fds {
		f.Close()
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	quietIPv6(name)

	tap, err := OpenTAP(name)
	require.NoError(t, err)
	assert.False(t, tap.Created)
	assert.Equal(t, name, tap.Name)
	require.NoError(t, tap.Close())

	_, err = netlink.LinkByName(name)
	require.NoError(t, err, "an existing TAP survives Close")
}

func TestOpenTAPRefusesOtherInterfaces(t *testing.T) {
	needRoot(t)
	_, err := OpenTAP("lo")
	assert.ErrorIs(t, err, ErrNotTAP)
	assert.ErrorContains(t, err, "pick another name")
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"52:54:00:12:34:56", true},
		{"01:00:5e:00:00:01", false}, // multicast
		{"52:54:00:12:34", false},
		{"nonsense", false},
	} {
		_, err := ParseMAC(tc.in)
		assert.Equal(t, tc.ok, err == nil, tc.in)
	}
	m := RandomMAC()
	assert.Zero(t, m[0]&1, "unicast")
	assert.NotZero(t, m[0]&2, "locally administered")
}

// TestTAPDisappearsInUse deletes the TAP under a running device (issue
// 16), as `ip link del` by an administrator would. The receive side says
// so once and stops, without spinning on the dead descriptor; frames the
// guest sends are dropped and their buffers returned; the device is not
// broken and closes at once.
func TestTAPDisappearsInUse(t *testing.T) {
	tap := openTestTAP(t)
	var logged testenv.SyncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	r := newNetRig(t, tap.File())
	r.postRx(t, 8)
	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	r.send(t, testFrame(broadcast, guestMAC, "before"))
	require.Len(t, r.tx.WaitUsed(1, 5*time.Second), 1)

	l, err := netlink.LinkByName(tap.Name)
	require.NoError(t, err)
	require.NoError(t, netlink.LinkDel(l))
	require.Eventually(t, func() bool { return strings.Contains(logged.String(), "receive stopped") }, 5*time.Second,
		time.Millisecond, "the receive side saw the TAP go; log:\n%s", logged.String())

	var ru0, ru1 unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru0))
	for range 50 {
		r.send(t, testFrame(broadcast, guestMAC, "after"))
	}
	used := r.tx.WaitUsed(50, 5*time.Second)
	assert.Len(t, used, 50, "frames to a TAP that is gone are dropped, their buffers returned")
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru1))
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	assert.Less(t, cpu, 250*time.Millisecond, "no loop spins on the dead descriptor")
	assert.False(t, r.t.NeedsReset(), "the host's loss is not the guest's fault")
	assert.Equal(t, 1, strings.Count(logged.String(), "receive stopped"), "said once:\n%s", logged.String())

	closed := make(chan struct{})
	go func() { r.n.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on the dead TAP")
	}
}
