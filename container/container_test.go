package container

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestReadyAndExitCode(t *testing.T) {
	spec := DefaultSpec(testRootfs(t), []string{"/bin/ready"})
	var log bytes.Buffer
	c, err := Start(Options{Spec: spec, RunDir: t.TempDir(), Remove: true, ReadyLog: &log})
	require.NoError(t, err)
	at, err := c.WaitReady(testTimeout)
	require.NoError(t, err)
	require.Positive(t, at)
	st := waitBounded(t, c)
	require.Equal(t, 0, st.Code)
	require.Equal(t, fmt.Sprintf("gvmm: READY at %d us\n", at.Microseconds()), log.String())

	_, st = runSh(t, "exit 7", nil)
	require.Equal(t, 7, st.Code)
}

// TestIsolation proves each default: namespaces, capabilities, seccomp,
// masked and read-only paths, /dev contents.
func TestIsolation(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"host pids invisible", fmt.Sprintf("test -e /proc/%d && echo visible || echo hidden", os.Getpid()), "hidden"},
		{"init is the workload", "cat /proc/1/cmdline | tr '\\0' ' '", "/bin/sh -c"},
		{"own hostname", "hostname", "gvmm"},
		{"sethostname refused", "hostname evil 2>/dev/null; echo $?; hostname", "1\ngvmm"},
		{"mount refused", "mount -t tmpfs none /tmp 2>&1 || echo refused", "refused"},
		{"CAP_NET_ADMIN refused", "ip link set lo down 2>&1 || echo refused", "refused"},
		{"settimeofday refused", "date -s 2000-01-01 2>&1 >/dev/null", "not permitted"},
		{"kcore masked", "head -c 16 /proc/kcore | wc -c", "0"},
		{"firmware masked", "ls /sys/firmware | wc -l", "0"},
		{"proc sys read-only", "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; echo $?", "1"},
		{"no_new_privs", "grep NoNewPrivs /proc/self/status | tr -d '\\t '", "NoNewPrivs:1"},
		{"seccomp filter", "grep '^Seccomp:' /proc/self/status | tr -d '\\t '", "Seccomp:2"},
		{"capabilities", "grep CapEff /proc/self/status | tr -d '\\t '", "CapEff:00000000a80425fb"},
		{"default devices", "ls /dev | tr '\\n' ' '", "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"},
		{"dev null works", "echo x > /dev/null && head -c 4 /dev/urandom | wc -c", "4"},
		{"only loopback", "ls /sys/class/net", "lo"},
		{"pivot_root: host mounts gone", "grep -c /sys/fs/cgroup /proc/self/mountinfo; true", "0"},
		// CVE-2024-21626: runc leaked an fd of the host's cgroup directory
		// into the container, and a workdir of /proc/self/fd/N escaped
		// through it. Every fd of the workload is listed, whatever its
		// number: only 0-2 and the READY pipe may be there. (The
		// glob's own directory fd is listed too, and closed by the
		// time the loop tests it: test -L skips it.)
		{"only stdio and READY fds (CVE-2024-21626)", `cd /proc/$$/fd && for f in *; do case $f in 0|1|2) ;;
3) readlink 3 | grep -q '^pipe:' || echo "leak3 $(readlink 3)" ;; *) test -L $f && echo "leak$f $(readlink $f)" ;; esac; done; echo none`, "none"},
		{"no init program left in pid 1", "readlink /proc/1/exe", "/bin/busybox"},
		// Every default masked path (runc's, TestDefaultPathsCoverRuncs)
		// shows nothing, and every read-only path is a read-only mount.
		{"every masked path empty", "for p in " + strings.Join(DefaultMaskedPaths, " ") + `; do
if [ -d $p ]; then n=$(ls -A $p | wc -l); else n=$(head -c 1 $p 2>/dev/null | wc -c); fi
[ "$n" = 0 ] || echo "leak masked $p"; done; echo none`, "none"},
		{"every read-only path read-only", "for p in " + strings.Join(DefaultReadonlyPaths, " ") + `; do
[ -e $p ] || continue
awk -v p=$p '$5 == p && $6 ~ /^ro/ { f = 1 } END { exit !f }' /proc/self/mountinfo || echo "leak writable $p"; done; echo none`, "none"},
	}
	// Both init programs must give the same container: gvmm-init, and the
	// runtime's own binary (this test binary) re-executed as init.
	self, err := os.Executable()
	require.NoError(t, err)
	for _, init := range []struct{ name, path string }{{"gvmm-init", testInit(t)}, {"self", self}} {
		for _, tt := range tests {
			t.Run(init.name+"/"+tt.name, func(t *testing.T) {
				out, st := runShInit(t, init.path, tt.script, nil)
				require.Equal(t, 0, st.Code, out)
				require.Contains(t, strings.TrimSpace(out), tt.want)
				require.NotContains(t, out, "leak")
			})
		}
	}
}

