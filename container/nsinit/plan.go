package nsinit

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// PlanVersion changes whenever the plan's encoding does. Init refuses a
// plan of another version, which is what a gvmm-init left over from an
// older build would receive.
const PlanVersion = 1

// planMagic starts every plan, so that garbage on the pipe is recognized
// as such rather than decoded.
const planMagic = "gvmm-plan"

// Plan is everything init does, in the order it does it.
type Plan struct {
	// CgroupNS unshares the cgroup namespace (the runtime has already
	// moved init into its cgroup, which thereby becomes the root).
	CgroupNS bool
	// LoopbackUp brings lo up in the new network namespace.
	LoopbackUp bool
	// RootPropagation is applied to / recursively before any mount, so
	// nothing mounted later propagates to the host (MS_PRIVATE|MS_REC by
	// default, or the spec's rootfsPropagation).
	RootPropagation uint64
	// Rootfs is the host path of the root file system.
	Rootfs string
	// Mounts are performed in order under Rootfs before the pivot.
	Mounts []Mount
	// SetupDev fills the fresh /dev tmpfs with the default devices.
	SetupDev bool
	// Sysctl are written to /proc/sys after the pivot, as key/value pairs.
	Sysctl [][2]string
	// MaskedPaths are hidden, ReadonlyPaths remounted read-only.
	MaskedPaths, ReadonlyPaths []string
	// ReadonlyRoot remounts / read-only last.
	ReadonlyRoot bool
	// Hostname is set when SetHostname is true (a UTS namespace).
	Hostname    string
	SetHostname bool
	// Terminal creates a pty inside the container and sends its master to
	// the runtime; ConsoleRows/Cols give its size when not zero.
	Terminal                 bool
	ConsoleRows, ConsoleCols uint16
	// Rlimits are set before the exec.
	Rlimits []Rlimit
	// Args, Env and Cwd describe the workload; Args[0] is looked up in
	// the PATH of Env inside the container.
	Args, Env []string
	Cwd       string
	// User is who the workload runs as.
	User User
	// Caps are the capability sets the workload keeps.
	Caps Caps
	// NoNewPrivileges sets no_new_privs before the exec.
	NoNewPrivileges bool
	// Seccomp is the assembled classic-BPF filter; empty for none.
	Seccomp []unix.SockFilter
}

// MountKind says what one Mount step does.
type MountKind uint8

const (
	// KindMount is mount(Source, Destination, Type, Flags, Data).
	KindMount MountKind = iota
	// KindRemount only changes the flags of the mount at Destination.
	KindRemount
)

// Mount is one step of building the root file system. Destination is
// resolved inside the root (openat2 RESOLVE_IN_ROOT) and created if
// missing: an empty file when File is set, else a directory.
type Mount struct {
	Kind        MountKind
	Source      string
	Destination string
	Type        string
	Flags       uint64
	Data        string
	File        bool
	// Remount, when not zero, is applied with MS_REMOUNT right after the
	// mount (a bind mount ignores every flag but MS_REC: mount(2)).
	Remount uint64
	// Propagation, when not zero, is set by a further mount(2) call.
	Propagation uint64
}

// Rlimit is one setrlimit(2) call.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// User is the workload's identity (config.md "User").
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	// Umask is set when HasUmask is true.
	Umask    uint32
	HasUmask bool
}

