package ready

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLineRoundTrip(t *testing.T) {
	for _, us := range []int64{0, 1, 9, 10, 123456, math.MaxInt64} {
		line := Line(us)
		got, ok := ParseLine(line)
		assert.True(t, ok, line)
		assert.Equal(t, us, got, line)
	}
	assert.Equal(t, "gvmm: READY at 1500 us", Line(1500))
}

func TestParseLineRefuses(t *testing.T) {
	for _, s := range []string{
		"", "READY", "gvmm: READY at  us", "gvmm: READY at -5 us", "gvmm: READY at +5 us",
		"gvmm: READY at 5us", "gvmm: READY at 5 us extra", "x gvmm: READY at 5 us",
		"gvmm: READY at 99999999999999999999 us", "gvmm: READY at 1 2 us", "gvmm: READY at 007 us",
	} {
		_, ok := ParseLine(s)
		assert.False(t, ok, "%q", s)
	}
	us, ok := ParseLine("gvmm: READY at 7 us\r")
	assert.True(t, ok)
	assert.Equal(t, int64(7), us)
}

func FuzzParseLine(f *testing.F) {
	f.Add("gvmm: READY at 12 us")
	f.Add("gvmm: READY at -1 us")
	f.Fuzz(func(t *testing.T, s string) {
		us, ok := ParseLine(s)
		if ok {
			assert.GreaterOrEqual(t, us, int64(0))
			assert.Equal(t, Line(us), trimCR(s), "a parsed line formats back to itself")
		}
	})
}

func trimCR(s string) string {
	if len(s) > 0 && s[len(s)-1] == '\r' {
		return s[:len(s)-1]
	}
	return s
}

func TestClockMovesForward(t *testing.T) {
	a := Since()
	assert.False(t, Start().After(time.Now()))
	assert.GreaterOrEqual(t, Since(), a)
}
