package net

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Constants of the TUN/TAP driver, Documentation/networking/tuntap.rst.
const (
	tunDevice = "/dev/net/tun"
	// tapFlags: an Ethernet (TAP) device, without the 4-byte packet
	// information prefix, with a virtio_net_hdr before each frame.
	tapFlags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	// defaultTAPName lets the kernel pick the first free gvmmN.
	defaultTAPName = "gvmm%d"
)

// ErrNotTAP is returned by OpenTAP when the named interface exists but is
// not a TAP device.
var ErrNotTAP = errors.New("interface exists and is not a TAP device")

// TAP is an open TAP device. Frames read from and written to File carry
// a 12-byte virtio_net_hdr in front.
type TAP struct {
	// Name is the interface name (chosen by the kernel if OpenTAP got "").
	Name string
	// Created is true when OpenTAP created the interface; it disappears
	// when the file is closed (the TAP is not persistent), even if gvmm
	// is killed.
	Created bool

	file  *os.File
	link  netlink.Link
	addrs []*netlink.Addr // addresses we added
	setUp bool            // we brought the link up
}

// OpenTAP opens the TAP interface name, creating it if it does not exist
// (name "" creates gvmm0, gvmm1, ...). Creating needs CAP_NET_ADMIN;
// attaching to an existing TAP needs either that or ownership of it
// (ip tuntap add ... user).
func OpenTAP(name string) (*TAP, error) {
	created := true
	if name != "" {
		if l, err := netlink.LinkByName(name); err == nil {
			if tt, ok := l.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
				return nil, fmt.Errorf("open tap %s: %w (type %s); pick another name", name, ErrNotTAP, l.Type())
			}
			created = false
		}
	}
	ifName := name
	if ifName == "" {
		ifName = defaultTAPName
	}
	// Open non-blocking and hand the fd to Go only after TUNSETIFF: the
	// tun driver only hooks up poll wakeups once a device is attached,
	// so registering with the netpoller before would never wake.
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (is the tun module loaded, are you root?)", tunDevice, err)
	}
	actual, err := configureTAP(fd, ifName)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open tap %s: %w", ifName, err)
	}
	t := &TAP{Name: actual, Created: created, file: os.NewFile(uintptr(fd), tunDevice)}
	if t.link, err = netlink.LinkByName(actual); err != nil {
		t.file.Close()
		return nil, fmt.Errorf("open tap %s: %w", actual, err)
	}
	return t, nil
}

// configureTAP attaches fd to the interface and sets the vnet header
// size; it returns the interface's name.
func configureTAP(fd int, name string) (string, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return "", fmt.Errorf("interface name: %w", err)
	}
	ifr.SetUint16(tapFlags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return "", fmt.Errorf("TUNSETIFF: %w", err)
	}
	// virtio 1.x always uses the 12-byte header (with num_buffers).
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, netHdrSize); err != nil {
		return "", fmt.Errorf("TUNSETVNETHDRSZ: %w", err)
	}
	// No offloads: the kernel hands us plain frames and expects the
	// same (TUN_F_* all clear).
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0); err != nil {
		return "", fmt.Errorf("TUNSETOFFLOAD: %w", err)
	}
	return ifr.Name(), nil
}

// File returns the TAP's file, for New.
func (t *TAP) File() *os.File { return t.file }

// Configure brings the host side of the link up and gives it addr (for
// example 192.168.100.1/24), so host and guest can talk. Close undoes
// both.
func (t *TAP) Configure(addr *net.IPNet) error {
	if addr != nil {
		a := &netlink.Addr{IPNet: addr}
		if err := netlink.AddrAdd(t.link, a); err != nil {
			return fmt.Errorf("tap %s: add address %s: %w", t.Name, addr, err)
		}
		t.addrs = append(t.addrs, a)
	}
	if t.link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(t.link); err != nil {
			return fmt.Errorf("tap %s: set link up: %w", t.Name, err)
		}
		t.setUp = true
	}
	return nil
}

// Close removes what gvmm changed: on an interface it created, closing
// the file destroys the interface; on an existing one it removes the
// addresses it added and takes the link down if it brought it up.
func (t *TAP) Close() error {
	var errs []error
	if !t.Created {
		for _, a := range t.addrs {
			if err := netlink.AddrDel(t.link, a); err != nil {
				errs = append(errs, fmt.Errorf("tap %s: remove address %s: %w", t.Name, a.IPNet, err))
			}
		}
		if t.setUp {
			if err := netlink.LinkSetDown(t.link); err != nil {
				errs = append(errs, fmt.Errorf("tap %s: set link down: %w", t.Name, err))
			}
		}
	}
	t.addrs, t.setUp = nil, false
	if err := t.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, fmt.Errorf("tap %s: close: %w", t.Name, err))
	}
	return errors.Join(errs...)
}
