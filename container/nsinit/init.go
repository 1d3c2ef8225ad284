package nsinit

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"gvmm/guest/ready"
)

// The descriptors the runtime hands init (see the package documentation):
// first those the workload keeps, from FirstFD on, then init's own four.
const (
	// FirstFD is the first descriptor after stdin, stdout and stderr.
	FirstFD = 3
	// ReadyFD is the runtime's READY pipe, the one descriptor the
	// workload keeps unless the caller preserves its own (--preserve-fds).
	ReadyFD = FirstFD
)

// KeepEnv, in init's environment, says how many descriptors from FirstFD
// on the workload keeps: 1 (the READY pipe) when absent, N with
// --preserve-fds N. Init's own follow them (Layout).
const KeepEnv = "GVMM_INIT_KEEP_FDS"

// Layout places init's own descriptors after the Keep kept ones.
type Layout struct{ Keep int }

// DefaultLayout keeps only the READY pipe: the plan is fd 4, the error
// pipe 5, the console socket 6 and the sealed program 7.
var DefaultLayout = Layout{Keep: 1}

// PlanFD is the plan pipe; EOF on it is also the runtime's "go".
func (l Layout) PlanFD() int { return FirstFD + l.Keep }

// ErrorFD is the close-on-exec error pipe.
func (l Layout) ErrorFD() int { return l.PlanFD() + 1 }

// ConsoleFD is the socket the pty master travels on (terminal only).
func (l Layout) ConsoleFD() int { return l.PlanFD() + 2 }

// ExeFD is the sealed handle init was executed from.
func (l Layout) ExeFD() int { return l.PlanFD() + 3 }

// maxKeep bounds KeepEnv (runc accepts any number; a thousand is plenty).
const maxKeep = 1000

// fds is this init's layout, read from KeepEnv by Main.
var fds = DefaultLayout

// layoutFromEnv reads KeepEnv; a bad value keeps the default.
func layoutFromEnv(v string) (Layout, bool) {
	if v == "" {
		return DefaultLayout, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxKeep {
		return DefaultLayout, false
	}
	return Layout{Keep: n}, true
}

// Arg is the argument that marks a process as a container's init. The
// runtime starts every init program, gvmm-init or a binary re-executing
// itself, as `gvmm-init container __gvmm_container_init`, so that one
// argument list serves both; a gvmm-init run by hand then says what it is
// instead of waiting on a pipe that is not there.
const Arg = "__gvmm_container_init"

// WaitArg marks the waiter, gvmm-init's second job (container/cinit):
// the runtime, once its container has run a while, replaces itself
// (execve keeps its pid, so it stays the container's parent) with
//
//	gvmm-init __gvmm_container_wait PID START_NS READY_FD EXE_FD FINISH...
//
// which forwards SIGINT, SIGTERM and SIGHUP to PID, prints the READY line
// if READY_FD (>= 0) still has it to give (START_NS is the runtime's start
// on CLOCK_MONOTONIC), reaps PID and executes EXE_FD, the runtime's own
// binary, with FINISH and "exit=CODE" appended.
const WaitArg = "__gvmm_container_wait"

// WaiterName is the waiter's process name (/proc/PID/comm).
const WaiterName = "gvmm-wait"

// ReadyEnv names the READY fd in the workload's environment.
const ReadyEnv = ready.FDEnv

// The kinds of error init reports (the first byte on the error pipe).
const (
	kindFailed   byte = 'E'
	kindNotFound byte = 'N'
)

// ErrNotFound marks "the command is not in the root file system"; the
// runtime maps it to its own sentinel error.
var ErrNotFound = errors.New("command not found in the root file system")

// Main is init's main function: it runs the plan read from PlanFD and
// executes the workload. It returns only on failure, with the exit code,
// after reporting the error on ErrorFD.
func Main(args []string) int {
	if len(args) < 2 || args[len(args)-1] != Arg {
		os.Stderr.WriteString("gvmm-init: the first process of a gvmm container; " +
			"it is started by `gvmm container run`, not by hand\n")
		return 2
	}
	// Credentials, capabilities, seccomp and the parent-death signal are
	// per thread in Linux; the final execve runs on this same thread, so
	// the workload inherits exactly what was set here.
	runtime.LockOSThread()
	l, ok := layoutFromEnv(os.Getenv(KeepEnv))
	if !ok {
		// Where the error pipe is, is not known: say it on stderr.
		os.Stderr.WriteString("gvmm-init: " + KeepEnv + "=" + os.Getenv(KeepEnv) + ": not a count of descriptors\n")
		return 1
	}
	fds = l
	err := run()
	kind := kindFailed
	if errors.Is(err, ErrNotFound) {
		kind = kindNotFound
	}
	_, _ = unix.Write(fds.ErrorFD(), append([]byte{kind}, err.Error()...))
	return 1
}

// ReadError interprets what init wrote on the error pipe: nil for nothing
// (the exec succeeded), else the error, matching ErrNotFound when the
// command was missing.
func ReadError(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if msg[0] == kindNotFound {
		return &stepError{string(msg[1:]), ErrNotFound}
	}
	if msg[0] == kindFailed {
		return errors.New(string(msg[1:]))
	}
	return errors.New("init: " + string(msg))
}

// stepError is an error with the step that failed, wrapping the cause
// (fmt.Errorf's %w without linking package fmt).
type stepError struct {
	what string
	err  error
}

func (e *stepError) Error() string {
	if e.what == "" {
		return e.err.Error()
	}
	return e.what + ": " + e.err.Error()
}

func (e *stepError) Unwrap() error { return e.err }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{what, err}
}

