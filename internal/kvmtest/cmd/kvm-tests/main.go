// Command kvm-tests is `make kvm-tests` and `make bench-floor`: it finds
// gvmm's KVM tests, builds them statically and runs them on the host's
// /dev/kvm, or inside the nested rig where the host has none (package
// gvmm/internal/kvmtest/suite). It ends with the plain line
// "kvm-tests: N passed, N failed, N skipped" and exits 1 unless every
// package passed with nothing skipped.
//
//	kvm-tests [-where auto|host|rig] [-out build/kvm-tests] [-run REGEXP] [-env NAME=VALUE]... [-bench -benchtime 20x]
//
// -run keeps the tests whose names match, for working on a few of them
// (`go run ./internal/kvmtest/cmd/kvm-tests -run Hostile`); make kvm-tests
// runs them all. -env passes a setting to the test binaries, in L1 too
// (make soak: -env GVMM_SOAK_VM_CYCLES=1000).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"gvmm/internal/kvmtest/suite"
	"gvmm/internal/rig"
)

func main() {
	where := flag.String("where", suite.WhereAuto, "where to run: auto (host if /dev/kvm is usable, else the rig), host or rig")
	out := flag.String("out", "build/kvm-tests", "`directory` for the test binaries and artefacts")
	bench := flag.Bool("bench", false, "run the KVM benchmarks (the start-up floor) instead of the tests")
	benchtime := flag.String("benchtime", "20x", "-test.benchtime for -bench")
	timeout := flag.Duration("timeout", 3*time.Minute, "bound on each test binary")
	rigTimeout := flag.Duration("rig-timeout", 0, "bound on one boot of the rig's L1 with every binary (default 5m, 15m with -bench); a frozen L1 is retried once")
	runRE := flag.String("run", "", "run only the tests (or with -bench, benchmarks) whose names match this `regexp`")
	var env []string
	flag.Func("env", "pass `NAME=VALUE` to the test binaries (repeat for more)", func(v string) error {
		if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
			return fmt.Errorf("%q: give NAME=VALUE", v)
		}
		env = append(env, v)
		return nil
	})
	flag.Parse()
	only, err := regexp.Compile(*runRE)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kvm-tests: -run: %v\n", err)
		os.Exit(2)
	}
	if *rigTimeout == 0 {
		*rigTimeout = 5 * time.Minute
		if *bench {
			*rigTimeout = 15 * time.Minute
		}
	}
	if *bench && *timeout < 10*time.Minute {
		*timeout = 10 * time.Minute
	}
	os.Exit(run(*where, *out, *bench, *benchtime, *timeout, *rigTimeout, only, env))
}

func run(where, out string, bench bool, benchtime string, timeout, rigTimeout time.Duration, only *regexp.Regexp, env []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := rig.RepoRoot()
	if err != nil {
		return fail(err)
	}
	pkgs, err := suite.Discover(root)
	if err != nil {
		return fail(err)
	}
	pkgs = suite.Filter(pkgs, only)
	if len(pkgs) == 0 {
		return fail(fmt.Errorf("no KVM test matches -run %q", only))
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	b, err := suite.Build(ctx, root, out, pkgs)
	if err != nil {
		return fail(err)
	}
	for _, p := range pkgs {
		fmt.Printf("kvm-tests: %s: %d tests, %d benchmarks\n", p.ImportPath(), len(p.Tests), len(p.Benchmarks))
	}
	rep, err := suite.Run(ctx, root, b, suite.Options{Where: where, Bench: bench, BenchTime: benchtime, Timeout: timeout, RigTimeout: rigTimeout, Out: os.Stdout, Env: env})
	if rep == nil {
		return fail(err)
	}
	if bench {
		label := rep.Where
		if label == suite.WhereRig {
			label = "rig (emulator time inside the nested rig's L1: compare ratios within this run only)"
		}
		fmt.Printf("bench-floor: ran on %s\n", label)
		// Benchmarks print no PASS lines: the binaries' exit status decides.
		for _, r := range rep.Results {
			if r.Status != 0 || r.Counts.Failed > 0 {
				fmt.Printf("bench-floor: %s FAILED (exit %d)\n", r.Package, r.Status)
				err = fmt.Errorf("a benchmark failed")
			}
		}
		if err != nil {
			return 1
		}
		return 0
	}
	for _, r := range rep.Results {
		fmt.Printf("kvm-tests: %s\n", r.Summary())
	}
	if err != nil {
		fmt.Printf("kvm-tests: %v\n", err)
	}
	fmt.Printf("kvm-tests: ran on %s\n", rep.Where)
	fmt.Printf("kvm-tests: %s\n", rep.Total)
	if err != nil || !rep.OK() {
		return 1
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "kvm-tests: "+err.Error())
	return 1
}
