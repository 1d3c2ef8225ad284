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

// spawn starts init from its sealed handle in the new namespaces. Init
// blocks reading its plan until configure closes the plan pipe.
func (c *Container) spawn(opts Options, p *pipes, runDir string) error {
	path, err := findInit(opts.Init)
	if err != nil {
		return err
	}
	tSeal := time.Now()
	exe, err := sealedProgram(path, filepath.Join(runDir, "empty"))
	if err != nil {
		return err
	}
	traceStep("seal", tSeal)
	// exe is the last ExtraFile, so it is nsinit.ExeFD in the child
	// whatever its number here: naming it by its parent fd could collide
	// with 3..6.
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(nsinit.ExeFD),
		Args:       append([]string{InitName}, InitArgs...),
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
	if c.cg.v2 != "" {
		// Born in its group (clone3 CLONE_INTO_CGROUP, Linux 5.7): no
		// move. A move (a write to cgroup.procs, all v1 offers) takes
		// the kernel's global cgroup_threadgroup_rwsem for writing, a
		// per-CPU rwsem whose writer first waits for an RCU grace
		// period: 0.2 ms or, when no other move went just before, about
		// 8 ms on the course machine (GVMM_TRACE "cgroup-join"), which
		// crun and runc pay as well on v1.
		dir, err := os.Open(c.cg.v2)
		if err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		defer dir.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(dir.Fd())
	}
	if hasNamespace(opts.Spec.Linux, specs.UserNamespace) {
		cmd.SysProcAttr.UidMappings = idMaps(opts.Spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(opts.Spec.Linux.GIDMappings)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start init %s: %w", path, err)
	}
	c.cmd = cmd
	c.Pid = cmd.Process.Pid
	c.PidStart, _ = pidStartTime(c.Pid)
	return nil
}

// configure sends init its plan, puts it into the cgroup and the network,
// and waits until it has executed the workload. The plan goes first, so
// init decodes it while the runtime works; closing the pipe says "go".
func (c *Container) configure(plan []byte, p *pipes) error {
	_, werr := p.configW.Write(plan)
	if werr == nil {
		tJoin := time.Now()
		if c.cg.v2 == "" { // on v2 init was born in its group
			if err := c.cg.add(c.Pid); err != nil {
				return fmt.Errorf("join cgroup: %w", err)
			}
		}
		traceStep("cgroup-join", tJoin)
		if c.Net != nil {
			if err := setupVeth(c.Pid, *c.Net); err != nil {
				return err
			}
		}
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
