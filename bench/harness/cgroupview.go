package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"gvmm/container"
)

// crun 1.8 refuses a hybrid cgroup host ("cgroups in hybrid mode not
// supported") unless it cannot see /sys/fs/cgroup/unified: it then takes
// its v1 path, as runc and gvmm do on such a host. Wrapping each timed
// crun in `unshare -m` plus a mount, as the bench once did, added 10.7 ms
// to crun's every start (issue 15). Instead the whole bench runs, once, in
// a private mount namespace whose tmpfs hides the unified hierarchy:
// every subject, gvmm's containers included, then sees the same v1
// layout, and every timed command is the peer's own.

// v1ViewEnv marks the bench process that runs inside that namespace.
const v1ViewEnv = "GVMM_BENCH_V1_VIEW"

// unifiedMount is where a hybrid host mounts its cgroup v2 hierarchy.
const unifiedMount = "/sys/fs/cgroup/unified"

// EnterV1View makes the calling program run in the v1-only view on a
// hybrid host. In the original process it re-executes the program in a
// private mount namespace, waits for it and returns its exit code with
// done = true: the caller exits with it. In the re-executed one (and on
// a host that is not hybrid, or not as root) it returns done = false and
// the caller goes on.
func EnterV1View() (code int, done bool, err error) {
	if !strings.HasPrefix(container.CgroupMode(), "hybrid") || os.Geteuid() != 0 {
		return 0, false, nil
	}
	if os.Getenv(v1ViewEnv) != "" {
		// Mount propagation of / is already private (os/exec does that
		// for CLONE_NEWNS), so this tmpfs stays in this namespace. crun
		// still makes a directory and a cgroup.procs file in it, which
		// are plain files there and go with the namespace: no size limit.
		if err := unix.Mount("tmpfs", unifiedMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return 0, false, fmt.Errorf("hide %s for crun: %w", unifiedMount, err)
		}
		return 0, false, nil
	}
	self, err := os.Executable()
	if err != nil {
		return 0, false, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), v1ViewEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("run the bench in a private mount namespace: %w", err)
	}
	return 0, true, nil
}
