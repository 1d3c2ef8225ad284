package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
	"gvmm/internal/testenv"
)

// testLauncher builds the real launcher (it needs gcc, as the bench does).
func testLauncher(t *testing.T) (*Workspace, string) {
	t.Helper()
	testenv.NeedTool(t, "gcc", "gcc libc6-dev") // to build the launcher
	repo, err := FindRepo(".")
	require.NoError(t, err)
	ws, err := NewWorkspace(repo, filepath.Join(repo, "build"), report.FlavourNone)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	l, err := ws.Launcher()
	require.NoError(t, err)
	return ws, l
}

// sh is a Cmd running a shell one-liner: the fake workloads below are
// real processes, timed like any subject.
func sh(script string) Cmd { return Cmd{Argv: []string{"sh", "-c", script}} }

// alive says whether the process whose pid is in file still runs.
func alive(t *testing.T, file string) bool {
	t.Helper()
	var b []byte
	require.Eventually(t, func() bool {
		var err error
		b, err = os.ReadFile(file)
		return err == nil && len(strings.TrimSpace(string(b))) > 0
	}, 2*time.Second, 10*time.Millisecond, "pid file written")
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return ProcFS{Root: "/"}.Running(pid)
}

func TestTimed(t *testing.T) {
	_, launcher := testLauncher(t)
	for _, tc := range []struct {
		name    string
		cmd     Cmd
		pipe    bool
		code    int
		wantErr error
	}{
		{name: "READY line on stderr", cmd: sh("echo 'gvmm: READY at 12 us' >&2")},
		{name: "READY byte on fd 3", cmd: sh(`printf '\173' >&3`), pipe: true},
		{name: "wanted non-zero code", cmd: sh("echo READY >&2; exit 1"), code: 1},
		{name: "wrong READY byte", cmd: sh(`printf 'x' >&3`), pipe: true, wantErr: ErrNoReady},
		{name: "no READY", cmd: sh("true"), wantErr: ErrNoReady},
		{name: "wrong exit code", cmd: sh("echo READY >&2; exit 3"), wantErr: ErrExitCode},
		{name: "killed by a signal", cmd: sh("echo READY >&2; kill -9 $$"), wantErr: ErrExitCode},
		{name: "no such program", cmd: Cmd{Argv: []string{"/nonexistent/prog"}}, wantErr: ErrExitCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := &Plan{Start: fixed(tc.cmd), ReadyPipe: tc.pipe, WantCode: tc.code}
			s, err := Timed(context.Background(), launcher, plan, "t", 10*time.Second)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, s.ReadyNS)
			assert.GreaterOrEqual(t, s.ExitNS, s.ReadyNS, "READY is bounded by the exit (a late reader is clamped)")
			assert.Positive(t, s.PeakRSSKiB, "the launcher reports the child's ru_maxrss")
			assert.Less(t, s.PeakRSSKiB, int64(64<<10), "the child's own peak, not the Go parent's")
		})
	}
}

