package harness

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"gvmm/bench/report"
	"gvmm/container"
	"gvmm/guest"
	"gvmm/guest/agentcfg"
	"gvmm/guest/testguests"
)

//go:embed testdata/launcher.c
var launcherSource []byte

// Workspace is where subjects find and build what they need. Built
// things go into Dir, which Close removes.
type Workspace struct {
	// Dir is a private temporary directory.
	Dir string
	// Repo is gvmm's module root: `go build` runs there.
	Repo string
	// Build is the directory of `make`'s artefacts (Repo/build): kernels,
	// initramfs images.
	Build string
	// Flavour is the host's KVM module (report.ProbeHost).
	Flavour report.Flavour
	// Prebuilt, when set, is a directory of ready-made executables
	// (gvmm, gvmm-init, gvmm-agent, launcher, kvmfloor, gokvm): the
	// workspace takes them from there and builds nothing. The bench runs
	// so inside the nested rig, whose L1 has no compilers (RigPrebuilt).
	Prebuilt string

	mu    sync.Mutex
	cache map[string]*built
}

type built struct {
	sync.Once
	path string
	err  error
}

// NewWorkspace makes a workspace in a new temporary directory for the
// module at repo, whose make artefacts are in build.
func NewWorkspace(repo, build string, flavour report.Flavour) (*Workspace, error) {
	dir, err := os.MkdirTemp("", "gvmm-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench workspace: %w", err)
	}
	return &Workspace{Dir: dir, Repo: repo, Build: build, Flavour: flavour, cache: map[string]*built{}}, nil
}

// Close removes everything the workspace built, and the guard routes of
// the NGINX subjects if they were added.
func (ws *Workspace) Close() error {
	ws.mu.Lock()
	_, routed := ws.cache[nginxRoutesKey]
	ws.mu.Unlock()
	if routed {
		ws.RemoveNginxRoutes()
	}
	return os.RemoveAll(ws.Dir)
}

// FindRepo walks up from dir to the directory holding go.mod.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s: run the bench from the gvmm checkout", dir)
		}
	}
}

// once builds key with f the first time and caches path or error. The
// lock covers only the map: f may build other keys (a bundle needs the
// root file system).
func (ws *Workspace) once(key string, f func() (string, error)) (string, error) {
	ws.mu.Lock()
	b, ok := ws.cache[key]
	if !ok {
		b = &built{}
		ws.cache[key] = b
	}
	ws.mu.Unlock()
	b.Do(func() { b.path, b.err = f() })
	return b.path, b.err
}

// run runs a build step in the module root and folds its output into
// the error.
func (ws *Workspace) run(env []string, argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ws.Repo
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w: %s", argv, err, out)
	}
	return nil
}

// prebuilt returns Prebuilt/name when the workspace has a prebuilt set,
// with ok true; an executable missing from the set is a skip.
func (ws *Workspace) prebuilt(name string) (path string, ok bool, err error) {
	if ws.Prebuilt == "" {
		return "", false, nil
	}
	p := filepath.Join(ws.Prebuilt, name)
	if _, err := os.Stat(p); err != nil {
		return "", true, Skip("%s is not in the prebuilt set %s", name, ws.Prebuilt)
	}
	return p, true, nil
}

// goBuild builds the static binary of pkg as Dir/bin/name.
func (ws *Workspace) goBuild(pkg, name string) (string, error) {
	if p, ok, err := ws.prebuilt(name); ok {
		return p, err
	}
	return ws.once("go:"+pkg, func() (string, error) {
		out := filepath.Join(ws.Dir, "bin", name)
		return out, ws.run([]string{"CGO_ENABLED=0"}, "go", "build", "-o", out, pkg)
	})
}

// cc compiles a C program with the system compiler.
func (ws *Workspace) cc(name string, src []byte) (string, error) {
	if p, ok, err := ws.prebuilt(name); ok {
		return p, err
	}
	return ws.once("cc:"+name, func() (string, error) {
		if _, err := exec.LookPath("gcc"); err != nil {
			return "", Skip("gcc not installed: apt-get install gcc libc6-dev")
		}
		c := filepath.Join(ws.Dir, name+".c")
		if err := os.WriteFile(c, src, 0o644); err != nil {
			return "", err
		}
		out := filepath.Join(ws.Dir, "bin", name)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		return out, ws.run(nil, "gcc", "-O2", "-o", out, c)
	})
}

// Launcher builds the launcher every start goes through.
func (ws *Workspace) Launcher() (string, error) { return ws.cc("launcher", launcherSource) }

// Gvmm builds gvmm with gvmm-init beside it, as `make gvmm` installs them.
func (ws *Workspace) Gvmm() (string, error) {
	if _, err := ws.initProgram(); err != nil {
		return "", err
	}
	return ws.goBuild("./cmd/gvmm", "gvmm")
}

// initProgram compiles gvmm-init into Dir/bin, beside gvmm.
func (ws *Workspace) initProgram() (string, error) {
	if p, ok, err := ws.prebuilt(container.InitName); ok {
		return p, err
	}
	return ws.once("cc:"+container.InitName, func() (string, error) {
		out := filepath.Join(ws.Dir, "bin", container.InitName)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		args := container.InitCompile(filepath.Join(ws.Repo, container.InitSource), out)
		return out, ws.run(nil, args...)
	})
}

// GokvmModule is the gokvm the bench builds from the Go module proxy:
// github.com/bobuhiro11/gokvm has no tagged release newer than this
// pseudo-version (October 2023), which is what `go install ...@latest`
// resolves to; pinned so that runs stay comparable.
const GokvmModule = "github.com/bobuhiro11/gokvm@v0.0.8-0.20231003020000-f53faca69d28"

