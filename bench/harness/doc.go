// Package harness is the measuring side of `gvmm bench` ("Castles vs
// Villages"): it starts every subject (a VMM with a guest, a container
// runtime with a workload, or a plain process) N times, side by side, and
// fills the report.Run that package report stores and renders. Course
// chapter 8 (docs/08-measuring.md) explains what every number means.
//
// # Subjects as data
//
// A [Subject] is a name, a kind (vm, container, process), a workload
// (ready, nginx), a place (host, rig) and a Prepare function. Prepare
// builds or finds what the subject needs in a [Workspace] (gvmm, the guest
// agent, the u-root root file system, an OCI bundle, ...) and returns a
// [Plan], or an error wrapping [ErrSkip] that says why the subject cannot
// run here and how to make it run ("crun not installed: apt-get install
// crun"). [Catalogue] lists every subject of issue 6; [Select] narrows it.
//
// # One start
//
// Every start goes through a small C launcher (testdata/launcher.c,
// built with the system compiler, or taken from Workspace.Prebuilt in the
// nested rig, where gvmm-bench runs the Linux rows on a kvm_pvm host) in a process group of its own. Time
// runs from just before exec to the READY event, which is either gvmm's
// stderr line "gvmm: READY at N us", the floor program's "READY" line,
// or the byte ready.Magic (123) on a pipe the subject gets as fd 3: the
// guest agent writes it there in a container or as a plain process
// (GVMM_READY_FD=3), and for QEMU an isa-debugcon device at the guest's
// READY port (0x440) copies it into a "file" chardev whose path is
// /proc/self/fd/3, the pipe. Two more sources exist: the guest agent's
// "gvmm-agent: READY" console line, for gokvm, which has no READY device
// (Plan.ReadyConsole), and the first HTTP 200 the harness fetches itself,
// for the NGINX workload (Plan.ReadyHTTP). A server does not end by
// itself: with Plan.StopAfterReady the harness stops it at READY and the
// sample has no exit time. A VM's console is read for the agent's
// "gvmm-agent: clock N ns" line, the guest's own clock at READY. The launcher fork()s and wait4()s, so the rusage
// it reports (ru_maxrss, user and system CPU) is the command's own and
// its reaped children's: Go's vfork-style exec would let a child inherit
// the bench's larger peak RSS across execve. Exit time is taken when the
// launcher is reaped. Each start is bounded by a timeout, after which the
// process group is killed and the subject's Cleanup removes what a
// runtime may have left (containers, their cgroups).
//
// # Probe starts
//
// The resident sizes "once READY" (the VMM's or runtime's VmRSS, the
// guest-memory mapping's Rss, the container's memory cgroup) cannot be
// read from a timed start: the tiny guest and the agent in poweroff mode
// end microseconds after READY. So in the first Probes rounds each subject
// that has a holding variant (the spin guest, the agent in mode "stay":
// GVMM_MODE=stay or gvmm.mode=stay) is started once more; at READY the
// harness reads the VMM's or runtime's VmRSS, the Rss of the smaps
// mapping whose Size is the guest RAM (--mem), and the memory cgroup of
// the first process below it in a cgroup of its own, then stops it with
// SIGTERM (SIGKILL after a grace period) and checks that the workload
// and its cgroup are gone. Those readings go into the round's sample
// beside the timed start's times; the report's stats count them
// separately (their n is the number of probes).
//
// # Rounds
//
// After one warm-up start of every subject (page cache, first-use costs)
// the runner does N rounds; each round starts every subject once, in an
// order rotated by one every round, so a busy moment of the shared host
// falls on all subjects alike and no subject always goes first. A start
// that fails (timeout, no READY, wrong exit status, a probe that leaves
// something behind) marks its subject failed with the reason ("round k:
// ...", or "warm-up: ...") and drops it from the later rounds; the others
// go on.
package harness
