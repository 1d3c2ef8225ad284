package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gvmm/guest/ready"
)

// The start's profile: with `gvmm container run --timings` (or
// GVMM_TRACE=1 in the environment) the runtime prints one line per phase
// on stderr,
//
//	gvmm: timing PHASE DURATION us, done at AT us
//
// AT on the process clock (guest/ready: a few hundred microseconds after
// exec), and init (gvmm-init) adds its own phases on the same clock:
//
//	gvmm: timing init-PHASE at AT us
//
// The first line estimates what comes before the process clock starts,
// from fork to the runtime's first Go code: the main thread's time on a
// CPU plus its time waiting for one (/proc/self/schedstat, sched-stats.rst),
// which is the whole elapsed time of a thread that has not slept, as a
// starting program whose binary is in the page cache has not.
// docs/07-containers.md explains the phases.

// timingsOn turns the profile on.
var timingsOn = os.Getenv("GVMM_TRACE") != ""

// TimingsEnv tells init to print its phases, and gives the runtime's
// start on CLOCK_MONOTONIC in nanoseconds, the zero of the process clock.
const TimingsEnv = "GVMM_TIMINGS_START"

// EnableTimings turns the profile on (--timings) and prints its first line.
func EnableTimings() {
	timingsOn = true
	if us, ok := forkToNow(); ok {
		fmt.Fprintf(os.Stderr, "gvmm: timing fork-to-main %d us (schedstat), process clock at %d us\n",
			us, ready.Since().Microseconds())
	}
}

// TraceStep records a phase of the command line (cmd/gvmm) that began at since.
func TraceStep(step string, since time.Time) { traceStep(step, since) }

func traceStep(step string, since time.Time) {
	if timingsOn {
		fmt.Fprintf(os.Stderr, "gvmm: timing %s %d us, done at %d us\n", step,
			time.Since(since).Microseconds(), ready.Since().Microseconds())
	}
}

// traceAt records a point on the process clock.
func traceAt(what string) {
	if timingsOn {
		fmt.Fprintf(os.Stderr, "gvmm: timing %s at %d us\n", what, ready.Since().Microseconds())
	}
}

// processStartMono is the process clock's zero on CLOCK_MONOTONIC, in ns:
// what init and the waiter, other programs, time against.
func processStartMono() int64 {
	var now unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
	return now.Nano() - ready.Since().Nanoseconds()
}

// timingsEnv is init's environment entry for the profile, or "".
func timingsEnv() string {
	if !timingsOn {
		return ""
	}
	return TimingsEnv + "=" + strconv.FormatInt(processStartMono(), 10)
}

// forkToNow returns the main thread's CPU time plus run-queue wait, in
// microseconds (/proc/self/schedstat: "run time, wait time, timeslices").
func forkToNow() (int64, bool) {
	data, err := os.ReadFile("/proc/self/schedstat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, false
	}
	run, err1 := strconv.ParseInt(f[0], 10, 64)
	wait, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (run + wait) / 1000, true
}
