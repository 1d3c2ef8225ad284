package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ReadyMagic is the byte the workload writes to GVMM_READY_FD; the same
// value the VM's agent writes to the debug port (vmm.DebugReadyMagic).
const ReadyMagic = 123

// processStart approximates when this process started: package variables
// are initialized before main runs, a few hundred microseconds after exec.
var processStart = time.Now()

// SinceStart returns the time since the runtime process started, the
// clock READY is reported on.
func SinceStart() time.Duration { return time.Since(processStart) }

// Options describe one container to run.
type Options struct {
	// Spec is the OCI configuration (DefaultSpec or LoadBundle).
	Spec *specs.Spec
	// Name is the container's name; empty means its ID.
	Name string
	// Net gives the container a veth link to the host.
	Net bool
	// Stdin, Stdout and Stderr are the workload's standard streams
	// when Spec.Process.Terminal is false; nil means /dev/null.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ReadyLog receives the line "gvmm: READY at <N> us"; nil for none.
	ReadyLog io.Writer
	// RunDir is the state directory; empty means DefaultRunDir.
	RunDir string
	// Remove deletes the container's state when it exits (docker --rm).
	Remove bool
}

// ExitStatus is how the workload ended.
type ExitStatus struct {
	// Code is the exit code, or 128+signal when a signal killed it.
	Code int
	// OOMKilled tells that the kernel's OOM killer killed it.
	OOMKilled bool
}

// Container is a running container, owned by the process that started it.
type Container struct {
	// State is the container's record in the store.
	State
	store   *Store
	cmd     *exec.Cmd
	cg      *cgroup
	ready   chan time.Duration
	console *os.File
	remove  bool
}

// Start creates the container and starts its workload. It returns once
// the workload's command is executing (or failed to).
func Start(opts Options) (_ *Container, err error) {
	if err := Validate(opts.Spec); err != nil {
		return nil, err
	}
	store := &Store{Dir: opts.RunDir}
	if store.Dir == "" {
		store.Dir = DefaultRunDir
	}
	c := &Container{store: store, ready: make(chan time.Duration, 1), remove: opts.Remove}
	c.State = State{Bundle: opts.Spec.Root.Path, Command: opts.Spec.Process.Args,
		Status: StatusCreating, RuntimePid: os.Getpid(), Created: time.Now()}
	if err := store.create(opts.Name, opts.Net, &c.State); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.cleanup(true)
		}
	}()
	if c.cg, err = newCgroup(c.ID, opts.Spec.Linux.Resources); err != nil {
		return nil, err
	}
	p, err := newPipes(opts.Spec.Process.Terminal)
	if err != nil {
		return nil, err
	}
	defer p.closeParent()
	tSpawn := time.Now()
	if err := c.spawn(opts, p); err != nil {
		return nil, err
	}
	p.closeChild()
	traceStep("spawn", tSpawn)
	tConf := time.Now()
	if err := c.configure(opts, p); err != nil {
		return nil, err
	}
	traceStep("configure", tConf)
	go c.watchReady(p.readyR, opts.ReadyLog)
	p.readyR = nil // owned by watchReady now
	return c, nil
}

// pipes are the runtime's channels to init (see the fd constants in init.go).
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

