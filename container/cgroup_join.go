package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Putting init into its v1 cgroup without the kernel's slow path.
//
// The obvious way, writing init's pid to cgroup.procs in every hierarchy,
// moves a whole thread group, and for that the kernel takes the global
// cgroup_threadgroup_rwsem for writing (kernel/cgroup/cgroup.c,
// cgroup_procs_write_start). It is a per-CPU rwsem, cheap for its many
// readers (every fork and exit) and slow for a writer, who first waits for
// an RCU grace period (percpu_down_write, rcu_sync_enter) unless another
// writer went just before. Measured on the course machine (Linux 6.18, 2
// shared cores): 5.7-20 ms for the five hierarchies, against 0.1 ms for
// the same moves by the path below, and the largest single cost of a
// container start. v2 avoids it by creating the child in its group
// (clone3 CLONE_INTO_CGROUP, spawn.go); v1 has no such flag.
//
// The kernel skips the global lock in one case: a thread that moves only
// itself, by writing "0" to a v1 hierarchy's "tasks" file (cgroup-v1.rst
// 2.2: "tasks" lists threads, and a thread may sit in another group than
// the rest of its process; cgroup_procs_write_start: "If we migrate a
// single thread ... If the thread is `current`, it won't exit(2) under our
// hands ... Therefore, we can skip the global lock", in the kernel since
// 2019). A child inherits the cgroups of the thread that forks it. So
// spawnInside pins the calling goroutine to its OS thread, moves that
// thread into the container's groups, forks init there, and moves the
// thread back: init is born in its cgroup, as on v2, and nothing needs to
// be moved afterwards.
//
// While the thread is inside, the container's limits apply to it: the
// pids controller counts it, so with pids.max = 1 init could not be
// forked (threadJoinOK), and the devices and memory groups see the few
// system calls of the fork. A new Go thread is never cloned from a thread
// locked like this one (the runtime creates it from its template thread
// instead), so the move cannot leak to other threads.

// errNoThreadJoin means the group must be joined the slow way (add).
var errNoThreadJoin = errors.New("cgroup: join by thread not possible")

// threadJoinOK reports whether spawnInside can be used: a v1 group whose
// pids limit leaves room for the forking thread beside init.
func (c *cgroup) threadJoinOK() bool { return c.v1 != nil && c.home != nil && c.pidsMax != 1 }

// spawnInside calls fork with the calling thread inside the container's
// v1 groups, so that the process fork creates is born in them, and moves
// the thread back home afterwards. It returns errNoThreadJoin, having
// called nothing, when the thread could not enter; the caller then forks
// normally and uses add.
func (c *cgroup) spawnInside(fork func() error) error {
	if !c.threadJoinOK() {
		return errNoThreadJoin
	}
	runtime.LockOSThread()
	v, err := c.enterThread()
	if err != nil {
		if errors.Is(err, errNoThreadJoin) {
			runtime.UnlockOSThread()
		}
		return err
	}
	tFork := time.Now()
	ferr := fork()
	traceStep("fork", tFork)
	if err := v.leave(len(v.home)); err != nil {
		// A thread left in the container's groups would charge Go's
		// work to the container: it stays locked to this goroutine,
		// and the caller removes the container.
		return err
	}
	runtime.UnlockOSThread()
	return ferr
}

// threadVisit remembers where the calling thread came from.
type threadVisit struct {
	// home are the thread's own groups, in the order of c.dirs.
	home []string
	// affinity is the thread's CPU affinity when it enters a cpuset.
	affinity *unix.CPUSet
}

// enterThread moves the calling (locked) thread into the group. On
// errNoThreadJoin the thread is back where it was; on another error it
// could not get back.
func (c *cgroup) enterThread() (*threadVisit, error) {
	home, err := threadHome(c.home)
	if err != nil {
		return nil, errNoThreadJoin
	}
	v := &threadVisit{home: home}
	// Entering a cpuset sets the thread's CPU affinity to the set's CPUs
	// (cgroup-v1/cpusets.rst 1.7), and going home sets it to all of the
	// home set's, which would lose a narrower affinity the runtime was
	// started with (taskset): it is saved here and restored on leaving.
	if _, ok := c.v1["cpuset"]; ok {
		v.affinity = new(unix.CPUSet)
		if err := unix.SchedGetaffinity(0, v.affinity); err != nil {
			return nil, errNoThreadJoin
		}
	}
	tEnter := time.Now()
	entered, err := moveThread(c.dirs())
	traceStep("cgroup-enter", tEnter)
	if err != nil {
		if lerr := v.leave(entered); lerr != nil {
			return nil, lerr
		}
		return nil, errNoThreadJoin
	}
	return v, nil
}

// leave moves the thread back into the first n of its home groups (those
// it left) and restores its CPU affinity.
func (v *threadVisit) leave(n int) error {
	defer traceStep("cgroup-leave", time.Now())
	if _, err := moveThread(v.home[:n]); err != nil {
		return fmt.Errorf("cgroup: leave the container's group: %w", err)
	}
	if v.affinity != nil {
		if err := unix.SchedSetaffinity(0, v.affinity); err != nil {
			return fmt.Errorf("cgroup: restore the CPU affinity: %w", err)
		}
	}
	return nil
}

// moveThread moves the calling thread into each directory of dirs, in
// order, and returns how many it entered.
func moveThread(dirs []string) (int, error) {
	for i, d := range dirs {
		// "0" means the writing thread itself (cgroup-v1.rst 2.2).
		if err := writeCgroupFile(d, "tasks", "0"); err != nil {
			return i, err
		}
	}
	return len(dirs), nil
}

// threadHome returns, for each hierarchy mount point in mounts (in the
// order of c.dirs, see homeMounts), the directory of the calling thread's
// own group there, from /proc/thread-self/cgroup (cgroups(7): lines
// "ID:CONTROLLERS:PATH").
func threadHome(mounts []homeMount) ([]string, error) {
	f, err := os.Open("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	paths := map[string]string{} // controller -> path in its hierarchy
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			paths[ctrl] = parts[2]
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	out := make([]string, len(mounts))
	for i, m := range mounts {
		p, ok := paths[m.ctrl]
		if !ok {
			return nil, fmt.Errorf("cgroup: thread has no %s group", m.ctrl)
		}
		out[i] = filepath.Join(m.mount, p)
	}
	return out, nil
}

// homeMount is one hierarchy the container's group is in: a controller
// of it and its mount point.
type homeMount struct{ ctrl, mount string }

// homeMounts lists, for each directory of c.dirs (same order), a
// controller of its hierarchy and the hierarchy's mount point; nil if a
// directory is not under its controller's mount (never, as newCgroupV1
// builds them).
func (c *cgroup) homeMounts(mounts map[string]string) []homeMount {
	byDir := map[string]homeMount{}
	for ctrl, dir := range c.v1 {
		byDir[dir] = homeMount{ctrl, mounts[ctrl]}
	}
	out := make([]homeMount, 0, len(byDir))
	for _, d := range c.dirs() {
		m, ok := byDir[d]
		if !ok || m.mount == "" || !strings.HasPrefix(d, m.mount+"/") {
			return nil
		}
		out = append(out, m)
	}
	return out
}
