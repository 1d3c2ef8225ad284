package harness

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is testdata: copies of /proc files of a VMM (pid 42), its child
// runtime (50) and a container workload (51) in a v1 memory cgroup.
var fixture = ProcFS{Root: "testdata"}

func TestVmRSS(t *testing.T) {
	kib, err := fixture.VmRSS(42)
	require.NoError(t, err)
	assert.Equal(t, int64(4321), kib)
	_, err = fixture.VmRSS(99)
	assert.Error(t, err, "no such process")
}

func TestKBField(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       int64
		ok         bool
	}{
		{"plain", "VmRSS:\t  10 kB\n", 10, true},
		{"missing", "VmSize:\t10 kB\n", 0, false},
		{"no unit", "VmRSS:\t10\n", 0, false},
		{"negative", "VmRSS:\t-1 kB\n", 0, false},
		{"not a number", "VmRSS:\tx kB\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := kBField(strings.NewReader(tc.text), "VmRSS:")
			if !tc.ok {
				assert.ErrorIs(t, err, ErrProc)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, v)
		})
	}
}

func TestGuestTouched(t *testing.T) {
	kib, err := fixture.GuestTouched(42, 256<<10)
	require.NoError(t, err)
	assert.Equal(t, int64(132), kib, "Rss of the 256 MiB mapping, not of the 132 KiB one after it")
	_, err = fixture.GuestTouched(42, 512<<10)
	assert.ErrorIs(t, err, ErrProc, "no mapping of that size")
}

func TestParseCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Cgroup
		ok         bool
	}{
		{"v1 memory wins over v2 line", "4:memory:/a\n0::/b\n", Cgroup{Path: "/a"}, true},
		{"v1 joint controllers", "3:cpu,memory:/c\n", Cgroup{Path: "/c"}, true},
		{"v2 only", "0::/sys.slice/x\n", Cgroup{Path: "/sys.slice/x", V2: true}, true},
		{"no memory", "2:pids:/p\n", Cgroup{}, false},
		{"malformed", "garbage\n", Cgroup{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCgroup(strings.NewReader(tc.text))
			if !tc.ok {
				assert.ErrorIs(t, err, ErrProc)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
		})
	}
}

func TestDescendantsAndContainerCgroup(t *testing.T) {
	assert.Equal(t, []int{50, 51}, fixture.Descendants(42))
	assert.Empty(t, fixture.Descendants(51))
	cg, pid, err := fixture.ContainerCgroup(42)
	require.NoError(t, err)
	assert.Equal(t, 51, pid, "the first process below 42 in another memory cgroup")
	assert.Equal(t, Cgroup{Path: "/ctr1"}, cg)
	kib, err := fixture.MemoryKiB(cg)
	require.NoError(t, err)
	assert.Equal(t, int64(1024), kib)
	assert.Equal(t, "testdata/sys/fs/cgroup/ctr1", fixture.Dir(Cgroup{Path: "/ctr1", V2: true}))
	_, _, err = fixture.ContainerCgroup(51)
	assert.ErrorIs(t, err, ErrProc, "nothing below the workload")
}

func TestRunningAndAwaitEnded(t *testing.T) {
	fs := ProcFS{Root: "/"}
	assert.True(t, fs.Running(os.Getpid()), "this test runs")

	// A child that is killed but not yet reaped is a zombie: ended.
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	assert.True(t, fs.Running(pid))
	err := awaitEnded(fs, []int{pid}, 50*time.Millisecond)
	assert.ErrorIs(t, err, ErrLeftBehind, "a live process is reported")
	assert.Contains(t, err.Error(), strconv.Itoa(pid))

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	assert.NoError(t, awaitEnded(fs, []int{pid}, 2*time.Second), "killed, a zombie until reaped")
	assert.False(t, fs.Running(pid))
	_ = cmd.Wait()
	assert.False(t, fs.Running(pid), "reaped: no /proc entry")
}
