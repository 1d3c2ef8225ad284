package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Mounts maps each v1 controller to the mount point of its hierarchy,
// read from /proc/self/mountinfo (proc(5)): a "cgroup" mount's super
// options name its controllers, e.g. "rw,cpu,cpuacct".
func v1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	mounts := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parseV1Mount(s.Text(), mounts)
	}
	if len(mounts) == 0 {
		return nil, errNoCgroups
	}
	return mounts, s.Err()
}

// parseV1Mount adds the controllers of one mountinfo line, if it is a v1
// cgroup mount: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE
// SOURCE SUPEROPTS".
func parseV1Mount(line string, mounts map[string]string) {
	pre, post, ok := strings.Cut(line, " - ")
	fields, tail := strings.Fields(pre), strings.Fields(post)
	if !ok || len(fields) < 5 || len(tail) < 3 || tail[0] != "cgroup" {
		return
	}
	point := unescapeMountinfo(fields[4])
	for _, opt := range strings.Split(tail[2], ",") {
		if knownV1Controller[opt] {
			if _, dup := mounts[opt]; !dup {
				mounts[opt] = point
			}
		}
	}
}

// knownV1Controller lists the controller names a super option may be;
// the rest ("rw", "name=systemd", "clone_children") are not controllers.
var knownV1Controller = map[string]bool{
	"memory": true, "pids": true, "cpu": true, "cpuacct": true, "cpuset": true,
	"devices": true, "freezer": true, "blkio": true, "hugetlb": true,
	"net_cls": true, "net_prio": true, "perf_event": true, "rdma": true, "misc": true,
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// newCgroupV1 creates the group rel (e.g. gvmm/<id>) in each hierarchy of
// mounts the container joins and leaves its limits pending (applyLimits).
// On failure it removes what it created.
func newCgroupV1(mounts map[string]string, rel string, r *specs.LinuxResources) (_ *cgroup, err error) {
	want := append([]string(nil), v1Controllers...)
	if r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "") {
		want = append(want, "cpuset")
	}
	c := &cgroup{v1: map[string]string{}}
	defer func() {
		if err != nil {
			_ = c.delete()
		}
	}()
	tMk := time.Now()
	for _, name := range want {
		mnt, ok := mounts[name]
		if !ok {
			if v1Needed(name, r) {
				return nil, fmt.Errorf("cgroups: the v1 %s controller is not mounted", name)
			}
			continue
		}
		dir := filepath.Join(mnt, rel)
		if name == "cpuset" {
			err = mkdirCpuset(mnt, rel)
		} else {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: create %s: %w", dir, err)
		}
		c.v1[name] = dir
	}
	traceStep("cgroup-mkdirs", tMk)
	c.home = c.homeMounts(mounts)
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		c.pidsMax = *r.Pids.Limit
	}
	c.pending = r
	return c, nil
}

// v1Needed reports whether the spec sets a limit that needs controller name.
func v1Needed(name string, r *specs.LinuxResources) bool {
	switch name {
	case "memory":
		return r.Memory != nil
	case "pids":
		return r.Pids != nil
	case "cpu":
		return r.CPU != nil && (r.CPU.Shares != nil || r.CPU.Quota != nil || r.CPU.Period != nil)
	case "cpuset", "devices":
		return true
	}
	return false
}

// mkdirCpuset creates rel level by level, giving each new level its
// parent's cpus and mems: a v1 cpuset group with empty ones cannot hold a
// process (cgroup-v1/cpusets.rst 2.1).
func mkdirCpuset(mnt, rel string) error {
	parent := mnt
	for _, part := range strings.Split(rel, "/") {
		dir := filepath.Join(parent, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(cur)) != "" {
				continue
			}
			up, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return err
			}
			if err := writeCgroupFile(dir, f, strings.TrimSpace(string(up))); err != nil {
				return err
			}
		}
		parent = dir
	}
	return nil
}

// v1Write is one value for one control file of one controller.
type v1Write struct{ ctrl, file, value string }

// applyV1 writes the limits (cgroup-v1/memory.rst, pids.rst, the CFS
// bandwidth of scheduler/sched-bwc.rst, cpusets.rst, devices.rst).
func applyV1(dirs map[string]string, r *specs.LinuxResources) error {
	var w []v1Write
	add := func(ctrl, file, value string) { w = append(w, v1Write{ctrl, file, value}) }
	if m := r.Memory; m != nil {
		// The memory+swap limit may never be below the memory limit, so
		// the memory limit goes first.
		optInt(m.Limit, func(v string) { add("memory", "memory.limit_in_bytes", v) })
		optInt(m.Swap, func(v string) { add("memory", "memory.memsw.limit_in_bytes", v) })
		optInt(m.Reservation, func(v string) { add("memory", "memory.soft_limit_in_bytes", v) })
		if m.Swappiness != nil {
			add("memory", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10))
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			add("memory", "memory.oom_control", "1")
		}
	}
	if r.Pids != nil {
		add("pids", "pids.max", pidsMax(r.Pids.Limit))
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			add("cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10))
		}
		if c.Period != nil {
			add("cpu", "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		optInt(c.Quota, func(v string) { add("cpu", "cpu.cfs_quota_us", v) })
		if c.Cpus != "" {
			add("cpuset", "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			add("cpuset", "cpuset.mems", c.Mems)
		}
	}
	for _, d := range r.Devices {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		add("devices", file, deviceRule(d))
	}
	for _, x := range w {
		dir, ok := dirs[x.ctrl]
		if !ok {
			continue // not mounted and not needed (v1Needed)
		}
		if err := writeCgroupFile(dir, x.file, x.value); err != nil {
			return err
		}
	}
	return nil
}

// optInt calls set with the decimal value of p, if p is set.
func optInt(p *int64, set func(string)) {
	if p != nil {
		set(strconv.FormatInt(*p, 10))
	}
}

// pidsMax is pids.max for an OCI limit: "max" means none (0 or less).
func pidsMax(limit *int64) string {
	if limit == nil || *limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(*limit, 10)
}
