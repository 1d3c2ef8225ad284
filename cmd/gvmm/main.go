// Command gvmm boots a guest kernel on KVM, or runs the same workload as a
// namespace container.
//
//	gvmm boot KERNEL [--initrd F] [--cmdline S] [--mem 256M] [--cpus N]
//	gvmm check
//	gvmm container run|ps|stop|rm|state|kill ...
//	gvmm bench [-n 20] [-only KINDS] [-out DIR]
//
// Each subcommand lives in its own file and only parses flags; the work is
// done by the packages it calls.
// The go:debug line below keeps the Go runtime from reading the cgroup
// files (/proc/self/cgroup, mountinfo, cpu.cfs_*) at every start to size
// GOMAXPROCS (Go 1.25): 0.3 ms of each `gvmm container run` on the course
// machine, for a program that sizes its own threads (vCPUs) anyway.
//
//go:debug containermaxprocs=0
package main

import (
	"fmt"
	"os"
)

// subcommands maps each verb to its entry point. An entry point returns the
// process exit code.
var subcommands = map[string]func(args []string) int{
	"boot":      runBoot,
	"check":     runCheck,
	"container": runContainer,
	"bench":     runBench,
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: gvmm <command> [arguments]

commands:
  boot KERNEL   boot a kernel (ELF/PVH or bzImage) in a new VM
  check         report whether this host can run gvmm VMs
  container     run the same workload as a namespace container
  bench         Castles vs Villages: VMs and containers against their peers (runs gvmm-bench)

run "gvmm <command> -h" for the command's flags`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	run, ok := subcommands[os.Args[1]]
	if !ok {
		if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
			usage()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "gvmm: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(run(os.Args[2:]))
}
