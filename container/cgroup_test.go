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
		{"no rules: nothing allowed", []specs.LinuxDeviceCgroup{}, "null denied\nzero denied\n"},
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
			require.NoError(t, attachDeviceFilter(dir, tt.rules))
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

// deviceProbe opens a device outside the defaults (with true, not the
// special builtin ":", whose failed redirection would end the shell) and creates a block
// device node: what a container with CAP_MKNOD would do to reach the
// host's disk. It waits for a line on stdin first, so that the test can
// move it into a v1 group before it starts.
const deviceProbe = `read _
echo x > /dev/null && echo null ok || echo null denied
true < /dev/kmsg && echo kmsg ok || echo kmsg denied
mknod "$1/sda" b 8 0 && echo mknod ok || echo mknod denied`

// runDeviceProbe runs deviceProbe, calling join with its pid before
// letting it go on.
func runDeviceProbe(t *testing.T, attr *syscall.SysProcAttr, join func(pid int)) string {
	t.Helper()
	cmd := exec.Command(busybox, "sh", "-c", deviceProbe, "sh", t.TempDir())
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out strings.Builder
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	if join != nil {
		join(cmd.Process.Pid)
	}
	_, _ = stdin.Write([]byte("go\n"))
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	return out.String()
}

// TestContainerDevicesStartFromDenyAll is the regression test for a
// container group with no device rules of its own ("resources": {}): it
// gets the defaults and nothing else, on v1 and on v2.
func TestContainerDevicesStartFromDenyAll(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/dev/kmsg"); err != nil {
		t.Skip("no /dev/kmsg to probe with")
	}
	const want = "null ok\nkmsg denied\nmknod denied\n"
	require.Equal(t, "null ok\nkmsg ok\nmknod ok\n", runDeviceProbe(t, nil, nil),
		"outside any group the probe reaches both: it can tell")

	t.Run("v1", func(t *testing.T) {
		if mode := CgroupMode(); mode != layoutV1 && mode != layoutHybrid {
			t.Skipf("host cgroups are %s", mode)
		}
		cg, err := newCgroup("test-dev-"+strconv.Itoa(os.Getpid()), &specs.LinuxResources{})
		require.NoError(t, err)
		defer func() { require.NoError(t, cg.delete()) }()
		list, err := os.ReadFile(filepath.Join(cg.v1["devices"], "devices.list"))
		require.NoError(t, err)
		require.NotContains(t, string(list), "a *:* rwm")
		got := runDeviceProbe(t, nil, func(pid int) {
			require.NoError(t, writeCgroupFile(cg.v1["devices"], "cgroup.procs", strconv.Itoa(pid)))
		})
		require.Equal(t, want, got)
	})
	t.Run("v2", func(t *testing.T) {
		unified := map[string]string{layoutUnified: cgroupRoot, layoutHybrid: filepath.Join(cgroupRoot, "unified")}[CgroupMode()]
		if unified == "" {
			t.Skip("no cgroup2 hierarchy")
		}
		dir := filepath.Join(unified, "gvmm-test-dev-"+strconv.Itoa(os.Getpid()))
		require.NoError(t, os.Mkdir(dir, 0o755))
		defer func() { _ = unix.Rmdir(dir) }()
		require.NoError(t, attachDeviceFilter(dir, deviceRules(nil)))
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		defer unix.Close(fd)
		require.Equal(t, want, runDeviceProbe(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}, nil))
	})
}

func TestDeviceRulesOrder(t *testing.T) {
	bundle := []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Major: i64(8), Access: "r"}}
	rules := deviceRules(bundle)
	require.Equal(t, denyAllDevices, rules[0], "deny all first")
	require.Equal(t, bundle[0], rules[1], "then the bundle's")
	require.Equal(t, defaultDeviceRules, rules[2:], "then the defaults")
	prog, err := deviceProgram(nil)
	require.NoError(t, err)
	last := prog[len(prog)-2]
	require.Equal(t, bpfInsn{code: bpfMov64K, dst: regR0, imm: 0}, last, "no match is a deny")
}
