package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvmm/guest/ready"
)

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

// FloorReadyLine is the raw KVM program's READY line
// (bench/testdata/kvmfloor.c): the floor has no process clock to report.
const FloorReadyLine = "READY"

// IsReadyLine reports whether a stderr line is a READY event: gvmm's line
// (VM and container, ready.Line) or the raw KVM program's.
func IsReadyLine(line string) bool {
	_, ok := ready.ParseLine(line)
	return ok || line == FloorReadyLine
}

// consoleReadyLine is the guest agent's READY line on a VM's console
// (guest/agent/doc.go), watched with Plan.ReadyConsole.
var consoleReadyLine = regexp.MustCompile(`^gvmm-agent: READY$`)

// guestClockLine is the agent's clock just before READY, in a VM
// (guest/agent/doc.go): the guest's CLOCK_BOOTTIME in nanoseconds.
var guestClockLine = regexp.MustCompile(`^gvmm-agent: clock ([0-9]+) ns$`)

// HTTP polling for Plan.ReadyHTTP: a fresh connection per try (a refused
// connection fails at once), each try bounded. The connect is bounded
// apart and short: a SYN sent while the link is still coming up is lost,
// and TCP would resend it only after a second, which the measurement
// would then include. A new try starts instead. It is not shorter still
// because in the nested rig a good connect takes tens of milliseconds.
const (
	httpPollInterval   = time.Millisecond
	httpConnectTimeout = 200 * time.Millisecond
	httpTryTimeout     = 5 * time.Second
)

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
	// ready events other than this source are ignored.
	source readySource

	readyOnce sync.Once
	ready     chan time.Duration // one value: time from start to READY
	pid       chan int           // one value: the launcher's child
	usage     chan usage         // one value: the launcher's last line
	lines     chan struct{}      // closed when stderr reaches EOF
	console   chan struct{}      // closed when the console reaches EOF (or is not read)
	exited    chan error         // cmd.Wait's result
	gone      chan struct{}      // closed when the launcher has been reaped
	exitAt    time.Duration

	guestClock atomic.Int64 // from guestClockLine; 0 when not seen

	tailMu sync.Mutex
	tail   []string // the last lines of other output, for error messages
}

// readySource is where a start's READY event comes from.
type readySource int

const (
	readyFromRuntime readySource = iota // gvmm's stderr line or the fd-3 pipe
	readyFromConsole                    // the agent's line on stdout
	readyFromHTTP                       // the first HTTP 200
)

func sourceOf(plan *Plan) readySource {
	switch {
	case plan.ReadyHTTP != "":
		return readyFromHTTP
	case plan.ReadyConsole:
		return readyFromConsole
	}
	return readyFromRuntime
}

// spawn starts c through the launcher in a new process group, watching
// for READY the way plan says.
func spawn(launcher string, c Cmd, plan *Plan) (*proc, error) {
	p := &proc{
		ready: make(chan time.Duration, 1), pid: make(chan int, 1),
		usage: make(chan usage, 1), lines: make(chan struct{}), exited: make(chan error, 1),
		gone: make(chan struct{}), console: make(chan struct{}), source: sourceOf(plan),
	}
	readyPipe := plan.ReadyPipe
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
	// A VM's console (its standard output) has the READY line of gokvm and
	// the guest's clock. It gets a pipe of its own: sharing stderr's, a
	// VMM's "READY" line would land in the middle of a console line.
	var cr, cw, rr, rw *os.File
	closeAll := func(fs ...*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	if p.source == readyFromConsole || plan.GuestMemKiB > 0 {
		if cr, cw, err = os.Pipe(); err != nil {
			closeAll(er, ew)
			return nil, err
		}
		p.cmd.Stdout = cw
	}
	if readyPipe {
		if rr, rw, err = os.Pipe(); err != nil {
			closeAll(er, ew, cr, cw)
			return nil, err
		}
		p.cmd.ExtraFiles = []*os.File{rw} // fd 3 == readyFD
	}
	p.start = time.Now()
	err = p.cmd.Start()
	closeAll(ew, cw, rw)
	if err != nil {
		closeAll(er, cr, rr)
		return nil, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	go p.readStderr(er)
	if cr != nil {
		go p.readConsole(cr)
	} else {
		close(p.console)
	}
	if rr != nil {
		go p.readPipe(rr)
	}
	if p.source == readyFromHTTP {
		go p.pollHTTP(plan.ReadyHTTP)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitAt = time.Since(p.start)
		close(p.gone)
		p.exited <- err
	}()
	return p, nil
}

// markReady records the READY event, if it comes from the plan's source.
func (p *proc) markReady(from readySource) {
	if from != p.source {
		return
	}
	d := time.Since(p.start)
	p.readyOnce.Do(func() { p.ready <- d })
}

// pollHTTP GETs url until a 200 arrives (READY) or the subject is gone.
func (p *proc) pollHTTP(url string) {
	client := &http.Client{
		Timeout: httpTryTimeout,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil,
			DialContext: (&net.Dialer{Timeout: httpConnectTimeout}).DialContext},
	}
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.markReady(readyFromHTTP)
				return
			}
		}
		select {
		case <-p.gone:
			return
		case <-time.After(httpPollInterval):
		}
	}
}

// readPipe waits for the READY byte on the fd-3 pipe.
func (p *proc) readPipe(r *os.File) {
	defer r.Close()
	var b [1]byte
	if n, _ := r.Read(b[:]); n == 1 && b[0] == ready.Magic {
		p.markReady(readyFromRuntime)
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
		case IsReadyLine(line):
			p.markReady(readyFromRuntime)
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
			p.keep(line)
		}
	}
}

// readConsole watches a VM's console. A guest's output is the guest's:
// only the agent's lines are read from it, never the runtime's or the
// launcher's, which a guest could otherwise forge.
func (p *proc) readConsole(r io.ReadCloser) {
	defer close(p.console)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case consoleReadyLine.MatchString(line):
			p.markReady(readyFromConsole)
		case guestClockLine.MatchString(line):
			n, _ := strconv.ParseInt(guestClockLine.FindStringSubmatch(line)[1], 10, 64)
			p.guestClock.Store(n)
		default:
			p.keep(line)
		}
	}
}

// keep remembers line among the last few, for an error message.
func (p *proc) keep(line string) {
	p.tailMu.Lock()
	defer p.tailMu.Unlock()
	p.tail = append(p.tail, line)
	if len(p.tail) > 5 {
		p.tail = p.tail[1:]
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
