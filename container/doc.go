// Package container runs a workload as a Linux namespace container: the
// "village" beside the VM "castle", started from the same root file system
// and reporting READY the same way, so the two can be compared.
//
// # How a container starts
//
// Start (the runtime, in the gvmm process) validates an OCI spec
// (Validate: a clear error for everything gvmm does not implement),
// records the container in a Store under /run/gvmm (flock-serialized),
// creates its cgroup (containerd/cgroups: v1 and hybrid hosts use the v1
// controllers memory, pids, cpu, cpuacct, devices, freezer; a v2 host uses
// the unified tree), and clones init with CLONE_NEWPID, NEWNS, NEWUTS,
// NEWIPC, NEWNET (and NEWUSER when the spec maps ids). Init waits on a
// pipe until the runtime has put it into the cgroup and, with --net, has
// moved one end of a veth pair into its network namespace (netlink). Init
// (Init, in the same binary) then:
//
//  1. unshares the cgroup namespace if asked (now that it is in its group);
//  2. makes / private, bind-mounts the rootfs on itself and mounts the
//     spec's mounts below it, every destination resolved with openat2
//     RESOLVE_IN_ROOT so an image's symlinks cannot point a mount at the host;
//  3. fills a fresh /dev with bind mounts of null, zero, full, random,
//     urandom, tty and the ptmx, fd and std* links;
//  4. pivot_root(".", ".") and detaches the old root: unlike chroot, no path
//     to the host tree is left;
//  5. masks /proc/kcore and friends, makes /proc/sys and others read-only,
//     sets the host name, sysctls, rlimits, the pty for -t;
//  6. drops the bounding set, switches uid/gid keeping capabilities, sets
//     the effective/permitted/inheritable/ambient sets, no_new_privs, the
//     seccomp filter (elastic/go-seccomp-bpf assembles the OCI profile;
//     DefaultSeccomp is a deny list modelled on Docker's), and executes the
//     workload on the same locked OS thread, since credentials,
//     capabilities and seccomp are per thread in Linux.
//
// Errors before the exec travel back on a close-on-exec pipe, so Start
// returns "command not found" and the like as errors (ErrNotFound), and
// leaves no state, cgroup or veth behind.
//
// # Why init is a sealed memfd copy (CVE-2019-5736)
//
// Go cannot run Go code between fork and exec, so init must be a program;
// it is this binary again (InitArgs). Executing it from its path on disk
// would let a hostile image reach the host's gvmm binary through
// /proc/<init pid>/exe, or by making the workload's path resolve to
// /proc/self/exe so that gvmm itself runs inside the container, and then
// overwrite it: CVE-2019-5736, which hit runc. So the runtime copies its
// executable once into a memfd, seals it against writes, shrinking and
// growing (F_SEAL_WRITE|SHRINK|GROW|SEAL), keeps only a read-only handle,
// and executes init from /proc/self/fd/N. Whatever the container reaches
// through /proc is the sealed anonymous copy. runc's other answers were
// weighed: a read-only bind or overlay mount of the binary avoids the copy
// but leaves a mount to clean up and needs mount privileges in the
// runtime's namespace; a tiny separate init binary is faster to start but
// would itself need the same protection. The copy costs start-up time in
// proportion to the binary's size (see the benchmark).
//
// # Readiness
//
// The workload (the guest agent, or testdata/ready) writes the byte
// ReadyMagic (123) to the fd named by GVMM_READY_FD (3); the runtime
// timestamps it against the start of its process and prints
// "gvmm: READY at <N> us", the same line the VMM prints for a VM.
//
// # Lifecycle
//
// The runtime stays the parent of the container: it forwards signals,
// relays the pty for -it and collects the exit code, which becomes its
// own. Init has PR_SET_PDEATHSIG=SIGKILL (re-armed after the uid change,
// which clears it), so if gvmm is killed the container dies with it; the
// Store then shows it stopped (the recorded pid is dead or reused), and
// Store.Remove deletes its cgroup, veth and state.
package container