// spawn starts init from the sealed copy of this binary in the new
// namespaces. Init blocks reading its configuration until configure.
func (c *Container) spawn(opts Options, p *pipes) error {
	exe, err := sealedExecutable()
	if err != nil {
		return err
	}
	// exe is the last ExtraFile, so it is fd 7 in the child whatever its
	// number here: naming it by its parent fd could collide with 3..6.
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/7",
		Args:       append([]string{"gvmm-init"}, InitArgs...),
		Env:        []string{},
		ExtraFiles: []*os.File{p.readyW, p.configR, p.errW, p.consoleChild, exe},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags(opts.Spec.Linux),
			Setsid:     true,
			// The container dies with its runtime: that is what lets
			// ps, rm and a later run find no orphan after a SIGKILL.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if !opts.Spec.Process.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	}
	if hasNamespace(opts.Spec.Linux, specs.UserNamespace) {
		cmd.SysProcAttr.UidMappings = idMaps(opts.Spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(opts.Spec.Linux.GIDMappings)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start init: %w", err)
	}
	c.cmd = cmd
	c.Pid = cmd.Process.Pid
	c.PidStart, _ = pidStartTime(c.Pid)
	return nil
}

// configure puts init into the cgroup and the network, sends it its
// configuration and waits until it has executed the workload.
func (c *Container) configure(opts Options, p *pipes) error {
	if err := c.cg.add(c.Pid); err != nil {
		return fmt.Errorf("join cgroup: %w", err)
	}
	if c.Net != nil {
		if err := setupVeth(c.Pid, *c.Net); err != nil {
			return err
		}
	}
	cfg := initConfig{Spec: opts.Spec, CgroupDirs: c.cg.mountDirs()}
	if err := json.NewEncoder(p.configW).Encode(&cfg); err != nil {
		return fmt.Errorf("send init config: %w", err)
	}
	closeAll(&p.configW)
	if p.consoleParent != nil {
		if err := c.receiveConsole(p); err != nil {
			return err
		}
	}
	msg, err := io.ReadAll(p.errR)
	if err != nil {
		return fmt.Errorf("read init status: %w", err)
	}
	if len(msg) > 0 {
		var ie initError
		if json.Unmarshal(msg, &ie) != nil {
			ie.Message = string(msg)
		}
		_ = c.cmd.Wait()
		if ie.NotFound {
			msg := strings.TrimSuffix(ie.Message, ": "+ErrNotFound.Error())
			return fmt.Errorf("%s: %w", msg, ErrNotFound)
		}
		return errors.New(ie.Message)
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

// Console is the pty master of a terminal container, nil otherwise.
func (c *Container) Console() *os.File { return c.console }

// watchReady timestamps the READY byte.
func (c *Container) watchReady(r *os.File, log io.Writer) {
	defer r.Close()
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if err != nil {
			close(c.ready)
			return
		}
		if n == 1 && b[0] == ReadyMagic {
			at := SinceStart()
			if log != nil {
				fmt.Fprintf(log, "gvmm: READY at %d us\n", at.Microseconds())
			}
			c.ready <- at
			return
		}
	}
}

// ErrNoReady means the workload exited or closed its READY fd without
// reporting READY.
var ErrNoReady = errors.New("workload never reported READY")

// WaitReady blocks until the workload reports READY and returns the time
// since this process started, or fails after timeout.
func (c *Container) WaitReady(timeout time.Duration) (time.Duration, error) {
	select {
	case at, ok := <-c.ready:
		if !ok {
			return 0, ErrNoReady
		}
		return at, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("no READY within %v: %w", timeout, ErrNoReady)
	}
}

// Wait waits for the workload to exit, records the exit in the store and
// releases the cgroup and the veth link.
func (c *Container) Wait() (ExitStatus, error) {
	err := c.cmd.Wait()
	var st ExitStatus
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			st.Code = 128 + int(ws.Signal())
		} else {
			st.Code = ws.ExitStatus()
		}
	default:
		return st, fmt.Errorf("wait for container %s: %w", c.Name, err)
	}
	st.OOMKilled = c.cg.oomKills() > 0
	c.Status, c.ExitCode, c.OOMKilled = StatusStopped, &st.Code, st.OOMKilled
	c.cleanup(c.remove)
	return st, nil
}

// Signal sends sig to the workload.
func (c *Container) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// cleanup removes the cgroup and the veth, then updates or deletes the
// state.
func (c *Container) cleanup(removeState bool) {
	if c.console != nil {
		c.console.Close()
	}
	if c.cmd != nil && c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
	if c.cg != nil {
		if err := c.cg.delete(); err != nil {
			slog.Warn("remove cgroup", "container", c.Name, "err", err)
		}
	}
	if c.Net != nil {
		removeVeth(c.Net.HostIf)
	}
	if removeState {
		_ = c.store.delete(c.ID)
		return
	}
	if c.Status == StatusCreating {
		c.Status = StatusStopped
	}
	if err := c.store.update(&c.State); err != nil {
		slog.Warn("save state", "container", c.Name, "err", err)
	}
}

// traceEnabled turns on timing lines on stderr (GVMM_TRACE=1), used to see
// where start-up time goes.
var traceEnabled = os.Getenv("GVMM_TRACE") != ""

func traceStep(step string, since time.Time) {
	if traceEnabled {
		fmt.Fprintf(os.Stderr, "gvmm: trace %s %d us\n", step, time.Since(since).Microseconds())
	}
}
