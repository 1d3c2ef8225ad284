package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
)

// The boot-timer device. The ports mirror vmm.DebugPort (vmm/layout_amd64.go):
// the agent is a guest program and does not import the VMM, and a test
// checks the two stay equal. The READY byte is the protocol's, ready.Magic.
const (
	// DebugPort is the I/O port of register 0, the boot timer.
	DebugPort = 0x440
	// ExitPort is register 1: the byte written is the VM's exit status.
	ExitPort = DebugPort + 1
	// debugPortCount is how many ports the device has (for ioperm).
	debugPortCount = 2
	// PortDevice gives userspace byte access to I/O ports: a pwrite of one
	// byte at offset N is an outb to port N (drivers/char/mem.c).
	PortDevice = "/dev/port"
)

// ErrNoReadyChannel is returned when neither GVMM_READY_FD nor port I/O can
// be used to signal readiness.
var ErrNoReadyChannel = errors.New("no READY channel")

// PortIO writes bytes to x86 I/O ports.
type PortIO interface {
	// Out writes b to port (an outb).
	Out(port uint16, b byte) error
	// Close releases what the PortIO holds.
	Close() error
}

// Signaller tells the VMM or the container runtime about the guest's state.
type Signaller interface {
	// Ready reports that the workload is ready (writes ready.Magic).
	Ready() error
	// Exit asks the VMM to stop the VM with the given status. A container
	// runtime sees the process exit instead, so there it does nothing.
	Exit(status byte) error
	// InVM reports whether the signaller talks to a VMM (the agent then
	// owns the machine and may power it off).
	InVM() bool
	// Close releases the underlying file.
	Close() error
}

// ReadyFD returns the READY pipe's fd from GVMM_READY_FD, and whether the
// variable is set at all.
func ReadyFD(getenv func(string) string) (int, bool, error) {
	v := getenv(agentcfg.EnvReadyFD)
	if v == "" {
		return 0, false, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return 0, true, fmt.Errorf("%w: %s=%q is not a file descriptor number", ErrNoReadyChannel, agentcfg.EnvReadyFD, v)
	}
	return fd, true, nil
}

// NewPipeSignaller signals on an inherited pipe fd (the container case).
func NewPipeSignaller(fd int) Signaller {
	return &pipeSignaller{f: os.NewFile(uintptr(fd), "ready-pipe")}
}

// NewPortSignaller signals through the boot-timer ports (the VM case).
func NewPortSignaller(p PortIO) Signaller {
	return &portSignaller{ports: p}
}

// pipeSignaller writes READY to the runtime's pipe.
type pipeSignaller struct{ f *os.File }

func (p *pipeSignaller) Ready() error {
	if _, err := p.f.Write([]byte{ready.Magic}); err != nil {
		return fmt.Errorf("write READY to %s: %w", p.f.Name(), err)
	}
	return nil
}

func (p *pipeSignaller) Exit(byte) error { return nil }
func (p *pipeSignaller) InVM() bool      { return false }
func (p *pipeSignaller) Close() error    { return p.f.Close() }

// portSignaller writes the boot-timer and exit registers.
type portSignaller struct{ ports PortIO }

func (p *portSignaller) Ready() error           { return p.ports.Out(DebugPort, ready.Magic) }
func (p *portSignaller) Exit(status byte) error { return p.ports.Out(ExitPort, status) }
func (p *portSignaller) InVM() bool             { return true }
func (p *portSignaller) Close() error           { return p.ports.Close() }

// consoleSignaller is for a VM whose VMM has no boot-timer device
// (gvmm.ready=console): READY is the console line the agent prints next,
// and the exit register does not exist.
type consoleSignaller struct{}

func (consoleSignaller) Ready() error    { return nil }
func (consoleSignaller) Exit(byte) error { return nil }
func (consoleSignaller) InVM() bool      { return true }
func (consoleSignaller) Close() error    { return nil }

// devPort does port I/O through /dev/port: its file offset is the port
// number.
type devPort struct{ f *os.File }

// OpenDevPort opens a /dev/port style file for port I/O.
func OpenDevPort(path string) (PortIO, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &devPort{f: f}, nil
}

func (d *devPort) Out(port uint16, b byte) error {
	if _, err := d.f.WriteAt([]byte{b}, int64(port)); err != nil {
		return fmt.Errorf("outb %#x to port %#x via %s: %w", b, port, d.f.Name(), err)
	}
	return nil
}

func (d *devPort) Close() error { return d.f.Close() }

// OpenPorts returns port I/O through devPortPath when that works, else
// through ioperm(2) and the OUT instruction: Debian's stock kernel is built
// without CONFIG_DEVPORT, so its /dev/port open fails with ENXIO.
func OpenPorts(devPortPath string) (PortIO, error) {
	p, devErr := OpenDevPort(devPortPath)
	if devErr == nil {
		return p, nil
	}
	p, ioErr := openIoperm(DebugPort, debugPortCount)
	if ioErr != nil {
		return nil, fmt.Errorf("%w: %w; %w", ErrNoReadyChannel, devErr, ioErr)
	}
	return p, nil
}
