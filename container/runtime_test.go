package container

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gvmm/container/nsinit"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// runtimeHelperEnv makes the test binary a runtime that starts one
// container named "victim" in the store given by the variable and waits.
const runtimeHelperEnv = "GVMM_TEST_RUNTIME_DIR"

func runtimeHelper(dir string) int {
	spec := DefaultSpec(os.Getenv("GVMM_TEST_ROOTFS"), []string{"/bin/sleep", "600"})
	c, err := Start(Options{Spec: spec, Name: "victim", Net: true, RunDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, _ := c.Wait()
	return st.Code
}

// TestRuntimeKilled kills the runtime with SIGKILL while its container
// runs: the container dies with it, ps shows it stopped, rm removes the
// cgroup, the veth and the state.
func TestRuntimeKilled(t *testing.T) {
	root := testRootfs(t)
	store := testStore(t)
	before := cgroupCount(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runtimeHelperEnv+"="+store.Dir, "GVMM_TEST_ROOTFS="+root)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	var st *State
	require.Eventually(t, func() bool {
		var err error
		st, err = store.Get("victim")
		return err == nil && st.Status == StatusRunning
	}, testTimeout, 10*time.Millisecond)
	_, err := netlink.LinkByName(st.Net.HostIf)
	require.NoError(t, err, "veth exists while running")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool {
		got, err := store.Get("victim")
		return err == nil && got.Status == StatusStopped
	}, testTimeout, 10*time.Millisecond)
	require.NoError(t, store.Remove("victim", false))
	_, err = netlink.LinkByName(st.Net.HostIf)
	require.Error(t, err, "veth left behind")
	require.Equal(t, before, cgroupCount(t), "cgroup left behind")
	_, err = store.Get("victim")
	require.ErrorIs(t, err, ErrNoContainer)
}

// TestNetwork serves HTTP from busybox httpd in the container and fetches
// it from the host through the veth pair.
func TestNetwork(t *testing.T) {
	root := testRootfs(t)
	spec := DefaultSpec(root, []string{"/bin/sh", "-c",
		"echo village > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"})
	// An address asked for (--ip), as the bench does to know where to
	// poll: the last link, out of the way of first-free allocation.
	c, err := Start(Options{Spec: spec, Net: true, NetIP: net.ParseIP("10.201.255.254"), RunDir: t.TempDir(), Remove: true})
	require.NoError(t, err)
	defer func() { _ = c.Signal(os.Kill); waitBounded(t, c) }()
	require.Equal(t, "10.201.255.254", c.Net.ContainerIP.String())
	url := "http://10.201.255.254:8080/index.html"
	client := &http.Client{Timeout: time.Second}
	var body string
	require.Eventually(t, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, testTimeout, 50*time.Millisecond)
	require.Equal(t, "village", strings.TrimSpace(body))
}

// handoffHelperEnv makes the test binary a runtime like `gvmm container
// run`: it runs a container with Options.Handoff, so it turns into
// gvmm-init's waiter, which runs this binary again to finish (TestMain).
const handoffHelperEnv = "GVMM_TEST_HANDOFF_DIR"

// handoffScriptEnv, when set, makes the helper's workload this shell
// script instead of the READY program.
const handoffScriptEnv = "GVMM_TEST_HANDOFF_SH"

func handoffHelper(dir string) int {
	args := []string{"/bin/ready"}
	if script := os.Getenv(handoffScriptEnv); script != "" {
		args = []string{"/bin/sh", "-c", script}
	}
	spec := DefaultSpec(os.Getenv("GVMM_TEST_ROOTFS"), args)
	spec.Process.Env = append(spec.Process.Env, "GVMM_MODE=stay")
	st, err := Run(Options{Spec: spec, Name: "handed", RunDir: dir, Remove: true, ReadyLog: os.Stderr,
		Init: os.Getenv("GVMM_TEST_INIT"), Handoff: []string{"extra-arg"}, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	fmt.Println("in process: exit", st.Code)
	return st.Code
}

// finishHelper is what cmd/gvmm does for a finishing run.
func finishHelper(args []string) int {
	st, extra, err := Finish(args)
	if err != nil {
		fmt.Println("finish:", err)
		return 125
	}
	fmt.Printf("finished: exit %d oom %v extra %v\n", st.Code, st.OOMKilled, extra)
	return st.Code
}

// TestHandoff: once its container runs, the runtime process becomes the
// small waiter (same pid, still the container's parent, far less
// memory), forwards SIGTERM to the workload, and on its exit runs the
// runtime's binary to record the exit and clean up.
func TestHandoff(t *testing.T) {
	root := testRootfs(t)
	store := testStore(t)
	before := cgroupCount(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), handoffHelperEnv+"="+store.Dir, "GVMM_TEST_ROOTFS="+root, "GVMM_TEST_INIT="+testInit(t))
	var out strings.Builder
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		// On failure: what a user would do after killing gvmm.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = store.Remove("handed", true)
	}()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "gvmm: READY at ")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	require.Eventually(t, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		return filepath.Base(exe) == InitName && strings.TrimSpace(string(comm)) == nsinit.WaiterName
	}, testTimeout, time.Millisecond, "runtime became the waiter, which forwards signals")
	rss, err := ResidentKiB(cmd.Process.Pid)
	require.NoError(t, err)
	t.Logf("waiter resident: %d KiB", rss)
	require.Less(t, rss, 4<<10, "the waiter is small")
	st, err := store.Get("handed")
	require.NoError(t, err)
	require.Equal(t, StatusRunning, st.Status)
	require.Equal(t, cmd.Process.Pid, st.RuntimePid)

	require.NoError(t, cmd.Process.Signal(unix.SIGTERM))
	require.NoError(t, cmd.Wait(), out.String())
	require.Contains(t, out.String(), "finished: exit 0 oom false extra [extra-arg]")
	_, err = store.Get("handed")
	require.ErrorIs(t, err, ErrNoContainer, "--rm state removed")
	require.Equal(t, before, cgroupCount(t), "cgroup left behind")
}

