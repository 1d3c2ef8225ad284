// Package kvmtest holds helpers for tests that need a usable /dev/kvm.
package kvmtest

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips the test, saying why, when /dev/kvm cannot be opened
// read-write. Set GVMM_REQUIRE_KVM=1 (CI does, on hosts with KVM) to turn
// the skip into a failure, so a broken /dev/kvm cannot hide behind a skip.
func Require(t testing.TB) {
	t.Helper()
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return
	}
	if os.Getenv("GVMM_REQUIRE_KVM") == "1" {
		t.Fatalf("GVMM_REQUIRE_KVM=1 but /dev/kvm is not usable: %v", err)
	}
	t.Skipf("needs /dev/kvm (open: %v); enable KVM or nested virtualization to run it", err)
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
