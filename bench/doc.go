// Package bench measures start-up latency and memory of gvmm and its peers,
// each started as a real process, side by side in one run.
//
// This first part is the VMM floor (floor.go, floor_test.go): how long a
// process takes from exec to the READY signal of a tiny guest and how much
// memory it needs, for gvmm with the PVH demo guest, QEMU's microvm with the
// same guest, and a minimal C program that runs 12 bytes of guest code on
// KVM (testdata/kvmfloor.c), the lowest a VMM could go on this host.
//
// Run it with `make bench-floor`. Figures are medians of N runs; ratios are
// computed within the same run, never against numbers from another day.
package bench
