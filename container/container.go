package container

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"gvmm/guest/ready"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options describe one container to run.
type Options struct {
	// Spec is the OCI configuration (DefaultSpec or LoadBundle).
	Spec *specs.Spec
	// Name is the container's name; empty means its ID.
	Name string
	// Net gives the container a veth link to the host.
	Net bool
	// NetIP, with Net, asks for the link whose container end is this
	// address (see NetIndexOf); nil takes the first free link.
	NetIP net.IP
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
	// Init is the path of the init program; empty chooses gvmm-init
	// beside the running executable, or else the executable itself.
	Init string
	// Handoff, when not nil, lets Run hand the waiting over to
	// gvmm-init's small waiter; these arguments come back from Finish.
	Handoff []string
	// PreserveFDs passes the caller's descriptors 3 to 3+PreserveFDs-1
	// to the workload under the same numbers, instead of the runtime's
	// READY pipe (runc and crun's --preserve-fds). The workload's READY,
	// if it reports one, then goes where the caller's descriptors say,
	// and WaitReady returns ErrNoReady once the workload runs.
	PreserveFDs int

	// spawned, when set, is called once init is cloned and has its plan
	// (Run installs its signal handlers there, off init's path but before
	// the container is recorded as running).
	spawned func()
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
	store *Store
	cmd   *exec.Cmd
	cg    *cgroup
	// inGroup tells that init was born in its cgroup (spawn), so
	// configure need not move it.
	inGroup bool
	// groupLock is groupLockPath held shared from before the group is
	// created until Start returns, init in it by then (sweep.go).
	groupLock *os.File
	ready     chan time.Duration
	console   *os.File
	remove    bool
	// readyR is the READY pipe, read by watchReady until watchDone
	// closes; a handoff stops it early to pass the pipe on.
	readyR    *os.File
	watchDone chan struct{}
}

// Start creates the container and starts its workload. It returns once
// the workload's command is executing (or failed to).
func Start(opts Options) (_ *Container, err error) {
	if err := Validate(opts.Spec); err != nil {
		return nil, err
	}
	// The veth's container end is configured from inside the container's
	// network namespace; without one of its own that would be the
	// host's, and --net would add eth0, an address and a default route
	// to the host.
	if err := validName(opts.Name); err != nil {
		return nil, err
	}
	if opts.Net && !hasNamespace(opts.Spec.Linux, specs.NetworkNamespace) {
		return nil, fmt.Errorf("--net needs a network namespace: add {\"type\": \"network\"} to linux.namespaces in config.json: %w", ErrBadSpec)
	}
	if opts.PreserveFDs != 0 {
		if _, err := preservedFiles(opts.PreserveFDs); err != nil {
			return nil, err
		}
	}
	traceAt("start")
	warmPidfd()
	store := &Store{Dir: opts.RunDir}
	if store.Dir == "" {
		store.Dir = DefaultRunDir
	}
	c := &Container{store: store, ready: make(chan time.Duration, 1), remove: opts.Remove}
	c.State = State{Bundle: opts.Spec.Root.Path, Command: opts.Spec.Process.Args,
		Status: StatusCreating, RuntimePid: os.Getpid(), Created: time.Now()}
	defer func() {
		if err != nil {
			c.cleanup(true) // also right when the store refused it: nothing of its ID exists
		}
	}()
	initPath, exe, rest, err := c.prepare(opts)
	if err != nil {
		return nil, err
	}
	// Runs before the cleanup above: nothing may still be writing into
	// the cgroup that cleanup removes.
	defer func() {
		if err != nil {
			_, _ = rest()
		}
		if c.groupLock != nil {
			c.groupLock.Close()
		}
	}()
	p, err := newPipes(opts.Spec.Process.Terminal)
	if err != nil {
		return nil, err
	}
	defer p.closeParent()
	tSpawn := time.Now()
	if err := c.spawn(opts, p, initPath, exe, rest); err != nil {
		return nil, err
	}
	p.closeChild()
	traceStep("spawn", tSpawn)
	plan, err := rest()
	if err != nil {
		return nil, err
	}
	tConf := time.Now()
	if err := c.configure(plan, p, opts.spawned); err != nil {
		return nil, err
	}
	traceStep("configure", tConf)
	c.readyR, c.watchDone = p.readyR, make(chan struct{})
	go c.watchReady(opts.ReadyLog)
	p.readyR = nil // owned by watchReady now
	return c, nil
}

// prepare does what Start needs before init is cloned: it records the
// container in the store, creates its cgroup (c.cg, which cleanup
// removes) and seals the init program, returning the program's path and
// its handle. The record, the cgroup and the sealed program need nothing
// from one another but the ID, and each is a few hundred microseconds of
// system calls: on two cores, the cgroup is created by another goroutine
// meanwhile, which then goes on, while init is forked and executes, to
// write the cgroup's v1 limits (createCgroup) and build init's plan. rest
// waits for that and returns the encoded plan; it may be called any number
// of times, and must be called before the cgroup is removed.
func (c *Container) prepare(opts Options) (initPath string, exe *os.File, rest func() ([]byte, error), err error) {
	if c.ID, err = newID(); err != nil {
		return "", nil, nil, err
	}
	created := make(chan error, 1)
	type prepared struct {
		plan []byte
		err  error
	}
	done := make(chan prepared, 1)
	go func() {
		t0 := time.Now()
		lock, err := lockGroups(unix.LOCK_SH)
		var cg *cgroup
		if err == nil {
			cg, err = createCgroup(c.ID, opts.Spec.Linux.Resources)
		}
		c.cg, c.groupLock = cg, lock // read by the caller only after created
		traceStep("cgroup", t0)
		created <- err
		if err != nil {
			done <- prepared{err: err}
			return
		}
		if err := cg.applyLimits(); err != nil {
			done <- prepared{err: err}
			return
		}
		tPlan := time.Now()
		plan, err := buildPlan(opts.Spec, cg.view(), opts.PreserveFDs == 0)
		traceStep("plan", tPlan)
		if err != nil {
			done <- prepared{err: err}
			return
		}
		done <- prepared{plan: plan.Encode()}
	}()
	var once sync.Once
	var result prepared
	rest = func() ([]byte, error) {
		once.Do(func() { result = <-done })
		return result.plan, result.err
	}
	tStore := time.Now()
	serr := c.store.create(opts.Name, opts.Net, opts.NetIP, &c.State)
	traceStep("state", tStore)
	initPath, exe, ierr := sealedInit(opts.Init, c.store.Dir)
	cerr := <-created
	for _, err := range []error{serr, cerr, ierr} {
		if err != nil {
			_, _ = rest()
			if c.groupLock != nil {
				c.groupLock.Close()
				c.groupLock = nil
			}
			return "", nil, nil, err
		}
	}
	return initPath, exe, rest, nil
}

// Console is the pty master of a terminal container, nil otherwise.
func (c *Container) Console() *os.File { return c.console }

// watchReady timestamps the READY byte. Stopped by a read deadline (see
// handoff), it leaves the pipe open and unread for the waiter.
func (c *Container) watchReady(log io.Writer) {
	defer close(c.watchDone)
	var b [1]byte
	for {
		n, err := c.readyR.Read(b[:])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if err != nil {
			c.readyR.Close()
			close(c.ready)
			return
		}
		if n == 1 && b[0] == ready.Magic {
			at := ready.Since()
			if log != nil {
				fmt.Fprintln(log, ready.Line(at.Microseconds()))
			}
			c.readyR.Close()
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
