package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvaluateFixture(t *testing.T) {
	got := Evaluate(fixtureRun(), DefaultTargets())
	assert.Equal(t, []Finding{
		{Met, "gvmm's tiny-guest floor is 1.8× the raw KVM program (target ≤ 2×): met"},
		{Met, "gvmm's tiny-guest floor is 13.9× faster than QEMU microvm (target ≥ 10×): met"},
		{Met, "gvmm's VMM peak RSS is 4.2 MiB (target ≤ 5.0 MiB): met"},
		{NotMet, "gvmm container to READY is 0.69× crun (target ≤ 0.5×): not met"},
	}, got)
}

func TestEvaluateEdges(t *testing.T) {
	at := func(subject, against string, kind TargetKind, limit float64) Target {
		return Target{Subject: subject, Against: against, Metric: MetricReadyNS, Kind: kind, Limit: limit, What: "X", AgainstWhat: "Y"}
	}
	for _, tc := range []struct {
		name   string
		edit   func(r *Run)
		target Target
		want   Verdict
		text   string
	}{
		{"exactly 2× is met", func(r *Run) { setReady(r, SubjectGvmmTiny, 2*ms) },
			at(SubjectGvmmTiny, SubjectRawKVM, AtMostTimes, 2), Met, "X is 2× Y (target ≤ 2×): met"},
		{"just over 2× is not, and is not rounded onto the target", func(r *Run) { setReady(r, SubjectGvmmTiny, 2_010_000) },
			at(SubjectGvmmTiny, SubjectRawKVM, AtMostTimes, 2), NotMet, "X is 2.01× Y (target ≤ 2×): not met"},
		{"2.004× is not printed as 2×", func(r *Run) { setReady(r, SubjectGvmmTiny, 2_004_000) },
			at(SubjectGvmmTiny, SubjectRawKVM, AtMostTimes, 2), NotMet, "X is 2.004× Y (target ≤ 2×): not met"},
		{"exactly 10× faster is met", func(r *Run) { setReady(r, SubjectQEMUMicrovmTiny, 18*ms) },
			at(SubjectGvmmTiny, SubjectQEMUMicrovmTiny, AtLeastFaster, 10), Met, "X is 10× faster than Y (target ≥ 10×): met"},
		{"9.9× faster is not", func(r *Run) { setReady(r, SubjectQEMUMicrovmTiny, 17_820_000) },
			at(SubjectGvmmTiny, SubjectQEMUMicrovmTiny, AtLeastFaster, 10), NotMet, "X is 9.9× faster than Y (target ≥ 10×): not met"},
		{"slower than the peer", func(r *Run) { setReady(r, SubjectGvmmContainer, 20*ms) },
			at(SubjectGvmmContainer, SubjectCrun, AtMostTimes, 0.5), NotMet, "X is 2× Y (target ≤ 0.5×): not met"},
		{"peer skipped", func(r *Run) {
			s := r.Subject(SubjectCrun)
			s.Status, s.Reason, s.Samples = StatusSkipped, "crun not installed (apt-get install crun)", nil
			r.ComputeStats()
		}, at(SubjectGvmmContainer, SubjectCrun, AtMostTimes, 0.5), NotMeasured,
			"X against Y: crun was skipped (crun not installed (apt-get install crun))"},
		{"subject absent", func(r *Run) { r.Subjects = r.Subjects[1:] },
			at(SubjectRawKVM, SubjectCrun, AtMostTimes, 1), NotMeasured, `X: no subject "raw-kvm" in this run`},
		{"rig against host", func(*Run) {},
			at("gvmm-vm-bzimage-minimal", SubjectRawKVM, AtMostTimes, 2), NotComparable,
			"X against Y: measured in the rig and in the host, different clocks"},
		{"rig against rig says emulator time", func(*Run) {},
			at("gvmm-vm-bzimage-minimal", "qemu-microvm-bzimage-minimal", AtMostTimes, 2), Met,
			"X is 1.33× Y (rig: emulator time) (target ≤ 2×): met"},
		{"KiB limit", func(r *Run) {
			s := r.Subject(SubjectGvmmTiny)
			for i := range s.Samples {
				s.Samples[i].PeakRSSKiB = 5121
			}
			r.ComputeStats()
		}, Target{Subject: SubjectGvmmTiny, Metric: MetricPeakRSSKiB, Kind: AtMostKiB, Limit: 5120, What: "RSS"},
			NotMet, "RSS is 5.0 MiB (target ≤ 5.0 MiB): not met"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := fixtureRun()
			tc.edit(run)
			got := Evaluate(run, []Target{tc.target})
			require.Len(t, got, 1)
			assert.Equal(t, Finding{tc.want, tc.text}, got[0])
		})
	}
}