// TestSignalDuringHandoffGrace: a workload that never reports READY (a
// server such as nginx) keeps the runtime in process for HandoffGrace; a
// SIGTERM the runtime gets then still reaches the workload, it is not lost
// in the handoff. The signal is sent once the shell has set its trap: the
// workload is PID 1 of its namespace, and the kernel drops a signal to
// such a process that has no handler for it (pid_namespaces(7)), as it
// does under runc.
func TestSignalDuringHandoffGrace(t *testing.T) {
	root := testRootfs(t)
	store := testStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), handoffHelperEnv+"="+store.Dir, "GVMM_TEST_ROOTFS="+root, "GVMM_TEST_INIT="+testInit(t),
		handoffScriptEnv+"=trap 'exit 7' TERM; echo trapped; sleep 30 & wait")
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			_ = cmd.Process.Kill()
			<-waited
		}
		_ = store.Remove("handed", true)
	}()
	require.Eventually(t, func() bool {
		st, err := store.Get("handed")
		return err == nil && st.Status == StatusRunning
	}, testTimeout, time.Millisecond, "the container runs")
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(out.Name())
		return err == nil && strings.Contains(string(b), "trapped")
	}, testTimeout, time.Millisecond, "the workload set its trap")
	t0 := time.Now()
	require.NoError(t, cmd.Process.Signal(unix.SIGTERM))
	select {
	case <-waited:
		ended = true
	case <-time.After(HandoffGrace + 5*time.Second):
		t.Fatal("the workload did not get the SIGTERM sent during the handoff grace")
	}
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	require.Contains(t, string(b), "exit 7", "the workload's trap ran")
	t.Logf("ended %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
}

// TestRuntimeKilledAnywhere kills the runtime with SIGKILL at points
// spread over a container's start with a veth and a cgroup, and after
// it: whatever the point, the workload dies with the runtime, and once
// the next `gvmm container rm` (or the next start, which sweeps what a
// killed start left before its state was written) has run, nothing is
// left: no cgroup, no host link, no state, no mount, no process.
func TestRuntimeKilledAnywhere(t *testing.T) {
	root := testRootfs(t)
	store := testStore(t)
	require.NoError(t, SweepOrphans(store.Dir), "what earlier runs left")
	cgroups := cgroupCount(t)
	links := hostLinks(t)
	mounts := mountCount(t)
	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), runtimeHelperEnv+"="+store.Dir, "GVMM_TEST_ROOTFS="+root)
		require.NoError(t, cmd.Start())
		return cmd
	}
	// How long the helper takes to run its container here, so that the
	// kills spread from its first instruction to after its start.
	t0 := time.Now()
	cmd := helper()
	require.Eventually(t, func() bool {
		st, err := store.Get("victim")
		return err == nil && st.Status == StatusRunning
	}, testTimeout, time.Millisecond)
	startup := time.Since(t0)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.NoError(t, store.Remove("victim", true))

	const rounds = 24
	found := map[string]int{}
	for i := range rounds {
		delay := startup * 3 / 2 * time.Duration(i) / rounds
		cmd := helper()
		time.Sleep(delay)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		if st, err := store.Get("victim"); err == nil {
			found[st.Status]++
			require.NoError(t, store.Remove(st.ID, true), "rm after a kill at %v", delay)
		} else {
			require.ErrorIs(t, err, ErrNoContainer)
			found["no record"]++
		}
		require.NoError(t, SweepOrphans(store.Dir), "the sweep after a kill at %v", delay)
		require.Eventually(t, func() bool { return !workloadAlive(t) }, testTimeout, 5*time.Millisecond,
			"the workload outlived the runtime killed at %v", delay)
		require.Equal(t, cgroups, cgroupCount(t), "cgroup left by a kill at %v", delay)
		require.Equal(t, links, hostLinks(t), "host link left by a kill at %v", delay)
		require.Equal(t, mounts, mountCount(t), "mount left by a kill at %v", delay)
		requireNoState(t, store.Dir)
	}
	t.Logf("start takes %v; the kills found: %v", startup.Round(time.Millisecond), found)
}

// hostLinks counts the host's network links.
func hostLinks(t *testing.T) int {
	links, err := netlink.LinkList()
	require.NoError(t, err)
	return len(links)
}

// mountCount counts the host's mounts (this process's mount namespace).
func mountCount(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}

// workloadAlive reports whether runtimeHelper's workload, sleep 600,
// still runs anywhere on the host.
func workloadAlive(t *testing.T) bool {
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == "/bin/sleep\x00600\x00" {
			return true
		}
	}
	return false
}
