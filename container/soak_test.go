package container

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// soakCycles is how many start/stop cycles TestSoak runs: $GVMM_SOAK
// (make soak sets 1000), else 200, enough for one comparison with the
// state after the first 100, and a few seconds of make test.
func soakCycles(t *testing.T) int {
	t.Helper()
	v := os.Getenv("GVMM_SOAK")
	if v == "" {
		return 200
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "GVMM_SOAK=%q", v)
	require.GreaterOrEqual(t, n, 200, "GVMM_SOAK: at least 200 cycles, to compare two samples")
	return n
}

// resources is what a leak would grow: the runtime's own descriptors,
// threads and resident memory, and what it leaves on the host: cgroups,
// state entries, mounts, network links.
type resources struct {
	fds, threads, rssKiB, cgroups, runEntries, mounts, links int
}

func (r resources) String() string {
	return "fds=" + strconv.Itoa(r.fds) + " threads=" + strconv.Itoa(r.threads) + " rss_kib=" + strconv.Itoa(r.rssKiB) +
		" cgroups=" + strconv.Itoa(r.cgroups) + " run_entries=" + strconv.Itoa(r.runEntries) + " mounts=" + strconv.Itoa(r.mounts) + " host_links=" + strconv.Itoa(r.links)
}

func measure(t *testing.T, runDir string) resources {
	t.Helper()
	var r resources
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	r.fds = len(fds)
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "Threads:" {
			r.threads, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmRSS:" {
			r.rssKiB, _ = strconv.Atoi(f[1])
		}
	}
	r.cgroups = cgroupCount(t)
	entries, _ := os.ReadDir(runDir)
	r.runEntries = len(entries)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	r.mounts = strings.Count(string(mi), "\n")
	links, err := net.Interfaces()
	require.NoError(t, err)
	r.links = len(links)
	return r
}

// TestSoak starts and stops the same container GVMM_SOAK times in this
// process, with the runtime's state in one run directory, every other one
// with a veth link (--net), and checks every 100 cycles that nothing grew:
// descriptors, cgroups, state entries, mounts and host links must be
// exactly as after the first 100 (the first ones warm up
// the Go runtime), threads too, and resident memory within 8 MiB.
func TestSoak(t *testing.T) {
	needRoot(t)
	cycles := soakCycles(t)
	runDir := t.TempDir()
	spec := DefaultSpec(testRootfs(t), []string{"/bin/sh", "-c", "echo cycle"})
	init := testInit(t)
	var base resources
	for i := 1; i <= cycles; i++ {
		var out bytes.Buffer
		// Every other cycle with --net: a veth pair made and removed.
		c, err := Start(Options{Spec: spec, Stdout: &out, RunDir: runDir, Remove: true, Init: init, Net: i%2 == 0})
		require.NoError(t, err, "cycle %d", i)
		st := waitBounded(t, c)
		require.Equal(t, 0, st.Code, "cycle %d: %s", i, out.String())
		require.Equal(t, "cycle\n", out.String())
		if i%100 != 0 {
			continue
		}
		now := measure(t, runDir)
		t.Logf("soak: %d cycles: %s", i, now)
		if i == 100 {
			base = now
			continue
		}
		require.Equal(t, base.fds, now.fds, "descriptors grew after %d cycles", i)
		require.Equal(t, base.cgroups, now.cgroups, "cgroups left behind after %d cycles", i)
		require.Equal(t, base.runEntries, now.runEntries, "state left behind after %d cycles", i)
		require.Equal(t, base.mounts, now.mounts, "mounts left behind after %d cycles", i)
		require.Equal(t, base.links, now.links, "veth links left behind after %d cycles", i)
		require.LessOrEqual(t, now.threads, base.threads+2, "threads grew after %d cycles", i)
		require.LessOrEqual(t, now.rssKiB, base.rssKiB+8<<10, "resident memory grew after %d cycles", i)
	}
}
