package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// supportedNamespaces maps the namespace types gvmm can create to whether a
// container may run without them.
var supportedNamespaces = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true,
}

// Validate checks that spec asks only for what gvmm implements, and that
// what it asks for is well formed. Each error names the field and says how
// to fix it; all wrap ErrBadSpec, ErrUnsupported or ErrNoRootfs.
func Validate(spec *specs.Spec) error {
	if spec == nil || spec.Process == nil {
		return fmt.Errorf("config: process is missing: %w", ErrBadSpec)
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return fmt.Errorf("config: ociVersion %q: only 1.x is supported: %w", spec.Version, ErrUnsupported)
	}
	if err := validateRoot(spec.Root); err != nil {
		return err
	}
	if err := validateProcess(spec.Process); err != nil {
		return err
	}
	//lint:ignore SA1019 a bundle may still carry the deprecated prestart hooks; they must be refused too
	if spec.Hooks != nil && (len(spec.Hooks.Prestart)+len(spec.Hooks.CreateRuntime)+
		len(spec.Hooks.CreateContainer)+len(spec.Hooks.StartContainer)+
		len(spec.Hooks.Poststart)+len(spec.Hooks.Poststop) > 0) {
		return fmt.Errorf("config: hooks: remove them, gvmm runs no hooks: %w", ErrUnsupported)
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("config: mount destination %q must be absolute: %w", m.Destination, ErrBadSpec)
		}
		if len(m.UIDMappings)+len(m.GIDMappings) > 0 {
			return fmt.Errorf("config: mount %s: id-mapped mounts: %w", m.Destination, ErrUnsupported)
		}
	}
	if spec.Linux == nil {
		return fmt.Errorf("config: linux section is missing: %w", ErrBadSpec)
	}
	return validateLinux(spec.Linux)
}

func validateRoot(root *specs.Root) error {
	if root == nil || root.Path == "" {
		return fmt.Errorf("config: root.path is missing: %w", ErrBadSpec)
	}
	st, err := os.Stat(root.Path)
	if err != nil {
		return fmt.Errorf("root file system %s: %w (give an unpacked root directory)", root.Path, ErrNoRootfs)
	}
	if !st.IsDir() {
		return fmt.Errorf("root file system %s is not a directory: %w", root.Path, ErrNoRootfs)
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return fmt.Errorf("config: process.args is empty: give a command: %w", ErrBadSpec)
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("config: process.cwd %q must be absolute: %w", p.Cwd, ErrBadSpec)
	}
	if p.ApparmorProfile != "" || p.SelinuxLabel != "" {
		return fmt.Errorf("config: process apparmorProfile/selinuxLabel: remove them: %w", ErrUnsupported)
	}
	if p.CommandLine != "" || p.IOPriority != nil || p.Scheduler != nil || p.ExecCPUAffinity != nil {
		return fmt.Errorf("config: process commandLine/ioPriority/scheduler/execCPUAffinity: %w", ErrUnsupported)
	}
	if p.User.Username != "" {
		return fmt.Errorf("config: process.user.username: give numeric uid/gid instead: %w", ErrUnsupported)
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimitByName[r.Type]; !ok {
			return fmt.Errorf("config: rlimit %q is unknown: %w", r.Type, ErrBadSpec)
		}
	}
	if c := p.Capabilities; c != nil {
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			if _, err := capabilityMask(set); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateLinux(l *specs.Linux) error {
	for _, ns := range l.Namespaces {
		if !supportedNamespaces[ns.Type] {
			return fmt.Errorf("config: namespace %q: %w", ns.Type, ErrUnsupported)
		}
		if ns.Path != "" {
			return fmt.Errorf("config: namespace %s path %s: joining an existing namespace: %w", ns.Type, ns.Path, ErrUnsupported)
		}
	}
	if len(l.Devices) > 0 {
		return fmt.Errorf("config: linux.devices: gvmm creates only the default /dev: %w", ErrUnsupported)
	}
	if l.Seccomp != nil {
		if _, err := assembleSeccomp(l.Seccomp); err != nil {
			return err
		}
	}
	if err := validateResources(l.Resources); err != nil {
		return err
	}
	for key := range l.Sysctl {
		if err := validateSysctl(l, key); err != nil {
			return err
		}
	}
	if l.IntelRdt != nil || l.Personality != nil || l.MountLabel != "" || len(l.NetDevices) > 0 {
		return fmt.Errorf("config: linux.intelRdt/personality/mountLabel/netDevices: %w", ErrUnsupported)
	}
	switch l.RootfsPropagation {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
	default:
		return fmt.Errorf("config: rootfsPropagation %q is unknown: %w", l.RootfsPropagation, ErrBadSpec)
	}
	if hasNamespace(l, specs.UserNamespace) && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return fmt.Errorf("config: a user namespace needs linux.uidMappings and gidMappings: %w", ErrBadSpec)
	}
	return nil
}

// hasNamespace reports whether l asks for a new namespace of type t.
func hasNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	if l == nil {
		return false
	}
	for _, ns := range l.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// validateResources refuses the linux.resources fields gvmm's cgroup layer
// does not implement, rather than ignoring a limit the user relies on, and
// malformed device rules.
func validateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	unsupported := ""
	switch {
	case r.BlockIO != nil:
		unsupported = "blockIO"
	case len(r.HugepageLimits) > 0:
		unsupported = "hugepageLimits"
	case r.Network != nil:
		unsupported = "network"
	case len(r.Rdma) > 0:
		unsupported = "rdma"
	case len(r.Unified) > 0:
		unsupported = "unified"
	//lint:ignore SA1019 a bundle may still set the deprecated kernel memory limit; it must be refused
	case r.Memory != nil && (r.Memory.Kernel != nil || r.Memory.KernelTCP != nil || r.Memory.UseHierarchy != nil || r.Memory.CheckBeforeUpdate != nil):
		unsupported = "memory.kernel/kernelTCP/useHierarchy/checkBeforeUpdate"
	case r.CPU != nil && (r.CPU.RealtimeRuntime != nil || r.CPU.RealtimePeriod != nil || r.CPU.Idle != nil || r.CPU.Burst != nil):
		unsupported = "cpu.realtime*/idle/burst"
	}
	if unsupported != "" {
		return fmt.Errorf("config: linux.resources.%s: remove it, gvmm limits memory, pids, cpu, cpuset and devices only: %w", unsupported, ErrUnsupported)
	}
	if _, err := deviceProgram(r.Devices); err != nil {
		return err
	}
	return nil
}

