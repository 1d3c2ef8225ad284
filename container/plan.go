package container

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gvmm/container/nsinit"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimitByName maps the OCI names (config.md "POSIX process") to getrlimit(2)
// resources.
var rlimitByName = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// buildPlan turns a validated spec into init's plan: every decision that
// needs the spec (mount options, capability names, the seccomp profile,
// which file a bind mount binds) is taken here, in the runtime, so that
// init only performs system calls. cgroupDirs are the container's v1
// cgroup directories for a "cgroup" mount (nil on v2).
func buildPlan(spec *specs.Spec, cgroupDirs map[string]string) (*nsinit.Plan, error) {
	l, proc := spec.Linux, spec.Process
	p := &nsinit.Plan{
		CgroupNS:        hasNamespace(l, specs.CgroupNamespace),
		LoopbackUp:      hasNamespace(l, specs.NetworkNamespace),
		RootPropagation: unix.MS_PRIVATE | unix.MS_REC,
		Rootfs:          spec.Root.Path,
		MaskedPaths:     l.MaskedPaths,
		ReadonlyPaths:   l.ReadonlyPaths,
		ReadonlyRoot:    spec.Root.Readonly,
		Hostname:        spec.Hostname,
		SetHostname:     hasNamespace(l, specs.UTSNamespace) && spec.Hostname != "",
		Terminal:        proc.Terminal,
		Args:            proc.Args,
		Env:             append(append([]string(nil), proc.Env...), ReadyEnv+"="+strconv.Itoa(nsinit.ReadyFD)),
		Cwd:             proc.Cwd,
		NoNewPrivileges: proc.NoNewPrivileges,
	}
	if prop, ok := propagationFlags[l.RootfsPropagation]; ok {
		p.RootPropagation = uint64(prop)
	}
	for _, m := range spec.Mounts {
		steps, err := mountSteps(m, cgroupDirs)
		if err != nil {
			return nil, err
		}
		p.Mounts = append(p.Mounts, steps...)
		if filepath.Clean(m.Destination) == "/dev" && m.Type == "tmpfs" {
			p.SetupDev = true
		}
	}
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Sysctl = append(p.Sysctl, [2]string{k, l.Sysctl[k]})
	}
	if proc.ConsoleSize != nil {
		p.ConsoleRows, p.ConsoleCols = uint16(proc.ConsoleSize.Height), uint16(proc.ConsoleSize.Width)
	}
	for _, r := range proc.Rlimits {
		p.Rlimits = append(p.Rlimits, nsinit.Rlimit{Resource: rlimitByName[r.Type], Soft: r.Soft, Hard: r.Hard})
	}
	u := proc.User
	p.User = nsinit.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
	if u.Umask != nil {
		p.User.Umask, p.User.HasUmask = *u.Umask, true
	}
	var err error
	if p.Caps, err = decodeCaps(proc.Capabilities); err != nil {
		return nil, err
	}
	if p.Seccomp, err = assembleSeccomp(l.Seccomp); err != nil {
		return nil, err
	}
	return p, nil
}

// mountSteps expands one entry of config.json "mounts" into init's steps.
func mountSteps(m specs.Mount, cgroupDirs map[string]string) ([]nsinit.Mount, error) {
	p := parseMountOptions(m.Options)
	if m.Type == "bind" {
		p.flags |= unix.MS_BIND
	}
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return cgroupMountSteps(m, p, cgroupDirs), nil
	}
	step := nsinit.Mount{Source: m.Source, Destination: m.Destination, Type: m.Type,
		Flags: uint64(p.flags), Data: p.data, Propagation: uint64(p.propagation)}
	if p.flags&unix.MS_BIND == 0 {
		return []nsinit.Mount{step}, nil
	}
	// A file is bound onto a file, a directory onto a directory: the
	// source decides which mount point init creates.
	st, err := os.Stat(m.Source)
	if err != nil {
		return nil, fmt.Errorf("bind mount source %s: %w", m.Source, err)
	}
	step.File = !st.IsDir()
	step.Type, step.Data = "", ""
	step.Flags = uint64(p.flags & (unix.MS_BIND | unix.MS_REC))
	// mount(2): flags other than MS_REC are ignored on a bind; they take
	// effect through a remount of the new mount.
	if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
		step.Remount = uint64(rest | unix.MS_BIND)
	}
	return []nsinit.Mount{step}, nil
}

// cgroupMountSteps gives the container its cgroups at m.Destination. On a
// unified (v2) host that is a cgroup2 mount, which shows the container's
// own group when it has a cgroup namespace. On a v1 or hybrid host it is a
// tmpfs holding one bind mount per controller of the container's own
// directories (what runc does), so the container never sees its siblings.
func cgroupMountSteps(m specs.Mount, p parsedMount, dirs map[string]string) []nsinit.Mount {
	ro := p.flags & unix.MS_RDONLY
	base := p.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY)
	if dirs == nil {
		return []nsinit.Mount{{Source: "cgroup2", Destination: m.Destination, Type: "cgroup2", Flags: uint64(base | ro)}}
	}
	steps := []nsinit.Mount{{Source: "tmpfs", Destination: m.Destination, Type: "tmpfs", Flags: uint64(base), Data: "mode=755"}}
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		steps = append(steps, nsinit.Mount{Source: dirs[name], Destination: filepath.Join(m.Destination, name),
			Flags: unix.MS_BIND, Remount: uint64(base | ro | unix.MS_BIND)})
	}
	if ro != 0 {
		steps = append(steps, nsinit.Mount{Kind: nsinit.KindRemount, Destination: m.Destination,
			Flags: uint64(base | unix.MS_RDONLY)})
	}
	return steps
}
