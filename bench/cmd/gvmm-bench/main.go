// Command gvmm-bench is `make bench`: it starts gvmm's VMs and containers
// beside their peers, N times each in interleaved rounds (package
// gvmm/bench/harness), and writes results.json, report.md, startup.svg
// and memory.svg (package gvmm/bench/report) into -out.
//
//	go run ./bench/cmd/gvmm-bench -n 20 -out build/bench [-only container]
//
// BENCH_ONLY in the environment is the default of -only, and
// BENCH_RUNNER_CLASS names the CI machine class in the results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gvmm/bench/harness"
	"gvmm/bench/report"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "gvmm-bench: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	n, probes   int
	out, only   string
	build       string
	timeout     time.Duration
	verbose     bool
	baseline    string
	runnerClass string
}

func parse(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("gvmm-bench", flag.ContinueOnError)
	fs.IntVar(&c.n, "n", 20, "measured starts per subject (after one warm-up)")
	fs.IntVar(&c.probes, "probes", 5, "rounds that also probe memory once READY (at most -n)")
	fs.StringVar(&c.out, "out", "build/bench", "output `directory` for results.json, report.md and the charts")
	fs.StringVar(&c.only, "only", os.Getenv("BENCH_ONLY"), "comma `list` of kinds (vm, container, process) or subject names; default $BENCH_ONLY, else all")
	fs.StringVar(&c.build, "build", "build", "`directory` of make's artefacts (kernels, initramfs)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on each start")
	fs.StringVar(&c.baseline, "baseline", "", "subject the ratios are taken against (default: crun when measured)")
	fs.BoolVar(&c.verbose, "v", false, "log every start")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if c.n < 1 || c.probes < 0 || c.timeout <= 0 {
		return c, errors.New("-n must be at least 1, -probes at least 0 and -timeout positive")
	}
	c.probes = min(c.probes, c.n)
	c.runnerClass = os.Getenv("BENCH_RUNNER_CLASS")
	return c, nil
}

func run(args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	subjects, left, err := harness.Select(harness.Catalogue(), c.only)
	if err != nil {
		return err
	}
	repo, err := harness.FindRepo(".")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	host, err := report.ProbeHost(os.DirFS("/"))
	if err != nil {
		return err
	}
	host.RunnerClass = c.runnerClass
	host.GitRevision = gitRevision(repo)
	build := c.build
	if !filepath.IsAbs(build) {
		build = filepath.Join(repo, build)
	}
	ws, err := harness.NewWorkspace(repo, build, host.KVMFlavour)
	if err != nil {
		return err
	}
	defer ws.Close()
	r := report.Run{SchemaVersion: report.SchemaVersion, StartedAt: time.Now().UTC(), Host: host}
	log.Info("bench starting", "kvm", host.KVMFlavour, "subjects", len(subjects), "n", c.n, "probes", c.probes)
	// Ctrl-C or SIGTERM: the subjects run in process groups of their
	// own and do not get the terminal's signal; Run kills and cleans up
	// the one that is running.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	r.Subjects, err = harness.Run(ctx, ws, subjects, left, "not selected (-only "+c.only+")",
		harness.Options{N: c.n, Probes: c.probes, Timeout: c.timeout, Log: log})
	if err != nil {
		return err
	}
	r.FinishedAt = time.Now().UTC()
	if r.Host.LoadEnd, err = report.ReadLoadAvg(os.DirFS("/")); err != nil {
		return err
	}
	r.Baseline = pickBaseline(&r, c.baseline)
	return write(c.out, &r)
}

// pickBaseline is the asked-for subject, else crun when it was measured.
func pickBaseline(r *report.Run, asked string) string {
	if asked != "" {
		return asked
	}
	if s := r.Subject(report.SubjectCrun); s != nil && s.Status == report.StatusMeasured {
		return report.SubjectCrun
	}
	return ""
}

// write saves the JSON, the Markdown report and the charts.
func write(out string, r *report.Run) error {
	if err := report.Save(filepath.Join(out, "results.json"), r); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "report.md"))
	if err != nil {
		return err
	}
	err = report.WriteMarkdown(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report.md: %w", err)
	}
	if err := report.WriteCharts(out, r); err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	fmt.Printf("gvmm-bench: wrote %s/results.json, report.md, startup.svg, memory.svg\n", out)
	return nil
}

// gitRevision is the checkout's commit, or "" outside git.
func gitRevision(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
