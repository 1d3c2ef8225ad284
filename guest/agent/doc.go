// Package agent is the logic of gvmm-agent, the small program that runs inside
// every gvmm guest: as u-root's uinit in a VM ("castle"), or as the workload
// of a namespace container ("village"). The binary in guest/cmd/gvmm-agent only
// wires these pieces together.
//
// The agent's job, in order:
//
//  1. Read its configuration from the kernel command line (gvmm.mode=,
//     gvmm.ip=, gvmm.gw=, gvmm.if=, gvmm.http=, gvmm.modules=, gvmm.ready=,
//     gvmm.exec=), then from the environment (GVMM_MODE, GVMM_IP, ...),
//     which wins. The settings, their parsing and their encoding live in
//     package agentcfg ([agentcfg.Config]), which the VMM and bench share.
//  2. In a VM, check that /proc, /sys and /dev are mounted (u-root's init
//     mounts them; the agent mounts whatever is missing) and load kernel
//     modules shipped in the initramfs under [ModuleDir] (Debian's stock
//     kernel has virtio_net and virtio_console as modules).
//  3. Configure the network interface, and optionally serve a small HTTP page.
//  4. Print what the end-to-end tests assert, then signal READY (see
//     [Signaller]) and print "gvmm-agent: READY".
//  5. Power off, stay up until SIGTERM, or exec the shell, per the mode; or,
//     when gvmm.exec= (GVMM_EXEC) names a program, exec that instead.
//
// # Running a workload: gvmm.exec
//
// gvmm.exec=/usr/sbin/nginx makes the agent set the guest up (mounts,
// modules, network) and signal READY as usual, then replace itself with the
// program: the NGINX workload of the bench boots with it. The value is an
// absolute path followed by arguments separated by spaces (quote the whole
// word on the kernel command line: "gvmm.exec=/bin/prog -v"); no argument can
// hold a space. The program must exist and be executable, or the agent fails
// before READY. The agent closes its READY channel first; the program
// inherits the console and the environment. gvmm.exec cannot go with
// gvmm.http (the agent's server would end with the exec).
//
// # The READY protocol
//
// In a VM the agent writes [ready.Magic] to I/O port [DebugPort] and, before
// powering off, a status byte to [ExitPort]; from Linux userspace port I/O is a
// one-byte pwrite at offset PORT of /dev/port (drivers/char/mem.c, write_port).
// In a container the runtime passes the write end of a pipe and names its fd in
// GVMM_READY_FD; the agent writes [ready.Magic] to it. Either way the runtime
// timestamps the byte and prints "gvmm: READY at <N> us".
//
// A VMM without the boot-timer device (gokvm, for the benchmark) is booted
// with gvmm.ready=console: the agent then touches no I/O port, its console
// line "gvmm-agent: READY" is the READY event, and poweroff is the kernel's.
//
// # Console lines
//
// Tests match these lines on the console, so their format is stable:
//
//	gvmm-agent: cmdline: <the kernel command line>
//	gvmm-agent: cpus online: <N> (<list from /sys/devices/system/cpu/online>)
//	gvmm-agent: net <ifname> <ip/prefix> gw <gw>
//	gvmm-agent: clock <N> ns   (in a VM: CLOCK_BOOTTIME just before READY)
//	gvmm-agent: READY
//	gvmm-agent: mode <poweroff|stay|shell>   (or, with gvmm.exec:)
//	gvmm-agent: exec <program> <arguments...>
package agent