// Gokvm builds gokvm, statically, from the module proxy (go install in
// module mode outside gvmm's module, so gvmm's go.mod is not touched).
func (ws *Workspace) Gokvm() (string, error) {
	if p, ok, err := ws.prebuilt("gokvm"); ok {
		return p, err
	}
	return ws.once("gokvm", func() (string, error) {
		bin := filepath.Join(ws.Dir, "gokvm-bin")
		cmd := exec.Command("go", "install", GokvmModule)
		cmd.Dir = ws.Dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+bin, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", Skip("gokvm: go install %s failed (is the Go module proxy reachable?): %v: %s", GokvmModule, err, firstLineOf(out))
		}
		return filepath.Join(bin, "gokvm"), nil
	})
}

// firstLineOf is the first line of a command's output, for a one-line reason.
func firstLineOf(out []byte) string {
	s := string(out)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Agent builds the guest agent (the READY workload).
func (ws *Workspace) Agent() (string, error) {
	return ws.goBuild("./guest/cmd/gvmm-agent", "gvmm-agent")
}

// KVMFloor builds the raw KVM C program (bench/testdata/kvmfloor.c).
func (ws *Workspace) KVMFloor() (string, error) {
	if p, ok, err := ws.prebuilt("kvmfloor"); ok {
		return p, err
	}
	src, err := os.ReadFile(filepath.Join(ws.Repo, "bench/testdata/kvmfloor.c"))
	if err != nil {
		return "", err
	}
	return ws.cc("kvmfloor", src)
}

// TestGuest assembles the tiny PVH test guests and returns one.
func (ws *Workspace) TestGuest(name string) (string, error) {
	dir, err := ws.once("testguests", func() (string, error) {
		dir := filepath.Join(ws.Dir, "testguests")
		if _, err := exec.LookPath("ld"); err != nil {
			return "", Skip("the PVH test guests need the system assembler and linker: apt-get install gcc binutils")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if _, err := testguests.Build(dir); err != nil {
			return "", fmt.Errorf("assemble the PVH test guests: %w", err)
		}
		return dir, nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".elf"), nil
}

// Artefact returns Build/rel, or a skip saying which make target makes it.
func (ws *Workspace) Artefact(rel, target string) (string, error) {
	p := filepath.Join(ws.Build, rel)
	if _, err := os.Stat(p); err != nil {
		return "", Skip("%s is missing: run make %s", p, target)
	}
	return p, nil
}

// Rootfs is the u-root initramfs the VMs boot, unpacked into a directory:
// the same root file system (and the same agent, /bin/gvmm-agent) for
// every container and process subject.
func (ws *Workspace) Rootfs() (string, error) {
	return ws.once("rootfs", func() (string, error) {
		cpio, err := ws.Artefact("initramfs.cpio", "initramfs")
		if err != nil {
			return "", err
		}
		dir := filepath.Join(ws.Dir, "rootfs")
		if err := guest.UnpackCPIO(cpio, dir); err != nil {
			return "", fmt.Errorf("unpack %s: %w", cpio, err)
		}
		if _, err := os.Stat(filepath.Join(dir, AgentInRootfs)); err != nil {
			return "", fmt.Errorf("%s has no %s: rebuild it with make initramfs", cpio, AgentInRootfs)
		}
		return dir, nil
	})
}

// AgentInRootfs is where the initramfs keeps the agent.
const AgentInRootfs = "/bin/gvmm-agent"

// Bundle writes an OCI bundle of the rootfs running the agent in mode,
// with the READY pipe as fd 3 (runc/crun --preserve-fds 1): the
// configuration gvmm's own container runtime uses.
func (ws *Workspace) Bundle(mode agentcfg.Mode) (string, error) {
	return ws.once("bundle:"+string(mode), func() (string, error) {
		root, err := ws.Rootfs()
		if err != nil {
			return "", err
		}
		spec := container.DefaultSpec(root, []string{AgentInRootfs})
		vars, err := agentcfg.Config{Mode: mode}.Environ()
		if err != nil {
			return "", err
		}
		spec.Process.Env = append(spec.Process.Env, fmt.Sprintf("%s=%d", agentcfg.EnvReadyFD, readyFD))
		spec.Process.Env = append(spec.Process.Env, vars...)
		spec.Linux.Resources = &specs.LinuxResources{}
		spec.Version = "1.0.2-dev" // what runc 1.1 and crun 1.8 write and accept
		data, err := json.Marshal(spec)
		if err != nil {
			return "", err
		}
		dir := filepath.Join(ws.Dir, "bundle-"+string(mode))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		return dir, os.WriteFile(filepath.Join(dir, container.ConfigFile), data, 0o644)
	})
}

// NeedKVM returns a skip when this host has no usable /dev/kvm.
func (ws *Workspace) NeedKVM() error {
	if ws.Flavour == report.FlavourNone {
		return Skip("no KVM module loaded (no /dev/kvm): VM subjects need one")
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return Skip("/dev/kvm is not writable: run as root or join the kvm group")
		}
		return Skip("cannot open /dev/kvm: %v", err)
	}
	return f.Close()
}

// NeedRoot returns a skip when the bench is not root (namespaces,
// cgroups and mounts need it).
func NeedRoot(what string) error {
	if os.Geteuid() != 0 {
		return Skip("%s needs root (namespaces, cgroups, mounts): run the bench with sudo", what)
	}
	return nil
}

// NeedTool returns the path of tool, or a skip saying which package has it.
func NeedTool(tool, pkg string) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", Skip("%s not installed: apt-get install %s", tool, pkg)
	}
	return p, nil
}
