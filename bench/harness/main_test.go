package harness

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests where gvmm-bench runs its subjects: on a hybrid
// host, in the private mount namespace that hides the unified hierarchy
// from crun (EnterV1View), entered once for the whole test binary.
func TestMain(m *testing.M) {
	code, done, err := EnterV1View()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if done {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
