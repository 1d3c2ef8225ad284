package agent

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"

	"gvmm/guest/agentcfg"
)

// linkWait bounds how long the agent waits for a network link to appear:
// with a modular kernel, virtio_net probes its device just after insmod.
const (
	linkWait     = 5 * time.Second
	linkPollStep = 20 * time.Millisecond
)

// ErrNoLink is returned when no suitable network link exists.
var ErrNoLink = errors.New("no network link")

// ConfigureNetwork gives the chosen link c.IP, brings it up and adds the
// default route through c.Gateway. It returns the link's name.
func ConfigureNetwork(c agentcfg.Config) (string, error) {
	link, err := waitForLink(c.Interface, linkWait)
	if err != nil {
		return "", err
	}
	name := link.Attrs().Name
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   c.IP.Addr().AsSlice(),
		Mask: net.CIDRMask(c.IP.Bits(), 32),
	}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return name, fmt.Errorf("add %s to %s: %w", c.IP, name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return name, fmt.Errorf("set %s up: %w", name, err)
	}
	if c.Gateway.IsValid() {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: c.Gateway.AsSlice()}
		if err := netlink.RouteReplace(route); err != nil {
			return name, fmt.Errorf("default route via %s on %s: %w", c.Gateway, name, err)
		}
	}
	return name, nil
}

// waitForLink returns the link called name or, with an empty name, the first
// Ethernet link that is not loopback, polling until deadline.
func waitForLink(name string, wait time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(wait)
	for {
		link, err := findLink(name)
		if err == nil || time.Now().After(deadline) {
			return link, err
		}
		time.Sleep(linkPollStep)
	}
}

func findLink(name string) (netlink.Link, error) {
	if name != "" {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoLink, name, err)
		}
		return link, nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		a := l.Attrs()
		// EncapType "ether" skips lo and tunnels like sit0 that some
		// kernels create on their own.
		if a.Flags&net.FlagLoopback == 0 && a.EncapType == "ether" {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: no Ethernet link besides loopback", ErrNoLink)
}
