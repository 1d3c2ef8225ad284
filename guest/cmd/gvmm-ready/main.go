// Command gvmm-ready says READY from a guest that has an init system of
// its own: the Debian disk VM runs it from a systemd unit once nginx is up
// (guest/debian-image). It writes the READY byte (guest/ready.Magic) to
// gvmm's boot-timer port, through /dev/port where the kernel has it and
// else with ioperm(2) and OUT (Debian's kernel has no /dev/port), then
// prints "gvmm-ready: READY" on the console: gvmm timestamps the first,
// and a person, or a benchmark timing another VMM, sees the second.
//
// Under another VMM the port write goes nowhere; it is not an error.
// Built static (CGO_ENABLED=0), like the agent whose code it uses.
package main

import (
	"fmt"
	"os"

	"gvmm/guest/agent"
)

// consoleLine is what the console shows; bench/diskrig_test.go waits for it.
const consoleLine = "gvmm-ready: READY"

func main() {
	ports, err := agent.OpenPorts(agent.PortDevice)
	if err == nil {
		sig := agent.NewPortSignaller(ports)
		err = sig.Ready()
		sig.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvmm-ready: no READY to the VMM:", err)
	}
	con, cerr := os.OpenFile("/dev/console", os.O_WRONLY, 0)
	if cerr != nil {
		con = os.Stdout
	}
	fmt.Fprintln(con, consoleLine)
	if err != nil {
		os.Exit(1)
	}
}
