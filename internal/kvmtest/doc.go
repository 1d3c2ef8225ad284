// Package kvmtest holds what tests that need a usable /dev/kvm share:
// Require, which skips them (or, under GVMM_REQUIRE_KVM=1, fails them)
// where there is no KVM, and the artefacts they boot (the test guests, a
// static gvmm, the C helpers), prebuilt under $GVMM_TEST_ARTEFACTS or
// built from source.
//
// A test is a KVM test when it calls Require, directly or through a helper
// of its package: `make kvm-tests` (package suite, below) finds them that
// way and runs them on the host's /dev/kvm, or inside the nested rig where
// the host has none, with GVMM_REQUIRE_KVM=1 so that none can skip.
package kvmtest
