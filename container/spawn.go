package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gvmm/container/nsinit"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// pipes are the runtime's channels to init (the fds of package nsinit).
type pipes struct {
	readyR, readyW, configR, configW, errR, errW, consoleParent, consoleChild *os.File
}

func newPipes(terminal bool) (*pipes, error) {
	p := &pipes{}
	var err error
	if p.readyR, p.readyW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.configR, p.configW, err = os.Pipe(); err != nil {
		p.closeParent()
		return nil, err
	}
	if p.errR, p.errW, err = os.Pipe(); err != nil {
		p.closeParent()
		return nil, err
	}
	if terminal {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			p.closeParent()
			return nil, err
		}
		p.consoleParent = os.NewFile(uintptr(fds[0]), "console")
		p.consoleChild = os.NewFile(uintptr(fds[1]), "console-child")
	}
	return p, nil
}

func closeAll(fs ...**os.File) {
	for _, f := range fs {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

func (p *pipes) closeChild() { closeAll(&p.readyW, &p.configR, &p.errW, &p.consoleChild) }

func (p *pipes) closeParent() {
	p.closeChild()
	closeAll(&p.readyR, &p.configW, &p.errR, &p.consoleParent)
}

// cloneFlags turns the spec's namespaces into clone(2) flags. The cgroup
// namespace is left to init, which unshares it once inside its cgroup.
func cloneFlags(l *specs.Linux) uintptr {
	flags := map[specs.LinuxNamespaceType]uintptr{
		specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
		specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
		specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	}
	var f uintptr
	for _, ns := range l.Namespaces {
		f |= flags[ns.Type]
	}
	return f
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

// sealedInit chooses the init program (findInit) and returns it with the
// handle it is executed from (sealedProgram).
func sealedInit(choice, runDir string) (string, *os.File, error) {
	path, err := findInit(choice)
	if err != nil {
		return "", nil, err
	}
	tSeal := time.Now()
	exe, err := sealedProgram(path, filepath.Join(runDir, "empty"))
	if err != nil {
		return "", nil, err
	}
	traceStep("seal", tSeal)
	return path, exe, nil
}

// spawn starts init, the program at path, from its sealed handle exe in
// the new namespaces, and sends it plan. Init blocks reading its plan until
// the plan pipe closes: here when nothing is left to do before "go",
// otherwise in configure.
func (c *Container) spawn(opts Options, p *pipes, path string, exe *os.File, rest func() ([]byte, error)) error {
	cmd, cgroupDir, err := c.initCmd(opts, p, exe)
	if err != nil {
		return err
	}
	if cgroupDir != nil {
		defer cgroupDir.Close()
	}
	started := false
	start := func() error {
		err := cmd.Start()
		started = err == nil
		return err
	}
	// When init is born in its cgroup and needs no veth, the plan and "go"
	// are sent at the fork: on v2 just before it (the limits are already
	// written), on v1 just after, once the limits are (prepare), and
	// before the forking thread goes home. Init then reads them as soon
	// as it runs instead of waiting for this thread.
	var planErr error // the plan's own error, reported as it is
	sendPlan := func() error {
		if c.Net != nil {
			return nil
		}
		plan, err := rest()
		if err != nil {
			planErr = err
			return err
		}
		if !pipeHolds(p.configW, len(plan)) {
			return nil
		}
		_, err = p.configW.Write(plan)
		closeAll(&p.configW)
		return err
	}
	// On v1, init is forked from a thread that stands in the container's
	// groups for the moment, so it is born there too (cgroup_join.go);
	// otherwise configure moves it in.
	err = c.cg.spawnInside(func() error {
		if err := start(); err != nil {
			return err
		}
		return sendPlan()
	})
	inside := !errors.Is(err, errNoThreadJoin)
	switch {
	case !inside && c.cg.v2 != "": // born in its group all the same
		if err = sendPlan(); err == nil {
			err = start()
		}
	case !inside:
		err = start()
	}
	c.inGroup = inside || c.cg.v2 != ""
	if started {
		// Set even on an error, so that cleanup kills and reaps it.
		c.cmd = cmd
		c.Pid = cmd.Process.Pid
		c.PidStart, _ = pidStartTime(c.Pid)
	}
	if planErr != nil {
		return planErr
	}
	if err != nil {
		return fmt.Errorf("start init %s: %w", path, err)
	}
	return nil
}

// initCmd prepares the command that runs init from exe with the pipes'
// child ends, and, on v2, the cgroup directory it is cloned into (to be
// closed once started).
func (c *Container) initCmd(opts Options, p *pipes, exe *os.File) (*exec.Cmd, *os.File, error) {
	// The workload keeps the first descriptors: the READY pipe, or the
	// caller's own with --preserve-fds. Init's four follow (nsinit.Layout);
	// exe is the last, so it is the layout's ExeFD in the child whatever
	// its number here: naming it by its parent fd could collide with them.
	layout, kept := nsinit.DefaultLayout, []*os.File{p.readyW}
	if opts.PreserveFDs > 0 {
		var err error
		if kept, err = preservedFiles(opts.PreserveFDs); err != nil {
			return nil, nil, err
		}
		layout = nsinit.Layout{Keep: opts.PreserveFDs}
	}
	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(layout.ExeFD()),
		Args: append([]string{InitName}, InitArgs...),
		// Init does one thing at a time on one locked thread: with
		// GOMAXPROCS=1 a Go init's runtime starts no threads for idle
		// processors, 0.15-0.2 ms less from exec to work measured on
		// the course machine. The workload gets the spec's environment.
		Env:        []string{"GOMAXPROCS=1", nsinit.KeepEnv + "=" + strconv.Itoa(layout.Keep)},
		ExtraFiles: append(kept, p.configR, p.errW, p.consoleChild, exe),
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags(opts.Spec.Linux),
			Setsid:     true,
			// The container dies with its runtime: that is what lets
			// ps, rm and a later run find no orphan after a SIGKILL.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if e := timingsEnv(); e != "" {
		cmd.Env = append(cmd.Env, e)
	}
	if !opts.Spec.Process.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	}
	// os/exec opens /dev/null for a nil stream inside Start, that is, on
	// the thread that stands in the container's groups (spawnInside)
	// while the device rules are being written: give it one opened here.
	if err := fillNull(cmd); err != nil {
		return nil, nil, err
	}
	if hasNamespace(opts.Spec.Linux, specs.UserNamespace) {
		cmd.SysProcAttr.UidMappings = idMaps(opts.Spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(opts.Spec.Linux.GIDMappings)
	}
	if c.cg.v2 == "" {
		return cmd, nil, nil
	}
	// Born in its group (clone3 CLONE_INTO_CGROUP, Linux 5.7): no move.
	// A move (a write to cgroup.procs) takes the kernel's global
	// cgroup_threadgroup_rwsem for writing, which can cost milliseconds
	// (cgroup_join.go).
	dir, err := os.Open(c.cg.v2)
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(dir.Fd())
	return cmd, dir, nil
}

// devNull is /dev/null, opened once per process for fillNull.
var devNull struct {
	sync.Once
	in, out *os.File
	err     error
}

// fillNull gives cmd's nil standard streams /dev/null, opened beforehand.
func fillNull(cmd *exec.Cmd) error {
	devNull.Do(func() {
		if devNull.in, devNull.err = os.Open(os.DevNull); devNull.err == nil {
			devNull.out, devNull.err = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		}
	})
	if devNull.err != nil {
		return devNull.err
	}
	if cmd.Stdin == nil {
		cmd.Stdin = devNull.in
	}
	if cmd.Stdout == nil {
		cmd.Stdout = devNull.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = devNull.out
	}
	return nil
}

// maxPreserveFDs bounds --preserve-fds (as nsinit does its KeepEnv).
const maxPreserveFDs = 1000

// preservedFiles returns the caller's descriptors 3 to 3+n-1, each of
// which must be open: a closed one would silently shift the workload's.
func preservedFiles(n int) ([]*os.File, error) {
	if n < 0 || n > maxPreserveFDs {
		return nil, fmt.Errorf("--preserve-fds %d: give 0 to %d: %w", n, maxPreserveFDs, ErrBadSpec)
	}
	files := make([]*os.File, n)
	for i := range files {
		fd := nsinit.FirstFD + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d is not open: %w", n, fd, ErrBadSpec)
		}
		files[i] = os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd))
	}
	return files, nil
}

