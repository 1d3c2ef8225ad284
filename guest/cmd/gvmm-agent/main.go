// Command gvmm-agent is the guest side of gvmm: u-root's uinit in a VM, the
// workload in a container. It signals READY to the VMM or container runtime
// and then powers off, stays up, or starts a shell, as gvmm.mode= on the
// kernel command line (or GVMM_MODE in the environment) says.
//
// It must be built static (CGO_ENABLED=0): the initramfs has no libc.
// The logic lives in package gvmm/guest/agent.
package main

import (
	"os"

	"gvmm/guest/agent"
)

func main() {
	os.Exit(agent.Main(agent.HostEnv()))
}