func TestProcessSettings(t *testing.T) {
	out, st := runSh(t, "id -u; id -g; pwd; echo $GREETING; ulimit -n", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Cwd = "/tmp/work"
		s.Process.Env = append(s.Process.Env, "GREETING=hello")
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 512}}
	})
	require.Equal(t, 0, st.Code, out)
	require.Equal(t, "1000\n1000\n/tmp/work\nhello\n512\n", out)
}

func TestReadonlyRoot(t *testing.T) {
	out, st := runSh(t, "touch /x 2>&1; echo $?", func(s *specs.Spec) { s.Root.Readonly = true })
	require.Equal(t, 0, st.Code)
	require.Contains(t, out, "Read-only file system")
}

func TestMemoryLimitOOM(t *testing.T) {
	spec := DefaultSpec(testRootfs(t), []string{"/bin/ready"})
	spec.Process.Env = append(spec.Process.Env, "GVMM_MODE=eat")
	limit := int64(32 << 20)
	spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	before := cgroupCount(t)
	c, err := Start(Options{Spec: spec, RunDir: t.TempDir(), Remove: true})
	require.NoError(t, err)
	st := waitBounded(t, c)
	require.True(t, st.OOMKilled, "exit %d", st.Code)
	require.Equal(t, 128+int(unix.SIGKILL), st.Code)
	require.Equal(t, before, cgroupCount(t), "cgroup left behind")
}

func TestPidsLimit(t *testing.T) {
	// The limit counts threads, and init (a Go program) needs a few
	// before it executes the shell, so it cannot be tiny.
	out, _ := runSh(t, "for i in $(seq 40); do sleep 1 & done 2>&1; wait", func(s *specs.Spec) {
		n := int64(16)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &n}
	})
	require.Contains(t, out, "can't fork")
}

func TestFaults(t *testing.T) {
	root := testRootfs(t)
	tests := []struct {
		name string
		spec *specs.Spec
		want error
	}{
		{"rootfs missing", DefaultSpec(root+"-missing", []string{"/bin/sh"}), ErrNoRootfs},
		{"command not found", DefaultSpec(root, []string{"no-such-command"}), ErrNotFound},
		{"path not found", DefaultSpec(root, []string{"/bin/nothing"}), ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := cgroupCount(t)
			_, err := Start(Options{Spec: tt.spec, RunDir: dir})
			require.ErrorIs(t, err, tt.want)
			requireNoState(t, dir)
			require.Equal(t, before, cgroupCount(t), "cgroup left behind")
		})
	}
}

// TestNetNeedsANetworkNamespace is the regression test for --net with a
// bundle that shares the host's network namespace: it used to add eth0,
// an address and a default route to the host. Now it is refused before
// anything is created.
func TestNetNeedsANetworkNamespace(t *testing.T) {
	root := testRootfs(t)
	spec := DefaultSpec(root, []string{"/bin/true"})
	dropNamespace(spec, specs.NetworkNamespace)
	linksBefore, err := net.Interfaces()
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = Start(Options{Spec: spec, RunDir: dir, Net: true})
	require.ErrorIs(t, err, ErrBadSpec)
	require.Contains(t, err.Error(), "network namespace")
	linksAfter, err := net.Interfaces()
	require.NoError(t, err)
	require.Equal(t, len(linksBefore), len(linksAfter), "no link added to the host")
	requireNoState(t, dir)
}

// requireNoState checks that the run directory holds no container's
// state: only the store's lock and the empty directory the sealed init's
// overlay uses (sealed.go), both shared by every container.
func requireNoState(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		require.Contains(t, []string{"lock", "empty"}, e.Name(), "state left behind")
	}
}

// TestSealedProgram proves the CVE-2019-5736 defence at the handle: even
// reopened through /proc (how the attack reached runc's binary) the
// program init runs from cannot be written, in either sealing mode, and
// still has the program's content.
func TestSealedProgram(t *testing.T) {
	needRoot(t)
	initPath := testInit(t)
	want, err := os.ReadFile(initPath)
	require.NoError(t, err)
	tests := []struct {
		mode  sealMode
		seal  func() (*os.File, error)
		write error // what writing through the handle gives
	}{
		{sealOverlay, func() (*os.File, error) { return overlayHandle(initPath, t.TempDir()) }, unix.EROFS},
		{sealMemfd, func() (*os.File, error) { return memfdCopy(initPath) }, unix.EPERM},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			f, err := tt.seal()
			require.NoError(t, err)
			defer f.Close()
			path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "sealed copy differs from the program")
			w, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err == nil {
				_, err = w.Write([]byte("x"))
				require.ErrorIs(t, w.Truncate(0), tt.write)
				w.Close()
			}
			require.ErrorIs(t, err, tt.write)
			if tt.mode == sealMemfd {
				seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
				require.NoError(t, err)
				require.Equal(t, memfdSeals, seals)
			}
		})
	}
}

