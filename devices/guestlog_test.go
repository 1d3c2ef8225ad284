package devices

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func TestGuestLogRateLimits(t *testing.T) {
	buf := captureLog(t)
	now := time.Unix(1000, 0)
	g := &GuestLog{now: func() time.Time { return now }}
	for i := 0; i < 20000; i++ {
		g.Warn("bad write", "n", i)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, guestLogBurst, "a burst, then nothing in the window")
	assert.Contains(t, lines[0], "n=0")
	assert.NotContains(t, buf.String(), "suppressed")

	buf.Reset()
	now = now.Add(guestLogWindow)
	g.Warn("bad write", "n", 20000)
	assert.Contains(t, buf.String(), "suppressed=19995", "the next window's first line counts the dropped ones")
	buf.Reset()
	g.Error("bad write", "n", 20001)
	assert.Contains(t, buf.String(), "level=ERROR")
	assert.NotContains(t, buf.String(), "suppressed", "counted once")
}

func TestGuestLogZeroValueAndRealClock(t *testing.T) {
	buf := captureLog(t)
	var g GuestLog
	for i := 0; i < 100; i++ {
		g.Warn("x")
	}
	assert.Equal(t, guestLogBurst, strings.Count(buf.String(), "\n"))
}
