package container

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole gives the workload a terminal created inside the container
// (from its own devpts instance, so ttyname(3) and /dev/console work
// there), and hands the master side to the runtime over consoleFD with
// SCM_RIGHTS, as runc's --console-socket does.
func setupConsole(size *specs.Box) error {
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/pts/ptmx (is /dev/pts mounted?): %w", err)
	}
	defer unix.Close(master)
	// pty(7): unlock the slave before it can be opened.
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("console size: %w", err)
		}
	}
	if err := bindConsole(slavePath); err != nil {
		return err
	}
	rights := unix.UnixRights(master)
	if err := unix.Sendmsg(consoleFD, []byte("pty"), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty to runtime: %w", err)
	}
	unix.Close(consoleFD)
	// The runtime started us with Setsid, so we lead a session without a
	// controlling terminal; TIOCSCTTY makes the slave ours, and the
	// workload's Ctrl-C then arrives as SIGINT from the line discipline.
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	return nil
}

// bindConsole makes /dev/console the pty, when /dev is the container's own.
func bindConsole(slavePath string) error {
	if _, err := os.Stat("/dev/console"); os.IsNotExist(err) {
		f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil // a read-only /dev: no console link, as with runc
		}
		f.Close()
	}
	if err := unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on /dev/console: %w", slavePath, err)
	}
	return nil
}