func run() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return wrap("set parent-death signal", err)
	}
	// The handle init was executed from is of no use to the workload.
	unix.Close(fds.ExeFD())
	if err := closeInherited(); err != nil {
		return err
	}
	p, err := readPlan()
	if err != nil {
		return err
	}
	if p.CgroupNS {
		// Unshared only now, after the runtime moved us into the
		// container's cgroup, so that cgroup becomes the namespace root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return wrap("cgroup namespace", err)
		}
	}
	if p.LoopbackUp {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := setupRootfs(p); err != nil {
		return err
	}
	if p.SetHostname {
		if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
			return wrap("sethostname", err)
		}
	}
	if p.Terminal {
		if err := setupConsole(p.ConsoleRows, p.ConsoleCols); err != nil {
			return err
		}
	} else {
		unix.Close(fds.ConsoleFD())
	}
	return execProcess(p)
}

// readPlan reads the plan up to EOF: the runtime closes its end only once
// init is in its cgroup and network namespace.
func readPlan() (*Plan, error) {
	f := os.NewFile(uintptr(fds.PlanFD()), "plan")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, wrap("read plan", err)
	}
	return Decode(data)
}

// loopbackUp brings lo up in the new network namespace, which starts with
// it down (SIOCGIFFLAGS/SIOCSIFFLAGS, netdevice(7)).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return wrap("loopback", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return wrap("loopback", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return wrap("loopback flags", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return wrap("loopback up", unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr))
}

// closeInherited marks every descriptor after the kept ones close-on-exec,
// so that the workload keeps only its standard streams and the READY pipe
// (or the caller's preserved descriptors).
// Init's own (the plan, the error pipe, the console socket) close at the
// exec, and so does anything init inherited by accident: Go's exec passes
// on every descriptor its parent left without O_CLOEXEC, and the runtime
// cannot know what the program that started it left open. A leaked
// descriptor of a host directory is a way out of the root: runc's
// CVE-2024-21626 was one, reached through a workdir of /proc/self/fd/N.
func closeInherited() error {
	err := unix.CloseRange(uint(fds.PlanFD()), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Before Linux 5.11 (close_range's CLOEXEC flag): one by one.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return wrap("close inherited descriptors", err)
	}
	for _, e := range entries {
		if fd, perr := strconv.Atoi(e.Name()); perr == nil && fd >= fds.PlanFD() {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