// ipcSysctl reports whether key is one of the System V IPC sysctls an IPC
// namespace has copies of (ipc_namespaces(7)); fs.mqueue.* are its POSIX
// message queue ones. A switch, not a map: nothing built at start.
func ipcSysctl(key string) bool {
	switch key {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return strings.HasPrefix(key, "fs.mqueue.")
}

// validateSysctl accepts a linux.sysctl key only when the container has
// its own copy of it: init writes the keys to /proc/sys with every
// capability still held, so a global one (kernel.core_pattern,
// kernel.modprobe, vm.*) would change the host, and core_pattern runs a
// program of the container's choosing as host root. The same list as
// runc's: IPC ones with an IPC namespace, hostname and domainname with a
// UTS namespace, net.* with a network namespace. The key is also a path
// under /proc/sys, so it must be plain words: no "..", no empty parts.
func validateSysctl(l *specs.Linux, key string) error {
	dotted := strings.ReplaceAll(key, "/", ".")
	for _, part := range strings.Split(dotted, ".") {
		if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			return fmt.Errorf("config: sysctl %q: give a name such as net.ipv4.ip_forward: %w", key, ErrBadSpec)
		}
	}
	var ns specs.LinuxNamespaceType
	switch {
	case ipcSysctl(dotted):
		ns = specs.IPCNamespace
	case dotted == "kernel.hostname" || dotted == "kernel.domainname": // uts_namespaces(7)
		ns = specs.UTSNamespace
	case strings.HasPrefix(dotted, "net."):
		ns = specs.NetworkNamespace
	default:
		return fmt.Errorf("config: sysctl %q is not namespaced, so it would change the host: remove it: %w", key, ErrUnsupported)
	}
	if !hasNamespace(l, ns) {
		return fmt.Errorf("config: sysctl %q needs a %s namespace (add it to linux.namespaces): %w", key, ns, ErrUnsupported)
	}
	return nil
}

// maxNameLen bounds a container name, as the longest a state file or a
// terminal line should carry.
const maxNameLen = 128

// validName checks a --name the way Docker does ([a-zA-Z0-9][a-zA-Z0-9_.-]*):
// a name is printed by ps, matched by every command that takes a
// container, and must never be read as a path ("../x"), an option
// ("-x") or two words. Empty means no name.
func validName(name string) error {
	if name == "" {
		return nil
	}
	ok := len(name) <= maxNameLen
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("--name %q: give letters, digits, '_', '.' or '-', starting with a letter or digit, at most %d: %w",
			name, maxNameLen, ErrBadSpec)
	}
	return nil
}
