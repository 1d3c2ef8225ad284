package report

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoRuns returns a baseline and a copy to change.
func twoRuns() (Run, Run) {
	return *fixtureRun(), *fixtureRun()
}

// setReady gives subject name n samples all at ns, and recomputes.
func setReady(r *Run, name string, ns int64) {
	s := r.Subject(name)
	s.Samples = starts(s.Samples[0].PeakRSSKiB, ns, ns, ns)
	r.ComputeStats()
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cur *Run)
		want   []Regression
	}{
		{"identical", func(*Run) {}, nil},
		{"exactly the threshold is not a regression", func(cur *Run) { setReady(cur, SubjectCrun, 12_500_000) }, nil},
		{"just past the threshold is", func(cur *Run) { setReady(cur, SubjectCrun, 12_500_001) },
			[]Regression{{Subject: SubjectCrun, Where: WhereHost, Metric: MetricReadyNS, Baseline: 10 * ms, Current: 12_500_001, Change: 0.2500001}}},
		{"faster is not a regression", func(cur *Run) { setReady(cur, SubjectGvmmContainer, 1*ms) }, nil},
		{"peak RSS", func(cur *Run) {
			s := cur.Subject(SubjectGvmmTiny)
			for i := range s.Samples {
				s.Samples[i].PeakRSSKiB = 8600
			}
			cur.ComputeStats()
		}, []Regression{{Subject: SubjectGvmmTiny, Where: WhereHost, Metric: MetricPeakRSSKiB, Baseline: 4300, Current: 8600, Change: 1}}},
		{"rig subjects compare with rig", func(cur *Run) { setReady(cur, "gvmm-vm-bzimage-minimal", 1200*ms) },
			[]Regression{{Subject: "gvmm-vm-bzimage-minimal", Where: WhereRig, Metric: MetricReadyNS, Baseline: 800 * ms, Current: 1200 * ms, Change: 0.5}}},
		{"moved from host to rig: not compared", func(cur *Run) {
			cur.Subject(SubjectCrun).Where = WhereRig
			setReady(cur, SubjectCrun, 100*ms)
		}, nil},
		{"skipped now: not compared", func(cur *Run) {
			s := cur.Subject(SubjectCrun)
			s.Status, s.Reason, s.Samples = StatusSkipped, "crun not installed", nil
			cur.ComputeStats()
		}, nil},
		{"new subject: nothing to compare", func(cur *Run) {
			cur.Subjects = append(cur.Subjects, Subject{Name: "youki", Kind: KindContainer, Workload: WorkloadReady,
				Where: WhereHost, Status: StatusMeasured, Samples: starts(1, 50*ms)})
			cur.ComputeStats()
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, cur := twoRuns()
			tc.change(&cur)
			regs, err := Compare(base, cur, 0.25)
			require.NoError(t, err)
			require.Len(t, regs, len(tc.want))
			for i := range regs {
				assert.InDelta(t, tc.want[i].Change, regs[i].Change, 1e-9)
				regs[i].Change = tc.want[i].Change
			}
			assert.Equal(t, tc.want, regs)
		})
	}
}

func TestCompareZeroThreshold(t *testing.T) {
	base, cur := twoRuns()
	setReady(&cur, SubjectCrun, 10*ms+1)
	regs, err := Compare(base, cur, 0)
	require.NoError(t, err)
	require.Len(t, regs, 1)
	assert.Equal(t, "crun (host) ready_ns: 10000000 -> 10000001 (+0.0%)", regs[0].String())
}

func TestCompareRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cur *Run)
		want   error
	}{
		{"flavour", func(cur *Run) { cur.Host.KVMFlavour = FlavourAMD }, ErrFlavourMismatch},
		{"nested parameter", func(cur *Run) { cur.Host.Nested = true }, ErrFlavourMismatch},
		{"in a VM or not", func(cur *Run) { cur.Host.InVM = false }, ErrFlavourMismatch},
		{"schema version", func(cur *Run) { cur.SchemaVersion = 2 }, ErrSchemaMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, cur := twoRuns()
			setReady(&cur, SubjectCrun, 100*ms) // a "regression" that must not be reported
			tc.change(&cur)
			regs, err := Compare(base, cur, 0.25)
			assert.ErrorIs(t, err, tc.want)
			assert.Nil(t, regs)
		})
	}
	base, cur := twoRuns()
	cur.Host.KVMFlavour = FlavourIntel
	_, err := Compare(base, cur, 0.25)
	assert.ErrorContains(t, err, "baseline kvm_pvm (nested=false, in_vm=true), current kvm_intel")
}

func TestCompareBadThreshold(t *testing.T) {
	base, cur := twoRuns()
	for _, th := range []float64{-0.1, math.NaN(), math.Inf(1)} {
		_, err := Compare(base, cur, th)
		assert.ErrorIs(t, err, ErrThreshold, "%v", th)
	}
}
