// Command sandboxprobe is internal/sandbox's test subject: it enters the
// sandbox as gvmm does, works the Go runtime the way a long-running VMM
// does, prints "survived", then makes the call its argument names, which
// the sandbox must answer by killing it (SIGSYS). Built without cgo by
// the package's tests.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"gvmm/internal/sandbox"
)

func main() {
	mode := "none"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	os.Exit(run(mode))
}

// helper enters the sandbox, works the Go runtime hard (threads, GC,
// timers, the netpoller, signals, /proc reads), and then, if mode says
// so, makes one forbidden call.
func run(mode string) int {
	if err := sandbox.Enter(sandbox.Options{}); err != nil {
		fmt.Println("enter:", err)
		return 3
	}
	if err := exercise(); err != nil {
		fmt.Println("exercise:", err)
		return 4
	}
	fmt.Println("survived")
	switch mode {
	case "exec":
		_ = unix.Exec("/bin/true", []string{"true"}, nil)
	case "mmap-exec":
		_, _ = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
	case "inet":
		_, _ = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	case "create":
		_, _ = os.Create(os.TempDir() + "/gvmm-sandbox-escape")
	case "status":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Println(err)
			return 5
		}
		fmt.Print(string(b))
	}
	return 0
}

// exercise does what a long-running gvmm's Go runtime does.
func exercise() error {
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ { // new OS threads: clone, arch_prctl, sigaltstack
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			time.Sleep(time.Millisecond)
		}()
	}
	wg.Wait()
	var keep [][]byte
	for i := 0; i < 200; i++ { // garbage collection and the scavenger
		keep = append(keep, make([]byte, 1<<20))
		if len(keep) > 20 {
			keep = keep[1:]
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	r, w, err := os.Pipe() // the netpoller
	if err != nil {
		return err
	}
	go func() { _, _ = w.Write([]byte("ping")); w.Close() }()
	buf := make([]byte, 4)
	if err := r.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := r.Read(buf); err != nil || string(buf) != "ping" {
		return fmt.Errorf("pipe: %q %v", buf, err)
	}
	r.Close()
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		return err
	}
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGURG); err != nil { // a signal, handled (as the vCPU kick)
		return err
	}
	stop := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(stop) { // a busy goroutine, preempted by signals
	}
	runtime.GOMAXPROCS(1)
	runtime.GOMAXPROCS(runtime.NumCPU())
	<-time.After(10 * time.Millisecond)
	return nil
}
