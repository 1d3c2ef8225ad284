package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupParent is the group under which every container gets its own.
const cgroupParent = "/gvmm"

// unifiedMountpoint is where a v2-only host mounts its single hierarchy.
const unifiedMountpoint = "/sys/fs/cgroup"

// v1Controllers are the v1 hierarchies a container joins: the three it is
// limited by (memory, pids, cpu), the accounting one beside cpu, devices
// for the device allow list, and freezer so the whole group can be
// stopped. Joining fewer keeps creation cheap (one mkdir each).
var v1Controllers = map[cgroup1.Name]bool{
	cgroup1.Memory: true, cgroup1.Pids: true, cgroup1.Cpu: true, cgroup1.Cpuacct: true,
	cgroup1.Devices: true, cgroup1.Freezer: true,
}

// CgroupMode names the host's cgroup layout as the library detects it from
// the file system type at /sys/fs/cgroup (and /sys/fs/cgroup/unified).
func CgroupMode() string {
	switch cgroups.Mode() {
	case cgroups.Legacy:
		return "v1"
	case cgroups.Hybrid:
		return "hybrid (v1 controllers)"
	case cgroups.Unified:
		return "v2"
	}
	return "unavailable"
}

// cgroup is one container's control group on either version.
type cgroup struct {
	path string
	v1   cgroup1.Cgroup
	v2   *cgroup2.Manager
}

// defaultDeviceRules are always allowed on top of a bundle's device rules:
// the nodes setupDev binds in and the pty devices (config-linux.md
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

// newCgroup creates /gvmm/<id> with the limits in res.
func newCgroup(id string, res *specs.LinuxResources) (*cgroup, error) {
	r := specs.LinuxResources{}
	if res != nil {
		r = *res
	}
	r.Devices = append(append([]specs.LinuxDeviceCgroup(nil), r.Devices...), defaultDeviceRules...)
	path := filepath.Join(cgroupParent, id)
	switch cgroups.Mode() {
	case cgroups.Unified:
		m, err := cgroup2.NewManager(unifiedMountpoint, path, cgroup2.ToResources(&r))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2 %s: %w", path, err)
		}
		return &cgroup{path: path, v2: m}, nil
	case cgroups.Legacy, cgroups.Hybrid:
		want := v1Controllers
		if r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "") {
			want = map[cgroup1.Name]bool{cgroup1.Cpuset: true}
			for k := range v1Controllers {
				want[k] = true
			}
		}
		hier := func() ([]cgroup1.Subsystem, error) {
			all, err := cgroup1.Default()
			var out []cgroup1.Subsystem
			for _, s := range all {
				if want[s.Name()] {
					out = append(out, s)
				}
			}
			return out, err
		}
		c, err := cgroup1.New(cgroup1.StaticPath(path), &r, cgroup1.WithHierarchy(hier))
		if err != nil {
			return nil, fmt.Errorf("cgroup v1 %s: %w", path, err)
		}
		return &cgroup{path: path, v1: c}, nil
	}
	return nil, errors.New("cgroups: no cgroup file system mounted at /sys/fs/cgroup")
}

// loadCgroup finds an existing container group, for rm after a crash.
func loadCgroup(id string) (*cgroup, error) {
	path := filepath.Join(cgroupParent, id)
	if cgroups.Mode() == cgroups.Unified {
		m, err := cgroup2.Load(path, cgroup2.WithMountpoint(unifiedMountpoint))
		if err != nil {
			return nil, err
		}
		return &cgroup{path: path, v2: m}, nil
	}
	c, err := cgroup1.Load(cgroup1.StaticPath(path))
	if err != nil {
		return nil, err
	}
	return &cgroup{path: path, v1: c}, nil
}

// add moves the process pid (and later its children) into the group.
func (c *cgroup) add(pid int) error {
	if c.v2 != nil {
		return c.v2.AddProc(uint64(pid))
	}
	return c.v1.AddProc(uint64(pid))
}

// oomKills returns how many processes the kernel OOM killer has killed in
// the group (v1 memory.oom_control, v2 memory.events "oom_kill").
func (c *cgroup) oomKills() uint64 {
	if c.v2 != nil {
		st, err := c.v2.Stat()
		if err != nil || st.MemoryEvents == nil {
			return 0
		}
		return st.MemoryEvents.OomKill
	}
	st, err := c.v1.Stat(cgroup1.IgnoreNotExist)
	if err != nil || st.MemoryOomControl == nil {
		return 0
	}
	return st.MemoryOomControl.OomKill
}

// mountDirs returns, for a v1 host, each controller's host directory of
// this group, for a "cgroup" mount in the container; nil on v2.
func (c *cgroup) mountDirs() map[string]string {
	if c.v2 != nil {
		return nil
	}
	dirs := map[string]string{}
	for _, s := range c.v1.Subsystems() {
		if p, ok := s.(interface{ Path(string) string }); ok {
			dirs[string(s.Name())] = p.Path(c.path)
		}
	}
	return dirs
}

// delete kills what is left in the group and removes it.
func (c *cgroup) delete() error {
	if c.v2 != nil {
		_ = c.v2.Kill()
		return c.v2.Delete()
	}
	if procs, err := c.v1.Processes(cgroup1.Memory, true); err == nil {
		for _, p := range procs {
			if proc, err := os.FindProcess(p.Pid); err == nil {
				_ = proc.Kill()
			}
		}
	}
	var err error
	for i := 0; i < deleteRetries; i++ {
		if err = c.v1.Delete(); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// deleteRetries bounds how long delete waits for killed processes to
// leave the group (rmdir fails with EBUSY until they have).
const deleteRetries = 100
