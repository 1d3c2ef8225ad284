package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
// init only performs system calls. cg is the container's own cgroup, what
// a "cgroup" mount may show. readyPipe tells that the workload gets the
// runtime's READY pipe, named in its environment (ReadyEnv); without it
// (--preserve-fds) the environment is the spec's alone.
func buildPlan(spec *specs.Spec, cg cgroupView, readyPipe bool) (*nsinit.Plan, error) {
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
		Env:             append([]string(nil), proc.Env...),
		Cwd:             proc.Cwd,
		NoNewPrivileges: proc.NoNewPrivileges,
	}
	if readyPipe {
		p.Env = append(p.Env, ReadyEnv+"="+strconv.Itoa(nsinit.ReadyFD))
	}
	if prop, ok := propagationFlags[l.RootfsPropagation]; ok {
		p.RootPropagation = uint64(prop)
	}
	for _, m := range spec.Mounts {
		// Init walks a destination component by component inside the
		// root; a clean path has no "..", which each init would
		// otherwise resolve its own way (both stay in the root).
		m.Destination = filepath.Clean(m.Destination)
		steps, err := mountSteps(m, cg, hasNamespace(l, specs.CgroupNamespace))
		if err != nil {
			return nil, err
		}
		p.Mounts = append(p.Mounts, steps...)
		if m.Destination == "/dev" && m.Type == "tmpfs" {
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

// cgroupView is a container's own cgroup as a "cgroup" mount shows it:
// on a v1 or hybrid host each joined controller's directory, on a unified
// host the group's one directory.
type cgroupView struct {
	v1 map[string]string
	v2 string
}

// mountSteps expands one entry of config.json "mounts" into init's steps.
// cgroupNS says whether the container has a cgroup namespace.
func mountSteps(m specs.Mount, cg cgroupView, cgroupNS bool) ([]nsinit.Mount, error) {
	p := parseMountOptions(m.Options)
	if m.Type == "bind" {
		p.flags |= unix.MS_BIND
	}
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return cgroupMountSteps(m, p, cg, cgroupNS)
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

// cgroupMountSteps gives the container its own cgroups at m.Destination,
// never the host's tree, and read-only unless the options say "rw" (a
// writable cgroup file system lets the container raise its own limits).
//   - On a unified (v2) host with a cgroup namespace, a cgroup2 mount: the
//     kernel roots it at the namespace's root, the container's group.
//   - On a unified host without one, a cgroup2 mount would show the host's
//     root group, so the container's directory is bound there instead.
//   - On a v1 or hybrid host, a tmpfs holding one bind mount per joined
//     controller of the container's own directories (what runc does), so
//     the container never sees its siblings.
func cgroupMountSteps(m specs.Mount, p parsedMount, cg cgroupView, cgroupNS bool) ([]nsinit.Mount, error) {
	ro := uint64(unix.MS_RDONLY)
	if slices.Contains(m.Options, "rw") && !slices.Contains(m.Options, "ro") {
		ro = 0
	}
	base := uint64(p.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY))
	if cg.v1 == nil {
		if cgroupNS {
			return []nsinit.Mount{{Source: "cgroup2", Destination: m.Destination, Type: "cgroup2", Flags: base | ro}}, nil
		}
		if cg.v2 == "" {
			return nil, fmt.Errorf("config: mount %s: the container has no cgroup of its own to show: %w", m.Destination, ErrUnsupported)
		}
		return []nsinit.Mount{{Source: cg.v2, Destination: m.Destination,
			Flags: unix.MS_BIND, Remount: base | ro | unix.MS_BIND}}, nil
	}
	steps := []nsinit.Mount{{Source: "tmpfs", Destination: m.Destination, Type: "tmpfs", Flags: base, Data: "mode=755"}}
	names := make([]string, 0, len(cg.v1))
	for name := range cg.v1 {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		steps = append(steps, nsinit.Mount{Source: cg.v1[name], Destination: filepath.Join(m.Destination, name),
			Flags: unix.MS_BIND, Remount: base | ro | unix.MS_BIND})
	}
	if ro != 0 {
		steps = append(steps, nsinit.Mount{Kind: nsinit.KindRemount, Destination: m.Destination,
			Flags: base | unix.MS_RDONLY})
	}
	return steps, nil
}
