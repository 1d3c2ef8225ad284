// Command escape is an init program for the CVE-2019-5736 test of package
// container: as init (its arguments say so) it is gvmm-init; as a
// container's workload, which it becomes when the workload's command is
// /proc/self/exe, it plays the attack. It keeps an O_PATH handle on its own
// executable without close-on-exec, becomes the shell (so that it no
// longer runs that file) and writes one byte through the handle. The
// runtime's sealed handle must make that write fail. Build it static:
// CGO_ENABLED=0.
package main

import (
	"fmt"
	"os"

	"gvmm/container/nsinit"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[len(os.Args)-1] == nsinit.Arg {
		os.Exit(nsinit.Main(os.Args))
	}
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH, 0)
	if err != nil {
		fmt.Println("escape: open:", err)
		os.Exit(1)
	}
	script := fmt.Sprintf("if printf x 1<>/proc/self/fd/%d; then echo 'escape: written'; else echo 'escape: write failed'; fi", fd)
	err = unix.Exec("/bin/sh", []string{"sh", "-c", script}, os.Environ())
	fmt.Println("escape: exec:", err)
	os.Exit(1)
}
