package nsinit

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// setupConsole gives the workload a terminal created inside the container
// (from its own devpts instance, so ttyname(3) and /dev/console work
// there), and hands the master side to the runtime over ConsoleFD with
// SCM_RIGHTS, as runc's --console-socket does.
func setupConsole(rows, cols uint16) error {
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrap("open /dev/pts/ptmx (is /dev/pts mounted?)", err)
	}
	defer unix.Close(master)
	// pty(7): unlock the slave before it can be opened.
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return wrap("unlock pty", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return wrap("pty number", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return wrap("open "+slavePath, err)
	}
	if rows != 0 || cols != 0 {
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			return wrap("console size", err)
		}
	}
	if err := bindConsole(slavePath); err != nil {
		return err
	}
	if err := unix.Sendmsg(fds.ConsoleFD(), []byte("pty"), unix.UnixRights(master), nil, 0); err != nil {
		return wrap("send pty to runtime", err)
	}
	unix.Close(fds.ConsoleFD())
	// The runtime started us with Setsid, so we lead a session without a
	// controlling terminal; TIOCSCTTY makes the slave ours, and the
	// workload's Ctrl-C then arrives as SIGINT from the line discipline.
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return wrap("controlling terminal", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return wrap("dup pty to fd "+strconv.Itoa(fd), err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	return nil
}

// bindConsole makes /dev/console the pty, when /dev is the container's own.
func bindConsole(slavePath string) error {
	var st unix.Stat_t
	if unix.Stat("/dev/console", &st) == unix.ENOENT {
		fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil // a read-only /dev: no console link, as with runc
		}
		unix.Close(fd)
	}
	return wrap("bind "+slavePath+" on /dev/console", unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""))
}
