package container

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The container network: each container with --net gets a /30 out of
// netBase, its number in the state store choosing which. The host end of
// the veth pair is .1, the container's eth0 .2 and its default route.
const (
	// netPrefixLen is the size of each container's link: a /30 holds
	// exactly the two ends.
	netPrefixLen = 30
	// maxNetIndex bounds the index so every /30 stays inside netBase/16.
	maxNetIndex = 1 << 14
	// containerIfName is the interface name inside the container.
	containerIfName = "eth0"
)

// netBase is the /16 the links come from (10.201.0.0/16: private, and
// used only between the host and its own containers).
var netBase = net.IPv4(10, 201, 0, 0).To4()

// Network is the addressing of one container's veth link.
type Network struct {
	// HostIf is the name of the host end of the veth pair.
	HostIf string `json:"hostIf"`
	// HostIP is the host end's address, the container's gateway.
	HostIP net.IP `json:"hostIP"`
	// ContainerIP is eth0's address inside the container.
	ContainerIP net.IP `json:"containerIP"`
}

// ErrBadAddress: an address asked for with Options.NetIP is not a
// container end of one of the links.
var ErrBadAddress = errors.New("not a container address")

// NetIndexOf returns the link number whose container end is ip: ip must
// be 10.201.A.B with B the .2 of a /30 (B % 4 == 2), e.g. 10.201.0.2 or
// 10.201.255.254. It is how `gvmm container run --ip` picks a link, so a
// caller (the bench) knows the address before the container starts.
func NetIndexOf(ip net.IP) (int, error) {
	v4 := ip.To4()
	if v4 == nil || v4[0] != netBase[0] || v4[1] != netBase[1] || v4[3]&3 != 2 {
		return 0, fmt.Errorf("%w: %v: want %d.%d.A.B with B = 2 mod 4 (the container end of a /%d), e.g. %d.%d.0.2",
			ErrBadAddress, ip, netBase[0], netBase[1], netPrefixLen, netBase[0], netBase[1])
	}
	return int(v4[2])<<6 | int(v4[3])>>2, nil
}

// networkFor returns the addresses of link number index.
func networkFor(id string, index int) Network {
	a, b := byte(index>>6), byte(index&63)<<2
	ip := func(last byte) net.IP { return net.IPv4(netBase[0], netBase[1], a, b+last).To4() }
	name := "gv" + id
	if len(name) > 15 {
		name = name[:15] // IFNAMSIZ-1
	}
	return Network{HostIf: name, HostIP: ip(1), ContainerIP: ip(2)}
}

// setupVeth creates the veth pair with its peer directly in the network
// namespace of pid, addresses both ends and routes the container through
// the host end.
func setupVeth(pid int, n Network) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("network namespace of %d: %w", pid, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.HostIf},
		PeerName:      containerIfName,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", n.HostIf, err)
	}
	mask := net.CIDRMask(netPrefixLen, 32)
	host, err := netlink.LinkByName(n.HostIf)
	if err == nil {
		err = netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: n.HostIP, Mask: mask}})
	}
	if err != nil {
		removeVeth(n.HostIf)
		return fmt.Errorf("host end %s: %w", n.HostIf, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		removeVeth(n.HostIf)
		return fmt.Errorf("netlink in container: %w", err)
	}
	defer h.Close()
	if err := configurePeer(h, n, mask); err != nil {
		removeVeth(n.HostIf)
		return err
	}
	// The host end goes up last. Up, it gives the host its route to the
	// container; a packet sent on it while the container's end was still
	// down would leave an unanswered ARP request behind, and the host
	// would ask again only after a second (the neighbour table's
	// retransmit time): a client connecting early would wait that long.
	if err := netlink.LinkSetUp(host); err != nil {
		removeVeth(n.HostIf)
		return fmt.Errorf("host end %s up: %w", n.HostIf, err)
	}
	return nil
}

func configurePeer(h *netlink.Handle, n Network, mask net.IPMask) error {
	peer, err := h.LinkByName(containerIfName)
	if err != nil {
		return fmt.Errorf("container %s: %w", containerIfName, err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: n.ContainerIP, Mask: mask}}); err != nil {
		return fmt.Errorf("address %s: %w", n.ContainerIP, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("up %s: %w", containerIfName, err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: n.HostIP}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// removeVeth deletes the host end, which takes the peer with it. A link
// that is already gone (its namespace died) is not an error.
func removeVeth(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		_ = netlink.LinkDel(l)
	}
}
