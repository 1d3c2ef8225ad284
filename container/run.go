package container

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ParseMemory reads a size like docker's --memory: a number with an
// optional b, k, m or g suffix (powers of 1024). At least 4 MiB, since a
// smaller limit only makes the kernel OOM-kill init before it executes
// anything.
func ParseMemory(s string) (int64, error) {
	const minMemory = 4 << 20
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'b':
			t = t[:n-1]
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("memory %q: give a positive size like 64m or 1g: %w", s, ErrBadMemory)
	}
	if v*mult < minMemory {
		return 0, fmt.Errorf("memory %q: below the 4m minimum: %w", s, ErrBadMemory)
	}
	return v * mult, nil
}

// Run starts the container, connects the caller's terminal or streams,
// forwards SIGINT, SIGTERM and SIGHUP to the workload, and waits for it.
// The workload's exit status is the result.
//
// With opts.Handoff set, Run may instead replace the process with the
// small waiter when the workload is still running after HandoffGrace (see
// handoff.go) and not return. A short-lived workload is thus finished in
// process, as fast as it can be; a long-running one is waited for by a
// program a fraction of the runtime's size.
func Run(opts Options) (ExitStatus, error) {
	defer lockForHandoff(opts.Handoff != nil)()
	// Handlers once init is cloned: signal.Notify's first use costs about
	// a millisecond (issue 15's profile), which the clone need not wait
	// for. A signal before then ends the runtime, and the container with
	// it (its parent-death signal); one after is queued for the workload.
	sigs := make(chan os.Signal, 8)
	opts.spawned = func() { signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGWINCH) }
	defer signal.Stop(sigs)
	c, err := Start(opts)
	if err != nil {
		return ExitStatus{}, err
	}
	restore := func() {}
	if c.console != nil {
		restore = c.attach(os.Stdin, opts.Stdout)
	}
	stopForwarding := forward(c, sigs)
	if opts.Handoff != nil && c.console == nil && !c.exitsWithin(HandoffGrace) {
		stopForwarding()
		signal.Stop(sigs) // the waiter installs its own handlers
		// A signal caught meanwhile is still the workload's: pass it
		// on, not lose it.
		forwardQueued(c, sigs)
		err := c.handoff(opts.Init, opts.Handoff)
		if !errors.Is(err, errNoHandoff) {
			slog.Warn("waiting in process", "err", err)
		}
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGWINCH)
		stopForwarding = forward(c, sigs)
	}
	st, err := c.Wait()
	stopForwarding()
	restore()
	return st, err
}

// forward passes the signals arriving on sigs to the workload until the
// function it returns is called; that function returns once forwarding
// has stopped.
func forward(c *Container, sigs <-chan os.Signal) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case s := <-sigs:
				if s == unix.SIGWINCH {
					c.resize(os.Stdin)
				} else {
					_ = c.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// exitsWithin reports whether the workload exits within d, without
// reaping it: a pidfd (pidfd_open(2), Linux 5.3) becomes readable when the
// process exits. Without pidfds it reports false at once, and the waiting
// is handed off as before.
func (c *Container) exitsWithin(d time.Duration) bool {
	fd, err := unix.PidfdOpen(c.Pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// forwardQueued sends the workload the signals already caught in sigs.
func forwardQueued(c *Container, sigs <-chan os.Signal) {
	for {
		select {
		case s := <-sigs:
			if s != unix.SIGWINCH {
				_ = c.Signal(s)
			}
		default:
			return
		}
	}
}

// attach copies between the caller's terminal and the container's pty.
// With a real terminal on in, it is put in raw mode, so Ctrl-C reaches the
// container's line discipline as a byte and becomes the workload's SIGINT.
func (c *Container) attach(in *os.File, out io.Writer) func() {
	if out == nil {
		out = os.Stdout
	}
	restore := func() {}
	if term.IsTerminal(int(in.Fd())) {
		if old, err := term.MakeRaw(int(in.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(in.Fd()), old) }
		}
		c.resize(in)
	}
	go func() { _, _ = io.Copy(c.console, in) }()
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, c.console) // ends with EIO when the pty closes
		close(copied)
	}()
	return func() {
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		restore()
	}
}

// resize gives the container's pty the size of the caller's terminal.
func (c *Container) resize(in *os.File) {
	if c.console == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(c.console.Fd()), unix.TIOCSWINSZ, ws)
}

// SignalByName parses "TERM", "SIGKILL" or "9".
func SignalByName(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: give a name like TERM or a number", s)
}
