package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRatios(t *testing.T) {
	run := fixtureRun()
	rs, err := Ratios(run, SubjectCrun)
	require.NoError(t, err)
	require.Len(t, rs, len(run.Subjects))
	by := map[string]Ratio{}
	for _, r := range rs {
		by[r.Subject] = r
	}
	assert.InDelta(t, 0.69, by[SubjectGvmmContainer].Values[MetricReadyNS], 1e-9)
	assert.InDelta(t, 5.5, by[SubjectGvmmContainer].Values[MetricPeakRSSKiB], 1e-9)
	assert.InDelta(t, 1.0, by[SubjectCrun].Values[MetricReadyNS], 1e-9)
	assert.InDelta(t, 1.2, by["runc"].Values[MetricReadyNS], 1e-9)
	assert.Empty(t, by["gvmm-vm-bzimage-minimal"].Values, "rig against host: different clocks")
	assert.Contains(t, by["gvmm-vm-bzimage-minimal"].Note, "different clocks")
	assert.Empty(t, by["gokvm"].Values)
	assert.Equal(t, "skipped", by["gokvm"].Note)

	rs, err = Ratios(run, "qemu-microvm-bzimage-minimal")
	require.NoError(t, err)
	for _, r := range rs {
		if r.Subject == "gvmm-vm-bzimage-minimal" {
			assert.InDelta(t, 800.0/600, r.Values[MetricReadyNS], 1e-9, "rig against rig")
		}
		if r.Subject == SubjectCrun {
			assert.Empty(t, r.Values, "host against rig")
		}
	}
}

func TestRatiosMissingMetric(t *testing.T) {
	run := fixtureRun()
	run.Subject("runc").Samples = []Sample{{ReadyNS: 12 * ms}} // no RSS measured
	run.ComputeStats()
	rs, err := Ratios(run, SubjectCrun)
	require.NoError(t, err)
	for _, r := range rs {
		if r.Subject == "runc" {
			assert.Contains(t, r.Values, MetricReadyNS)
			assert.NotContains(t, r.Values, MetricPeakRSSKiB)
		}
	}
}

func TestRatiosNoBaseline(t *testing.T) {
	run := fixtureRun()
	_, err := Ratios(run, "podman")
	assert.ErrorIs(t, err, ErrNoBaseline)
	_, err = Ratios(run, "gokvm")
	assert.ErrorIs(t, err, ErrNoBaseline)
	assert.ErrorContains(t, err, "skipped")
}
