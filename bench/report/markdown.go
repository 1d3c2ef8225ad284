package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Title is the report's title.
const Title = "Castles vs Villages"

// WriteMarkdown renders run as the "Castles vs Villages" report: the host,
// tables of start-up, CPU and memory, the subjects that did not run, and
// the findings in words, judged against DefaultTargets. The charts that
// WriteCharts draws are linked as startup.svg and memory.svg beside it.
func WriteMarkdown(w io.Writer, run *Run) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("# %s\n\n", Title)
	p("Virtual machines (castles) and containers (villages) started side by side in one run, %s to %s (%s).",
		run.StartedAt.UTC().Format(time.RFC3339), run.FinishedAt.UTC().Format(time.RFC3339),
		run.FinishedAt.Sub(run.StartedAt).Round(time.Second))
	if run.Host.GitRevision != "" {
		p(" gvmm at `%s`.", run.Host.GitRevision)
	}
	p(" Times run from just before exec to READY; medians of N starts after a warm-up.\n\n")
	writeHost(p, &run.Host)
	if run.Rig != nil {
		writeRig(p, run.Rig)
	}
	ratios := ratioTable(run)
	writeStartup(p, run, ratios)
	writeCPU(p, run)
	writeMemory(p, run, ratios)
	writeNotRun(p, run)
	writeTimed(p, run)
	writeFindings(p, run)
	p("## Charts\n\n![Time to READY per subject](startup.svg)\n\n![Peak RSS per subject](memory.svg)\n")
	return bw.Flush()
}

type printer func(format string, a ...any)

func writeHost(p printer, h *Host) {
	p("## Host\n\n| | |\n|---|---|\n")
	p("| KVM flavour | %s |\n| KVM nested parameter | %s |\n| host is itself a VM | %s |\n",
		h.KVMFlavour, yesNo(h.Nested), yesNo(h.InVM))
	p("| CPU | %s × %d |\n| kernel | %s |\n| Go | %s |\n", cell(h.CPUModel), h.CPUs, cell(h.Kernel), cell(h.GoVersion))
	if h.RunnerClass != "" {
		p("| runner class | %s |\n", cell(h.RunnerClass))
	}
	p("| load average at start (1/5/15 min) | %s |\n| load average at end | %s |\n\n", h.LoadStart, h.LoadEnd)
	switch {
	case h.KVMFlavour == FlavourPVM:
		p("> **These are not hardware numbers.** /dev/kvm on this host is kvm_pvm, a software nested KVM: every guest exit is handled in software by the host kernel, and guest page faults cost far more than under VMX or SVM. Ratios within this run are meaningful; absolute VM times are not what the same code does on hardware KVM.\n\n")
	case h.InVM:
		p("> **These are nested numbers, not hardware numbers.** This host is itself a virtual machine (the CPU reports a hypervisor), so its %s is nested virtualization: each guest exit travels through the outer hypervisor too. Ratios within this run are meaningful; absolute VM times are not hardware times.\n\n", h.KVMFlavour)
	case h.KVMFlavour == FlavourNone:
		p("> **No KVM on this host.** The VM subjects were skipped; only containers and processes ran.\n\n")
	}
	if h.CPUs > 0 && max(h.LoadStart.One, h.LoadEnd.One) > float64(h.CPUs) {
		p("> The machine was busy: a load average above its %d CPUs means runnable tasks waited for a CPU, which stretches every time below. Compare ratios, not absolute times.\n\n", h.CPUs)
	}
}

// writeRig describes the nested rig the "(rig)" rows were measured in.
func writeRig(p printer, r *RigHost) {
	p("## The nested rig\n\nRows marked (rig) ran inside the nested rig: an L1 Linux under QEMU's TCG emulator (%s, %d CPUs, %d MiB, %s of host wall time for the whole rig run), whose own KVM is %s on an emulated %s, kernel %s. ",
		cell(r.Emulator), r.CPUs, r.MemoryMiB, time.Duration(r.WallNS).Round(time.Second), r.Host.KVMFlavour, cell(r.Host.CPUModel), cell(r.Host.Kernel))
	p("Every instruction of L1 and of the guests in it is emulated: rig times are emulator times, often a hundred times the hardware's. Compare rig rows with rig rows only (the ratios do); never with host rows.\n\n")
}

