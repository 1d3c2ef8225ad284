// Package testenv is the one test environment of gvmm's tests: what a test
// needs from the machine (root, a file, a tool) and how it says so, the
// artefacts that are built once per test binary (Once), and small helpers every package's tests wanted a copy of (a
// goroutine-safe buffer).
//
// # Skips stay strict under CI
//
// A test whose precondition is missing skips with the reason and the fix
// ("needs root", "apt-get install busybox-static"). Under CI (CI=true, as
// .ci/run sets it) the machine is set up to run everything, so the same
// call fails the test instead: a skip there would hide a broken set-up.
// KVM's own precondition is kvmtest.Require, strict under
// GVMM_REQUIRE_KVM=1.
//
// # Built once
//
// Once builds an artefact on first use and keeps it for the rest of the
// test binary, in one directory that Main removes when the tests end.
// kvmtest.StaticGVMM and kvmtest.Guest (the static gvmm, the test guests)
// are built on it; a package that uses them calls Main from its TestMain.
//
// This package imports nothing of gvmm's, so any package's tests can use
// it, internal/rig's own included. It is imported only by tests.
package testenv
