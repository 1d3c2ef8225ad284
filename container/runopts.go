package container

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cpuPeriod is the CFS period --cpus is expressed against (100 ms, the
// kernel's default cpu.cfs_period_us).
const cpuPeriod = 100000

// RunOptions are the docker-style choices of `gvmm container run`, turned
// into an OCI spec by Spec.
type RunOptions struct {
	// Dir is a bundle (with config.json) or a bare root file system.
	Dir string
	// Args replace the bundle's process.args; required for a bare rootfs.
	Args []string
	// Terminal gives the workload a pty (-t).
	Terminal bool
	// Env adds KEY=VALUE entries.
	Env []string
	// Hostname replaces the spec's host name when not empty.
	Hostname string
	// Memory is a limit like "64m"; empty for none.
	Memory string
	// Pids limits the number of processes; 0 for none.
	Pids int64
	// CPUs limits CPU time in CPUs (0.5 = half of one); 0 for none.
	CPUs float64
}

// Spec builds the configuration: the bundle's config.json, or DefaultSpec
// for a bare root file system, with the options applied.
func (o RunOptions) Spec() (*specs.Spec, error) {
	var spec *specs.Spec
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s: %w (give an unpacked root directory or an OCI bundle)", o.Dir, ErrNoRootfs)
	}
	if IsBundle(o.Dir) {
		var err error
		if spec, err = LoadBundle(o.Dir); err != nil {
			return nil, err
		}
		if len(o.Args) > 0 {
			spec.Process.Args = o.Args
		}
	} else {
		if len(o.Args) == 0 {
			return nil, fmt.Errorf("%s is a root file system: give the command after --: %w", o.Dir, ErrBadSpec)
		}
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			return nil, err
		}
		spec = DefaultSpec(abs, o.Args)
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("config: process is missing: %w", ErrBadSpec)
	}
	if o.Terminal {
		spec.Process.Terminal = true
	}
	spec.Process.Env = append(spec.Process.Env, o.Env...)
	if o.Hostname != "" {
		spec.Hostname = o.Hostname
	}
	return spec, o.applyResources(spec)
}

func (o RunOptions) applyResources(spec *specs.Spec) error {
	if spec.Linux == nil {
		return fmt.Errorf("config: linux section is missing: %w", ErrBadSpec)
	}
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	r := spec.Linux.Resources
	if o.Memory != "" {
		m, err := ParseMemory(o.Memory)
		if err != nil {
			return err
		}
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if o.Pids < 0 {
		return fmt.Errorf("--pids %d: give a positive number: %w", o.Pids, ErrBadSpec)
	}
	if o.Pids > 0 {
		r.Pids = &specs.LinuxPids{Limit: &o.Pids}
	}
	if o.CPUs < 0 {
		return fmt.Errorf("--cpus %g: give a positive number: %w", o.CPUs, ErrBadSpec)
	}
	if o.CPUs > 0 {
		quota, period := int64(o.CPUs*cpuPeriod), uint64(cpuPeriod)
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		r.CPU.Quota, r.CPU.Period = &quota, &period
	}
	return nil
}
