package kvmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"gvmm/guest/testguests"
	"gvmm/internal/rig"
)

// EnvArtefacts names a directory of prebuilt test artefacts: the static
// gvmm binary (gvmm), the test guests (testguests/NAME.elf) and the C
// helper programs (kvmfloor, rusage). `make kvm-tests` sets it, because
// inside the nested rig's L1 there is no Go toolchain and no gcc to build
// them; without it the helpers below build from source, as on any
// developer machine.
const EnvArtefacts = "GVMM_TEST_ARTEFACTS"

// artefact returns the prebuilt artefact name under $GVMM_TEST_ARTEFACTS,
// ok false when the variable is unset, and an error when it is set but
// the artefact is missing (a broken kvm-tests bundle, never a skip).
func artefact(name string) (string, bool, error) {
	dir := os.Getenv(EnvArtefacts)
	if dir == "" {
		return "", false, nil
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return "", true, fmt.Errorf("%s=%s but %s is missing: %w", EnvArtefacts, dir, name, err)
	}
	return p, true, nil
}

// TestGuests returns the test guests by name: the prebuilt ones under
// $GVMM_TEST_ARTEFACTS/testguests, or else built into dir with gcc and ld
// (testguests.Build).
func TestGuests(dir string) (map[string]string, error) {
	if _, ok := os.LookupEnv(EnvArtefacts); !ok {
		return testguests.Build(dir)
	}
	out := make(map[string]string, len(testguests.Names))
	for _, name := range testguests.Names {
		p, _, err := artefact(filepath.Join("testguests", name+".elf"))
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

// GVMM returns a static gvmm binary: the prebuilt one, or else one built
// from the module's ./cmd/gvmm into dir (rig.BuildGVMM: CGO_ENABLED=0,
// like `make gvmm`, and checked to be static).
func GVMM(ctx context.Context, dir string) (string, error) {
	if p, ok, err := artefact("gvmm"); ok {
		return p, err
	}
	return rig.BuildGVMM(ctx, dir)
}

// CProgram returns the C helper program name: the prebuilt one, or else
// src compiled into dir/name with gcc -O2 (apt-get install gcc libc6-dev).
func CProgram(dir, name, src string) (string, error) {
	if p, ok, err := artefact(name); ok {
		return p, err
	}
	out := filepath.Join(dir, name)
	if msg, err := exec.Command("gcc", "-O2", "-o", out, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %w (apt-get install gcc libc6-dev)\n%s", src, err, msg)
	}
	return out, nil
}
