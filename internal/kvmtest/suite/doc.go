// Package suite is `make kvm-tests`: it finds gvmm's KVM tests, builds
// them as static test binaries with the artefacts they boot, and runs them
// where a real KVM is: on the host's /dev/kvm when it is usable, and
// otherwise inside one L1 of the nested rig (internal/rig), where kvm-amd
// gives L1 a /dev/kvm. Either way GVMM_REQUIRE_KVM=1 is set, so a KVM
// test cannot skip, and the run ends with the plain line
//
//	kvm-tests: N passed, N failed, N skipped
//
// Files:
//   - discover.go: which tests are KVM tests (they call kvmtest.Require,
//     directly or through a helper of their package), read from the source
//     with go/parser, so a new KVM test is picked up without a list to keep;
//   - build.go: `go test -c` with CGO_ENABLED=0 for each package, and the
//     artefacts (static gvmm, test guests, the floor's C programs, built
//     with gcc -static) under one directory, kvmtest.EnvArtefacts;
//   - results.go: counting `--- PASS/FAIL/SKIP` lines of `-test.v` output;
//   - run.go: running the binaries on the host or in the rig.
//
// The floor benchmark (`make bench-floor`) goes the same way, with -bench.
package suite
