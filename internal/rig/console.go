package rig

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Line is one console line and when the rig saw it, measured from the start
// of QEMU (wall time of an emulated machine: "rig" time, for pass/fail and
// ordering only).
type Line struct {
	// At is the time since QEMU started.
	At time.Duration
	// Text is the line without its line ending.
	Text string
}

// Console collects the serial console of one L1 run line by line. It is an
// io.Writer (QEMU's stdout goes into it) and can be waited on for a line.
// It is safe for concurrent use.
type Console struct {
	start   time.Time
	mu      sync.Mutex
	lines   []Line
	partial []byte
	closed  bool
	changed chan struct{} // closed and replaced on every new line or on close
}

func newConsole(start time.Time) *Console {
	return &Console{start: start, changed: make(chan struct{})}
}

// Write splits p into lines. Serial output ends lines with "\r\n"; the "\r"
// is dropped.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.appendLocked(c.partial[:i])
		c.partial = c.partial[i+1:]
		added = true
	}
	if added {
		c.notifyLocked()
	}
	return len(p), nil
}

func (c *Console) appendLocked(b []byte) {
	text := strings.TrimRight(string(b), "\r")
	c.lines = append(c.lines, Line{At: time.Since(c.start), Text: text})
}

func (c *Console) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// close flushes a last unterminated line and wakes every waiter for good.
func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) > 0 {
		c.appendLocked(c.partial)
		c.partial = nil
	}
	c.closed = true
	c.notifyLocked()
}

// Lines returns a copy of the lines seen so far.
func (c *Console) Lines() []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Line(nil), c.lines...)
}

// String returns the whole console so far, one line per line.
func (c *Console) String() string {
	var s strings.Builder
	for _, l := range c.Lines() {
		s.WriteString(l.Text)
		s.WriteByte('\n')
	}
	return s.String()
}

// Expect waits until a line matching re appears (searching from the first
// line), the console ends (QEMU exited), timeout passes or ctx ends. It
// returns the first matching line, or an error wrapping ErrNotSeen.
func (c *Console) Expect(ctx context.Context, re *regexp.Regexp, timeout time.Duration) (Line, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	next := 0
	for {
		c.mu.Lock()
		for ; next < len(c.lines); next++ {
			if re.MatchString(c.lines[next].Text) {
				l := c.lines[next]
				c.mu.Unlock()
				return l, nil
			}
		}
		closed, changed := c.closed, c.changed
		c.mu.Unlock()
		if closed {
			return Line{}, fmt.Errorf("%w: %q: the console ended", ErrNotSeen, re)
		}
		select {
		case <-changed:
		case <-timer.C:
			return Line{}, fmt.Errorf("%w: %q within %v", ErrNotSeen, re, timeout)
		case <-ctx.Done():
			return Line{}, fmt.Errorf("%w: %q: %w", ErrNotSeen, re, ctx.Err())
		}
	}
}

// Find returns the first line seen so far that matches re.
func (c *Console) Find(re *regexp.Regexp) (Line, bool) {
	for _, l := range c.Lines() {
		if re.MatchString(l.Text) {
			return l, true
		}
	}
	return Line{}, false
}
