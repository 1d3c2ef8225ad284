package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gvmm/container/nsinit"

	"golang.org/x/sys/unix"
)

// A runtime that only waits for its container need not stay the whole
// gvmm binary (5-12 MB resident, mostly the pages of a 7 MB program its
// start touched). With Options.Handoff, Run replaces the process, pid
// unchanged and so still the container's parent, with the waiter of
// gvmm-init (container/cinit: a static C program of a few hundred KiB
// resident) once the workload has run HandoffGrace. When the container
// exits the waiter executes the runtime's binary again as
//
//	PROG container __gvmm_container_finish RUN_DIR ID REMOVE HANDOFF... exit=CODE
//
// and that must call Finish, which does what Wait would have done.
// Without gvmm-init installed, or with a terminal (whose relay needs the
// runtime), Run simply waits in process.

// HandoffGrace is how long the workload runs before Run hands off: one
// that exits sooner is finished in process, without a further exec of
// the runtime's binary (issue 15: the exit within crun's).
const HandoffGrace = time.Second

// FinishArg marks the finishing run of the runtime's binary.
const FinishArg = "__gvmm_container_finish"

// errNoHandoff means the container is waited for in process.
var errNoHandoff = errors.New("no handoff")

// handoff executes the waiter of the init program choice (Options.Init);
// it returns only when it did not.
func (c *Container) handoff(choice string, extra []string) error {
	waiter, err := findInit(choice)
	if err != nil {
		return err
	}
	if self, err := os.Executable(); err != nil || self == waiter || c.console != nil {
		return errNoHandoff
	}
	exe, err := unix.Open("/proc/self/exe", unix.O_PATH, 0) // inherited by the waiter
	if err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	readyFD := -1
	if err := c.readyR.SetReadDeadline(time.Now()); err == nil {
		<-c.watchDone
		select {
		case <-c.ready: // READY (or EOF) arrived meanwhile: nothing left to pass
		default:
			// A fresh descriptor without close-on-exec, for the waiter.
			if readyFD, err = unix.Dup(int(c.readyR.Fd())); err != nil {
				return fmt.Errorf("handoff: %w", err)
			}
		}
	}
	start := processStartMono()
	remove := "0"
	if c.remove {
		remove = "1"
	}
	args := []string{InitName, nsinit.WaitArg, strconv.Itoa(c.Pid), strconv.FormatInt(start, 10),
		strconv.Itoa(readyFD), strconv.Itoa(exe), filepath.Base(os.Args[0]), "container", FinishArg,
		c.store.Dir, c.ID, remove}
	err = unix.Exec(waiter, append(args, extra...), os.Environ())
	return fmt.Errorf("handoff to %s: %w", waiter, err)
}

// IsFinish reports whether args (os.Args[1:]) are a finishing run.
func IsFinish(args []string) bool {
	return len(args) >= 2 && args[0] == "container" && args[1] == FinishArg
}

// Finish completes a container its waiter has reaped: it records the exit
// (and an OOM kill) in the store and removes the cgroup, the veth and,
// with --rm, the state. args are os.Args[3:] of the finishing run; it
// returns the exit status and the caller's Handoff arguments.
func Finish(args []string) (ExitStatus, []string, error) {
	if len(args) < 4 || !strings.HasPrefix(args[len(args)-1], "exit=") {
		return ExitStatus{}, nil, fmt.Errorf("finish: bad arguments %q", args)
	}
	code, err := strconv.Atoi(strings.TrimPrefix(args[len(args)-1], "exit="))
	if err != nil {
		return ExitStatus{}, nil, fmt.Errorf("finish: %w", err)
	}
	store := &Store{Dir: args[0]}
	st, err := store.Get(args[1])
	if err != nil {
		return ExitStatus{Code: code}, nil, err
	}
	c := &Container{State: *st, store: store, remove: args[2] == "1"}
	if c.cg, err = loadCgroup(st.ID); err != nil {
		c.cg = nil
	}
	out := ExitStatus{Code: code}
	if c.cg != nil {
		out.OOMKilled = c.cg.oomKills() > 0
	}
	c.Status, c.ExitCode, c.OOMKilled = StatusStopped, &out.Code, out.OOMKilled
	c.cleanup(c.remove)
	return out, args[3 : len(args)-1], nil
}

// lockForHandoff pins the calling goroutine to its thread for the whole
// of Run: the container's parent-death signal fires when the *thread*
// that forked it ends (prctl(2) PR_SET_PDEATHSIG), and execve ends every
// thread but the caller's, so the fork and the exec must share a thread.
func lockForHandoff(on bool) func() {
	if !on {
		return func() {}
	}
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