// Caps are 64-bit capability masks (bit n is capability n).
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Encode returns the plan's wire form.
func (p *Plan) Encode() []byte {
	e := &encoder{}
	e.str(planMagic)
	e.u64(PlanVersion)
	e.bool(p.CgroupNS)
	e.bool(p.LoopbackUp)
	e.u64(p.RootPropagation)
	e.str(p.Rootfs)
	e.u64(uint64(len(p.Mounts)))
	for _, m := range p.Mounts {
		e.u64(uint64(m.Kind))
		e.str(m.Source)
		e.str(m.Destination)
		e.str(m.Type)
		e.u64(m.Flags)
		e.str(m.Data)
		e.bool(m.File)
		e.u64(m.Remount)
		e.u64(m.Propagation)
	}
	e.bool(p.SetupDev)
	e.u64(uint64(len(p.Sysctl)))
	for _, kv := range p.Sysctl {
		e.str(kv[0])
		e.str(kv[1])
	}
	e.strs(p.MaskedPaths)
	e.strs(p.ReadonlyPaths)
	e.bool(p.ReadonlyRoot)
	e.str(p.Hostname)
	e.bool(p.SetHostname)
	e.bool(p.Terminal)
	e.u64(uint64(p.ConsoleRows))
	e.u64(uint64(p.ConsoleCols))
	e.u64(uint64(len(p.Rlimits)))
	for _, r := range p.Rlimits {
		e.u64(uint64(r.Resource))
		e.u64(r.Soft)
		e.u64(r.Hard)
	}
	e.strs(p.Args)
	e.strs(p.Env)
	e.str(p.Cwd)
	e.u64(uint64(p.User.UID))
	e.u64(uint64(p.User.GID))
	e.u64(uint64(len(p.User.AdditionalGids)))
	for _, g := range p.User.AdditionalGids {
		e.u64(uint64(g))
	}
	e.u64(uint64(p.User.Umask))
	e.bool(p.User.HasUmask)
	for _, c := range []uint64{p.Caps.Bounding, p.Caps.Effective, p.Caps.Permitted, p.Caps.Inheritable, p.Caps.Ambient} {
		e.u64(c)
	}
	e.bool(p.NoNewPrivileges)
	e.u64(uint64(len(p.Seccomp)))
	for _, f := range p.Seccomp {
		e.u64(uint64(f.Code))
		e.u64(uint64(f.Jt))
		e.u64(uint64(f.Jf))
		e.u64(uint64(f.K))
	}
	return e.buf
}

// ErrVersion means the plan was written for another PlanVersion: gvmm and
// gvmm-init come from different builds.
var ErrVersion = errors.New("gvmm-init and gvmm come from different builds: install both from the same source (make gvmm)")

// Decode parses a plan written by Encode.
func Decode(data []byte) (*Plan, error) {
	d := &decoder{buf: data}
	if d.str() != planMagic || d.err != nil {
		return nil, errors.New("plan: not a gvmm plan (runtime gone?)")
	}
	if v := d.u64(); v != PlanVersion {
		return nil, errors.New("plan version " + strconv.FormatUint(v, 10) + ", this init reads " +
			strconv.Itoa(PlanVersion) + ": " + ErrVersion.Error())
	}
	p := &Plan{}
	p.CgroupNS = d.bool()
	p.LoopbackUp = d.bool()
	p.RootPropagation = d.u64()
	p.Rootfs = d.str()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Mounts = append(p.Mounts, Mount{Kind: MountKind(d.u64()), Source: d.str(), Destination: d.str(),
			Type: d.str(), Flags: d.u64(), Data: d.str(), File: d.bool(), Remount: d.u64(), Propagation: d.u64()})
	}
	p.SetupDev = d.bool()
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Sysctl = append(p.Sysctl, [2]string{d.str(), d.str()})
	}
	p.MaskedPaths = d.strs()
	p.ReadonlyPaths = d.strs()
	p.ReadonlyRoot = d.bool()
	p.Hostname = d.str()
	p.SetHostname = d.bool()
	p.Terminal = d.bool()
	p.ConsoleRows = uint16(d.u64())
	p.ConsoleCols = uint16(d.u64())
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Rlimits = append(p.Rlimits, Rlimit{Resource: int(d.u64()), Soft: d.u64(), Hard: d.u64()})
	}
	p.Args = d.strs()
	p.Env = d.strs()
	p.Cwd = d.str()
	p.User.UID = uint32(d.u64())
	p.User.GID = uint32(d.u64())
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(d.u64()))
	}
	p.User.Umask = uint32(d.u64())
	p.User.HasUmask = d.bool()
	for _, c := range []*uint64{&p.Caps.Bounding, &p.Caps.Effective, &p.Caps.Permitted, &p.Caps.Inheritable, &p.Caps.Ambient} {
		*c = d.u64()
	}
	p.NoNewPrivileges = d.bool()
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Seccomp = append(p.Seccomp, unix.SockFilter{Code: uint16(d.u64()), Jt: uint8(d.u64()),
			Jf: uint8(d.u64()), K: uint32(d.u64())})
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, errors.New("plan: " + strconv.Itoa(len(d.buf)) + " bytes of trailing garbage")
	}
	if len(p.Args) == 0 {
		return nil, errors.New("plan: no command")
	}
	return p, nil
}
