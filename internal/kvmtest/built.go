package kvmtest

import (
	"context"
	"testing"

	"gvmm/internal/testenv"
)

var (
	gvmmOnce   testenv.Once[string]
	guestsOnce testenv.Once[map[string]string]
)

// StaticGVMM returns the static gvmm binary (GVMM: prebuilt, or built from
// ./cmd/gvmm), built once per test binary. The package's TestMain calls
// testenv.Main, which removes it.
func StaticGVMM(t testing.TB) string {
	t.Helper()
	return gvmmOnce.Get(t, "gvmm", GVMM)
}

// Guest returns the path of the test guest name (guest/testguests), all of
// them built once per test binary (TestGuests).
func Guest(t testing.TB, name string) string {
	t.Helper()
	all := guestsOnce.Get(t, "the test guests", func(_ context.Context, dir string) (map[string]string, error) {
		return TestGuests(dir)
	})
	p, ok := all[name]
	if !ok {
		t.Fatalf("no test guest %q (guest/testguests.Names)", name)
	}
	return p
}