func TestTimedCPU(t *testing.T) {
	_, launcher := testLauncher(t)
	// Busy for a while in user space: the child's user time shows.
	plan := &Plan{Start: fixed(sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo READY >&2"))}
	s, err := Timed(context.Background(), launcher, plan, "cpu", 30*time.Second)
	require.NoError(t, err)
	assert.Greater(t, s.CPUUserNS, int64(10*time.Millisecond), "a 200000-step shell loop takes user CPU")
	assert.LessOrEqual(t, s.CPUUserNS+s.CPUSysNS, s.ExitNS*2, "CPU time is bounded by wall time (one core, with slack)")
}

func TestTimedTimeoutKillsEverything(t *testing.T) {
	_, launcher := testLauncher(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cleaned := ""
	// The READY line comes, but the subject never exits; its grandchild
	// sleeps in the same process group.
	plan := &Plan{Start: fixed(sh("echo READY >&2; sleep 60 & echo $! > " + pidFile + "; wait")),
		Cleanup: func(id string) { cleaned = id }}
	t0 := time.Now()
	_, err := Timed(context.Background(), launcher, plan, "slow-1", 300*time.Millisecond)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "READY after", "the error says how far it got")
	assert.Less(t, time.Since(t0), 5*time.Second, "bounded by the timeout")
	assert.Equal(t, "slow-1", cleaned, "the subject's Cleanup ran")
	assert.Eventually(t, func() bool { return !alive(t, pidFile) }, 2*time.Second, 10*time.Millisecond,
		"the grandchild died with the process group")
}

func TestProbe(t *testing.T) {
	_, launcher := testLauncher(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	plan := &Plan{
		Start: fixed(sh("true")),
		Hold:  fixed(sh("echo $$ > " + pidFile + "; echo READY >&2; exec sleep 60")),
	}
	t0 := time.Now()
	s, missed, err := Probe(context.Background(), launcher, plan, "p", 10*time.Second, ProcFS{Root: "/"})
	require.NoError(t, err)
	require.NoError(t, missed)
	assert.Positive(t, s.SteadyRSSKiB, "VmRSS of the held process")
	assert.Zero(t, s.ReadyNS, "a probe reports memory only")
	assert.Less(t, time.Since(t0), stopGrace, "SIGTERM ended it; no need to wait for the grace period")
	assert.False(t, alive(t, pidFile), "stopped")
}

func TestProbeMissedReadings(t *testing.T) {
	_, launcher := testLauncher(t)
	// A "VM" with no guest mapping and a "container" with no cgroup of
	// its own: both readings are missed, the probe itself succeeds.
	plan := &Plan{Start: fixed(sh("true")), Hold: fixed(sh("echo READY >&2; exec sleep 60")),
		GuestMemKiB: 256 << 10, Cgroup: true}
	s, missed, err := Probe(context.Background(), launcher, plan, "p", 10*time.Second, ProcFS{Root: "/"})
	require.NoError(t, err)
	assert.ErrorIs(t, missed, ErrProc)
	assert.Contains(t, missed.Error(), "guest RAM touched")
	assert.Contains(t, missed.Error(), "container cgroup memory")
	assert.Positive(t, s.SteadyRSSKiB)
	assert.Zero(t, s.GuestTouchedKiB)
}

func TestProbeStubbornSubjectIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the full stop grace period")
	}
	_, launcher := testLauncher(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	plan := &Plan{Start: fixed(sh("true")),
		Hold: fixed(sh(`trap '' TERM; echo $$ > ` + pidFile + `; echo READY >&2; while :; do sleep 1; done`))}
	_, _, err := Probe(context.Background(), launcher, plan, "p", 10*time.Second, ProcFS{Root: "/"})
	require.ErrorIs(t, err, ErrTimeout, "ignoring SIGTERM is reported")
	assert.False(t, alive(t, pidFile), "and the subject was killed")
}

func TestProbeExitsBeforeReady(t *testing.T) {
	_, launcher := testLauncher(t)
	plan := &Plan{Start: fixed(sh("true")), Hold: fixed(sh("echo oops >&2; exit 2"))}
	_, _, err := Probe(context.Background(), launcher, plan, "p", 10*time.Second, ProcFS{Root: "/"})
	require.ErrorIs(t, err, ErrNoReady)
	assert.Contains(t, err.Error(), "oops", "the subject's last words are in the error")
}

func TestSkipIsErrSkip(t *testing.T) {
	err := Skip("crun not installed: apt-get install %s", "crun")
	assert.ErrorIs(t, err, ErrSkip)
	assert.Equal(t, "crun not installed: apt-get install crun", err.Error())
	assert.False(t, errors.Is(errors.New("x"), ErrSkip))
}

func TestCancelKillsTheRunningStart(t *testing.T) {
	_, launcher := testLauncher(t)
	for _, probe := range []bool{false, true} {
		t.Run(fmt.Sprintf("probe=%v", probe), func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			cleaned := false
			hang := sh("echo $$ > " + pidFile + "; echo READY >&2; exec sleep 60")
			plan := &Plan{Start: fixed(hang), Hold: fixed(hang), Cleanup: func(string) { cleaned = true }}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			var err error
			if probe {
				// A probe reads at READY and stops at once; cancel while
				// it waits for a READY that never comes instead.
				plan.Hold = fixed(sh("echo $$ > " + pidFile + "; exec sleep 60"))
				_, _, err = Probe(ctx, launcher, plan, "c", time.Minute, ProcFS{Root: "/"})
			} else {
				_, err = Timed(ctx, launcher, plan, "c", time.Minute)
			}
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, cleaned, "Cleanup ran")
			assert.Eventually(t, func() bool { return !alive(t, pidFile) }, 2*time.Second, 10*time.Millisecond)
		})
	}
}

