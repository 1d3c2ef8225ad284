package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"gvmm/bench/report"
	"gvmm/container"
	"gvmm/guest/agentcfg"
	"gvmm/internal/kvmtest"
	"gvmm/internal/testenv"
)

// The VM's command line is what the agent reads: it must configure the
// address READY polls and exec nginx, with nothing the agent ignores.
func TestNginxVMCmdline(t *testing.T) {
	cmdline, err := nginxVMCmdline()
	require.NoError(t, err)
	c := agentcfg.DefaultConfig()
	require.NoError(t, c.ParseCmdline(cmdline))
	require.NoError(t, c.Validate())
	assert.Empty(t, c.Unknown)
	assert.Equal(t, []string{NginxInRootfs}, c.Exec)
	assert.Equal(t, agentcfg.ModePoweroff, c.Mode, "a guest failing before READY stops the VM")
	assert.Equal(t, nginxVMGuestIP, c.IP.Addr().String())
	assert.Equal(t, nginxURL(nginxVMGuestIP), "http://"+c.IP.Addr().String()+"/")

	host := netip.MustParsePrefix(nginxVMHostAddr)
	assert.True(t, host.Masked().Contains(c.IP.Addr()), "guest %s on the host's link %s", c.IP, host)
	assert.Equal(t, host.Bits(), c.IP.Bits())
	assert.NotEqual(t, host.Addr(), c.IP.Addr())
}

func TestNginxVMArgv(t *testing.T) {
	cmdline, err := nginxVMCmdline()
	require.NoError(t, err)
	argv := nginxVMArgv("/b/gvmm", "/b/bzImage", "/b/initramfs-nginx.cpio", cmdline, "gvmm-bench-gvmm-vm-nginx-1")
	assert.Equal(t, []string{"/b/gvmm", "boot", "/b/bzImage", "--initrd", "/b/initramfs-nginx.cpio", "--mem", "256M",
		"--net", "tap=" + nginxTap("gvmm-bench-gvmm-vm-nginx-1"), "--host-addr", "10.202.0.1/30",
		"--cmdline", "console=ttyS0 reboot=k panic=-1 gvmm.mode=poweroff gvmm.ip=10.202.0.2/30 gvmm.exec=/usr/sbin/nginx"}, argv)
}

func TestNginxTap(t *testing.T) {
	a, b := nginxTap("gvmm-bench-gvmm-vm-nginx-1"), nginxTap("gvmm-bench-gvmm-vm-nginx-2")
	assert.NotEqual(t, a, b, "a TAP per start")
	assert.Equal(t, a, nginxTap("gvmm-bench-gvmm-vm-nginx-1"), "Cleanup finds the start's TAP by its id")
	assert.LessOrEqual(t, len(a), 15, "IFNAMSIZ")
}

// The container address is one gvmm container run --ip accepts.
func TestNginxContainerAddress(t *testing.T) {
	_, err := container.NetIndexOf(net.ParseIP(nginxContainerIP))
	require.NoError(t, err)
}

// Without the image, or without a KVM that boots Linux, the subjects are
// skipped with a reason that says what to do.
func TestNginxSkips(t *testing.T) {
	repo, err := FindRepo(".")
	require.NoError(t, err)
	ws, err := NewWorkspace(repo, t.TempDir(), report.FlavourPVM)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })

	_, err = prepNginxContainer(ws)
	require.ErrorIs(t, err, ErrSkip)
	if os.Geteuid() == 0 {
		assert.Contains(t, err.Error(), "make "+nginxTarget)
	}
	_, err = prepNginxVM(ws)
	require.ErrorIs(t, err, ErrSkip)
	assert.Contains(t, err.Error(), "kvm_pvm")
	ws.Flavour = report.FlavourNone
	_, err = prepNginxVM(ws)
	require.ErrorIs(t, err, ErrSkip)
}

// nginxWorkspace is a workspace with the launcher, for the root tests
// that run the real container; it skips without root or the image.
func nginxWorkspace(t *testing.T) (*Workspace, string) {
	t.Helper()
	testenv.NeedRoot(t, "containers (namespaces, cgroups, veth)")
	ws, launcher := testLauncher(t)
	kvmtest.RequireArtefact(t, filepath.Join(ws.Build, nginxImage), nginxTarget)
	t.Cleanup(ws.RemoveNginxRoutes)
	return ws, launcher
}