func TestLosses(t *testing.T) {
	run := fixtureRun()
	assert.Equal(t, []string{
		"gvmm-container loses to crun on peak RSS: 10.7 MiB against 2.0 MiB (5.5×)",
		"gvmm-container loses to runc on peak RSS: 10.7 MiB against 8.8 MiB (1.22×)",
		"gvmm-vm-bzimage-minimal loses to qemu-microvm-bzimage-minimal on time to READY (rig: emulator time): 800.00 ms against 600.00 ms (1.33×)",
		"gvmm-vm-bzimage-minimal loses to qemu-microvm-bzimage-minimal on peak RSS (rig): 68.4 MiB against 58.6 MiB (1.17×)",
	}, Losses(run))

	// raw-kvm is a floor (a process), not a peer: the tiny guest never
	// "loses" to it, though it is slower.
	for _, l := range Losses(run) {
		assert.NotContains(t, l, SubjectRawKVM)
	}
	// VMs booting different guests are not each other's peers.
	run.Subject("gvmm-vm-bzimage-minimal").Guest = "linux-debian"
	run.Subject("qemu-microvm-bzimage-minimal").Guest = "linux-minimal"
	assert.Len(t, Losses(run), 2, "only the container losses are left")
	run.Subject("gvmm-vm-bzimage-minimal").Guest = "linux-minimal"
	assert.Len(t, Losses(run), 4)
	setReady(run, "qemu-microvm-bzimage-minimal", 900*ms)
	for i := range run.Subjects {
		for j := range run.Subjects[i].Samples {
			run.Subjects[i].Samples[j].PeakRSSKiB = 100
		}
	}
	run.ComputeStats()
	assert.Empty(t, Losses(run))
}

func TestCastleVsVillage(t *testing.T) {
	run := fixtureRun()
	assert.Equal(t, []string{"castle against village, ready workload: the fastest gvmm VM (gvmm-vm-pvh-tiny) is READY in 1.80 ms, " +
		"gvmm's container (gvmm-container) in 6.90 ms: the VM takes 0.26× the container's time"}, CastleVsVillage(run))
	run.Subject(SubjectGvmmContainer).Workload = WorkloadNginx
	assert.Empty(t, CastleVsVillage(run), "different workloads are not paired")

	// NGINX on the course machine: the VM in the rig, the container on
	// the host. Said, not divided.
	run.Subject("gvmm-vm-bzimage-minimal").Workload = WorkloadNginx
	assert.Equal(t, []string{"castle against village, nginx workload: not compared: gvmm's VM (gvmm-vm-bzimage-minimal) " +
		"was measured in the nested rig, its container (gvmm-container) on the host: two different clocks"}, CastleVsVillage(run))
}

func TestFormat(t *testing.T) {
	for in, want := range map[float64]string{1.8: "1.8×", 0.69: "0.69×", 0.5: "0.5×", 2: "2×", 2.01: "2.01×",
		13.888: "13.9×", 10: "10×", 1.999: "2×", 0.1: "0.1×"} {
		assert.Equal(t, want, formatTimes(in), "%v", in)
	}
	assert.Equal(t, "850 µs", formatNS(850_000))
	assert.Equal(t, "1.50 ms", formatNS(1_500_000))
	assert.Equal(t, "12.00 s", formatNS(12_000_000_000))
	assert.Equal(t, "900 KiB", formatKiB(900))
	assert.Equal(t, "1.5 MiB", formatKiB(1536))
	assert.Equal(t, "2.00 GiB", formatKiB(2<<20))
}
