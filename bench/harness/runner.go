package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gvmm/bench/report"
)

// Options tune a Runner.
type Options struct {
	// N is the number of measured rounds (after one warm-up round).
	N int
	// Probes is how many of the first rounds also do a probe start of
	// every subject that has a holding variant (memory once READY).
	Probes int
	// Timeout bounds each start.
	Timeout time.Duration
	// Log receives progress; nil for slog.Default().
	Log *slog.Logger
	// Proc is where /proc and /sys/fs/cgroup are; zero for "/".
	Proc ProcFS
}

// live is a prepared subject still being measured.
type live struct {
	out  *report.Subject
	plan *Plan
}

// Run prepares the subjects in ws, measures them in interleaved rounds,
// and returns one report.Subject per subject, in the order given, with
// left added as skipped (not selected: leftReason). When ctx ends (the
// user pressed Ctrl-C) the running start is killed and cleaned up and
// Run returns ctx's error.
func Run(ctx context.Context, ws *Workspace, subjects, left []Subject, leftReason string, opt Options) ([]report.Subject, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Proc.Root == "" {
		opt.Proc.Root = "/"
	}
	launcher, err := ws.Launcher()
	if err != nil {
		return nil, fmt.Errorf("bench launcher: %w", err)
	}
	out := make([]report.Subject, len(subjects), len(subjects)+len(left))
	var running []live
	for i, s := range subjects {
		out[i] = report.Subject{Name: s.Name, Kind: s.Kind, Workload: s.Workload, Where: s.Where, Guest: s.Guest}
		plan, err := s.Prepare(ws)
		switch {
		case errors.Is(err, ErrSkip):
			out[i].Status, out[i].Reason = report.StatusSkipped, err.Error()
			opt.Log.Info("skipped", "subject", s.Name, "reason", err)
		case err != nil:
			out[i].Status, out[i].Reason = report.StatusFailed, "prepare: "+err.Error()
			opt.Log.Warn("prepare failed", "subject", s.Name, "err", err)
		default:
			out[i].Timed = strings.Join(plan.Start("ID").Argv, " ")
			if plan.StopAfterReady && plan.Hold == nil {
				plan.Hold = plan.Start // a server holds by itself
			}
			running = append(running, live{&out[i], plan})
		}
	}
	for _, s := range left {
		out = append(out, report.Subject{Name: s.Name, Kind: s.Kind, Workload: s.Workload, Where: s.Where, Guest: s.Guest,
			Status: report.StatusSkipped, Reason: leftReason})
	}
	// Warm-up: fills the page cache and pays first-use costs; not kept.
	running = round(ctx, running, -1, launcher, opt)
	for r := 0; r < opt.N && len(running) > 0 && ctx.Err() == nil; r++ {
		running = round(ctx, running, r, launcher, opt)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench interrupted: %w", err)
	}
	for _, l := range running {
		l.out.Status = report.StatusMeasured
	}
	return out, nil
}

// round starts every live subject once (and probes it, in the first
// Probes rounds), beginning with subject r mod n. Subjects whose start
// failed are marked failed and dropped.
func round(ctx context.Context, running []live, r int, launcher string, opt Options) []live {
	n := len(running)
	failed := map[int]bool{}
	for k := range n {
		if ctx.Err() != nil {
			break
		}
		i := (max(r, 0) + k) % n
		l := running[i]
		id := fmt.Sprintf("gvmm-bench-%s-%d", l.out.Name, r+1)
		s, err := Timed(ctx, launcher, l.plan, id, opt.Timeout)
		if err == nil && r >= 0 && r < opt.Probes && l.plan.Hold != nil {
			var m report.Sample
			var missed error
			m, missed, err = Probe(ctx, launcher, l.plan, id+"-probe", opt.Timeout, opt.Proc)
			s.SteadyRSSKiB, s.GuestTouchedKiB, s.CgroupMemoryKiB = m.SteadyRSSKiB, m.GuestTouchedKiB, m.CgroupMemoryKiB
			if missed != nil {
				opt.Log.Warn("probe reading missed", "subject", l.out.Name, "round", r+1, "err", missed)
			}
			if err != nil {
				err = fmt.Errorf("probe: %w", err)
			}
		}
		if err != nil {
			what := fmt.Sprintf("round %d", r+1)
			if r < 0 {
				what = "warm-up"
			}
			l.out.Status, l.out.Reason = report.StatusFailed, fmt.Sprintf("%s: %v", what, err)
			l.out.Samples = nil
			opt.Log.Warn("start failed", "subject", l.out.Name, "round", what, "err", err)
			failed[i] = true
			continue
		}
		if r >= 0 {
			l.out.Samples = append(l.out.Samples, s)
		}
		opt.Log.Debug("start", "subject", l.out.Name, "round", r+1, "ready", time.Duration(s.ReadyNS), "exit", time.Duration(s.ExitNS))
	}
	var next []live
	for i, l := range running {
		if !failed[i] {
			next = append(next, l)
		}
	}
	return next
}
