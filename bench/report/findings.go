package report

import (
	"fmt"
	"strings"
)

// Names of the subjects the targets are stated for. The bench
// harness must use these names for the findings to find them.
const (
	// SubjectRawKVM is the minimal C program that runs a few bytes of
	// guest code on KVM (bench/testdata/kvmfloor.c): the floor.
	SubjectRawKVM = "raw-kvm"
	// SubjectGvmmTiny is gvmm booting the tiny PVH test guest.
	SubjectGvmmTiny = "gvmm-vm-pvh-tiny"
	// SubjectQEMUMicrovmTiny is QEMU -M microvm with the same tiny guest.
	SubjectQEMUMicrovmTiny = "qemu-microvm-pvh-tiny"
	// SubjectGvmmContainer is gvmm's container runtime with the READY agent.
	SubjectGvmmContainer = "gvmm-container"
	// SubjectCrun is crun with an OCI bundle of the same root file system.
	SubjectCrun = "crun"
)

// TargetKind says how a Target's limit is read.
type TargetKind int

// The kinds of target.
const (
	// AtMostTimes: median(Subject)/median(Against) <= Limit.
	AtMostTimes TargetKind = iota
	// AtLeastFaster: median(Against)/median(Subject) >= Limit.
	AtLeastFaster
	// AtMostKiB: median(Subject) <= Limit, in KiB.
	AtMostKiB
)

// Target is one performance goal, stated as the issue states it.
type Target struct {
	// Subject is measured; Against is the peer (empty for AtMostKiB).
	Subject, Against string
	// Metric is MetricReadyNS or a _kib metric.
	Metric Metric
	Kind   TargetKind
	Limit  float64
	// What and AgainstWhat are the words the finding uses for them.
	What, AgainstWhat string
}

// DefaultTargets are issue 6's targets: the tiny-guest floor at most 2×
// a raw KVM program and at least 10× faster than QEMU microvm, the VMM's
// peak RSS at most 5 MiB, gvmm's container at most 0.5× crun to READY.
func DefaultTargets() []Target {
	return []Target{
		{Subject: SubjectGvmmTiny, Against: SubjectRawKVM, Metric: MetricReadyNS, Kind: AtMostTimes, Limit: 2,
			What: "gvmm's tiny-guest floor", AgainstWhat: "the raw KVM program"},
		{Subject: SubjectGvmmTiny, Against: SubjectQEMUMicrovmTiny, Metric: MetricReadyNS, Kind: AtLeastFaster, Limit: 10,
			What: "gvmm's tiny-guest floor", AgainstWhat: "QEMU microvm"},
		{Subject: SubjectGvmmTiny, Metric: MetricPeakRSSKiB, Kind: AtMostKiB, Limit: 5 * 1024,
			What: "gvmm's VMM peak RSS"},
		{Subject: SubjectGvmmContainer, Against: SubjectCrun, Metric: MetricReadyNS, Kind: AtMostTimes, Limit: 0.5,
			What: "gvmm container to READY", AgainstWhat: "crun"},
	}
}

// Verdict is the outcome of a Target.
type Verdict string

// The verdicts.
const (
	Met           Verdict = "met"
	NotMet        Verdict = "not met"
	NotMeasured   Verdict = "not measured"
	NotComparable Verdict = "not comparable"
)

// Finding is one sentence of the report, generated from the data.
type Finding struct {
	Verdict Verdict
	Text    string
}

// Evaluate judges each target against run.
func Evaluate(run *Run, targets []Target) []Finding {
	out := make([]Finding, 0, len(targets))
	for _, t := range targets {
		out = append(out, evaluate(run, t))
	}
	return out
}

func evaluate(run *Run, t Target) Finding {
	s := run.Subject(t.Subject)
	v, ok := s.Median(t.Metric)
	if !ok {
		return Finding{NotMeasured, fmt.Sprintf("%s: %s", t.What, notMeasured(t.Subject, s))}
	}
	label := whereLabel(s.Where, t.Metric)
	if t.Kind == AtMostKiB {
		verdict := verdictOf(float64(v) <= t.Limit)
		return Finding{verdict, fmt.Sprintf("%s is %s%s (target ≤ %s): %s",
			t.What, formatKiB(v), label, formatKiB(int64(t.Limit)), verdict)}
	}
	p := run.Subject(t.Against)
	w, ok := p.Median(t.Metric)
	if !ok {
		return Finding{NotMeasured, fmt.Sprintf("%s against %s: %s", t.What, t.AgainstWhat, notMeasured(t.Against, p))}
	}
	if s.Where != p.Where {
		return Finding{NotComparable, fmt.Sprintf("%s against %s: measured in the %s and in the %s, different clocks",
			t.What, t.AgainstWhat, s.Where, p.Where)}
	}
	if t.Kind == AtLeastFaster {
		x := float64(w) / float64(v)
		verdict := verdictOf(x >= t.Limit)
		return Finding{verdict, fmt.Sprintf("%s is %s faster than %s%s (target ≥ %s): %s",
			t.What, formatAgainst(x, t.Limit), t.AgainstWhat, label, formatTimes(t.Limit), verdict)}
	}
	x := float64(v) / float64(w)
	verdict := verdictOf(x <= t.Limit)
	return Finding{verdict, fmt.Sprintf("%s is %s %s%s (target ≤ %s): %s",
		t.What, formatAgainst(x, t.Limit), t.AgainstWhat, label, formatTimes(t.Limit), verdict)}
}

