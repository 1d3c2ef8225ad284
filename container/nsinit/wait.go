package nsinit

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"gvmm/guest/ready"
)

// WaitArg marks the waiter: the runtime, once its container runs, replaces
// itself (execve keeps its pid, so it stays the container's parent) with
//
//	gvmm-init __gvmm_container_wait PID START_NS READY_FD EXE_FD FINISH...
//
// so that what waits for the container is this small program rather than
// the whole gvmm binary: about 2 MB resident instead of 12. The waiter
// forwards SIGINT, SIGTERM and SIGHUP to the container's process PID,
// prints the READY line if READY_FD (>= 0) still has it to give (START_NS
// is the runtime's start on CLOCK_MONOTONIC), reaps PID, and executes
// EXE_FD, the runtime's own binary, with FINISH and "exit=CODE" appended:
// gvmm records the exit and removes the cgroup and network.
const WaitArg = "__gvmm_container_wait"

// WaiterName is the waiter's process name once it forwards signals.
const WaiterName = "gvmm-wait"

// Wait is the waiter's main function; it returns only on failure.
func Wait(args []string) int {
	if len(args) < 7 || args[1] != WaitArg {
		os.Stderr.WriteString("gvmm-init: the waiter is started by `gvmm container run`, not by hand\n")
		return 2
	}
	pid, err1 := strconv.Atoi(args[2])
	start, err2 := strconv.ParseInt(args[3], 10, 64)
	readyFD, err3 := strconv.Atoi(args[4])
	exeFD, err4 := strconv.Atoi(args[5])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || pid <= 0 {
		os.Stderr.WriteString("gvmm-init: bad waiter arguments: " + strings.Join(args[1:], " ") + "\n")
		return 2
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	// From here on signals are forwarded; the name says so in ps and
	// /proc/PID/comm. Before, for the about one millisecond the Go runtime
	// takes to start, a SIGTERM ends the waiter itself (Go unblocks it at
	// start whatever the inherited mask), and the container dies with it
	// (its parent-death signal): the same outcome as a SIGKILL of gvmm,
	// which `gvmm container ps` and `rm` handle.
	// /proc/self/comm names the main thread, which ps shows
	// (PR_SET_NAME would rename whichever thread runs this goroutine).
	_ = os.WriteFile("/proc/self/comm", []byte(WaiterName), 0)
	go func() {
		for s := range sigs {
			_ = unix.Kill(pid, s.(syscall.Signal))
		}
	}()
	if readyFD >= 0 {
		go watchReady(readyFD, start)
	}
	dropProgramPages()
	code := reap(pid)
	finish := append(append([]string(nil), args[6:]...), "exit="+strconv.Itoa(code))
	err := unix.Exec("/proc/self/fd/"+strconv.Itoa(exeFD), finish, os.Environ())
	os.Stderr.WriteString("gvmm-init: run gvmm to finish the container: " + err.Error() + "\n")
	return code
}

// reap waits for pid and returns its exit code, 128+n for signal n.
func reap(pid int) int {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// watchReady prints the READY line when the byte arrives, timed against
// the runtime's start.
func watchReady(fd int, start int64) {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if n != 1 || err != nil {
			return
		}
		if b[0] == ready.Magic {
			var now unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
			us := (now.Nano() - start) / 1000
			os.Stderr.WriteString(ready.Line(us) + "\n")
			return
		}
	}
}

// dropProgramPages gives back the resident pages of this program's own
// read-only mappings (its code and constant data), which the Go runtime's
// start and the waiter's set-up touched and which the waiter, blocked in
// wait4 until the container exits, mostly does not use. They are clean
// copies of the file: madvise(2) MADV_DONTNEED only removes them from this
// process's page tables; they stay in the page cache, and whatever runs
// later (the scheduler going idle, a signal to forward, the final exec)
// faults its pages back in as minor faults, 64 KiB at a time (the
// kernel's fault-around). Measured on the course machine: the waiter's
// VmRSS falls from about 2290 KiB (1600 KiB of it program text) to about
// 1660 KiB (900 KiB of text touched again on the way to idle). Writable
// mappings are left alone: dropping those would lose data.
func dropProgramPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	// proc(5): "START-END PERMS OFFSET DEV INODE PATHNAME".
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(line, " "+exe) || strings.ContainsRune(f[1], 'w') {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