// String prints "0.52 / 0.58 / 0.59".
func (l LoadAvg) String() string {
	return fmt.Sprintf("%.2f / %.2f / %.2f", l.One, l.Five, l.Fifteen)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// cell keeps a table cell on one line and its pipes literal.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// label is the subject's name with "(rig)" for rig rows.
func label(s *Subject) string {
	if s.Where == WhereRig {
		return cell(s.Name) + " (rig)"
	}
	return cell(s.Name)
}

// ratioTable maps subject name to its ratios against run.Baseline, or is
// nil when the run has no usable baseline.
func ratioTable(run *Run) map[string]Ratio {
	if run.Baseline == "" {
		return nil
	}
	rs, err := Ratios(run, run.Baseline)
	if err != nil {
		return nil
	}
	out := map[string]Ratio{}
	for _, r := range rs {
		out[r.Subject] = r
	}
	return out
}

func ratioCell(ratios map[string]Ratio, name string, m Metric) string {
	r, ok := ratios[name]
	if !ok {
		return "—"
	}
	if v, ok := r.Values[m]; ok {
		return formatTimes(v)
	}
	if r.Note != "" && r.Note != string(StatusSkipped) && r.Note != string(StatusFailed) {
		return "— (other clock)"
	}
	return "—"
}

func baselineHeader(run *Run, ratios map[string]Ratio) string {
	if ratios == nil {
		return "ratio (no baseline)"
	}
	return "× " + cell(run.Baseline)
}

func writeStartup(p printer, run *Run, ratios map[string]Ratio) {
	p("## Start-up: time to READY\n\n")
	p("Rows marked (rig) ran inside the nested rig, a QEMU TCG emulator: their times are emulator time, comparable only with other (rig) rows.\n\n")
	p("| subject | kind | workload | where | n | median | min | max | p95 | %s |\n", baselineHeader(run, ratios))
	p("|---|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for i := range run.Subjects {
		s := &run.Subjects[i]
		st, ok := s.Stats[MetricReadyNS]
		if s.Status != StatusMeasured || !ok {
			continue
		}
		p("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", label(s), s.Kind, s.Workload, s.Where, st.N,
			formatNS(st.Median), formatNS(st.Min), formatNS(st.Max), formatNS(st.P95), ratioCell(ratios, s.Name, MetricReadyNS))
	}
	p("\n")
}

func writeCPU(p printer, run *Run) {
	p("## Exit and CPU\n\nMedians: time from exec to exit, the VMM's or runtime's CPU time, and the guest's own clock at READY.\n\n")
	p("| subject | exit | CPU user | CPU sys | guest clock at READY |\n|---|--:|--:|--:|--:|\n")
	for i := range run.Subjects {
		s := &run.Subjects[i]
		if s.Status != StatusMeasured {
			continue
		}
		p("| %s | %s | %s | %s | %s |\n", label(s), medianCell(s, MetricExitNS), medianCell(s, MetricCPUUserNS),
			medianCell(s, MetricCPUSysNS), medianCell(s, MetricGuestClockReadyNS))
	}
	p("\n")
}

func writeMemory(p printer, run *Run, ratios map[string]Ratio) {
	p("## Memory\n\nMedians. Peak and steady RSS are the VMM's or runtime's own process; guest touched is the resident part of the guest-memory mapping; cgroup is the container's memory cgroup.\n\n")
	p("| subject | kind | where | n | peak RSS | steady RSS | guest touched | cgroup | peak RSS %s |\n", baselineHeader(run, ratios))
	p("|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for i := range run.Subjects {
		s := &run.Subjects[i]
		if s.Status != StatusMeasured {
			continue
		}
		p("| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", label(s), s.Kind, s.Where, len(s.Samples),
			medianCell(s, MetricPeakRSSKiB), medianCell(s, MetricSteadyRSSKiB), medianCell(s, MetricGuestTouchedKiB),
			medianCell(s, MetricCgroupMemoryKiB), ratioCell(ratios, s.Name, MetricPeakRSSKiB))
	}
	p("\n")
}

func medianCell(s *Subject, m Metric) string {
	if v, ok := s.Median(m); ok {
		return formatMetric(m, v)
	}
	return "—"
}

// writeTimed lists, for each measured subject, the command that was timed:
// each peer runs its own command line bare, so that a reader can repeat
// any row by hand.
func writeTimed(p printer, run *Run) {
	p("## What was timed\n\nEach row's command, exactly as executed (ID is each start's name); set-up that a peer needs on this host ran once, outside the timed interval.\n\n")
	n := 0
	for i := range run.Subjects {
		s := &run.Subjects[i]
		if s.Status != StatusMeasured || s.Timed == "" {
			continue
		}
		p("- **%s**: `%s`\n", label(s), strings.ReplaceAll(s.Timed, "`", "'"))
		n++
	}
	if n == 0 {
		p("No command was recorded.\n")
	}
	p("\n")
}

func writeNotRun(p printer, run *Run) {
	p("## Skipped and failed\n\n")
	n := 0
	for i := range run.Subjects {
		s := &run.Subjects[i]
		if s.Status == StatusMeasured {
			continue
		}
		p("- **%s** (%s, %s): %s\n", label(s), s.Kind, s.Status, cell(s.Reason))
		n++
	}
	if n == 0 {
		p("Every subject was measured.\n")
	}
	p("\n")
}

func writeFindings(p printer, run *Run) {
	p("## Findings\n\n")
	findings := Evaluate(run, DefaultTargets())
	count := map[Verdict]int{}
	for _, f := range findings {
		count[f.Verdict]++
	}
	p("%d of the issue's %d targets met in this run", count[Met], len(findings))
	if n := count[NotMeasured] + count[NotComparable]; n > 0 {
		p("; %d could not be judged (a subject missing or measured on another clock)", n)
	}
	p(".\n\n")
	for _, f := range findings {
		p("- %s\n", f.Text)
	}
	for _, s := range CastleVsVillage(run) {
		p("- %s\n", s)
	}
	losses := Losses(run)
	if len(losses) == 0 {
		p("- gvmm is not behind any measured peer of its own kind on time to READY or peak RSS.\n")
	}
	for _, s := range losses {
		p("- %s\n", s)
	}
	p("\n")
}