// pipeHolds reports whether n bytes fit in the pipe w at once
// (fcntl(2) F_GETPIPE_SZ), so that writing them cannot block before
// anyone reads.
func pipeHolds(w *os.File, n int) bool {
	raw, err := w.SyscallConn()
	if err != nil {
		return false
	}
	size := 0
	if err := raw.Control(func(fd uintptr) { size, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) }); err != nil {
		return false
	}
	return err == nil && n <= size
}

// configure sends init its plan, unless spawn did, puts it into the cgroup
// and the network, and waits until it has executed the workload. The plan
// goes first, so init decodes it while the runtime works; closing the pipe
// says "go". Then, while init works, it calls spawned (if set).
func (c *Container) configure(plan []byte, p *pipes, spawned func()) error {
	var werr error
	if p.configW != nil {
		_, werr = p.configW.Write(plan)
	}
	if werr == nil && p.configW != nil {
		if !c.inGroup { // else init was born in its group (spawn)
			tJoin := time.Now()
			if err := c.cg.add(c.Pid); err != nil {
				return fmt.Errorf("join cgroup: %w", err)
			}
			traceStep("cgroup-join", tJoin)
		}
		if c.Net != nil {
			if err := setupVeth(c.Pid, *c.Net); err != nil {
				return err
			}
		}
	}
	closeAll(&p.configW)
	if spawned != nil {
		spawned()
	}
	if p.consoleParent != nil {
		if err := c.receiveConsole(p); err != nil {
			return err
		}
	}
	msg, err := io.ReadAll(p.errR)
	if err != nil {
		return fmt.Errorf("read init status: %w", err)
	}
	if err := nsinit.ReadError(msg); err != nil {
		_ = c.cmd.Wait()
		if errors.Is(err, nsinit.ErrNotFound) {
			msg := strings.TrimSuffix(err.Error(), ": "+nsinit.ErrNotFound.Error())
			return fmt.Errorf("%s: %w", msg, ErrNotFound)
		}
		return err
	}
	if werr != nil {
		_ = c.cmd.Wait()
		return fmt.Errorf("send plan to init: %w", werr)
	}
	c.Status = StatusRunning
	return c.store.update(&c.State)
}

// receiveConsole takes the pty master init sends, or notices init failed
// before it could.
func (c *Container) receiveConsole(p *pipes) error {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.consoleParent.Fd()), buf, oob, 0)
	if err != nil || oobn == 0 {
		return nil // init failed; its error pipe says why
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return fmt.Errorf("console: %w", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("console: %w", err)
	}
	unix.CloseOnExec(fds[0])
	c.console = os.NewFile(uintptr(fds[0]), "pty-master")
	return nil
}

// pidfdWarm starts, once per process, package os's probe of pidfd
// support (os.checkPidfd, Go 1.23+), which os/exec runs before its first
// fork and which forks and reaps a child of its own: a few hundred
// microseconds, more when that child is scheduled on the other, idle CPU.
// os.FindProcess runs the same probe, so calling it in the background at
// the start of Start lets it overlap the store and cgroup work instead of
// delaying init's clone (and it then no longer runs while the forking
// thread stands in the container's cgroup, cgroup_join.go).
var pidfdWarm sync.Once

func warmPidfd() {
	pidfdWarm.Do(func() {
		go func() {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Release()
			}
		}()
	})
}