// A VM's console carries the guest's clock at READY.
func TestTimedGuestClock(t *testing.T) {
	_, launcher := testLauncher(t)
	vm := sh("echo 'gvmm-agent: clock 1234567 ns'; echo 'gvmm: READY at 5 us' >&2")
	s, err := Timed(context.Background(), launcher, &Plan{Start: fixed(vm), GuestMemKiB: 1024}, "vm", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, int64(1234567), s.GuestClockReadyNS)

	s, err = Timed(context.Background(), launcher, &Plan{Start: fixed(vm)}, "proc", 10*time.Second)
	require.NoError(t, err)
	assert.Zero(t, s.GuestClockReadyNS, "only a VM's console is read")

	// The VMM's READY line and a console line that has not ended yet:
	// on one pipe they would mix into one line and READY would be lost.
	mixed := sh("printf 'gvmm-agent: modules loaded: virtio'; echo 'gvmm: READY at 5 us' >&2; echo ' virtio_net'")
	_, err = Timed(context.Background(), launcher, &Plan{Start: fixed(mixed), GuestMemKiB: 1024}, "mixed", 10*time.Second)
	require.NoError(t, err, "the console has its own pipe")

	// A guest cannot forge the runtime's READY on its console.
	forged := sh("echo 'gvmm: READY at 5 us'")
	_, err = Timed(context.Background(), launcher, &Plan{Start: fixed(forged), GuestMemKiB: 1024}, "forged", 10*time.Second)
	assert.ErrorIs(t, err, ErrNoReady)
}

func TestTimedConsoleReady(t *testing.T) {
	_, launcher := testLauncher(t)
	for _, tc := range []struct {
		name    string
		cmd     Cmd
		wantErr error
	}{
		{name: "agent line on stdout", cmd: sh("echo 'Linux version 6.1'; echo 'gvmm-agent: READY'")},
		{name: "runtime line is not the console's", cmd: sh("echo 'gvmm: READY at 5 us' >&2"), wantErr: ErrNoReady},
		{name: "agent line on stderr is not the console's", cmd: sh("echo 'gvmm-agent: READY' >&2"), wantErr: ErrNoReady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := &Plan{Start: fixed(tc.cmd), ReadyConsole: true}
			s, err := Timed(context.Background(), launcher, plan, "c", 10*time.Second)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, s.ReadyNS)
		})
	}
}

// busyboxHTTPD is a real HTTP server for the ReadyHTTP tests, serving
// dir on 127.0.0.1:port in the foreground after a delay.
func busyboxHTTPD(t *testing.T, delay string) (Cmd, string) {
	t.Helper()
	bb := testenv.NeedTool(t, "busybox", "busybox-static") // the HTTP server
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello\n"), 0o644))
	port := strconv.Itoa(20000 + os.Getpid()%20000)
	return sh(fmt.Sprintf("sleep %s; exec %s httpd -f -p 127.0.0.1:%s -h %s", delay, bb, port, dir)),
		"http://127.0.0.1:" + port + "/index.html"
}

func TestTimedServerReadyOnHTTP200(t *testing.T) {
	_, launcher := testLauncher(t)
	cmd, url := busyboxHTTPD(t, "0.3")
	plan := &Plan{Start: fixed(cmd), ReadyHTTP: url, StopAfterReady: true}
	s, err := Timed(context.Background(), launcher, plan, "httpd", 10*time.Second)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, s.ReadyNS, int64(300*time.Millisecond), "READY is the first 200, after the server's delay")
	assert.Zero(t, s.ExitNS, "a server stopped by the harness has no exit time")
	assert.Positive(t, s.PeakRSSKiB)
	_, err = (&http.Client{Timeout: time.Second}).Get(url)
	assert.Error(t, err, "the server was stopped after READY")
}

func TestTimedServerEndsEarly(t *testing.T) {
	_, launcher := testLauncher(t)
	_, url := busyboxHTTPD(t, "0")
	plan := &Plan{Start: fixed(sh("exit 0")), ReadyHTTP: url, StopAfterReady: true}
	_, err := Timed(context.Background(), launcher, plan, "early", 10*time.Second)
	assert.ErrorIs(t, err, ErrNoReady)
}

func TestTimedServerTimeout(t *testing.T) {
	_, launcher := testLauncher(t)
	_, url := busyboxHTTPD(t, "0")
	// Up, but nothing listens where READY is polled.
	plan := &Plan{Start: fixed(sh("sleep 60")), ReadyHTTP: url, StopAfterReady: true}
	_, err := Timed(context.Background(), launcher, plan, "slow", 500*time.Millisecond)
	assert.ErrorIs(t, err, ErrTimeout)
}
