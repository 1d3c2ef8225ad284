package container

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSpawnInside forks a process through spawnInside and checks, against
// the kernel's own records, that the child is born in every v1 group of
// the container and that the forking thread is back in its own groups.
func TestSpawnInside(t *testing.T) {
	needRoot(t)
	if mode := CgroupMode(); mode != layoutV1 && mode != layoutHybrid {
		t.Skipf("host cgroups are %s: v2 uses CLONE_INTO_CGROUP", mode)
	}
	tests := []struct {
		name   string
		pids   int64
		cpus   string
		inside bool
	}{
		{"no pids limit", 0, "", true},
		{"pids limit 2", 2, "", true},
		// A cpuset changes the thread's affinity, which must come back.
		{"cpuset", 0, "0", true},
		// The forking thread would use the only pid: the slow path.
		{"pids limit 1", 1, "", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &specs.LinuxResources{}
			if tt.pids != 0 {
				res.Pids = &specs.LinuxPids{Limit: &tt.pids}
			}
			if tt.cpus != "" {
				res.CPU = &specs.LinuxCPU{Cpus: tt.cpus}
			}
			id := "test-join-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
			cg, err := newCgroup(id, res)
			require.NoError(t, err)
			defer func() { require.NoError(t, cg.delete()) }()
			require.Equal(t, tt.inside, cg.threadJoinOK())

			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			before, err := os.ReadFile("/proc/thread-self/cgroup")
			require.NoError(t, err)
			var cpusBefore, cpusAfter unix.CPUSet
			require.NoError(t, unix.SchedGetaffinity(0, &cpusBefore))
			if tt.cpus != "" && cpusBefore.Count() > 1 {
				// A narrower affinity than the home cpuset's, which
				// going home alone would widen again.
				narrow := unix.CPUSet{}
				narrow.Set(1)
				require.NoError(t, unix.SchedSetaffinity(0, &narrow))
				defer func(all unix.CPUSet) { _ = unix.SchedSetaffinity(0, &all) }(cpusBefore)
				cpusBefore = narrow
			}
			// One process, no shell: the pids limit counts its children.
			cmd := exec.Command(busybox, "cat", "/proc/self/cgroup", "/proc/self/status")
			var out strings.Builder
			cmd.Stdout = &out
			err = cg.spawnInside(cmd.Start)
			if !tt.inside {
				require.ErrorIs(t, err, errNoThreadJoin)
				return
			}
			require.NoError(t, err)
			require.NoError(t, cmd.Wait())
			after, err := os.ReadFile("/proc/thread-self/cgroup")
			require.NoError(t, err)
			require.Equal(t, string(before), string(after), "the thread went back home")
			require.NoError(t, unix.SchedGetaffinity(0, &cpusAfter))
			require.Equal(t, cpusBefore, cpusAfter, "the thread's CPU affinity is restored")
			if tt.cpus != "" {
				require.Contains(t, out.String(), "Cpus_allowed_list:\t"+tt.cpus+"\n", "the child is in the cpuset")
			}
			for ctrl := range cg.v1 {
				// cgroups(7): "ID:CONTROLLERS:PATH", PATH from the
				// hierarchy's root.
				line := `(?m)^\d+:([^:]*,)?` + ctrl + `(,[^:]*)?:/` + cgroupParent + "/" + id + "$"
				require.Regexp(t, line, out.String())
			}
		})
	}
}
