// Package rigtest adapts package rig to Go tests: gating on GVMM_E2E, locating
// the kernels that `make kernel` and `make kernel-debian` build, building the
// static gvmm binary, and logging the whole console when a test fails.
package rigtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gvmm/internal/rig"
)

// Environment variables read by this package.
const (
	// EnvE2E must be "1" for rig tests to run; `make e2e` and .ci/run set it.
	EnvE2E = "GVMM_E2E"
	// EnvVerbose set to "1" copies every console line live to stderr.
	EnvVerbose = "GVMM_RIG_VERBOSE"
)

// RequireE2E skips t unless GVMM_E2E=1. The rig boots QEMU under TCG (tens of
// seconds per test), so plain `go test ./...` leaves it out; when it is
// enabled, a missing QEMU or kernel fails the test instead of skipping it.
func RequireE2E(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvE2E) != "1" {
		t.Skipf("end-to-end rig test: set %s=1 to run it (make e2e and .ci/run do; needs qemu-system-x86 and `make kernel kernel-debian`)", EnvE2E)
	}
}

// Kernel is a guest kernel built by the Makefile.
type Kernel struct {
	// BzImage is the compressed kernel image.
	BzImage string
	// VMLinux is the uncompressed ELF with its PVH note; empty for the
	// Debian kernel, whose package ships only the bzImage.
	VMLinux string
}

// MinimalKernel returns gvmm's minimal kernel from build/kernel (`make kernel`),
// failing t if it is missing.
func MinimalKernel(t testing.TB) Kernel {
	t.Helper()
	dir := buildDir(t, "kernel")
	return Kernel{
		BzImage: mustExist(t, filepath.Join(dir, "bzImage"), "make kernel"),
		VMLinux: mustExist(t, filepath.Join(dir, "vmlinux"), "make kernel"),
	}
}

// DebianKernel returns Debian's cloud kernel from build/debian-kernel
// (`make kernel-debian`), failing t if it is missing. Its modules are in
// ModulesDir(); modules/virtio.order lists the virtio ones in load order.
func DebianKernel(t testing.TB) Kernel {
	t.Helper()
	return Kernel{BzImage: mustExist(t, filepath.Join(buildDir(t, "debian-kernel"), "vmlinuz"), "make kernel-debian")}
}

// DebianModulesDir returns build/debian-kernel/modules.
func DebianModulesDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(buildDir(t, "debian-kernel"), "modules")
}

func buildDir(t testing.TB, name string) string {
	t.Helper()
	root, err := rig.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "build", name)
}

func mustExist(t testing.TB, p, fix string) string {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `%s` first (%v)", p, fix, err)
	}
	return p
}

// GVMM builds the static gvmm binary into a temporary directory of t.
func GVMM(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := rig.BuildGVMM(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Run runs cfg in the rig and fails t if the rig itself fails (QEMU missing,
// both attempts timed out, L1 setup failed). The command's exit status is
// left to the caller. If t fails later, the whole L1 console (with L2's, as
// gvmm forwarded it) and those of timed-out attempts are logged.
func Run(t testing.TB, cfg rig.Config) *rig.Result {
	t.Helper()
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	if cfg.Console == nil && os.Getenv(EnvVerbose) == "1" {
		cfg.Console = os.Stderr
	}
	ctx := context.Background()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-10*time.Second))
			defer cancel()
		}
	}
	res, err := rig.Run(ctx, cfg)
	if res != nil {
		t.Cleanup(func() {
			if t.Failed() {
				logConsoles(t, res)
			}
		})
		if res.Attempts > 1 {
			t.Logf("rig: L1 failed %d time(s) and was retried (QEMU TCG SVM race, see NESTED.md); the last lines of the stuck attempt:\n%s",
				res.Attempts-1, tail(res.Earlier[len(res.Earlier)-1], 15))
		}
		t.Logf("rig: %d attempt(s), last one %v wall; L1 uptime at its markers: %s (rig time)",
			res.Attempts, res.Wall.Round(time.Millisecond), formatUptimes(res.Uptime))
	}
	if err != nil {
		t.Fatalf("rig run failed: %v", err)
	}
	return res
}

// RequireExit fails t unless the command exited with want.
func RequireExit(t testing.TB, res *rig.Result, want int) {
	t.Helper()
	if res.ExitStatus != want {
		t.Fatalf("command in L1 exited with %d, want %d; its output:\n%s", res.ExitStatus, want, res.OutputText())
	}
}

// Expect fails t unless a line of the command's output matches pattern no
// later than within after QEMU started, and returns that line.
func Expect(t testing.TB, res *rig.Result, pattern string, within time.Duration) rig.Line {
	t.Helper()
	l, err := res.Expect(regexp.MustCompile(pattern), within)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func logConsoles(t testing.TB, res *rig.Result) {
	var s strings.Builder
	for i, c := range res.Earlier {
		fmt.Fprintf(&s, "--- console of attempt %d (timed out) ---\n", i+1)
		writeLines(&s, c)
	}
	fmt.Fprintf(&s, "--- console of attempt %d (L1, with L2 as forwarded by gvmm) ---\n", res.Attempts)
	writeLines(&s, res.Console)
	t.Log("\n" + s.String())
}

func writeLines(w io.Writer, c *rig.Console) {
	for _, l := range c.Lines() {
		fmt.Fprintf(w, "[%8.3fs] %s\n", l.At.Seconds(), l.Text)
	}
}

func tail(c *rig.Console, n int) string {
	lines := c.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var s strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&s, "[%8.3fs] %s\n", l.At.Seconds(), l.Text)
	}
	return s.String()
}

// formatUptimes lists the marker uptimes in boot order, e.g. "boot=1.2s kvm=2.5s".
func formatUptimes(up map[string]time.Duration) string {
	var parts []string
	for _, k := range []string{"boot", "kvm", "start", "exit"} {
		if d, ok := up[k]; ok {
			parts = append(parts, k+"="+d.Round(time.Millisecond).String())
		}
	}
	return strings.Join(parts, " ")
}
