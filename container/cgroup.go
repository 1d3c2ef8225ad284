package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// This file and cgroup_v1.go, cgroup_v2.go, cgroup_bpf.go are gvmm's own
// cgroupfs layer. It replaced github.com/containerd/cgroups/v3, which is
// correct but costs every gvmm process, `gvmm boot` included, about 1 ms
// of start-up (its imports initialize protobuf, cilium/ebpf and dbus; see
// the package documentation), for what amounts to mkdir, a few writes of
// decimal numbers, and rmdir (Documentation/admin-guide/cgroup-v1/*.rst and
// cgroup-v2.rst in the kernel tree).

// cgroupParent is the group under which every container gets its own.
const cgroupParent = "gvmm"

// cgroupRoot is where the host mounts its cgroup file systems.
const cgroupRoot = "/sys/fs/cgroup"

// The host's cgroup layouts.
const (
	layoutNone    = "unavailable"
	layoutV1      = "v1"
	layoutHybrid  = "hybrid (v1 controllers)"
	layoutUnified = "v2"
)

// CgroupMode names the host's cgroup layout, told apart by the file
// system type at /sys/fs/cgroup (cgroup2 for v2, a tmpfs of v1
// hierarchies otherwise) and, on v1, whether /sys/fs/cgroup/unified holds
// an empty v2 hierarchy beside them (hybrid).
func CgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) != nil {
		return layoutNone
	}
	switch st.Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return layoutUnified
	case unix.TMPFS_MAGIC:
		if unix.Statfs(filepath.Join(cgroupRoot, "unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return layoutHybrid
		}
		return layoutV1
	}
	return layoutNone
}

// cgroup is one container's control group. On v2 it is one directory; on
// v1 one per hierarchy it joins (co-mounted controllers such as
// cpu,cpuacct share one).
type cgroup struct {
	// v2 is the group's directory on a unified host, "" on v1.
	v2 string
	// v1 maps each joined v1 controller to the group's directory in its
	// hierarchy; nil on v2.
	v1 map[string]string
	// home names, for each of dirs, its hierarchy, so that a thread
	// that entered the group can find its way back (cgroup_join.go);
	// nil when the group was not created by this process.
	home []homeMount
	// pending are the v1 limits and device rules not yet written
	// (applyLimits); nil when there are none left.
	pending *specs.LinuxResources
	// pidsMax is the pids limit, 0 for none.
	pidsMax int64
}

// v1Controllers are the v1 hierarchies a container joins: the three it is
// limited by (memory, pids, cpu), the accounting one beside cpu, devices
// for the device allow list, and freezer so the whole group can be
// stopped. cpuset joins too when the spec pins CPUs or memory nodes.
var v1Controllers = []string{"memory", "pids", "cpu", "cpuacct", "devices", "freezer"}

// denyAllDevices is the rule every container's device list starts from,
// as runc's does: no device is open to the container unless a later rule
// allows it. Without it a v1 group starts as "a *:* rwm" and the v2
// program has nothing to deny with, so a bundle with no rules (or with
// "resources": {}) plus CAP_MKNOD could create and open the host's disks.
var denyAllDevices = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

// defaultDeviceRules are always allowed on top of a bundle's device rules:
// the nodes the default /dev binds in and the pty devices (config-linux.md
// "Default Devices"; runc allows the same list).
var defaultDeviceRules = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},    // null
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},    // zero
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "rwm"},    // full
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},    // random
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},    // urandom
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},    // tty
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},    // console
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},    // ptmx
	{Allow: true, Type: "c", Major: i64(136), Minor: nil, Access: "rwm"},     // pts/*
	{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"}, // net/tun
}

func i64(v int64) *int64 { return &v }

// deviceRules is the list a container's group is given: deny all, then
// the bundle's rules in order, then the defaults. The last matching rule
// decides (config-linux.md "Device allowlist"), so the bundle can open
// devices but cannot take the defaults away from the pty and /dev nodes
// init creates.
func deviceRules(bundle []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	rules := make([]specs.LinuxDeviceCgroup, 0, 1+len(bundle)+len(defaultDeviceRules))
	rules = append(rules, denyAllDevices)
	rules = append(rules, bundle...)
	return append(rules, defaultDeviceRules...)
}

// errNoCgroups means no cgroup file system is mounted.
var errNoCgroups = errors.New("cgroups: no cgroup file system mounted at " + cgroupRoot)

// newCgroup creates gvmm/<id> with the limits in res on the host's layout.
func newCgroup(id string, res *specs.LinuxResources) (*cgroup, error) {
	c, err := createCgroup(id, res)
	if err != nil {
		return nil, err
	}
	if err := c.applyLimits(); err != nil {
		_ = c.delete()
		return nil, err
	}
	return c, nil
}

