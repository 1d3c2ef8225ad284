package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseV1Mount(t *testing.T) {
	tests := []struct {
		line string
		want map[string]string
	}{
		{"35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpu,cpuacct",
			map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"}},
		{"36 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory", map[string]string{"memory": "/sys/fs/cgroup/memory"}},
		{"30 25 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd", map[string]string{}},
		{"29 25 0:25 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate", map[string]string{}},
		{`40 25 0:33 / /mnt/my\040cgroups rw - cgroup cgroup rw,pids`, map[string]string{"pids": "/mnt/my cgroups"}},
		{"garbage", map[string]string{}},
	}
	for _, tt := range tests {
		got := map[string]string{}
		parseV1Mount(tt.line, got)
		require.Equal(t, tt.want, got, tt.line)
	}
}

func TestDeviceRule(t *testing.T) {
	tests := []struct {
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, "a"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"}, "c 1:3 rw"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(136)}, "c 136:* rwm"},
		{specs.LinuxDeviceCgroup{Type: "b", Major: i64(-1), Minor: i64(-1), Access: "m"}, "b *:* m"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, deviceRule(tt.rule))
	}
}

func TestV2Writes(t *testing.T) {
	limit, swap, res, neg := int64(64<<20), int64(96<<20), int64(32<<20), int64(-1)
	shares, period, quota, pids := uint64(1024), uint64(50000), int64(25000), int64(20)
	w, err := v2Writes(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap, Reservation: &res},
		Pids:   &specs.LinuxPids{Limit: &pids},
		CPU:    &specs.LinuxCPU{Shares: &shares, Period: &period, Quota: &quota, Cpus: "0-1", Mems: "0"},
	})
	require.NoError(t, err)
	require.Equal(t, []cgroupWrite{
		{"memory.max", "67108864"}, {"memory.low", "33554432"}, {"memory.swap.max", "33554432"},
		{"pids.max", "20"}, {"cpu.weight", "39"}, {"cpu.max", "25000 50000"},
		{"cpuset.cpus", "0-1"}, {"cpuset.mems", "0"},
	}, w)
	w, err = v2Writes(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &neg, Swap: &neg},
		CPU: &specs.LinuxCPU{Quota: &neg}})
	require.NoError(t, err)
	require.Equal(t, []cgroupWrite{{"memory.max", "max"}, {"memory.swap.max", "max"}, {"cpu.max", "max 100000"}}, w)
	swappiness := uint64(10)
	_, err = v2Writes(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: &swappiness}})
	require.ErrorIs(t, err, ErrUnsupported)
}

// TestCgroupV1Limits checks on the host's v1 hierarchies that every limit
// lands in its control file and that the group is gone after delete.
func TestCgroupV1Limits(t *testing.T) {
	needRoot(t)
	if mode := CgroupMode(); mode != layoutV1 && mode != layoutHybrid {
		t.Skipf("host cgroups are %s", mode)
	}
	limit, pids, quota, period := int64(48<<20), int64(33), int64(50000), uint64(100000)
	cg, err := newCgroup("test-"+strconv.Itoa(os.Getpid()), &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: &limit},
		Pids:    &specs.LinuxPids{Limit: &pids},
		CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	})
	require.NoError(t, err)
	read := func(ctrl, file string) string {
		data, err := os.ReadFile(filepath.Join(cg.v1[ctrl], file))
		require.NoError(t, err)
		return strings.TrimSpace(string(data))
	}
	require.Equal(t, "50331648", read("memory", "memory.limit_in_bytes"))
	require.Equal(t, "33", read("pids", "pids.max"))
	require.Equal(t, "50000", read("cpu", "cpu.cfs_quota_us"))
	require.Equal(t, "c 1:3 rwm", strings.Split(read("devices", "devices.list"), "\n")[0])
	require.Zero(t, cg.oomKills())
	require.NoError(t, cg.delete())
	for _, d := range cg.dirs() {
		require.NoDirExists(t, d)
	}
}

// TestDeviceFilter loads the cgroup v2 device program into a real cgroup2
// group (the unified hierarchy: /sys/fs/cgroup on v2, .../unified on a
// hybrid host) and checks the kernel enforces it on a process started in
// the group.
func TestDeviceFilter(t *testing.T) {
	needRoot(t)
	unified := map[string]string{layoutUnified: cgroupRoot, layoutHybrid: filepath.Join(cgroupRoot, "unified")}[CgroupMode()]
	if unified == "" {
		t.Skip("no cgroup2 hierarchy")
	}
	tests := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"no rules: all allowed", nil, "null ok\nzero ok\n"},
		{"allow list", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}}, "null ok\nzero denied\n"},
		{"read only", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Access: "r"}}, "null denied\nzero ok\n"},
		{"last rule wins", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Access: "rwm"},
			{Allow: false, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"}}, "null ok\nzero denied\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(unified, "gvmm-test-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(i))
			require.NoError(t, os.Mkdir(dir, 0o755))
			defer func() { _ = unix.Rmdir(dir) }()
			if tt.rules != nil {
				require.NoError(t, attachDeviceFilter(dir, tt.rules))
			}
			fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
			require.NoError(t, err)
			defer unix.Close(fd)
			// /dev/null is written, /dev/zero read; nothing else opens a
			// device (stderr is the parent's, opened outside the group).
			cmd := exec.Command(busybox, "sh", "-c", `echo x > /dev/null && echo null ok || echo null denied
test "$(head -c 1 /dev/zero | wc -c)" = 1 && echo zero ok || echo zero denied`)
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
			out, err := cmd.Output()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
		})
	}
}

func TestDeviceProgramRejects(t *testing.T) {
	_, err := deviceProgram([]specs.LinuxDeviceCgroup{{Type: "x"}})
	require.ErrorIs(t, err, ErrBadSpec)
	_, err = deviceProgram([]specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}})
	require.ErrorIs(t, err, ErrBadSpec)
}
