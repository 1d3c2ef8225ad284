// Command benchcompare sets a bench run against a stored baseline for CI.
//
//	benchcompare -baseline bench/baseline/github-ubuntu-latest.json \
//	             -current build/bench/results.json -threshold 0.25
//
// Exit status: 0 when no subject's median time to READY or peak RSS is
// more than threshold worse than the baseline's, and also, with a notice
// saying why, when there is nothing to compare against (no baseline file
// yet, or a baseline from another KVM flavour or schema version); 1 on a
// regression; 2 when the current results or the flags are unusable.
// Under GitHub Actions (GITHUB_ACTIONS=true) notices and regressions are
// also printed as workflow annotations.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"gvmm/bench/report"
)

// Exit statuses.
const (
	exitOK         = 0
	exitRegression = 1
	exitUsage      = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv("GITHUB_ACTIONS") == "true"))
}

// out prints plain lines, and GitHub annotations when asked to.
type out struct {
	w      io.Writer
	github bool
}

func (o out) say(level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if o.github && level != "" {
		fmt.Fprintf(o.w, "::%s title=bench::%s\n", level, msg)
		return
	}
	fmt.Fprintln(o.w, "benchcompare: "+msg)
}

func run(args []string, stdout, stderr io.Writer, github bool) int {
	fl := flag.NewFlagSet("benchcompare", flag.ContinueOnError)
	fl.SetOutput(stderr)
	baseline := fl.String("baseline", "", "stored baseline results.json of the same runner class")
	current := fl.String("current", "build/bench/results.json", "results.json of this run")
	threshold := fl.Float64("threshold", 0.25, "regression threshold as a fraction (0.25: 25% worse)")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	o, e := out{stdout, github}, out{stderr, github}
	if *baseline == "" || fl.NArg() > 0 {
		e.say("", "usage: benchcompare -baseline FILE [-current FILE] [-threshold 0.25]")
		return exitUsage
	}
	cur, err := report.Load(*current)
	if err != nil {
		e.say("error", "current results unusable: %v (run `make bench` first)", err)
		return exitUsage
	}
	base, code, ok := loadBaseline(o, e, *baseline)
	if !ok {
		return code
	}
	regs, err := report.Compare(*base, *cur, *threshold)
	switch {
	case errors.Is(err, report.ErrFlavourMismatch), errors.Is(err, report.ErrSchemaMismatch):
		o.say("notice", "baseline not compared: %v. A different KVM makes different numbers; record a baseline on this runner class.", err)
		return exitOK
	case err != nil:
		e.say("error", "%v", err)
		return exitUsage
	}
	return printResult(o, base, cur, regs, *baseline, *threshold)
}

// loadBaseline loads the baseline, or says why there is none to compare
// with and which exit status that is.
func loadBaseline(o, e out, path string) (*report.Run, int, bool) {
	base, err := report.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		o.say("notice", "no baseline at %s yet: nothing to compare. To start one, commit this run's results.json there (see bench/baseline/README.md).", path)
		return nil, exitOK, false
	case errors.Is(err, report.ErrSchemaVersion):
		o.say("notice", "baseline not compared: %v", err)
		return nil, exitOK, false
	case err != nil:
		e.say("error", "baseline unusable: %v", err)
		return nil, exitUsage, false
	}
	return base, exitOK, true
}

// printResult prints the comparison and returns the exit status.
func printResult(o out, base, cur *report.Run, regs []report.Regression, path string, threshold float64) int {
	if base.Host.CPUModel != cur.Host.CPUModel {
		o.say("notice", "CPU differs from the baseline's (%q, baseline %q): expect noise", cur.Host.CPUModel, base.Host.CPUModel)
	}
	for _, s := range base.Subjects {
		if c := cur.Subject(s.Name); s.Status == report.StatusMeasured && (c == nil || c.Status != report.StatusMeasured) {
			o.say("warning", "%s was measured in the baseline but not now", s.Name)
		}
	}
	if len(regs) == 0 {
		o.say("", "no regression beyond %g%% against %s", 100*threshold, path)
		return exitOK
	}
	for _, r := range regs {
		o.say("error", "regression beyond %g%%: %s", 100*threshold, r)
	}
	return exitRegression
}
