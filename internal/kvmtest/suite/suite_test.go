package suite

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
)

// TestDiscoverFindsTransitiveKVMTests: a test that calls kvmtest.Require
// itself, one that calls it through two helpers, a renamed import, a
// benchmark; and tests that never reach Require are left out.
func TestDiscoverFindsTransitiveKVMTests(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		p := filepath.Join(root, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	write("a/a_test.go", `package a
import (
	"testing"
	"gvmm/internal/kvmtest"
)
func TestDirect(t *testing.T) { kvmtest.Require(t) }
func helper(t *testing.T) { inner(t) }
func inner(t *testing.T) { kvmtest.Require(t) }
func TestViaHelpers(t *testing.T) { t.Run("sub", func(t *testing.T) { helper(t) }) }
func TestPlain(t *testing.T) { kvmtest.Usable() }
func BenchmarkFloor(b *testing.B) { kvmtest.Require(b) }
func Testlowercase(t *testing.T) { kvmtest.Require(t) }
`)
	write("a/b_test.go", `package a_test
import (
	"testing"
	kt "gvmm/internal/kvmtest"
)
func TestRenamed(t *testing.T) { kt.Require(t) }
`)
	write("b/b_test.go", `package b
import "testing"
func TestNothing(t *testing.T) {}
`)
	write("a/testdata/x_test.go", `package x
import ("testing"; "gvmm/internal/kvmtest")
func TestInTestdata(t *testing.T) { kvmtest.Require(t) }
`)
	pkgs, err := Discover(root)
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	assert.Equal(t, "a", pkgs[0].Dir)
	assert.Equal(t, []string{"TestDirect", "TestRenamed", "TestViaHelpers"}, pkgs[0].Tests)
	assert.Equal(t, []string{"BenchmarkFloor"}, pkgs[0].Benchmarks)
	assert.Equal(t, "^(TestDirect|TestRenamed|TestViaHelpers)$", pkgs[0].RunPattern())
	assert.Equal(t, "gvmm/a", pkgs[0].ImportPath())
}

// TestDiscoverThisModule: the KVM tests of gvmm itself are where the
// course says they are, so a refactoring that loses one shows here.
func TestDiscoverThisModule(t *testing.T) {
	root, err := rig.RepoRoot()
	require.NoError(t, err)
	pkgs, err := Discover(root)
	require.NoError(t, err)
	byDir := map[string]Package{}
	for _, p := range pkgs {
		byDir[p.Dir] = p
	}
	assert.Contains(t, byDir["vmm"].Tests, "TestRunRealModePortIOThenHalt")
	assert.Contains(t, byDir["vmm"].Tests, "TestStopInterruptsSpinningVCPU")
	assert.Contains(t, byDir["internal/machine"].Tests, "TestBootTestGuests", "through bootGuest")
	assert.Contains(t, byDir["cmd/gvmm"].Tests, "TestBootDemoGuest")
	assert.Contains(t, byDir["bench"].Tests, "TestFloorHarness")
	assert.Contains(t, byDir["bench"].Benchmarks, "BenchmarkFloor")
	assert.NotContains(t, byDir["internal/machine"].Tests, "TestBadInput", "bad input is found before KVM")
}

func TestParseOutput(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.01s)
=== RUN   TestB
    --- PASS: TestB/one (0.00s)
    --- SKIP: TestB/two (0.00s)
        x_test.go:1: needs /dev/kvm
    --- FAIL: TestB/three (0.00s)
--- FAIL: TestB (0.00s)
FAIL
`
	c, failed, skipped, err := ParseOutput(strings.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, Counts{Passed: 2, Failed: 2, Skipped: 1}, c)
	assert.Equal(t, []string{"TestB/three", "TestB"}, failed)
	assert.Equal(t, []string{"TestB/two"}, skipped)
	assert.Equal(t, "2 passed, 2 failed, 1 skipped", c.String())
}

func TestResultVerdicts(t *testing.T) {
	ok := Result{Package: "gvmm/vmm", Counts: Counts{Passed: 3}}
	assert.True(t, ok.OK())
	assert.Equal(t, "gvmm/vmm: 3 passed, 0 failed, 0 skipped (ok)", ok.Summary())
	skipped := Result{Package: "p", Counts: Counts{Passed: 1, Skipped: 1}, Skipped: []string{"TestX"}}
	assert.False(t, skipped.OK(), "a skip fails kvm-tests")
	assert.Contains(t, skipped.Summary(), "SKIPPED")
	panicked := Result{Package: "p", Counts: Counts{Passed: 1}, Status: 2}
	assert.False(t, panicked.OK(), "a binary that died after passing tests still fails")
	assert.Contains(t, panicked.Summary(), "exited with 2")
	none := Result{Package: "p"}
	assert.False(t, none.OK())
	assert.Contains(t, none.Summary(), "no test ran")
}

func TestSplitOutputs(t *testing.T) {
	m := "kvm-tests-abc"
	lines := []rig.Line{
		{Text: "noise before"},
		{Text: m + " begin vmm"},
		{Text: "--- PASS: TestA (0.00s)"},
		{Text: "kvm-tests-forged end vmm 0"},
		{Text: m + " end vmm 0"},
		{Text: m + " begin bench"},
		{Text: "--- PASS: TestB (0.00s)"},
		{Text: m + " end bench 1"},
		{Text: m + " begin cmd/gvmm"},
		{Text: "--- PASS: TestC (0.00s)"},
	}
	out := splitOutputs(lines, m)
	assert.Equal(t, 0, out["vmm"].status)
	assert.Equal(t, "--- PASS: TestA (0.00s)\nkvm-tests-forged end vmm 0\n", string(out["vmm"].text))
	assert.Equal(t, 1, out["bench"].status)
	_, ok := out["cmd/gvmm"]
	assert.False(t, ok, "a package whose end marker never came has no status (L1 died)")
}

// TestFilter: kvm-tests -run keeps the matching tests and benchmarks, and
// drops the packages left with neither.
func TestFilter(t *testing.T) {
	pkgs := []Package{
		{Dir: "a", Tests: []string{"TestHostileCPU", "TestBoot"}, Benchmarks: []string{"BenchmarkFloor"}},
		{Dir: "b", Tests: []string{"TestOther"}},
	}
	got := Filter(pkgs, regexp.MustCompile("Hostile|Floor"))
	require.Len(t, got, 1)
	assert.Equal(t, []string{"TestHostileCPU"}, got[0].Tests)
	assert.Equal(t, []string{"BenchmarkFloor"}, got[0].Benchmarks)
	assert.Len(t, Filter(pkgs, regexp.MustCompile("")), 2, "an empty pattern keeps everything")
	assert.Empty(t, Filter(pkgs, regexp.MustCompile("^Nothing$")))
	assert.Equal(t, []string{"TestHostileCPU", "TestBoot"}, pkgs[0].Tests, "the input is not changed")
}
