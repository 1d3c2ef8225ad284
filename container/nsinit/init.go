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

// The descriptors the runtime hands init (see the package documentation).
const (
	ReadyFD   = 3
	PlanFD    = 4
	ErrorFD   = 5
	ConsoleFD = 6
	ExeFD     = 7
)

// Arg is the argument that marks a process as a container's init. The
// runtime starts every init program, gvmm-init or a binary re-executing
// itself, as `gvmm-init container __gvmm_container_init`, so that one
// argument list serves both; a gvmm-init run by hand then says what it is
// instead of waiting on a pipe that is not there.
const Arg = "__gvmm_container_init"

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
	err := run()
	kind := kindFailed
	if errors.Is(err, ErrNotFound) {
		kind = kindNotFound
	}
	_, _ = unix.Write(ErrorFD, append([]byte{kind}, err.Error()...))
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
	unix.Close(ExeFD)
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
		unix.Close(ConsoleFD)
	}
	return execProcess(p)
}

// readPlan reads the plan up to EOF: the runtime closes its end only once
// init is in its cgroup and network namespace.
func readPlan() (*Plan, error) {
	f := os.NewFile(PlanFD, "plan")
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

// closeInherited marks every descriptor above ReadyFD close-on-exec, so
// that the workload keeps only its standard streams and the READY pipe.
// Init's own (the plan, the error pipe, the console socket) close at the
// exec, and so does anything init inherited by accident: Go's exec passes
// on every descriptor its parent left without O_CLOEXEC, and the runtime
// cannot know what the program that started it left open. A leaked
// descriptor of a host directory is a way out of the root: runc's
// CVE-2024-21626 was one, reached through a workdir of /proc/self/fd/N.
func closeInherited() error {
	err := unix.CloseRange(ReadyFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Before Linux 5.11 (close_range's CLOEXEC flag): one by one.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return wrap("close inherited descriptors", err)
	}
	for _, e := range entries {
		if fd, perr := strconv.Atoi(e.Name()); perr == nil && fd > ReadyFD {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