// TestProgramNotWritableFromContainer plays CVE-2019-5736 from inside: the
// workload is /proc/self/exe, so init executes the runtime-provided
// program (testdata/escape, an init program like gvmm-init) as the
// container's process; that keeps an O_PATH handle on its own executable,
// stops running it (exec of the shell), and writes through the handle.
// The write must fail because the handle is sealed, not merely because
// the file is still being executed (ETXTBSY), and the file must be
// unchanged.
func TestProgramNotWritableFromContainer(t *testing.T) {
	root := testRootfs(t)
	prog := escapeInit(t)
	before, err := os.ReadFile(prog)
	require.NoError(t, err)
	spec := DefaultSpec(root, []string{"/proc/self/exe"})
	var out bytes.Buffer
	c, err := Start(Options{Spec: spec, Stdout: &out, Stderr: &out, RunDir: t.TempDir(), Remove: true, Init: prog})
	require.NoError(t, err)
	waitBounded(t, c)
	require.Contains(t, out.String(), "escape: write failed", out.String())
	require.Contains(t, out.String(), "Read-only file system", "sealed by overlayfs")
	require.NotContains(t, out.String(), "escape: written")
	after, err := os.ReadFile(prog)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "the init program was modified")
}

func TestLifecycle(t *testing.T) {
	store := testStore(t)
	spec := DefaultSpec(testRootfs(t), []string{"/bin/ready"})
	spec.Process.Env = append(spec.Process.Env, "GVMM_MODE=stay")
	c, err := Start(Options{Spec: spec, Name: "life", RunDir: store.Dir})
	require.NoError(t, err)
	_, err = c.WaitReady(testTimeout)
	require.NoError(t, err)

	_, err = Start(Options{Spec: spec, Name: "life", RunDir: store.Dir})
	require.ErrorIs(t, err, ErrNameInUse)

	list, err := store.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, StatusRunning, list[0].Status)
	oci, err := store.OCIState("life")
	require.NoError(t, err)
	require.Equal(t, specs.StateRunning, oci.Status)
	require.Equal(t, c.Pid, oci.Pid)
	require.ErrorIs(t, store.Remove("life", false), ErrRunning)

	done := make(chan ExitStatus, 1)
	go func() { st, _ := c.Wait(); done <- st }()
	require.NoError(t, store.Stop("life", 5*time.Second)) // ready exits on SIGTERM
	select {
	case st := <-done:
		require.Equal(t, 0, st.Code)
	case <-time.After(testTimeout):
		t.Fatal("container did not stop")
	}
	got, err := store.Get("life")
	require.NoError(t, err)
	require.Equal(t, StatusStopped, got.Status)
	require.NotNil(t, got.ExitCode)
	require.NoError(t, store.Remove("life", false))
	_, err = store.Get("life")
	require.ErrorIs(t, err, ErrNoContainer)
}

func TestKill(t *testing.T) {
	store := testStore(t)
	spec := DefaultSpec(testRootfs(t), []string{"/bin/sleep", "60"})
	c, err := Start(Options{Spec: spec, Name: "k", RunDir: store.Dir, Remove: true})
	require.NoError(t, err)
	// pid 1 ignores SIGTERM without a handler; SIGKILL from the parent
	// namespace always ends it (pid_namespaces(7)).
	require.NoError(t, store.Kill("k", unix.SIGKILL))
	st := waitBounded(t, c)
	require.Equal(t, 137, st.Code)
}

func TestTerminal(t *testing.T) {
	spec := DefaultSpec(testRootfs(t), []string{"/bin/sh"})
	spec.Process.Terminal = true
	c, err := Start(Options{Spec: spec, RunDir: t.TempDir(), Remove: true})
	require.NoError(t, err)
	require.NotNil(t, c.Console())
	_, err = c.Console().Write([]byte("tty; echo marker-$((6*7)); exit 5\n"))
	require.NoError(t, err)
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = out.ReadFrom(c.Console()); close(copied) }()
	st := waitBounded(t, c)
	select {
	case <-copied:
	case <-time.After(time.Second):
	}
	require.Equal(t, 5, st.Code)
	require.Contains(t, out.String(), "marker-42")
	require.Contains(t, out.String(), "/dev/pts/0")
}

// TestUncleanDestination: a mount destination with ".." lands where its
// clean form points, with either init (the runtime cleans it, so the C
// and Go walks cannot differ).
func TestUncleanDestination(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	for _, init := range []struct{ name, path string }{{"gvmm-init", testInit(t)}, {"self", self}} {
		t.Run(init.name, func(t *testing.T) {
			out, st := runShInit(t, init.path, "grep -c ' /scratch tmpfs' /proc/mounts; test -e /etc/scratch && echo wrong; true", func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/../scratch", Type: "tmpfs", Source: "tmpfs"})
			})
			require.Equal(t, 0, st.Code, out)
			require.Equal(t, "1", strings.TrimSpace(out))
		})
	}
}
