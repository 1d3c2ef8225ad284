package report

import (
	"errors"
	"fmt"
	"math"
)

// Errors Compare returns when two runs must not be compared.
var (
	// ErrFlavourMismatch: the runs were made under different KVM
	// flavours, or one on a nested host and the other not. A kvm_pvm
	// exit costs an order of magnitude more than a kvm_intel one; such a
	// "regression" is a change of machine, not of code.
	ErrFlavourMismatch = errors.New("runs made under different KVM flavours")
	// ErrSchemaMismatch: the runs have different schema versions.
	ErrSchemaMismatch = errors.New("runs have different schema versions")
	// ErrThreshold: the threshold is negative or not a number.
	ErrThreshold = errors.New("bad threshold")
)

// Regression is one metric of one subject that got worse.
type Regression struct {
	// Subject and Where identify the subject.
	Subject string
	Where   Where
	// Metric is MetricReadyNS or MetricPeakRSSKiB.
	Metric Metric
	// Baseline and Current are the two medians, in the metric's unit.
	Baseline int64
	Current  int64
	// Change is Current/Baseline - 1: 0.30 is 30% worse.
	Change float64
}

// String reads like "gvmm-container (host) ready_ns: 1200000 -> 1600000 (+33.3%)".
func (r Regression) String() string {
	return fmt.Sprintf("%s (%s) %s: %d -> %d (%+.1f%%)", r.Subject, r.Where, r.Metric, r.Baseline, r.Current, 100*r.Change)
}

// Comparable says whether two runs may be compared: same schema version,
// same KVM flavour, same nesting (the nested parameter and in_vm).
func Comparable(baseline, current *Run) error {
	if baseline.SchemaVersion != current.SchemaVersion {
		return fmt.Errorf("%w: baseline v%d, current v%d", ErrSchemaMismatch, baseline.SchemaVersion, current.SchemaVersion)
	}
	b, c := baseline.Host, current.Host
	if b.KVMFlavour != c.KVMFlavour || b.Nested != c.Nested || b.InVM != c.InVM {
		return fmt.Errorf("%w: baseline %s, current %s", ErrFlavourMismatch, describeKVM(b), describeKVM(c))
	}
	return nil
}

func describeKVM(h Host) string {
	return fmt.Sprintf("%s (nested=%t, in_vm=%t)", h.KVMFlavour, h.Nested, h.InVM)
}

// Compare finds the subjects whose median time to READY or peak RSS is
// more than threshold worse in current than in baseline (0.25: more than
// 25% worse; exactly 25% is not a regression). Subjects are matched by
// name and place; one that is not measured in both runs is not compared.
// It refuses runs that Comparable refuses.
func Compare(baseline, current Run, threshold float64) ([]Regression, error) {
	if math.IsNaN(threshold) || math.IsInf(threshold, 0) || threshold < 0 {
		return nil, fmt.Errorf("%w: %v (want a fraction >= 0, e.g. 0.25 for 25%%)", ErrThreshold, threshold)
	}
	if err := Comparable(&baseline, &current); err != nil {
		return nil, err
	}
	var regs []Regression
	for i := range current.Subjects {
		cur := &current.Subjects[i]
		old := baseline.Subject(cur.Name)
		if old == nil || old.Where != cur.Where {
			continue
		}
		for _, m := range RatioMetrics {
			o, ok1 := old.Median(m)
			c, ok2 := cur.Median(m)
			if !ok1 || !ok2 {
				continue
			}
			change := float64(c)/float64(o) - 1
			if change > threshold {
				regs = append(regs, Regression{Subject: cur.Name, Where: cur.Where, Metric: m,
					Baseline: o, Current: c, Change: change})
			}
		}
	}
	return regs, nil
}
