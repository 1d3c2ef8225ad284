package report

import (
	"fmt"
	"strconv"
	"strings"
)

// formatNS prints nanoseconds in the unit a reader expects: µs below a
// millisecond, ms below ten seconds, s above.
func formatNS(ns int64) string {
	switch {
	case ns < 1_000_000:
		return fmt.Sprintf("%.0f µs", float64(ns)/1e3)
	case ns < 10_000_000_000:
		return fmt.Sprintf("%.2f ms", float64(ns)/1e6)
	default:
		return fmt.Sprintf("%.2f s", float64(ns)/1e9)
	}
}

// formatKiB prints KiB as KiB below 1 MiB, MiB below 1 GiB, GiB above.
func formatKiB(kib int64) string {
	switch {
	case kib < 1024:
		return fmt.Sprintf("%d KiB", kib)
	case kib < 1024*1024:
		return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
	default:
		return fmt.Sprintf("%.2f GiB", float64(kib)/(1024*1024))
	}
}

// formatMetric prints a value of m in its unit.
func formatMetric(m Metric, v int64) string {
	if strings.HasSuffix(string(m), "_kib") {
		return formatKiB(v)
	}
	return formatNS(v)
}

// formatTimes prints a ratio with the digits it needs: "1.8×", "0.69×",
// "2.04×", "12.3×".
func formatTimes(x float64) string {
	prec := 2
	if x >= 10 {
		prec = 1
	}
	return formatTimesPrec(x, prec)
}

func formatTimesPrec(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s + "×"
}

// formatAgainst prints a ratio beside the limit it is judged by, with
// enough digits that a miss never prints as the limit itself
// (2.004 against 2 is "2.004×", not "2×").
func formatAgainst(x, limit float64) string {
	s := formatTimes(x)
	for prec := 3; prec <= 6 && x != limit && s == formatTimes(limit); prec++ {
		s = formatTimesPrec(x, prec)
	}
	return s
}
