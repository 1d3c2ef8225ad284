// Package container runs a workload as a Linux namespace container: the
// "village" beside the VM "castle", started from the same root file system
// and reporting READY the same way, so the two can be compared.
//
// # How a container starts
//
// Start (the runtime, in the gvmm process) validates an OCI spec
// (Validate: a clear error for everything gvmm does not implement),
// records the container in a Store under /run/gvmm (flock-serialized)
// while another goroutine creates its cgroup (cgroup.go: v1 and hybrid
// hosts use the v1 controllers memory, pids, cpu, cpuacct, devices,
// freezer; a v2 host the unified tree, with the device rules as an eBPF
// program) and turns the spec into a Plan for init (plan.go): mounts
// expanded into steps, capability names into masks, the seccomp profile
// compiled into BPF (internal/seccomp). It then clones init with
// CLONE_NEWPID, NEWNS, NEWUTS, NEWIPC, NEWNET (and NEWUSER when the spec
// maps ids) directly into its cgroup (clone3 CLONE_INTO_CGROUP on v2, a
// forking thread that stands in the group on v1: cgroup_join.go) and
// writes it the plan; init decodes it while the runtime, with --net,
// moves one end of a veth pair into its network namespace (netlink).
// Closing the plan pipe says "go". Init (package nsinit) then:
//
//  1. unshares the cgroup namespace if asked (now that it is in its group),
//     brings lo up;
//  2. makes / private, bind-mounts the rootfs on itself and performs the
//     mount steps below it, every destination resolved with openat2
//     RESOLVE_IN_ROOT so an image's symlinks cannot point a mount at the
//     host;
//  3. fills a fresh /dev with bind mounts of null, zero, full, random,
//     urandom, tty and the ptmx, fd and std* links;
//  4. pivot_root(".", ".") and detaches the old root: unlike chroot, no
//     path to the host tree is left;
//  5. masks /proc/kcore and friends, makes /proc/sys and others read-only,
//     sets the host name, sysctls, rlimits, the pty for -t;
//  6. drops the bounding set, switches uid/gid keeping capabilities, sets
//     the effective/permitted/inheritable/ambient sets, no_new_privs, the
//     seccomp filter (DefaultSeccomp is a deny list modelled on Docker's),
//     and executes the workload on the same locked OS thread, since
//     credentials, capabilities and seccomp are per thread in Linux.
//
// Errors before the exec travel back on a close-on-exec pipe, so Start
// returns "command not found" and the like as errors (ErrNotFound), and
// leaves no state, cgroup or veth behind.
//
// # Why init is a separate small program
//
// Go cannot run Go code between fork and exec, so init must be a whole
// program, and a Go program runs the init functions of every package it
// links before main. Measured on the course machine (2 shared cores,
// nested KVM, load average 4 to 9 while measuring), exec to exit of a
// program: /bin/true 0.7-0.9 ms, a Go program linking only x/sys
// 1.7-2.2 ms, the gvmm binary 5.9 ms (6.5 ms before this package dropped
// containerd/cgroups). GODEBUG=inittrace=1 puts gvmm's package
// initialization at 2.0 ms (median per package, summed), of which this
// package's dependencies took 0.34 ms (0.30 ms was elastic/go-seccomp-bpf
// building its syscall tables, since replaced by internal/seccomp) and
// gvmm/guest's u-root builder about 1.1 ms (x/tools, go/types); the rest
// of the gap is the runtime touching a 13 MB binary.
//
// Even a small Go program pays for its runtime: a Go init linking only
// x/sys took 5.8 ms from fork to exit, a static C program 1.7 ms (issue
// 15, measured interleaved). So the init that containers start with is
// gvmm-init, the one C program of gvmm (container/cinit/gvmm-init.c,
// static glibc), found beside the running executable (findInit). It
// takes no decision of its own: the runtime sends a binary plan (package
// nsinit: Plan, Encode) in which every mount is expanded, every
// capability name decoded and the seccomp filter assembled, and init
// performs it with system calls. Package nsinit also holds the same steps
// in Go, standard library and x/sys/unix only: the reference the C
// program is tested against (every container test runs with both), and
// the fallback when no gvmm-init lies beside the executable, which then
// re-executes itself as init (InitArgs, Init), about 4 ms slower, and says
// so once on stderr. `make gvmm` builds both (InitCompile is its
// compiler line). A plan from another build is refused with an error
// saying to install both from one source (nsinit.PlanVersion).
// Rejected: go:embed of a prebuilt init (the binary would have to be
// committed), building it on first use (needs the Go toolchain at run
// time, and root would execute a cached build), and no init program at
// all, with the runtime preparing a locked thread and forking the
// workload from it (a /proc mounted from outside the new pid namespace
// shows the host's pids, rlimits are per process, and a user namespace
// cannot be unshared by a threaded process).
//
// # Why init runs from a sealed handle (CVE-2019-5736)
//
// Executing init from its path on disk would let a hostile image reach
// the file through /proc/<init pid>/exe, or by naming /proc/self/exe as
// its command so that init executes itself inside the container, and then
// overwrite it, as happened to runc. Init therefore runs from a handle
// that cannot be written through (sealed.go): the file opened inside a
// private read-only overlayfs that is never attached anywhere (runc 1.2's
// answer: zero copy, nothing to clean up, and unlike a read-only bind
// mount it cannot be made writable), or, without the privilege for that,
// a sealed memfd copy. Measured (BenchmarkSeal): the overlay takes
// 0.16-0.23 ms whatever the size; the copy 2.0 ms for gvmm-init and
// 8.6 ms for a program of gvmm's size, which is what every start used to
// pay. TestProgramNotWritableFromContainer plays the attack.
//
// # Why a cgroupfs layer of its own
//
// github.com/containerd/cgroups/v3 was replaced by cgroup*.go because
// importing it made every gvmm process, `gvmm boot` with its 2.5 ms
// start-to-READY target included, start about 1 ms later (protobuf,
// cilium/ebpf and dbus initialization and 6 MB of binary: a program
// importing only it starts 0.8-1.1 ms later than an empty one), for what
// is mkdir, a few writes of decimal numbers, and rmdir. Fields the layer
// does not implement (blockIO, hugepages, rdma, ...) are refused by
// Validate rather than ignored. On v2 the device rules compile into an
// eBPF program (cgroup_bpf.go), tested against the kernel on the unified
// hierarchy that hybrid hosts also have (TestDeviceFilter).
//
// # Readiness
//
// The workload (the guest agent, or testdata/ready) writes the byte
// ready.Magic (123) to the fd named by GVMM_READY_FD (3); the runtime
// timestamps it on the process clock (ready.Since, the clock the VMM
// uses too) and prints ready.Line, "gvmm: READY at <N> us", the same line
// the VMM prints for a VM. Package guest/ready is the one place the
// protocol is spelled; it imports only the standard library, so sharing it
// keeps the runtime standalone.
//
// # Lifecycle, and the small waiter
//
// The runtime stays the parent of the container: it forwards signals,
// relays the pty for -it and collects the exit code, which becomes its
// own. Init has PR_SET_PDEATHSIG=SIGKILL (re-armed after the uid change,
// which clears it), so if gvmm is killed the container dies with it; the
// Store then shows it stopped (the recorded pid is dead or reused), and
// Store.Remove deletes its cgroup, veth and state. A kill during a start
// can leave a group, or a record directory, that no record names (they are
// made side by side); Store.Remove ends with SweepOrphans, which removes
// them, kept apart from starts in progress by /run/gvmm-cgroups.lock
// (sweep.go).
//
// `gvmm container run` without a terminal goes one step further
// (Options.Handoff, handoff.go): once the workload has run HandoffGrace
// (1 s), the runtime replaces itself, pid unchanged, with gvmm-init's
// waiter, which forwards signals, reaps the container and runs gvmm again
// to record the exit and clean up (Finish). What stays resident while a
// long-running container runs is then the waiter's few hundred KiB instead
// of the runtime's 5-12 MiB. A workload that ends sooner is finished in
// process: another exec of the gvmm binary would double the time from
// its exit to the runtime's (issue 15: ~50 ms before, against crun's 22).
package container
