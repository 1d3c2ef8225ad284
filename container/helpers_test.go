package container

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

// TestMain lets the test binary act as the container's init (the runtime
// re-executes it, like the gvmm binary), and as a separate runtime process
// for the SIGKILL test.
func TestMain(m *testing.M) {
	if IsInit(os.Args[1:]) {
		os.Exit(Init())
	}
	if dir := os.Getenv(runtimeHelperEnv); dir != "" {
		os.Exit(runtimeHelper(dir))
	}
	if IsFinish(os.Args[1:]) {
		os.Exit(finishHelper(os.Args[3:]))
	}
	if dir := os.Getenv(handoffHelperEnv); dir != "" {
		os.Exit(handoffHelper(dir))
	}
	code := m.Run()
	if gvmmOnce.dir != "" {
		os.RemoveAll(gvmmOnce.dir)
	}
	testenv.Cleanup()
	os.Exit(code)
}

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// busybox is Debian's busybox-static; its applets make the test rootfs.
const busybox = "/bin/busybox"

// The artefacts the tests build once per test binary (testenv.Once).
var rootfsOnce, initOnce, escapeOnce testenv.Once[string]

// needRoot skips tests that create namespaces, cgroups and veths.
// Under CI these fail instead of skipping (testenv).
func needRoot(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t, "namespaces, cgroups and veth pairs")
	testenv.NeedFile(t, busybox, "apt-get install busybox-static")
}

// testRootfs builds, once per test binary, a root file system of busybox
// applets plus the READY workload compiled from testdata/ready.
func testRootfs(t testing.TB) string {
	t.Helper()
	needRoot(t)
	return rootfsOnce.Get(t, "the test rootfs", func(_ context.Context, dir string) (string, error) {
		root := filepath.Join(dir, "rootfs")
		return root, buildRootfs(root)
	})
}

func buildRootfs(dir string) error {
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc", "www"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			_ = os.Symlink("busybox", filepath.Join(dir, "bin", applet))
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin/ready"), "./testdata/ready")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return &buildError{string(out), err}
	}
	return nil
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + ": " + e.out }

// buildProgram compiles the package pkg, static, as name into a directory
// of its own, once per test binary.
func buildProgram(t testing.TB, o *testenv.Once[string], pkg, name string) string {
	t.Helper()
	return o.Get(t, pkg, func(ctx context.Context, dir string) (string, error) {
		out := filepath.Join(dir, filepath.Base(pkg), name)
		build := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := build.CombinedOutput(); err != nil {
			return "", &buildError{string(msg), err}
		}
		return out, nil
	})
}

// testInit compiles gvmm-init (container/cinit) and returns its path:
// tests pass it as Options.Init, as if it were installed beside gvmm.
func testInit(t testing.TB) string {
	t.Helper()
	return initOnce.Get(t, "gvmm-init", func(ctx context.Context, dir string) (string, error) {
		out := filepath.Join(dir, InitName)
		args := InitCompile(filepath.Join("..", InitSource), out)
		if msg, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			return "", &buildError{string(msg), err}
		}
		return out, nil
	})
}

// escapeInit builds testdata/escape, an init program that attacks its own
// executable when it runs as the workload.
func escapeInit(t testing.TB) string {
	return buildProgram(t, &escapeOnce, "./testdata/escape", InitName)
}

// testStore is a run directory private to one test.
func testStore(t *testing.T) *Store {
	t.Helper()
	return &Store{Dir: t.TempDir()}
}

// runSh runs script with /bin/sh in a default container and returns its
// combined output and exit status.
func runSh(t *testing.T, script string, edit func(*specs.Spec)) (string, ExitStatus) {
	t.Helper()
	return runShInit(t, testInit(t), script, edit)
}

// runShInit is runSh with the init program initPath.
func runShInit(t *testing.T, initPath, script string, edit func(*specs.Spec)) (string, ExitStatus) {
	t.Helper()
	spec := DefaultSpec(testRootfs(t), []string{"/bin/sh", "-c", script})
	if edit != nil {
		edit(spec)
	}
	var out bytes.Buffer
	c, err := Start(Options{Spec: spec, Stdout: &out, Stderr: &out, RunDir: t.TempDir(), Remove: true, Init: initPath})
	require.NoError(t, err)
	st := waitBounded(t, c)
	return out.String(), st
}

// waitBounded waits for the container, killing it after testTimeout.
func waitBounded(t *testing.T, c *Container) ExitStatus {
	t.Helper()
	timer := time.AfterFunc(testTimeout, func() { _ = c.Signal(os.Kill) })
	defer timer.Stop()
	st, err := c.Wait()
	require.NoError(t, err)
	return st
}

// cgroupCount counts the container groups under /gvmm in the memory (v1)
// or unified (v2) hierarchy, to prove none leak.
func cgroupCount(t *testing.T) int {
	t.Helper()
	for _, dir := range []string{"/sys/fs/cgroup/memory/gvmm", "/sys/fs/cgroup/gvmm"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				n++
			}
		}
		return n
	}
	return 0
}

func timeNow() time.Time { return time.Now() }
