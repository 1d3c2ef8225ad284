package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Link is an interface this package has configured, with a record of what
// it changed, so Undo takes back those changes and no others.
type Link struct {
	// Name is the interface's name.
	Name string

	link  netlink.Link
	added *netlink.Addr // the address Configure added, or nil
	setUp bool          // Configure brought the link up
}

// Configure gives interface name the address addr (for example
// 192.168.100.1/24; the zero Prefix adds none) and brings the link up if it
// is down, so host and guest can talk. Both need CAP_NET_ADMIN. On an
// error, what was already changed is undone.
func Configure(name string, addr netip.Prefix) (*Link, error) {
	nl, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("host interface %s: %w", name, err)
	}
	l := &Link{Name: name, link: nl}
	if addr.IsValid() {
		a := &netlink.Addr{IPNet: ipNet(addr)}
		if err := netlink.AddrAdd(nl, a); err != nil {
			return nil, fmt.Errorf("host interface %s: add address %s: %w (is it in use on another interface?)", name, addr, err)
		}
		l.added = a
	}
	if nl.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(nl); err != nil {
			return nil, errors.Join(fmt.Errorf("host interface %s: set link up: %w", name, err), l.Undo())
		}
		l.setUp = true
	}
	return l, nil
}

// Undo removes the address Configure added and takes the link down if
// Configure brought it up. For an interface that goes away with the VM (a
// TAP gvmm created) there is nothing to undo; call it for interfaces that
// stay.
func (l *Link) Undo() error {
	var errs []error
	if l.added != nil {
		if err := netlink.AddrDel(l.link, l.added); err != nil {
			errs = append(errs, fmt.Errorf("host interface %s: remove address %s: %w", l.Name, l.added.IPNet, err))
		}
		l.added = nil
	}
	if l.setUp {
		if err := netlink.LinkSetDown(l.link); err != nil {
			errs = append(errs, fmt.Errorf("host interface %s: set link down: %w", l.Name, err))
		}
		l.setUp = false
	}
	return errors.Join(errs...)
}

// ipNet is p in the form netlink takes: the address itself (not the
// network's) with p's mask.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
