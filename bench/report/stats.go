package report

import "slices"

// Metric names one measured quantity; its unit is the suffix (_ns, _kib).
type Metric string

// The metrics of a Sample, named as in the JSON.
const (
	MetricReadyNS           Metric = "ready_ns"
	MetricExitNS            Metric = "exit_ns"
	MetricCPUUserNS         Metric = "cpu_user_ns"
	MetricCPUSysNS          Metric = "cpu_sys_ns"
	MetricPeakRSSKiB        Metric = "peak_rss_kib"
	MetricSteadyRSSKiB      Metric = "steady_rss_kib"
	MetricGuestTouchedKiB   Metric = "guest_touched_kib"
	MetricCgroupMemoryKiB   Metric = "cgroup_memory_kib"
	MetricGuestClockReadyNS Metric = "guest_clock_ready_ns"
)

// Metrics lists every metric in the order reports show them.
var Metrics = []Metric{
	MetricReadyNS, MetricExitNS, MetricCPUUserNS, MetricCPUSysNS,
	MetricPeakRSSKiB, MetricSteadyRSSKiB, MetricGuestTouchedKiB,
	MetricCgroupMemoryKiB, MetricGuestClockReadyNS,
}

// Value returns the sample's value of m (0 for an unknown metric).
func (s Sample) Value(m Metric) int64 {
	switch m {
	case MetricReadyNS:
		return s.ReadyNS
	case MetricExitNS:
		return s.ExitNS
	case MetricCPUUserNS:
		return s.CPUUserNS
	case MetricCPUSysNS:
		return s.CPUSysNS
	case MetricPeakRSSKiB:
		return s.PeakRSSKiB
	case MetricSteadyRSSKiB:
		return s.SteadyRSSKiB
	case MetricGuestTouchedKiB:
		return s.GuestTouchedKiB
	case MetricCgroupMemoryKiB:
		return s.CgroupMemoryKiB
	case MetricGuestClockReadyNS:
		return s.GuestClockReadyNS
	}
	return 0
}

// Stats summarises the samples of one metric, in the metric's unit.
type Stats struct {
	// N is the number of samples that had the metric.
	N int `json:"n"`
	// Median is the middle value; for an even N the mean of the two
	// middle values, rounded down.
	Median int64 `json:"median"`
	// Min and Max are the extremes.
	Min int64 `json:"min"`
	Max int64 `json:"max"`
	// P95 is the 95th percentile by the nearest-rank method: the value at
	// rank ceil(0.95·N) in ascending order (1-based). With N < 20 that is
	// the maximum, which is the honest answer for so few samples.
	P95 int64 `json:"p95"`
}

// Summarise computes the statistics of values. Medians and percentiles
// rather than means: start-up times have a long right tail (a page-cache
// miss, a scheduler hiccup) that drags a mean but not a median.
func Summarise(values []int64) Stats {
	n := len(values)
	if n == 0 {
		return Stats{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	st := Stats{N: n, Min: v[0], Max: v[n-1], P95: v[nearestRank(n, 95)-1]}
	if n%2 == 1 {
		st.Median = v[n/2]
	} else {
		lo, hi := v[n/2-1], v[n/2]
		st.Median = lo + (hi-lo)/2 // no overflow for large values
	}
	return st
}

// nearestRank is the 1-based rank of the p-th percentile of n sorted
// values, ceil(p·n/100), computed in integers so 95·20/100 is exactly 19.
func nearestRank(n, p int) int {
	return max(1, (p*n+99)/100)
}

// SummariseSamples computes the statistics of metric m over the samples
// that have it (non-zero values).
func SummariseSamples(samples []Sample, m Metric) Stats {
	var v []int64
	for _, s := range samples {
		if x := s.Value(m); x != 0 {
			v = append(v, x)
		}
	}
	return Summarise(v)
}

// summariseAll returns the stats of every metric present in samples, or
// nil when there is none.
func summariseAll(samples []Sample) map[Metric]Stats {
	var out map[Metric]Stats
	for _, m := range Metrics {
		st := SummariseSamples(samples, m)
		if st.N == 0 {
			continue
		}
		if out == nil {
			out = map[Metric]Stats{}
		}
		out[m] = st
	}
	return out
}

// MedianFloat is the median of v (the mean of the two middle values for
// an even count), for derived quantities such as MB/s; 0 for none. v is
// not modified.
func MedianFloat(v []float64) float64 {
	n := len(v)
	if n == 0 {
		return 0
	}
	w := slices.Clone(v)
	slices.Sort(w)
	if n%2 == 1 {
		return w[n/2]
	}
	return (w[n/2-1] + w[n/2]) / 2
}
