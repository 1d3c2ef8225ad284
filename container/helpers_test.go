package container

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
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
	for _, dir := range []string{rootfsOnce.dir, initOnce.dir, escapeOnce.dir, gvmmOnce.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// busybox is Debian's busybox-static; its applets make the test rootfs.
const busybox = "/bin/busybox"

var rootfsOnce struct {
	sync.Once
	dir string
	err error
}

// needRoot skips tests that create namespaces, cgroups and veths.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, cgroups and veth pairs")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
}

// testRootfs builds, once per test binary, a root file system of busybox
// applets plus the READY workload compiled from testdata/ready.
func testRootfs(t testing.TB) string {
	t.Helper()
	needRoot(t)
	rootfsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gvmm-rootfs-")
		if err != nil {
			rootfsOnce.err = err
			return
		}
		rootfsOnce.dir = dir
		rootfsOnce.err = buildRootfs(dir)
	})
	require.NoError(t, rootfsOnce.err)
	return rootfsOnce.dir
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

func (e *buildError) Error() string { return "build ready: " + e.err.Error() + ": " + e.out }

// builtProgram is a static program built once per test binary.
type builtProgram struct {
	sync.Once
	dir, path string
	err       error
}

var initOnce, escapeOnce builtProgram

// build compiles the package pkg into a temporary directory as name.
func (b *builtProgram) build(t testing.TB, pkg, name string) string {
	t.Helper()
	b.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "gvmm-prog-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, name)
		build := exec.Command("go", "build", "-o", b.path, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.err = &buildError{string(out), err}
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// testInit builds gvmm-init (container/cmd/gvmm-init) and returns its
// path: tests pass it as Options.Init, as if it were installed beside gvmm.
func testInit(t testing.TB) string { return initOnce.build(t, "./cmd/gvmm-init", InitName) }

// escapeInit builds testdata/escape, an init program that attacks its own
// executable when it runs as the workload.
func escapeInit(t testing.TB) string { return escapeOnce.build(t, "./testdata/escape", InitName) }

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
