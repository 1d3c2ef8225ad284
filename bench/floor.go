package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"gvmm/bench/harness"
	"gvmm/bench/report"
)

// Sample is one start of one subject.
type Sample struct {
	// Ready is the time from just before exec to the subject's READY
	// event, or 0 if the subject has no READY signal.
	Ready time.Duration
	// Exit is the time from just before exec to the process's exit.
	Exit time.Duration
	// MaxRSSKiB is the process's peak resident set (ru_maxrss), as
	// reported by the rusage launcher (testdata/rusage.c), or 0 when the
	// command was not started through it.
	MaxRSSKiB int64
}

// rssLine is the rusage launcher's report.
var rssLine = regexp.MustCompile(`^rusage: maxrss_kib=([0-9]+)$`)

// RunOnce starts argv, watches its stderr for a READY line, and waits for
// it to exit within timeout. wantCode is the exit status that means success.
func RunOnce(ctx context.Context, argv []string, wantCode int, timeout time.Duration) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return Sample{}, err
	}
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Sample{}, err
	}
	var s Sample
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if s.Ready == 0 && harness.IsReadyLine(line) {
			s.Ready = time.Since(start)
		}
		if m := rssLine.FindStringSubmatch(line); m != nil {
			s.MaxRSSKiB, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	err = cmd.Wait()
	s.Exit = time.Since(start)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == wantCode {
		err = nil
	}
	if err == nil && cmd.ProcessState.ExitCode() != wantCode {
		err = fmt.Errorf("exit code %d, want %d", cmd.ProcessState.ExitCode(), wantCode)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w", argv[0], err)
	}
	return s, nil
}

// Stats summarises samples.
type Stats struct {
	N                           int
	ReadyMedian, ExitMedian     time.Duration
	ReadyMin, ReadyMax, Ready95 time.Duration
	RSSMedianKiB                int64
}

// Summarise computes medians, extremes and the 95th percentile, with the
// statistics of the Castles-vs-Villages report (report.Summarise), so the
// floor benchmark and the report agree on what a median is.
func Summarise(samples []Sample) Stats {
	st := Stats{N: len(samples)}
	if len(samples) == 0 {
		return st
	}
	var ready, exit, rss []int64
	for _, s := range samples {
		ready = append(ready, int64(s.Ready))
		exit = append(exit, int64(s.Exit))
		rss = append(rss, s.MaxRSSKiB)
	}
	r := report.Summarise(ready)
	st.ReadyMedian, st.ReadyMin, st.ReadyMax, st.Ready95 =
		time.Duration(r.Median), time.Duration(r.Min), time.Duration(r.Max), time.Duration(r.P95)
	st.ExitMedian = time.Duration(report.Summarise(exit).Median)
	st.RSSMedianKiB = report.Summarise(rss).Median
	return st
}

// FormatMS prints a duration in milliseconds with two decimals.
func FormatMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + " ms"
}
