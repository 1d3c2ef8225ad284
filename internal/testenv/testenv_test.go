package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// fakeTB records what Skip and Fatalf would have done to a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skip(args ...any)               { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestSkipIsStrictUnderCI(t *testing.T) {
	t.Setenv(EnvCI, "")
	f := &fakeTB{}
	NeedFile(f, "/nonexistent/gvmm-tool", "apt-get install gvmm-tool")
	assert.Contains(t, f.skipped, "apt-get install gvmm-tool")
	assert.Empty(t, f.failed)

	t.Setenv(EnvCI, "true")
	f = &fakeTB{}
	NeedTool(f, "gvmm-no-such-tool", "gvmm-pkg")
	assert.Empty(t, f.skipped, "no skip under CI")
	assert.Contains(t, f.failed, "CI=true")
	assert.Contains(t, f.failed, "apt-get install gvmm-pkg")
}

func TestOnceBuildsOnce(t *testing.T) {
	var o Once[string]
	builds := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := o.Get(t, "thing", func(_ context.Context, dir string) (string, error) {
				builds++
				return dir + "/thing", nil
			})
			assert.Contains(t, v, "gvmm-test-")
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, builds)

	var bad Once[int]
	f := &fakeTB{}
	bad.Get(f, "broken", func(context.Context, string) (int, error) { return 0, errors.New("no compiler") })
	assert.Contains(t, f.failed, "building broken: no compiler")
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Write([]byte("ab")) }()
	}
	wg.Wait()
	assert.Equal(t, "abababababababab", b.String())
}

func TestMain(m *testing.M) { Main(m) }
