package report

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSummarise(t *testing.T) {
	seq := func(n int) []int64 { // 1..n, shuffled by reversing
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(n - i)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		in   []int64
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"one", []int64{7}, Stats{N: 1, Median: 7, Min: 7, Max: 7, P95: 7}},
		{"two: p95 is the max", []int64{5, 1}, Stats{N: 2, Median: 3, Min: 1, Max: 5, P95: 5}},
		{"odd", []int64{3, 1, 2}, Stats{N: 3, Median: 2, Min: 1, Max: 3, P95: 3}},
		{"even, exact mean", []int64{40, 10, 30, 20}, Stats{N: 4, Median: 25, Min: 10, Max: 40, P95: 40}},
		{"even, rounded down", []int64{2, 1}, Stats{N: 2, Median: 1, Min: 1, Max: 2, P95: 2}},
		{"tail does not move the median", []int64{10, 11, 12, 1000}, Stats{N: 4, Median: 11, Min: 10, Max: 1000, P95: 1000}},
		{"n=19: rank 19 (ceil 18.05)", seq(19), Stats{N: 19, Median: 10, Min: 1, Max: 19, P95: 19}},
		{"n=20: rank 19", seq(20), Stats{N: 20, Median: 10, Min: 1, Max: 20, P95: 19}},
		{"n=21: rank 20 (ceil 19.95)", seq(21), Stats{N: 21, Median: 11, Min: 1, Max: 21, P95: 20}},
		{"n=100: rank 95", seq(100), Stats{N: 100, Median: 50, Min: 1, Max: 100, P95: 95}},
		{"no overflow", []int64{math.MaxInt64, math.MaxInt64 - 2}, Stats{N: 2, Median: math.MaxInt64 - 1,
			Min: math.MaxInt64 - 2, Max: math.MaxInt64, P95: math.MaxInt64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]int64(nil), tc.in...)
			assert.Equal(t, tc.want, Summarise(in))
			assert.Equal(t, tc.in, in, "input must not be reordered")
		})
	}
}

func TestSummariseSamplesSkipsZero(t *testing.T) {
	samples := []Sample{{ReadyNS: 30, GuestClockReadyNS: 5}, {ReadyNS: 10}, {ReadyNS: 20, GuestClockReadyNS: 7}}
	assert.Equal(t, Stats{N: 3, Median: 20, Min: 10, Max: 30, P95: 30}, SummariseSamples(samples, MetricReadyNS))
	assert.Equal(t, Stats{N: 2, Median: 6, Min: 5, Max: 7, P95: 7}, SummariseSamples(samples, MetricGuestClockReadyNS))
	assert.Equal(t, Stats{}, SummariseSamples(samples, MetricCgroupMemoryKiB))
}

func TestSampleValueCoversEveryMetric(t *testing.T) {
	s := Sample{1, 2, 3, 4, 5, 6, 7, 8, 9}
	seen := map[int64]Metric{}
	for _, m := range Metrics {
		v := s.Value(m)
		assert.NotZero(t, v, m)
		assert.NotContains(t, seen, v, "%s and %s read the same field", m, seen[v])
		seen[v] = m
	}
	assert.Len(t, seen, 9)
	assert.Zero(t, s.Value("nonsense"))
}

func TestComputeStats(t *testing.T) {
	run := fixtureRun()
	tiny := run.Subject(SubjectGvmmTiny)
	assert.Equal(t, Stats{N: 5, Median: 1800_000, Min: 1700_000, Max: 5 * ms, P95: 5 * ms}, tiny.Stats[MetricReadyNS])
	assert.Equal(t, int64(4300), tiny.Stats[MetricPeakRSSKiB].Median)
	assert.NotContains(t, tiny.Stats, MetricGuestClockReadyNS, "no sample has it")
	assert.Nil(t, run.Subject("gokvm").Stats)
}

func TestMedianFloat(t *testing.T) {
	assert.Zero(t, MedianFloat(nil))
	assert.Equal(t, 2.5, MedianFloat([]float64{3, 1, 2.5}))
	v := []float64{4, 1, 3, 2}
	assert.Equal(t, 2.5, MedianFloat(v))
	assert.Equal(t, []float64{4, 1, 3, 2}, v, "the input keeps its order")
}
