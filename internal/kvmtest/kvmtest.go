package kvmtest

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips the test, saying why, when /dev/kvm cannot be opened
// read-write. Set GVMM_REQUIRE_KVM=1 (`make kvm-tests` does, and CI on a
// host whose /dev/kvm works) to turn the skip into a failure, so a broken
// /dev/kvm cannot hide behind a skip.
//
// Calling Require is what makes a test a KVM test: package suite finds the
// tests that call it, directly or through a helper, and runs exactly those
// in `make kvm-tests`.
func Require(t testing.TB) {
	t.Helper()
	err := Usable()
	if err == nil {
		return
	}
	if os.Getenv("GVMM_REQUIRE_KVM") == "1" {
		t.Fatalf("GVMM_REQUIRE_KVM=1 but /dev/kvm is not usable: %v", err)
	}
	t.Skipf("needs /dev/kvm (open: %v); `make kvm-tests` runs it in the nested rig, or enable KVM or nested virtualization", err)
}

// RequireArtefact skips the test when the make artefact at path is
// missing, naming the target that builds it; under GVMM_REQUIRE_KVM=1
// (CI, which builds every artefact first) a missing one is a failure.
func RequireArtefact(t testing.TB, path, target string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	} else if os.Getenv("GVMM_REQUIRE_KVM") == "1" {
		t.Fatalf("GVMM_REQUIRE_KVM=1 but %s is missing (make %s): %v", path, target, err)
	}
	t.Skipf("needs %s: make %s", path, target)
}

// Usable returns nil when /dev/kvm can be opened read-write, else why not.
// Tests that only add KVM subjects when they can use it call this
// instead of Require (and so are not KVM tests).
func Usable() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
