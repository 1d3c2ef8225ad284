// Command ready is the test workload of package container: it follows the
// READY protocol like the guest agent (guest/cmd/gvmm-agent) does in a
// container. It writes ready.Magic to the fd named by GVMM_READY_FD, then
// exits 0 (GVMM_MODE=poweroff, the default here) or sleeps until killed
// (GVMM_MODE=stay). For the out-of-memory test, GVMM_MODE=eat touches
// memory until the kernel kills it. Build it static: CGO_ENABLED=0.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"gvmm/guest/ready"
)

func main() {
	fd, err := strconv.Atoi(os.Getenv(ready.FDEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ready: GVMM_READY_FD is not set")
		os.Exit(2)
	}
	// Catch SIGTERM before announcing READY: a stop that follows READY
	// at once must find the handler (pid 1 ignores unhandled SIGTERM, and
	// the Go runtime then exits with 2).
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	f := os.NewFile(uintptr(fd), "ready")
	if _, err := f.Write([]byte{ready.Magic}); err != nil {
		fmt.Fprintln(os.Stderr, "ready:", err)
		os.Exit(3)
	}
	f.Close()
	switch os.Getenv("GVMM_MODE") {
	case "eat":
		var hoard [][]byte
		for i := 0; i < 1024; i++ { // at most 1 GiB, in 1 MiB pages touched
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hoard = append(hoard, b)
		}
		fmt.Println("ready: ate", len(hoard), "MiB")
	case "stay":
		<-stop
	}
}
