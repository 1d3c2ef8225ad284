package testenv

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// BuildTimeout bounds one build of a shared artefact (go build, gcc).
const BuildTimeout = 5 * time.Minute

// shared is the directory shared artefacts live in: created on first use,
// removed by Main. A t.TempDir would vanish with the first test that asked
// for the artefact.
var shared struct {
	sync.Mutex
	dir string
}

// sharedDir returns the shared directory, creating it on first use.
func sharedDir() (string, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "gvmm-test-")
		if err != nil {
			return "", err
		}
		shared.dir = d
	}
	return shared.dir, nil
}

// Main runs the package's tests, then removes what Once built for them.
// Call it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Cleanup removes what Once built, for a TestMain that does more than Main.
func Cleanup() {
	shared.Lock()
	defer shared.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
		shared.dir = ""
	}
}

// Once is an artefact built at most once per test binary, into the
// directory that Main removes. The zero value is ready to use.
type Once[T any] struct {
	once sync.Once
	v    T
	err  error
}

// Get builds the artefact on first use (within BuildTimeout); every caller
// gets the same result, and a failed build fails each test that needs it.
func (o *Once[T]) Get(t testing.TB, what string, build func(ctx context.Context, dir string) (T, error)) T {
	t.Helper()
	o.once.Do(func() {
		dir, err := sharedDir()
		if err != nil {
			o.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
		defer cancel()
		o.v, o.err = build(ctx, dir)
	})
	if o.err != nil {
		t.Fatalf("building %s: %v", what, o.err)
	}
	return o.v
}
