package hostnet

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	vnet "gvmm/devices/virtio/net"
	"gvmm/internal/testenv"
)

func needTAP(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "TAP devices (CAP_NET_ADMIN)")
	testenv.NeedFile(t, "/dev/net/tun", "modprobe tun")
}

// quietIPv6 keeps the host from sending router solicitations on a test
// interface.
func quietIPv6(name string) {
	os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
}

func v4Addrs(t *testing.T, name string) []string {
	t.Helper()
	l, err := netlink.LinkByName(name)
	require.NoError(t, err)
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	return out
}

func isUp(t *testing.T, name string) bool {
	t.Helper()
	l, err := netlink.LinkByName(name)
	require.NoError(t, err)
	return l.Attrs().Flags&net.FlagUp != 0
}

func TestConfigureCreatedTAP(t *testing.T) {
	needTAP(t)
	tap, err := vnet.OpenTAP("")
	require.NoError(t, err)
	defer tap.Close()
	quietIPv6(tap.Name)

	l, err := Configure(tap.Name, netip.MustParsePrefix("10.213.7.1/24"))
	require.NoError(t, err)
	assert.True(t, isUp(t, tap.Name))
	assert.Equal(t, []string{"10.213.7.1/24"}, v4Addrs(t, tap.Name), "the host's own address, not the network's")

	require.NoError(t, l.Undo())
	assert.Empty(t, v4Addrs(t, tap.Name))
	assert.False(t, isUp(t, tap.Name))
	require.NoError(t, l.Undo(), "a second Undo has nothing left to do")
}

// An existing TAP (ip tuntap add ... user) is given back as it was found:
// its other addresses stay, and a link that was up stays up.
func TestUndoTakesBackOnlyItsOwnChanges(t *testing.T) {
	needTAP(t)
	const name = "gvmmtest1"
	pers := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP,
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR}
	require.NoError(t, netlink.LinkAdd(pers))
	for _, f := range pers.Fds {
		f.Close()
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	quietIPv6(name)
	own := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 213, 8, 9).To4(), Mask: net.CIDRMask(24, 32)}}
	require.NoError(t, netlink.AddrAdd(pers, own))
	require.NoError(t, netlink.LinkSetUp(pers))

	l, err := Configure(name, netip.MustParsePrefix("10.213.8.1/24"))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"10.213.8.9/24", "10.213.8.1/24"}, v4Addrs(t, name))
	require.NoError(t, l.Undo())
	assert.Equal(t, []string{"10.213.8.9/24"}, v4Addrs(t, name), "the address gvmm added is gone, the user's stays")
	assert.True(t, isUp(t, name), "the link was up before gvmm: it stays up")
}

func TestConfigureErrors(t *testing.T) {
	needTAP(t)
	_, err := Configure("gvmm-no-such", netip.MustParsePrefix("10.213.9.1/24"))
	assert.ErrorContains(t, err, "host interface gvmm-no-such")

	tap, err := vnet.OpenTAP("")
	require.NoError(t, err)
	defer tap.Close()
	quietIPv6(tap.Name)
	l, err := Configure(tap.Name, netip.MustParsePrefix("10.213.10.1/24"))
	require.NoError(t, err)
	defer l.Undo()
	_, err = Configure(tap.Name, netip.MustParsePrefix("10.213.10.1/24"))
	assert.ErrorContains(t, err, "add address 10.213.10.1/24", "the same address twice")
}

func TestIPNet(t *testing.T) {
	n := ipNet(netip.MustParsePrefix("192.168.100.1/24"))
	assert.Equal(t, "192.168.100.1/24", n.String())
	assert.Len(t, n.IP, 4, "an IPv4 address in 4 bytes, as netlink sends it")
	n = ipNet(netip.MustParsePrefix("fd00::1/64"))
	assert.Equal(t, "fd00::1/64", n.String())
}
