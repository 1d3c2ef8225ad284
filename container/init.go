package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The init process finds these descriptors where the runtime put them
// (exec.Cmd.ExtraFiles start at 3).
const (
	// readyFD is the write end of the READY pipe; it is the only one the
	// container's process keeps, and GVMM_READY_FD names it.
	readyFD = 3
	// configFD is the read end of the pipe the runtime writes initConfig
	// to; EOF after the JSON is also the signal that the cgroup and the
	// network are in place.
	configFD = 4
	// errorFD is the write end of the error pipe. It is close-on-exec, so
	// the runtime reads EOF and nothing else when the exec succeeded.
	errorFD = 5
	// consoleFD is a socket on which init sends the pty master (-t only).
	consoleFD = 6
)

// ReadyEnv is the environment variable that tells the workload which fd
// to write the READY byte to (the READY protocol).
const ReadyEnv = "GVMM_READY_FD"

// initArg is the argument that tells a gvmm binary to act as a container's
// init (see IsInit).
const initArg = "__gvmm_container_init"

// InitArgs are the arguments after the program name with which the runtime
// starts init: `gvmm container __gvmm_container_init`. A program that
// starts containers must call Init when it sees them (IsInit).
var InitArgs = []string{"container", initArg}

// IsInit reports whether args (os.Args[1:]) are InitArgs.
func IsInit(args []string) bool {
	return len(args) == len(InitArgs) && args[0] == InitArgs[0] && args[1] == InitArgs[1]
}

// initConfig is what the runtime tells init.
type initConfig struct {
	Spec *specs.Spec `json:"spec"`
	// CgroupDirs maps v1 controller names to the container's directories,
	// for a "cgroup" mount; nil on a unified (v2) host.
	CgroupDirs map[string]string `json:"cgroupDirs,omitempty"`
}

// initError is what init reports on the error pipe.
type initError struct {
	NotFound bool   `json:"notFound,omitempty"`
	Message  string `json:"message"`
}

// Init is the container's first process, started by the runtime inside the
// new namespaces. It builds the root file system, drops privileges and
// executes the workload. It returns only on failure, with the exit code.
func Init() int {
	// Credentials, capabilities, seccomp and the parent-death signal are
	// per thread in Linux; the final execve runs on this same thread, so
	// the workload inherits exactly what was set here.
	runtime.LockOSThread()
	err := initContainer()
	e := initError{Message: err.Error(), NotFound: errors.Is(err, ErrNotFound)}
	msg, _ := json.Marshal(e)
	f := os.NewFile(errorFD, "error-pipe")
	_, _ = f.Write(msg)
	return 1
}

func initContainer() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	unix.CloseOnExec(errorFD)
	cfg, err := readInitConfig()
	if err != nil {
		return err
	}
	spec := cfg.Spec
	if hasNamespace(spec.Linux, specs.CgroupNamespace) {
		// Unshared only now, after the runtime moved us into the
		// container's cgroup, so that cgroup becomes the namespace root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("cgroup namespace: %w", err)
		}
	}
	if hasNamespace(spec.Linux, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := setupRootfs(spec, cfg.CgroupDirs); err != nil {
		return err
	}
	if hasNamespace(spec.Linux, specs.UTSNamespace) && spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if spec.Process.Terminal {
		if err := setupConsole(spec.Process.ConsoleSize); err != nil {
			return err
		}
	}
	return execProcess(spec)
}

func readInitConfig() (*initConfig, error) {
	f := os.NewFile(configFD, "config-pipe")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read init config: %w", err)
	}
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Spec == nil || cfg.Spec.Process == nil {
		return nil, fmt.Errorf("init config: runtime gone or config broken (%d bytes)", len(data))
	}
	return &cfg, nil
}

// setupRootfs mounts everything the spec asks for under the root file
// system and then pivots into it.
func setupRootfs(spec *specs.Spec, cgroupDirs map[string]string) error {
	prop := uintptr(unix.MS_PRIVATE | unix.MS_REC)
	if p, ok := propagationFlags[spec.Linux.RootfsPropagation]; ok {
		prop = p
	}
	// Nothing mounted below may leak back to the host.
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("make / %s: %w", spec.Linux.RootfsPropagation, err)
	}
	rootfs := spec.Root.Path
	// pivot_root(2) needs the new root to be a mount point.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind root file system %s: %w", rootfs, err)
	}
	rootfd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	devIsTmpfs := false
	for _, m := range spec.Mounts {
		if err := mountSpec(rootfd, m, cgroupDirs); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && m.Type == "tmpfs" {
			devIsTmpfs = true
		}
	}
	if devIsTmpfs {
		if err := setupDev(rootfd); err != nil {
			return err
		}
	}
	if err := pivotRoot(rootfs); err != nil {
		return err
	}
	// /proc/sys is still writable here; readonlyPaths closes it next.
	if err := applySysctl(spec.Linux.Sysctl); err != nil {
		return err
	}
	if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
		return err
	}
	if err := readonlyPaths(spec.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if spec.Root.Readonly {
		if err := remount("/", unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	return nil
}

// applySysctl writes linux.sysctl through the container's own /proc/sys.
// Only namespaced keys (net.*, kernel.shm*, kernel.msg*, kernel.sem,
// fs.mqueue.*) can be set this way; the kernel refuses the others.
func applySysctl(sysctl map[string]string) error {
	for k, v := range sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(path, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}
