package container

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
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
	c, err := Start(Options{Spec: spec, Net: true, RunDir: t.TempDir(), Remove: true})
	require.NoError(t, err)
	defer func() { _ = c.Signal(os.Kill); waitBounded(t, c) }()
	url := fmt.Sprintf("http://%s:8080/index.html", c.Net.ContainerIP)
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
