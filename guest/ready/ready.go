package ready

import (
	"strconv"
	"strings"
	"time"
)

// Magic is the READY byte: the value a workload writes to the boot-timer
// port (vmm.DebugPort) or to GVMM_READY_FD.
const Magic = 123

// FDEnv names the environment variable that tells a container's workload
// which descriptor to write Magic to.
const FDEnv = "GVMM_READY_FD"

// start is the process clock's zero. Package variables are initialised
// before main runs, and this package imports nothing of gvmm's, so it is
// initialised among the first: a few hundred microseconds after exec(2).
// VMM and container runtime both report READY against it.
var start = time.Now()

// Start returns the process clock's zero, to hand to a component that
// timestamps on it (devices.DebugDevice.Start, a child told "since when").
func Start() time.Time { return start }

// Since returns the time elapsed on the process clock.
func Since() time.Duration { return time.Since(start) }

// linePrefix and lineSuffix frame the microseconds in the READY line.
const (
	linePrefix = "gvmm: READY at "
	lineSuffix = " us"
)

// Line formats the READY line (without a newline): "gvmm: READY at N us",
// N microseconds on the process clock. bench parses it; its form is part of
// gvmm's interface.
func Line(us int64) string { return linePrefix + strconv.FormatInt(us, 10) + lineSuffix }

// ParseLine is Line's inverse: it returns N and true for a READY line, and
// false for anything else (a trailing '\r' from a terminal is allowed).
func ParseLine(s string) (us int64, ok bool) {
	s = strings.TrimSuffix(s, "\r")
	num, found := strings.CutPrefix(s, linePrefix)
	if !found {
		return 0, false
	}
	num, found = strings.CutSuffix(num, lineSuffix)
	if !found || num == "" || (len(num) > 1 && num[0] == '0') {
		return 0, false // Line writes no leading zeros
	}
	for _, c := range num {
		if c < '0' || c > '9' { // no sign, no spaces: Line never writes them
			return 0, false
		}
	}
	us, err := strconv.ParseInt(num, 10, 64)
	return us, err == nil
}
