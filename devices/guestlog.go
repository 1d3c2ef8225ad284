package devices

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A guest decides how often a device meets a bad value, and each such
// event is worth a log line: a conflicting BAR, a refused feature set, an
// MSI the kernel would not take. Without a bound, a guest looping on one
// write fills the host's log (20,000 writes gave 10,000 lines). GuestLog
// lets a burst through, then drops lines until the window ends, and the
// next line it lets through says how many it dropped.

// At most guestLogBurst lines per guestLogWindow for one GuestLog.
const (
	guestLogBurst  = 5
	guestLogWindow = time.Minute
)

// GuestLog is a rate-limited logger for events a guest can repeat at will,
// one per place that logs them. The zero value is ready to use. Safe for
// concurrent use.
type GuestLog struct {
	now func() time.Time // nil: time.Now; tests set it

	mu         sync.Mutex
	start      time.Time // of the current window
	logged     int       // lines let through in the window
	suppressed int       // lines dropped since the last one let through
}

// Log logs msg at level with args, unless the burst for this window is
// spent. A line that follows dropped ones carries "suppressed", their count.
func (g *GuestLog) Log(level slog.Level, msg string, args ...any) {
	g.mu.Lock()
	now := time.Now()
	if g.now != nil {
		now = g.now()
	}
	if g.start.IsZero() || now.Sub(g.start) >= guestLogWindow {
		g.start, g.logged = now, 0
	}
	if g.logged >= guestLogBurst {
		g.suppressed++
		g.mu.Unlock()
		return
	}
	g.logged++
	dropped := g.suppressed
	g.suppressed = 0
	g.mu.Unlock()
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	slog.Log(context.Background(), level, msg, args...)
}

// Warn logs at warning level, rate-limited.
func (g *GuestLog) Warn(msg string, args ...any) { g.Log(slog.LevelWarn, msg, args...) }

// Error logs at error level, rate-limited.
func (g *GuestLog) Error(msg string, args ...any) { g.Log(slog.LevelError, msg, args...) }
