package net

import (
	"errors"
	"fmt"
	"net"
	"os"

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

// TAP is an open TAP device: the device's backend. Frames read from and
// written to File carry a 12-byte virtio_net_hdr in front. The host's side
// of the link (its address, the link being up) is not the device's to set:
// internal/hostnet does it.
type TAP struct {
	// Name is the interface name (chosen by the kernel if OpenTAP got "").
	Name string
	// Created is true when OpenTAP created the interface; it disappears
	// when the file is closed (the TAP is not persistent), even if gvmm
	// is killed.
	Created bool

	file *os.File
}

// OpenTAP opens the TAP interface name, creating it if it does not exist
// (name "" creates gvmm0, gvmm1, ...). Creating needs CAP_NET_ADMIN;
// attaching to an existing TAP needs either that or ownership of it
// (ip tuntap add ... user).
func OpenTAP(name string) (*TAP, error) {
	created := true
	if name != "" {
		if _, err := net.InterfaceByName(name); err == nil {
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
		// The tun driver answers EINVAL when the name belongs to an
		// interface that is not a TAP (drivers/net/tun.c, tun_set_iff).
		if !created && errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("open tap %s: %w (or a multi-queue one); pick another name", name, ErrNotTAP)
		}
		return nil, fmt.Errorf("open tap %s: %w", ifName, err)
	}
	return &TAP{Name: actual, Created: created, file: os.NewFile(uintptr(fd), tunDevice)}, nil
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

// Close closes the TAP's file. An interface OpenTAP created disappears
// with it (it is not persistent); an existing one stays.
func (t *TAP) Close() error {
	if err := t.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("tap %s: close: %w", t.Name, err)
	}
	return nil
}
