package suite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gvmm/guest/testguests"
	"gvmm/internal/rig"
)

// cPrograms are the C helpers of the floor benchmark (bench/floor_test.go,
// kvmtest.CProgram), by artefact name: a raw KVM program and the rusage
// launcher. They are linked statically so that they run in L1, which has
// no C library.
var cPrograms = map[string]string{
	"kvmfloor": "bench/testdata/kvmfloor.c",
	"rusage":   "bench/testdata/rusage.c",
}

// Bundle is what Build made: one static test binary per package and the
// artefacts directory the tests read through kvmtest.EnvArtefacts.
type Bundle struct {
	// Dir holds everything (build/kvm-tests).
	Dir string
	// Packages are the packages whose binaries are in Binaries.
	Packages []Package
	// Binaries maps a package directory to its test binary.
	Binaries map[string]string
	// Artefacts is the directory for kvmtest.EnvArtefacts.
	Artefacts string
}

// binaryName is the file name of a package's test binary: "vmm.test",
// "internal-machine.test".
func binaryName(p Package) string { return strings.ReplaceAll(p.Dir, "/", "-") + ".test" }

// Build compiles the test binaries of pkgs (CGO_ENABLED=0, so static: the
// same files run on the host and in L1) and the artefacts into dir.
func Build(ctx context.Context, root, dir string, pkgs []Package) (*Bundle, error) {
	b := &Bundle{Dir: dir, Packages: pkgs, Binaries: map[string]string{}, Artefacts: filepath.Join(dir, "artefacts")}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(b.Artefacts, "testguests"), 0o755); err != nil {
		return nil, err
	}
	for _, p := range pkgs {
		out := filepath.Join(dir, binaryName(p))
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, "./"+filepath.ToSlash(p.Dir))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go test -c ./%s: %w\n%s", p.Dir, err, msg)
		}
		b.Binaries[p.Dir] = out
	}
	if _, err := rig.BuildStatic(ctx, "./cmd/gvmm", filepath.Join(b.Artefacts, "gvmm")); err != nil {
		return nil, err
	}
	if _, err := testguests.Build(filepath.Join(b.Artefacts, "testguests")); err != nil {
		return nil, err
	}
	for name, src := range cPrograms {
		out := filepath.Join(b.Artefacts, name)
		cmd := exec.CommandContext(ctx, "gcc", "-O2", "-static", "-o", out, src)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gcc -static %s: %w (apt-get install gcc libc6-dev)\n%s", src, err, msg)
		}
	}
	return b, nil
}

// files lists every file of the bundle with its path under guestDir, for
// the rig's L1 initramfs.
func (b *Bundle) files(guestDir string) ([]rig.File, error) {
	var files []rig.File
	err := filepath.Walk(b.Dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(b.Dir, path)
		if err != nil {
			return err
		}
		files = append(files, rig.File{Host: path, Guest: filepath.Join(guestDir, rel), Executable: info.Mode()&0o111 != 0})
		return nil
	})
	return files, err
}
