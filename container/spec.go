package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigFile is the name of a bundle's configuration (OCI runtime spec,
// bundle.md: "config.json ... MUST be located in the root of the bundle").
const ConfigFile = "config.json"

// defaultPath is the PATH a container gets when the caller gives none; it is
// the one `runc spec` writes.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultCapabilities is the capability set a container keeps when the
// caller does not choose one: Docker's default set. It leaves out
// CAP_SYS_ADMIN (mount, sethostname, pivot_root), CAP_SYS_MODULE,
// CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_NET_ADMIN and the rest.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultMaskedPaths are hidden from the container: files are covered with
// /dev/null, directories with an empty read-only tmpfs. The list is the one
// `runc spec` writes, plus /sys/devices/virtual/powercap (CVE-2020-8694).
var DefaultMaskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	"/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are bind-mounted read-only over themselves.
var DefaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultSpec returns the configuration used to run args in the root file
// system directory rootfs: the same shape `runc spec` writes (five
// namespaces, /proc, a tmpfs /dev with pts, shm and mqueue, a read-only
// /sys), with Docker's default capabilities and no_new_privs.
func DefaultSpec(rootfs string, args []string) *specs.Spec {
	caps := append([]string(nil), DefaultCapabilities...)
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: append([]string(nil), args...),
			Env:  []string{defaultPath, "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: rootfs},
		Hostname: "gvmm",
		Mounts:   defaultMounts(),
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			Seccomp:       DefaultSeccomp(),
			MaskedPaths:   append([]string(nil), DefaultMaskedPaths...),
			ReadonlyPaths: append([]string(nil), DefaultReadonlyPaths...),
		},
	}
}

// defaultMounts are the mounts of `runc spec` minus the cgroup file system,
// which a container only gets when its bundle asks for it.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
			Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs",
			Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

// LoadBundle reads dir/config.json and returns the spec with Root.Path made
// absolute (bundle.md: a relative root path is relative to the bundle).
func LoadBundle(dir string) (*specs.Spec, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: parse %s: %w (%w)", dir, ConfigFile, err, ErrBadSpec)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, fmt.Errorf("bundle %s: root.path is missing: %w", dir, ErrBadSpec)
	}
	if !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(abs, spec.Root.Path)
	}
	return spec, nil
}

// IsBundle reports whether dir holds a config.json, i.e. is an OCI bundle
// rather than a bare root file system.
func IsBundle(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}

// Sentinel errors callers test with errors.Is.
var (
	// ErrBadSpec means the configuration is malformed.
	ErrBadSpec = errors.New("invalid container configuration")
	// ErrUnsupported means the configuration asks for a feature gvmm does
	// not implement.
	ErrUnsupported = errors.New("not supported by gvmm")
	// ErrNoRootfs means the root file system directory does not exist.
	ErrNoRootfs = errors.New("root file system not found")
	// ErrNotFound means the command is not in the container's root file system.
	ErrNotFound = errors.New("command not found in the root file system")
	// ErrNameInUse means another container already has that name.
	ErrNameInUse = errors.New("container name already in use")
	// ErrAddressInUse means another container has the link asked for.
	ErrAddressInUse = errors.New("container address already in use")
	// ErrNoContainer means no container has that name or id.
	ErrNoContainer = errors.New("no such container")
	// ErrRunning means the operation needs a stopped container.
	ErrRunning = errors.New("container is running")
	// ErrBadMemory means a memory size could not be parsed.
	ErrBadMemory = errors.New("invalid memory size")
)
