package rig

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Result is what one rig run produced.
type Result struct {
	// ExitStatus is the exit status of Config.Command in L1, -1 if unknown.
	ExitStatus int
	// Console is the whole serial console of the last attempt.
	Console *Console
	// Output holds the console lines printed while the command ran (L1 and,
	// through gvmm, L2 output), without the rig's markers.
	Output []Line
	// Uptime is L1's /proc/uptime at each marker the rig's init printed:
	// "boot" (init started), "kvm" (modules loaded), "start", "exit". Rig time.
	Uptime map[string]time.Duration
	// Wall is the wall time of the last attempt, QEMU start to exit.
	Wall time.Duration
	// Attempts is how many times L1 was booted (2 after a retry).
	Attempts int
	// Earlier holds the consoles of attempts that timed out.
	Earlier []*Console
}

// Expect returns the first line of the command's output that matches re and
// appeared no later than within after QEMU started, or an error wrapping
// ErrNotSeen that says which.
func (r *Result) Expect(re *regexp.Regexp, within time.Duration) (Line, error) {
	for _, l := range r.Output {
		if re.MatchString(l.Text) {
			if l.At > within {
				return l, fmt.Errorf("%w: %q came after %v (deadline %v)", ErrNotSeen, re, l.At.Round(time.Millisecond), within)
			}
			return l, nil
		}
	}
	return Line{}, fmt.Errorf("%w: %q in the command's output", ErrNotSeen, re)
}

// OutputText is Output as text, one line per line.
func (r *Result) OutputText() string {
	var s []byte
	for _, l := range r.Output {
		s = append(s, l.Text...)
		s = append(s, '\n')
	}
	return string(s)
}

// Run boots L1 under QEMU TCG, runs cfg.Command in it and returns its
// result. An attempt that times out, or whose L1 ends without reporting
// the command's status, is retried up to cfg.Attempts in all,
// because QEMU's TCG SVM emulation can lose L1's timer interrupt and freeze
// L1 (NESTED.md); every retry is logged and written to cfg.Console. The
// command's own failure is not retried: it is in Result.ExitStatus.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var earlier []*Console
	for attempt := 1; ; attempt++ {
		m, err := start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		res, err := m.Wait()
		res.Attempts = attempt
		res.Earlier = earlier
		// A timeout, or an L1 that ended without reporting the command's
		// status (QEMU gone mid-run, no panic on the console), is the
		// emulator failing L1 as a whole, not the command failing: both
		// are retried, visibly.
		emulatorFailed := errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoExit)
		if !emulatorFailed || attempt >= cfg.Attempts || ctx.Err() != nil {
			return res, err
		}
		earlier = append(earlier, res.Console)
		msg := fmt.Sprintf("rig: attempt %d of %d failed (%v); retrying (a stuck or vanished L1 is a known QEMU TCG SVM problem, see NESTED.md)",
			attempt, cfg.Attempts, err)
		cfg.Logger.Warn(msg, "last_line", lastLine(res.Console))
		if cfg.Console != nil {
			fmt.Fprintf(cfg.Console, "\n=== %s ===\n", msg)
		}
	}
}
