package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// EnvCI is the variable that makes skips strict (see the package doc).
const EnvCI = "CI"

// Strict reports whether a missing precondition fails the test rather
// than skipping it: under CI.
func Strict() bool { return os.Getenv(EnvCI) == "true" }

// Skip skips t, saying why; under CI it fails t instead.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s=true, so this is a failure, not a skip: %s", EnvCI, msg)
		return
	}
	t.Skip(msg)
}

// NeedRoot skips (or under CI fails) t unless it runs as root; why says
// what the test does that needs it ("TAP devices", "namespaces").
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root for %s", why)
	}
}

// NeedFile skips (or under CI fails) t unless path exists; fix says how
// to get it ("apt-get install busybox-static").
func NeedFile(t testing.TB, path, fix string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Skip(t, "needs %s (%s): %v", path, fix, err)
	}
}

// NeedTool returns the path of the program name, skipping (or under CI
// failing) t when it is not installed; pkg is the Debian package.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "needs %s (apt-get install %s)", name, pkg)
	}
	return p
}

// SyncBuffer is a bytes.Buffer that a test can read while another
// goroutine (a VM's console, a device) writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