// TestNginxContainerTimed runs the container subject through the harness:
// READY is the first 200 from nginx (nginx writes no READY byte, so no
// other event could end the wait), then the harness stops it and nothing
// is left: no server, no container state, no veth.
func TestNginxContainerTimed(t *testing.T) {
	ws, launcher := nginxWorkspace(t)
	plan, err := prepNginxContainer(ws)
	require.NoError(t, err)
	require.Equal(t, "http://10.201.255.254/", plan.ReadyHTTP)
	var ready []time.Duration
	for i := range 3 {
		s, err := Timed(context.Background(), launcher, plan, "gvmm-bench-nginx-test-"+string(rune('a'+i)), 30*time.Second)
		require.NoError(t, err)
		assert.Positive(t, s.ReadyNS)
		assert.Zero(t, s.ExitNS, "stopped by the harness: no exit time")
		assert.Positive(t, s.PeakRSSKiB)
		ready = append(ready, time.Duration(s.ReadyNS))

		// The guard route answers for the address now: no request
		// leaves the host.
		_, err = (&http.Client{Timeout: time.Second}).Get(plan.ReadyHTTP)
		assert.ErrorIs(t, err, syscall.EHOSTUNREACH, "nginx was stopped after READY, and its link is gone")
		assertNoContainers(t, ws)
	}
	t.Logf("nginx container READY (first HTTP 200): %v", ready)
}

// TestNginxContainerServes starts the subject's command as a user would and
// fetches the page: Debian's nginx answers with our index page; SIGTERM
// ends it and the runtime removes the container.
func TestNginxContainerServes(t *testing.T) {
	ws, _ := nginxWorkspace(t)
	plan, err := prepNginxContainer(ws)
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(ws.Repo, "guest/nginx/index.html"))
	require.NoError(t, err)

	c := plan.Start("gvmm-bench-nginx-serve")
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	// A file, not a buffer: no copying goroutine races with the reads.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	output := func() string {
		b, _ := os.ReadFile(out.Name())
		return string(b)
	}
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			_ = cmd.Process.Kill()
			<-waited
		}
		plan.Cleanup("gvmm-bench-nginx-serve")
	}()

	client := &http.Client{Timeout: time.Second}
	var body []byte
	var server string
	require.Eventually(t, func() bool {
		resp, err := client.Get(plan.ReadyHTTP)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		server = resp.Header.Get("Server")
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 5*time.Millisecond, "no 200 from %s", plan.ReadyHTTP)
	assert.Equal(t, string(want), string(body))
	assert.True(t, strings.HasPrefix(server, "nginx/"), "Server: %q", server)

	resp, err := client.Get(plan.ReadyHTTP + "missing.html")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a real server: unknown pages are 404")

	// The runtime passes SIGTERM on to nginx (at the latest when its
	// handoff grace ends: nginx reports no READY byte).
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-waited:
		ended = true
		// nginx ends its fast shutdown with status 0, which the runtime
		// passes on.
		require.NoError(t, err, output())
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM: %s", output())
	}
	assertNoContainers(t, ws)
}

// assertNoContainers checks the nginx subject's state directory is empty
// and its veth gone.
func assertNoContainers(t *testing.T, ws *Workspace) {
	t.Helper()
	gvmm, err := ws.Gvmm()
	require.NoError(t, err)
	ps, err := exec.Command(gvmm, "container", "ps", "-a", "--run-dir", filepath.Join(ws.Dir, "gvmm-run-nginx")).CombinedOutput()
	require.NoError(t, err, string(ps))
	lines := strings.Split(strings.TrimSpace(string(ps)), "\n")
	assert.LessOrEqual(t, len(lines), 1, "only the header: %s", ps)
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		assert.NotContains(t, a.String(), "10.201.255.253", "the host end of the veth is gone")
	}
}

// The guard routes make the subjects' addresses fail on the host while
// nothing is there, and go away with RemoveNginxRoutes.
func TestNginxGuardRoutes(t *testing.T) {
	testenv.NeedRoot(t, "routes")
	repo, err := FindRepo(".")
	require.NoError(t, err)
	ws, err := NewWorkspace(repo, t.TempDir(), report.FlavourNone)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	t.Cleanup(ws.RemoveNginxRoutes)

	require.NoError(t, ws.GuardNginxRoutes())
	require.NoError(t, ws.GuardNginxRoutes(), "once per workspace")
	for _, ip := range []string{nginxContainerIP, nginxVMGuestIP} {
		// The kernel's route lookup (ip route get) answers "no route".
		_, err := netlink.RouteGet(net.ParseIP(ip))
		require.ErrorIs(t, err, syscall.EHOSTUNREACH, "%s is unreachable, not sent off the host", ip)
		t0 := time.Now()
		_, err = (&http.Client{Timeout: time.Second}).Get(nginxURL(ip))
		assert.ErrorIs(t, err, syscall.EHOSTUNREACH)
		assert.Less(t, time.Since(t0), 500*time.Millisecond, "refused at once")
	}
	ws.RemoveNginxRoutes()
	for _, r := range guardRoutes() {
		left, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: r.Dst, Priority: guardMetric}, netlink.RT_FILTER_DST|netlink.RT_FILTER_PRIORITY)
		require.NoError(t, err)
		assert.Empty(t, left, "route %s removed", r.Dst)
	}
}
