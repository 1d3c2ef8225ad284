package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/kvmtest"
	"gvmm/internal/testenv"
	"gvmm/vmm"
)

// TestMain removes the gvmm binary and test guests built for the floor.
func TestMain(m *testing.M) { testenv.Main(m) }

// floorSubjects builds the three floor subjects in dir (or takes the
// prebuilt ones of `make kvm-tests` and `make bench-floor` in the rig).
func floorSubjects(t testing.TB, dir string) map[string][]string {
	gvmm := kvmtest.StaticGVMM(t)
	hello := kvmtest.Guest(t, "hello32")
	floor, err := kvmtest.CProgram(dir, "kvmfloor", "testdata/kvmfloor.c")
	require.NoError(t, err)
	rusage, err := kvmtest.CProgram(dir, "rusage", "testdata/rusage.c")
	require.NoError(t, err)
	subjects := map[string][]string{
		"launcher": {rusage, "true"},
		"raw-kvm":  {rusage, floor},
		"gvmm":     {rusage, gvmm, "boot", hello, "--mem", "256M"},
	}
	// QEMU's microvm with the same PVH guest; isa-debug-exit at the
	// debug device's exit port ends it (status 0 becomes exit code 1).
	if qemu, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		subjects["qemu-microvm"] = []string{rusage, qemu,
			"-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on", "-enable-kvm", "-cpu", "qemu64",
			"-m", "256M", "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
			"-kernel", hello, "-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=1", vmm.DebugPort+1)}
	}
	return subjects
}

var wantCode = map[string]int{"launcher": 0, "raw-kvm": 0, "gvmm": 0, "qemu-microvm": 1}

// BenchmarkFloor starts each subject b.N times and reports medians:
// ms-ready (exec to READY), ms-exit (exec to exit) and KiB-rss (peak RSS).
// Run: go test -run '^$' -bench Floor -benchtime 20x ./bench/
func BenchmarkFloor(b *testing.B) {
	kvmtest.Require(b)
	dir := b.TempDir()
	subjects := floorSubjects(b, dir)
	results := map[string]Stats{}
	for _, name := range []string{"launcher", "raw-kvm", "gvmm", "qemu-microvm"} {
		argv, ok := subjects[name]
		if !ok {
			b.Logf("%s: skipped (not installed)", name)
			continue
		}
		b.Run(name, func(b *testing.B) {
			// One warm-up start fills the page cache.
			_, err := RunOnce(context.Background(), argv, wantCode[name], 30*time.Second)
			require.NoError(b, err)
			var samples []Sample
			for b.Loop() {
				s, err := RunOnce(context.Background(), argv, wantCode[name], 30*time.Second)
				require.NoError(b, err)
				samples = append(samples, s)
			}
			st := Summarise(samples)
			results[name] = st
			if st.ReadyMedian > 0 {
				b.ReportMetric(float64(st.ReadyMedian.Microseconds())/1000, "ms-ready")
			}
			b.ReportMetric(float64(st.ExitMedian.Microseconds())/1000, "ms-exit")
			b.ReportMetric(float64(st.RSSMedianKiB), "KiB-rss")
			b.ReportMetric(0, "ns/op") // wall time per op is ms-exit
		})
	}
	b.Logf("KVM flavour: %s", vmm.Flavour())
	if g, ok := results["gvmm"]; ok {
		for _, peer := range []string{"raw-kvm", "qemu-microvm"} {
			if p, ok := results[peer]; ok && p.ExitMedian > 0 {
				b.Logf("gvmm/%s exit-time ratio: %.2f", peer, float64(g.ExitMedian)/float64(p.ExitMedian))
			}
		}
	}
}

// TestFloorHarness checks the harness itself on the real subjects once:
// every subject reaches READY (or exits) with its expected code.
func TestFloorHarness(t *testing.T) {
	kvmtest.Require(t)
	subjects := floorSubjects(t, t.TempDir())
	if _, ok := subjects["qemu-microvm"]; !ok && os.Getenv("GVMM_REQUIRE_KVM") == "1" {
		t.Fatal("GVMM_REQUIRE_KVM=1 but the QEMU microvm peer is missing: apt-get install qemu-system-x86")
	}
	for name, argv := range subjects {
		s, err := RunOnce(context.Background(), argv, wantCode[name], 30*time.Second)
		require.NoError(t, err, name)
		t.Logf("%s: READY %v, exit %v, peak RSS %d KiB", name, s.Ready, s.Exit, s.MaxRSSKiB)
		assert.Greater(t, s.Exit, time.Duration(0), name)
		assert.Greater(t, s.MaxRSSKiB, int64(0), name)
		if name != "qemu-microvm" && name != "launcher" {
			assert.Greater(t, s.Ready, time.Duration(0), "%s READY seen", name)
			assert.LessOrEqual(t, s.Ready, s.Exit, name)
		}
	}
}

func TestSummarise(t *testing.T) {
	ms := time.Millisecond
	st := Summarise([]Sample{{Ready: 3 * ms, Exit: 4 * ms, MaxRSSKiB: 30}, {Ready: 1 * ms, Exit: 2 * ms, MaxRSSKiB: 10},
		{Ready: 2 * ms, Exit: 3 * ms, MaxRSSKiB: 20}, {Ready: 10 * ms, Exit: 11 * ms, MaxRSSKiB: 40}})
	assert.Equal(t, 4, st.N)
	assert.Equal(t, 2500*time.Microsecond, st.ReadyMedian)
	assert.Equal(t, 1*ms, st.ReadyMin)
	assert.Equal(t, 10*ms, st.ReadyMax)
	assert.Equal(t, 10*ms, st.Ready95)
	assert.Equal(t, int64(25), st.RSSMedianKiB, "the mean of the middle two, as for every median in the reports")
}
