// Package clock holds the process start time that gvmm's READY timestamps
// are measured from, so the VM and the container report the same event on
// the same scale ("gvmm: READY at N us").
package clock

import "time"

// start is taken when the package is initialised. This package imports
// only "time", so it is initialised among the first, before main runs.
var start = time.Now()

// Start returns the process start time.
func Start() time.Time { return start }

// SinceStart returns the microseconds elapsed since the process started.
func SinceStart() int64 { return time.Since(start).Microseconds() }

// ReadyLine formats the one stderr line that reports readiness; bench
// parses it, so its form is part of gvmm's interface.
func ReadyLine(us int64) string { return "gvmm: READY at " + itoa(us) + " us" }

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
