package container

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Moving a process into a cgroup (a write to cgroup.procs) takes the
// kernel's global cgroup_threadgroup_rwsem for writing. That is a
// per-CPU rwsem, so a writer first waits for an RCU grace period, unless
// another writer went through moments before (kernel/rcu/sync.c keeps the
// readers on the slow path for about one more grace period). Measured on
// the course machine: a first write 7.9 ms, a second within 5 ms 0.2 ms.
// Every runtime pays this on a v1 host (crun and runc write cgroup.procs
// too), and on the critical path: init waits for the move.
//
// warmCgroupLock takes the lock early, in the background, by moving this
// process into the cgroup it is already in (a no-op move): the grace
// period then runs while the runtime records the state, creates the
// cgroup and starts init, and the real move finds the lock warm. On a v2
// host init is instead created directly in its group (clone3
// CLONE_INTO_CGROUP, see spawn), which needs no move at all.
func warmCgroupLock() {
	if CgroupMode() == layoutUnified {
		return
	}
	go func() {
		if dir := ownV1Cgroup("pids"); dir != "" {
			_ = writeCgroupFile(dir, "cgroup.procs", strconv.Itoa(os.Getpid()))
		}
	}()
}

// ownV1Cgroup returns the directory of this process's group in the v1
// hierarchy of controller, from /proc/self/cgroup (cgroups(7)) and the
// hierarchy's mount point; "" if there is none.
func ownV1Cgroup(controller string) string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// "ID:CONTROLLERS:PATH", e.g. "8:pids:/user.slice".
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == controller {
			return filepath.Join(cgroupRoot, controller, parts[2])
		}
	}
	return ""
}
