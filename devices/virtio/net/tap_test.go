package net

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// needRoot skips tests that create network interfaces when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create TAP devices")
	}
	if _, err := os.Stat(tunDevice); err != nil {
		t.Skipf("needs %s: %v", tunDevice, err)
	}
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
	quietIPv6(tap.Name)
	_, ipnet, _ := net.ParseCIDR("10.213.7.1/24")
	ipnet.IP = net.ParseIP("10.213.7.1").To4()
	require.NoError(t, tap.Configure(ipnet))
	l, err := netlink.LinkByName(tap.Name)
	require.NoError(t, err)
	assert.NotZero(t, l.Attrs().Flags&net.FlagUp)
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	assert.Equal(t, "10.213.7.1/24", addrs[0].IPNet.String())

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
	ipnet := &net.IPNet{IP: net.IPv4(10, 213, 8, 1).To4(), Mask: net.CIDRMask(24, 32)}
	require.NoError(t, tap.Configure(ipnet))
	require.NoError(t, tap.Close())

	l, err := netlink.LinkByName(name)
	require.NoError(t, err, "an existing TAP survives Close")
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	require.NoError(t, err)
	assert.Empty(t, addrs, "the address gvmm added is removed")
	assert.Zero(t, l.Attrs().Flags&net.FlagUp, "the link gvmm brought up is down again")
}

func TestOpenTAPRefusesOtherInterfaces(t *testing.T) {
	needRoot(t)
	_, err := OpenTAP("lo")
	assert.ErrorIs(t, err, ErrNotTAP)
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
