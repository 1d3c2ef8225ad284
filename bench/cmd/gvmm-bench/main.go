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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gvmm/bench/harness"
	"gvmm/bench/report"
)

func main() {
	// Once per run, outside every timed interval (harness.EnterV1View).
	if code, done, err := harness.EnterV1View(); err != nil {
		fmt.Fprintf(os.Stderr, "gvmm-bench: %v\n", err)
		os.Exit(1)
	} else if done {
		os.Exit(code)
	}
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

	// The nested rig (rig.go): when the Linux rows go there, and how.
	rig             string
	rigN, rigCPUs   int
	rigTimeout      time.Duration
	rigStartTimeout time.Duration
	// render, when set, is a results.json to render again, measuring
	// nothing.
	render string
	// Set for the bench that runs inside L1.
	inRig       bool
	prebuilt    string
	gitRevision string
}

// The -rig choices.
const (
	rigAuto   = "auto"   // the Linux rows go to the rig on a kvm_pvm host
	rigAlways = "always" // they go there on any host
	rigNever  = "never"  // they never do (and skip on kvm_pvm)
)

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
	fs.StringVar(&c.rig, "rig", envOr("BENCH_RIG", rigAuto), "where the Linux rows run: auto (in the nested rig on a kvm_pvm host, which cannot boot Linux), always, or never; default $BENCH_RIG, else auto")
	fs.IntVar(&c.rigN, "rig-n", envInt("BENCH_RIG_N", 3), "measured starts per Linux row in the rig (emulated: tens of seconds to minutes each); default $BENCH_RIG_N, else 3")
	fs.IntVar(&c.rigCPUs, "rig-cpus", 1, "CPUs of the rig's L1 (one is steadier: NESTED.md)")
	fs.DurationVar(&c.rigTimeout, "rig-timeout", defaultRigTimeout, "bound on the whole rig run")
	fs.DurationVar(&c.rigStartTimeout, "rig-start-timeout", 5*time.Minute, "bound on each start inside the rig")
	fs.StringVar(&c.render, "render", "", "measure nothing: write report.md and the charts of this results.json `file` into -out")
	fs.BoolVar(&c.inRig, "in-rig", false, "internal: this bench runs inside the rig's L1 (rows are marked rig, results go to the console)")
	fs.StringVar(&c.prebuilt, "prebuilt", "", "internal: `directory` of static executables to use instead of building (with -in-rig)")
	fs.StringVar(&c.gitRevision, "git-revision", "", "internal: gvmm's commit, for a bench run outside the checkout")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if c.n < 1 || c.probes < 0 || c.timeout <= 0 {
		return c, errors.New("-n must be at least 1, -probes at least 0 and -timeout positive")
	}
	if c.rig != rigAuto && c.rig != rigAlways && c.rig != rigNever {
		return c, fmt.Errorf("-rig %q: want auto, always or never", c.rig)
	}
	if c.rigN < 1 || c.rigCPUs < 1 || c.rigTimeout <= 0 || c.rigStartTimeout <= 0 {
		return c, errors.New("-rig-n and -rig-cpus must be at least 1, the rig timeouts positive")
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
	if c.render != "" {
		r, err := report.Load(c.render)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(c.out, 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
		return write(c.out, r)
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
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	host, err := report.ProbeHost(os.DirFS("/"))
	if err != nil {
		return err
	}
	ws, err := workspace(c, &host)
	if err != nil {
		return err
	}
	defer ws.Close()
	r := report.Run{SchemaVersion: report.SchemaVersion, StartedAt: time.Now().UTC(), Host: host}
	onHost, inRig := splitRig(c, host.KVMFlavour, subjects)
	log.Info("bench starting", "kvm", host.KVMFlavour, "subjects", len(onHost), "rig subjects", len(inRig), "n", c.n, "probes", c.probes)
	// Ctrl-C or SIGTERM: the subjects run in process groups of their
	// own and do not get the terminal's signal; Run kills and cleans up
	// the one that is running.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	measured, err := harness.Run(ctx, ws, onHost, left, "not selected (-only "+c.only+")",
		harness.Options{N: c.n, Probes: c.probes, Timeout: c.timeout, Log: log})
	if err != nil {
		return err
	}
	if len(inRig) > 0 {
		rows, rh, err := runRig(ctx, c, ws, inRig, log)
		if ctx.Err() != nil {
			return fmt.Errorf("bench interrupted: %w", ctx.Err())
		}
		if err != nil {
			log.Warn("rig failed", "err", err)
			rows = rigFailed(inRig, err)
		}
		r.Rig = rh
		measured = append(measured, rows...)
	}
	r.Subjects = inCatalogueOrder(measured)
	r.FinishedAt = time.Now().UTC()
	if r.Host.LoadEnd, err = report.ReadLoadAvg(os.DirFS("/")); err != nil {
		return err
	}
	r.Baseline = pickBaseline(&r, c.baseline)
	if err := write(c.out, &r); err != nil {
		return err
	}
	if c.inRig {
		return emitResults(os.Stdout, filepath.Join(c.out, "results.json"))
	}
	return nil
}

// workspace makes the bench's workspace: in the checkout, or inside the
// rig from the prebuilt executables and the copied artefacts.
func workspace(c config, host *report.Host) (*harness.Workspace, error) {
	host.RunnerClass = c.runnerClass
	if c.inRig {
		if c.prebuilt == "" {
			return nil, errors.New("-in-rig needs -prebuilt")
		}
		host.GitRevision = c.gitRevision
		ws, err := harness.NewWorkspace("", c.build, host.KVMFlavour)
		if err != nil {
			return nil, err
		}
		ws.Prebuilt = c.prebuilt
		return ws, nil
	}
	repo, err := harness.FindRepo(".")
	if err != nil {
		return nil, err
	}
	host.GitRevision = firstNonEmpty(c.gitRevision, gitRevision(repo))
	build := c.build
	if !filepath.IsAbs(build) {
		build = filepath.Join(repo, build)
	}
	return harness.NewWorkspace(repo, build, host.KVMFlavour)
}

// splitRig separates the subjects that run inside the nested rig: the
// Linux rows, on a kvm_pvm host (or always, with -rig always).
func splitRig(c config, flavour report.Flavour, subjects []harness.Subject) (onHost, inRig []harness.Subject) {
	toRig := !c.inRig && (c.rig == rigAlways || (c.rig == rigAuto && flavour == report.FlavourPVM))
	for _, s := range subjects {
		if toRig && s.Linux {
			inRig = append(inRig, s)
		} else {
			onHost = append(onHost, s)
		}
	}
	return onHost, inRig
}

// inCatalogueOrder sorts rows into the catalogue's order (host and rig
// rows were measured apart); rows not in the catalogue keep theirs, last.
func inCatalogueOrder(rows []report.Subject) []report.Subject {
	rank := map[string]int{}
	for i, s := range harness.Catalogue() {
		rank[s.Name] = i
	}
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b report.Subject) int {
		ra, oka := rank[a.Name]
		rb, okb := rank[b.Name]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// envOr is $name, or def when it is unset or empty.
func envOr(name, def string) string {
	return firstNonEmpty(os.Getenv(name), def)
}

// envInt is $name as a number, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
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
