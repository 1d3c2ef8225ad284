package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v2Controllers are the controllers a container's group uses on a unified
// host; each must be enabled in every ancestor's cgroup.subtree_control
// (cgroup-v2.rst "Enabling and Disabling").
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids"}

// newCgroupV2 creates the group dir (mountpoint/gvmm/<id>) and writes its
// limits; the device rules become an eBPF program (cgroup_bpf.go). On
// failure it removes what it created.
func newCgroupV2(dir string, r *specs.LinuxResources) (_ *cgroup, err error) {
	root := filepath.Dir(filepath.Dir(dir))
	parent := filepath.Dir(dir)
	if err := enableV2Controllers(root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("cgroups: create %s: %w", parent, err)
	}
	if err := enableV2Controllers(parent); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroups: create %s: %w", dir, err)
	}
	c := &cgroup{v2: dir}
	defer func() {
		if err != nil {
			_ = c.delete()
		}
	}()
	writes, err := v2Writes(r)
	if err != nil {
		return nil, err
	}
	for _, w := range writes {
		if err := writeCgroupFile(dir, w.file, w.value); err != nil {
			return nil, err
		}
	}
	if err := attachDeviceFilter(dir, r.Devices); err != nil {
		return nil, err
	}
	return c, nil
}

// enableV2Controllers turns on, for dir's children, those of
// v2Controllers that dir has.
func enableV2Controllers(dir string) error {
	have, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	avail := map[string]bool{}
	for _, c := range strings.Fields(string(have)) {
		avail[c] = true
	}
	var enable []string
	for _, c := range v2Controllers {
		if avail[c] {
			enable = append(enable, "+"+c)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	return writeCgroupFile(dir, "cgroup.subtree_control", strings.Join(enable, " "))
}

// errV2Unsupported marks a v1-only limit asked for on a unified host.
var errV2Unsupported = errors.New("has no cgroup v2 equivalent")

// v2Writes translates the limits to v2 control files (cgroup-v2.rst
// "Memory", "PID", "CPU", "Cpuset"; the conversions are runc's, from
// the OCI's v1-shaped fields).
func v2Writes(r *specs.LinuxResources) ([]cgroupWrite, error) {
	var w []cgroupWrite
	add := func(file, value string) { w = append(w, cgroupWrite{file, value}) }
	if m := r.Memory; m != nil {
		if m.Swappiness != nil || (m.DisableOOMKiller != nil && *m.DisableOOMKiller) {
			return nil, fmt.Errorf("cgroups: memory.swappiness/disableOOMKiller %w: %w", errV2Unsupported, ErrUnsupported)
		}
		optInt(m.Limit, func(v string) { add("memory.max", v2Max(v)) })
		optInt(m.Reservation, func(v string) { add("memory.low", v2Max(v)) })
		if m.Swap != nil {
			// OCI swap is memory+swap (the v1 memsw limit); v2 limits swap alone.
			swap := "max"
			if *m.Swap >= 0 && m.Limit != nil && *m.Limit >= 0 {
				swap = strconv.FormatInt(max(*m.Swap-*m.Limit, 0), 10)
			}
			add("memory.swap.max", swap)
		}
	}
	if r.Pids != nil {
		add("pids.max", pidsMax(r.Pids.Limit))
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares > 0 {
			// cpu.shares 2..262144 onto cpu.weight 1..10000.
			add("cpu.weight", strconv.FormatUint(1+((*c.Shares-2)*9999)/262142, 10))
		}
		if c.Quota != nil || c.Period != nil {
			quota, period := "max", uint64(cpuPeriod)
			if c.Quota != nil && *c.Quota > 0 {
				quota = strconv.FormatInt(*c.Quota, 10)
			}
			if c.Period != nil && *c.Period > 0 {
				period = *c.Period
			}
			add("cpu.max", quota+" "+strconv.FormatUint(period, 10))
		}
		if c.Cpus != "" {
			add("cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			add("cpuset.mems", c.Mems)
		}
	}
	return w, nil
}

// cgroupWrite is one value for one control file.
type cgroupWrite struct{ file, value string }

// v2Max turns the OCI "unlimited" (-1) into v2's "max".
func v2Max(v string) string {
	if strings.HasPrefix(v, "-") {
		return "max"
	}
	return v
}
