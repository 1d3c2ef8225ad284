package report

import (
	"errors"
	"fmt"
)

// RatioMetrics are the metrics Ratios and Compare look at: time to READY
// and peak RSS, the two numbers the targets are stated in.
var RatioMetrics = []Metric{MetricReadyNS, MetricPeakRSSKiB}

// ErrNoBaseline: the baseline subject is absent or was not measured.
var ErrNoBaseline = errors.New("no baseline")

// Ratio is one subject's medians divided by the baseline's, from the same
// Run: both measured minutes apart on the same host under the same load,
// so a busy machine slows both alike and the ratio stays meaningful.
type Ratio struct {
	// Subject is the subject's name.
	Subject string
	// Values holds median(subject)/median(baseline) per metric in
	// RatioMetrics; a metric is absent when either side lacks it.
	Values map[Metric]float64
	// Note says why Values is empty, when it is.
	Note string
}

// Ratios divides each subject's medians of RatioMetrics by those of the
// subject named baseline, within run only. A subject measured somewhere
// else than the baseline (rig against host) gets no ratio: emulator time
// and host time are different clocks. Skipped and failed subjects get no
// ratio and a note.
func Ratios(run *Run, baseline string) ([]Ratio, error) {
	base := run.Subject(baseline)
	if base == nil {
		return nil, fmt.Errorf("%w: subject %q is not in the run", ErrNoBaseline, baseline)
	}
	if base.Status != StatusMeasured {
		return nil, fmt.Errorf("%w: subject %q was %s: %s", ErrNoBaseline, baseline, base.Status, base.Reason)
	}
	out := make([]Ratio, 0, len(run.Subjects))
	for i := range run.Subjects {
		s := &run.Subjects[i]
		r := Ratio{Subject: s.Name, Values: map[Metric]float64{}}
		switch {
		case s.Status != StatusMeasured:
			r.Note = string(s.Status)
		case s.Where != base.Where:
			r.Note = fmt.Sprintf("measured in the %s, baseline in the %s: different clocks", s.Where, base.Where)
		default:
			for _, m := range RatioMetrics {
				num, ok1 := s.Median(m)
				den, ok2 := base.Median(m)
				if ok1 && ok2 {
					r.Values[m] = float64(num) / float64(den)
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}