// createCgroup creates the group of container id. On v2 it also writes its
// limits and device filter, which clone3 CLONE_INTO_CGROUP needs in place
// when init is born there. On v1 the limits and device rules wait in
// c.pending for applyLimits: Start forks init into the bare groups and
// writes them while init is still executing, before it sends the plan,
// the first thing init needs to go on (it opens no device and runs no
// workload before). The writes are about half of a v1 group's cost.
func createCgroup(id string, res *specs.LinuxResources) (*cgroup, error) {
	r := specs.LinuxResources{}
	if res != nil {
		r = *res
	}
	r.Devices = deviceRules(r.Devices)
	switch CgroupMode() {
	case layoutUnified:
		return newCgroupV2(filepath.Join(cgroupRoot, cgroupParent, id), &r)
	case layoutV1, layoutHybrid:
		tM := time.Now()
		mounts, err := v1Mounts()
		if err != nil {
			return nil, err
		}
		traceStep("cgroup-mounts", tM)
		return newCgroupV1(mounts, filepath.Join(cgroupParent, id), &r)
	}
	return nil, errNoCgroups
}

// applyLimits writes what createCgroup left pending (v1).
func (c *cgroup) applyLimits() error {
	if c.pending == nil {
		return nil
	}
	t := time.Now()
	err := applyV1(c.v1, c.pending)
	traceStep("cgroup-limits", t)
	c.pending = nil
	return err
}

// loadCgroup finds the group of container id again, for rm after a crash.
func loadCgroup(id string) (*cgroup, error) {
	switch CgroupMode() {
	case layoutUnified:
		dir := filepath.Join(cgroupRoot, cgroupParent, id)
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		return &cgroup{v2: dir}, nil
	case layoutV1, layoutHybrid:
		mounts, err := v1Mounts()
		if err != nil {
			return nil, err
		}
		c := &cgroup{v1: map[string]string{}}
		for name, mnt := range mounts {
			dir := filepath.Join(mnt, cgroupParent, id)
			if _, err := os.Stat(dir); err == nil {
				c.v1[name] = dir
			}
		}
		if len(c.v1) == 0 {
			return nil, os.ErrNotExist
		}
		return c, nil
	}
	return nil, errNoCgroups
}

// dirs returns the group's distinct directories, sorted, so that every
// call lists them in the same order (spawnInside pairs them with home).
func (c *cgroup) dirs() []string {
	if c.v1 == nil {
		return []string{c.v2}
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range c.v1 {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// add moves the process pid (and so its later children) into the group.
func (c *cgroup) add(pid int) error {
	for _, d := range c.dirs() {
		if err := writeCgroupFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// oomKills returns how many processes the kernel OOM killer has killed in
// the group: the oom_kill line of v1 memory.oom_control or v2
// memory.events.
func (c *cgroup) oomKills() uint64 {
	dir, file := c.v2, "memory.events"
	if c.v1 != nil {
		dir, file = c.v1["memory"], "memory.oom_control"
	}
	if dir == "" {
		return 0
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "oom_kill "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// view returns the group's directories, for a "cgroup" mount in the
// container.
func (c *cgroup) view() cgroupView { return cgroupView{v1: c.v1, v2: c.v2} }

// deleteRetries bounds how long delete waits for killed processes to
// leave the group (rmdir fails with EBUSY until they have).
const deleteRetries = 100

// delete kills what is left in the group and removes its directories.
func (c *cgroup) delete() error {
	for _, d := range c.dirs() {
		// v2 (Linux 5.14+) kills the whole group at once; elsewhere, or
		// if that fails, each listed process is killed.
		if c.v1 != nil || writeCgroupFile(d, "cgroup.kill", "1") != nil {
			killProcs(d)
		}
	}
	for _, d := range c.dirs() {
		var err error
		for i := 0; i < deleteRetries; i++ {
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
	}
	return nil
}

// killProcs sends SIGKILL to every process in the group's directory dir.
func killProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// writeCgroupFile writes value to the control file dir/name. Control files
// take one value per write(2), so it is written in one call.
func writeCgroupFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", name, err)
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("cgroup %s=%q: %w", name, value, err)
	}
	return nil
}

// deviceRule formats a rule as v1 devices.allow/deny take it:
// "TYPE MAJOR:MINOR ACCESS" with * for a wildcard number.
func deviceRule(d specs.LinuxDeviceCgroup) string {
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	t := d.Type
	if t == "" {
		t = "a"
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	if t == "a" {
		return "a" // every device, every access
	}
	return t + " " + num(d.Major) + ":" + num(d.Minor) + " " + access
}
