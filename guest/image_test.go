package guest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/u-root/mkuimage/cpio"
)

// The image is built once per test binary: a build compiles ~30 commands.
var (
	imageOnce sync.Once
	imagePath string
	imageErr  error
	imageTmp  string
)

const (
	extraSrc = "testdata/extra.txt"
	extraDst = "etc/gvmm-test/extra.txt"
)

// testModules are stand-in module files: the image only carries them.
var testModules = []string{"virtio_ring.ko", "virtio_net.ko"}

func TestMain(m *testing.M) {
	code := m.Run()
	if imageTmp != "" {
		os.RemoveAll(imageTmp)
	}
	os.Exit(code)
}

// testOptions are the options of the shared test image.
func testOptions() (Options, error) {
	modDir := filepath.Join(imageTmp, "modules")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		return Options{}, err
	}
	var mods []string
	for _, m := range testModules {
		p := filepath.Join(modDir, m)
		if err := os.WriteFile(p, []byte("module "+m), 0o644); err != nil {
			return Options{}, err
		}
		mods = append(mods, p)
	}
	return Options{
		ExtraFiles: []ExtraFile{{Src: extraSrc, Dst: "/" + extraDst}},
		Modules:    mods,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, nil
}

// builtImage returns the path of the shared test image, building it first.
func builtImage(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		if imageTmp, imageErr = os.MkdirTemp("", "gvmm-guest-test-"); imageErr != nil {
			return
		}
		imagePath = filepath.Join(imageTmp, "initramfs.cpio")
		imageErr = buildWithCLI(t, "-o", imagePath)
	})
	require.NoError(t, imageErr, "building the initramfs")
	return imagePath
}

// buildWithCLI builds the test image with `gvmm-initramfs`, the command users
// run, which calls BuildCPIO or BuildRootFS. It runs as its own process
// because go test -race instruments this test binary, and gobusybox
// type-checks every command's source in-process: under the race detector
// that alone takes many minutes.
func buildWithCLI(t *testing.T, output ...string) error {
	opts, err := testOptions()
	if err != nil {
		return err
	}
	args := append([]string{"run", "gvmm/guest/cmd/gvmm-initramfs"}, output...)
	for _, e := range opts.ExtraFiles {
		args = append(args, "--extra", e.Src+":"+e.Dst)
	}
	for _, m := range opts.Modules {
		args = append(args, "--module", m)
	}
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s: ok", strings.Join(args, " "))
	return nil
}

// recordsByName reads the image into a map.
func recordsByName(t *testing.T, path string) map[string]cpio.Record {
	t.Helper()
	records, err := ReadCPIO(path)
	require.NoError(t, err)
	m := make(map[string]cpio.Record, len(records))
	for _, r := range records {
		m[r.Name] = r
	}
	return m
}

func contents(t *testing.T, r cpio.Record) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	require.NoError(t, err)
	return b
}

// isStaticELF reports whether b is an x86-64 ELF with no interpreter and no
// shared libraries.
func isStaticELF(t *testing.T, b []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, elf.EM_X86_64, f.Machine)
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "dynamic binary: has an interpreter")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs)
}
