package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadyMagic is the READY byte on the fd-3 pipe: the value the guest agent
// and the container workload write (container.ReadyMagic) and the PVH
// test guests send to the READY port (vmm.DebugReadyMagic).
const ReadyMagic = 123

// readyFD is the fd the READY pipe has in the subject (ExtraFiles[0]).
const readyFD = 3

// Errors of a start, for errors.Is.
var (
	// ErrTimeout: the start did not reach READY and exit in time.
	ErrTimeout = errors.New("timed out")
	// ErrNoReady: the subject exited without a READY event.
	ErrNoReady = errors.New("exited without READY")
	// ErrExitCode: the subject exited with another status than WantCode.
	ErrExitCode = errors.New("unexpected exit status")
	// ErrLauncher: the launcher's report is missing or malformed.
	ErrLauncher = errors.New("no launcher report")
)

// readyLine is gvmm's READY line (VM and container) and the raw KVM
// program's.
var readyLine = regexp.MustCompile(`^(gvmm: READY at [0-9]+ us|READY)$`)

// The launcher's two lines (testdata/launcher.c).
var (
	pidLine   = regexp.MustCompile(`^launch: pid=([0-9]+)$`)
	usageLine = regexp.MustCompile(`^launch: maxrss_kib=([0-9]+) utime_us=([0-9]+) stime_us=([0-9]+) status=([0-9]+)$`)
)

// usage is the launcher's final report.
type usage struct {
	maxRSSKiB, userUS, sysUS int64
	status                   int
}

// proc is one running start: the launcher and what it started.
type proc struct {
	cmd   *exec.Cmd
	start time.Time

	readyOnce sync.Once
	ready     chan time.Duration // one value: time from start to READY
	pid       chan int           // one value: the launcher's child
	usage     chan usage         // one value: the launcher's last line
	lines     chan struct{}      // closed when stderr reaches EOF
	exited    chan error         // cmd.Wait's result
	exitAt    time.Duration

	tailMu sync.Mutex
	tail   []string // the last lines of other output, for error messages
}

// spawn starts c through the launcher in a new process group.
func spawn(launcher string, c Cmd, readyPipe bool) (*proc, error) {
	p := &proc{
		ready: make(chan time.Duration, 1), pid: make(chan int, 1),
		usage: make(chan usage, 1), lines: make(chan struct{}), exited: make(chan error, 1),
	}
	p.cmd = exec.Command(launcher, c.Argv...)
	p.cmd.Env = append(os.Environ(), c.Env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Stderr is a pipe of our own rather than an io.Writer: Wait then
	// returns as soon as the launcher is reaped, so the exit time does not
	// include draining output.
	er, ew, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = ew
	var rr, rw *os.File
	if readyPipe {
		if rr, rw, err = os.Pipe(); err != nil {
			er.Close()
			ew.Close()
			return nil, err
		}
		p.cmd.ExtraFiles = []*os.File{rw} // fd 3 == readyFD
	}
	p.start = time.Now()
	err = p.cmd.Start()
	ew.Close()
	if rw != nil {
		rw.Close()
	}
	if err != nil {
		er.Close()
		if rr != nil {
			rr.Close()
		}
		return nil, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	go p.readStderr(er)
	if rr != nil {
		go p.readPipe(rr)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitAt = time.Since(p.start)
		p.exited <- err
	}()
	return p, nil
}

func (p *proc) markReady() {
	d := time.Since(p.start)
	p.readyOnce.Do(func() { p.ready <- d })
}

// readPipe waits for the READY byte on the fd-3 pipe.
func (p *proc) readPipe(r *os.File) {
	defer r.Close()
	var b [1]byte
	if n, _ := r.Read(b[:]); n == 1 && b[0] == ReadyMagic {
		p.markReady()
	}
}

// readStderr watches the launcher's and the subject's stderr.
func (p *proc) readStderr(r io.ReadCloser) {
	defer close(p.lines)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case readyLine.MatchString(line):
			p.markReady()
		case pidLine.MatchString(line):
			n, _ := strconv.Atoi(pidLine.FindStringSubmatch(line)[1])
			p.pid <- n
		case usageLine.MatchString(line):
			m := usageLine.FindStringSubmatch(line)
			var u usage
			u.maxRSSKiB, _ = strconv.ParseInt(m[1], 10, 64)
			u.userUS, _ = strconv.ParseInt(m[2], 10, 64)
			u.sysUS, _ = strconv.ParseInt(m[3], 10, 64)
			u.status, _ = strconv.Atoi(m[4])
			p.usage <- u
		default:
			p.tailMu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 5 {
				p.tail = p.tail[1:]
			}
			p.tailMu.Unlock()
		}
	}
}

// output returns the subject's last lines of stderr, for an error.
func (p *proc) output() string {
	p.tailMu.Lock()
	defer p.tailMu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return ": " + strings.Join(p.tail, " | ")
}

// kill sends sig to the launcher's whole process group.
func (p *proc) kill(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// finish waits for the launcher to be reaped and returns its report. The
// report is written before the launcher exits, so it is in the pipe by
// then; the wait for it is bounded in case a stray process keeps stderr
// open.
func (p *proc) finish(exitErr error) (usage, error) {
	select {
	case u := <-p.usage:
		return u, nil
	case <-p.lines:
		select {
		case u := <-p.usage:
			return u, nil
		default:
		}
	case <-time.After(2 * time.Second):
	}
	var ee *exec.ExitError
	if exitErr != nil && !errors.As(exitErr, &ee) {
		return usage{}, exitErr
	}
	return usage{}, fmt.Errorf("%w (was the launcher killed?)%s", ErrLauncher, p.output())
}