func verdictOf(ok bool) Verdict {
	if ok {
		return Met
	}
	return NotMet
}

func notMeasured(name string, s *Subject) string {
	if s == nil {
		return fmt.Sprintf("no subject %q in this run", name)
	}
	if s.Status != StatusMeasured {
		return fmt.Sprintf("%s was %s (%s)", name, s.Status, s.Reason)
	}
	return fmt.Sprintf("%s has no samples of this metric", name)
}

// whereLabel marks rig results: a time there is emulator time.
func whereLabel(w Where, m Metric) string {
	switch {
	case w != WhereRig:
		return ""
	case strings.HasSuffix(string(m), "_ns"):
		return " (rig: emulator time)"
	}
	return " (rig)"
}

// otherPlace is the host for the rig and the rig for the host.
func otherPlace(w Where) Where {
	if w == WhereRig {
		return WhereHost
	}
	return WhereRig
}

// placeWords says where a subject was measured, in words.
func placeWords(w Where) string {
	if w == WhereRig {
		return "in the nested rig"
	}
	return "on the host"
}

// isGvmm says whether a subject is one of gvmm's own.
func isGvmm(name string) bool { return strings.HasPrefix(name, "gvmm") }

// Losses lists, in words, every place where a gvmm subject is worse than
// a peer of the same kind, workload, place and guest, on time to READY or
// peak RSS (gvmm booting Debian's kernel is no match for QEMU booting the
// minimal one). Plain processes are floors, not peers, and are left out.
func Losses(run *Run) []string {
	var out []string
	for i := range run.Subjects {
		g := &run.Subjects[i]
		if !isGvmm(g.Name) || g.Status != StatusMeasured || g.Kind == KindProcess {
			continue
		}
		for j := range run.Subjects {
			p := &run.Subjects[j]
			if isGvmm(p.Name) || p.Status != StatusMeasured || p.Kind != g.Kind ||
				p.Workload != g.Workload || p.Where != g.Where || p.Guest != g.Guest {
				continue
			}
			for _, m := range RatioMetrics {
				gv, ok1 := g.Median(m)
				pv, ok2 := p.Median(m)
				if ok1 && ok2 && gv > pv {
					out = append(out, fmt.Sprintf("%s loses to %s on %s%s: %s against %s (%s)",
						g.Name, p.Name, metricWords[m], whereLabel(g.Where, m),
						formatMetric(m, gv), formatMetric(m, pv), formatTimes(float64(gv)/float64(pv))))
				}
			}
		}
	}
	return out
}

var metricWords = map[Metric]string{
	MetricReadyNS:    "time to READY",
	MetricPeakRSSKiB: "peak RSS",
}

// CastleVsVillage compares, per workload and place, gvmm's fastest VM
// with gvmm's container to READY: the question the project exists for.
func CastleVsVillage(run *Run) []string {
	type key struct {
		w  Workload
		at Where
	}
	vms := map[key]*Subject{}
	ctrs := map[key]*Subject{}
	var order []key
	for i := range run.Subjects {
		s := &run.Subjects[i]
		v, ok := s.Median(MetricReadyNS)
		if !ok || !isGvmm(s.Name) || s.Kind == KindProcess {
			continue
		}
		k := key{s.Workload, s.Where}
		if vms[k] == nil && ctrs[k] == nil {
			order = append(order, k)
		}
		best := vms
		if s.Kind == KindContainer {
			best = ctrs
		}
		if cur := best[k]; cur == nil || v < cur.Stats[MetricReadyNS].Median {
			best[k] = s
		}
	}
	var out []string
	for _, k := range order {
		vm, ctr := vms[k], ctrs[k]
		if vm == nil && ctr != nil {
			if other := vms[key{k.w, otherPlace(k.at)}]; other != nil {
				out = append(out, fmt.Sprintf("castle against village, %s workload: not compared: gvmm's VM (%s) was measured %s, its container (%s) %s: two different clocks",
					k.w, other.Name, placeWords(other.Where), ctr.Name, placeWords(ctr.Where)))
			}
		}
		if vm == nil || ctr == nil {
			continue
		}
		a, b := vm.Stats[MetricReadyNS].Median, ctr.Stats[MetricReadyNS].Median
		out = append(out, fmt.Sprintf("castle against village, %s workload%s: the fastest gvmm VM (%s) is READY in %s, gvmm's container (%s) in %s: the VM takes %s the container's time",
			k.w, whereLabel(k.at, MetricReadyNS), vm.Name, formatNS(a), ctr.Name, formatNS(b), formatTimes(float64(a)/float64(b))))
	}
	return out
}
