package agent

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// outb executes the OUT instruction (outb_amd64.s). The calling thread must
// have permission for port (ioperm).
//
//go:noescape
func outb(port uint16, b byte)

// iopermPorts does port I/O with the OUT instruction. ioperm(2) grants access
// per thread, so each write locks the goroutine to its OS thread, grants,
// writes and revokes.
type iopermPorts struct {
	first, count uint16
}

// openIoperm checks that the process may use ioperm for the given ports
// (CAP_SYS_RAWIO and a kernel with CONFIG_X86_IOPL_IOPERM).
func openIoperm(first, count uint16) (PortIO, error) {
	p := &iopermPorts{first: first, count: count}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Ioperm(int(first), int(count), 1); err != nil {
		return nil, fmt.Errorf("ioperm %#x+%d: %w", first, count, err)
	}
	return p, unix.Ioperm(int(first), int(count), 0)
}

func (p *iopermPorts) Out(port uint16, b byte) error {
	if port < p.first || port-p.first >= p.count {
		return fmt.Errorf("port %#x outside the granted range %#x+%d", port, p.first, p.count)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Ioperm(int(port), 1, 1); err != nil {
		return fmt.Errorf("ioperm %#x: %w", port, err)
	}
	outb(port, b)
	return unix.Ioperm(int(port), 1, 0)
}

func (p *iopermPorts) Close() error { return nil }
