package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"gvmm/bench/report"
)

// stopGrace is how long a held subject has to end after SIGTERM before
// it is killed.
const stopGrace = 5 * time.Second

// Timed runs one start of plan and returns its times and rusage. On any
// error, or when ctx ends, the process group is killed and plan.Cleanup
// runs.
func Timed(ctx context.Context, launcher string, plan *Plan, id string, timeout time.Duration) (report.Sample, error) {
	p, err := spawn(launcher, plan.Start(id), plan)
	if err != nil {
		return report.Sample{}, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	if plan.StopAfterReady {
		return p.timedServer(ctx, plan, id, timer.C, timeout)
	}
	var exitErr error
	select {
	case exitErr = <-p.exited:
		p.kill(syscall.SIGKILL) // anything the subject left in its group
	case <-timer.C:
		p.kill(syscall.SIGKILL)
		<-p.exited
		cleanup(plan, id)
		return report.Sample{}, fmt.Errorf("%w after %s (%s)%s", ErrTimeout, timeout, readySeen(p), p.output())
	case <-ctx.Done():
		p.kill(syscall.SIGKILL)
		<-p.exited
		cleanup(plan, id)
		return report.Sample{}, ctx.Err()
	}
	s, err := p.sample(exitErr, plan.WantCode)
	if err != nil {
		cleanup(plan, id)
	}
	return s, err
}

// timedServer is Timed for a subject that runs until stopped: the start
// ends at READY, where the harness stops it. The launcher's rusage still
// covers the whole life of the subject, stop included.
func (p *proc) timedServer(ctx context.Context, plan *Plan, id string, expired <-chan time.Time, timeout time.Duration) (report.Sample, error) {
	var ready time.Duration
	select {
	case ready = <-p.ready:
	case exitErr := <-p.exited:
		p.kill(syscall.SIGKILL)
		cleanup(plan, id)
		return report.Sample{}, fmt.Errorf("%w: the server ended before READY (%v)%s", ErrNoReady, exitErr, p.output())
	case <-expired:
		p.kill(syscall.SIGKILL)
		<-p.exited
		cleanup(plan, id)
		return report.Sample{}, fmt.Errorf("%w after %s waiting for READY%s", ErrTimeout, timeout, p.output())
	case <-ctx.Done():
		p.kill(syscall.SIGKILL)
		<-p.exited
		cleanup(plan, id)
		return report.Sample{}, ctx.Err()
	}
	var pid int
	select {
	case pid = <-p.pid:
	case <-time.After(time.Second):
	}
	if err := stop(p, ProcFS{Root: "/"}, pid, plan, id); err != nil {
		return report.Sample{}, fmt.Errorf("stop after READY: %w", err)
	}
	u, err := p.finish(nil)
	if err != nil {
		return report.Sample{}, err
	}
	return report.Sample{
		ReadyNS:           ready.Nanoseconds(),
		CPUUserNS:         u.userUS * 1000,
		CPUSysNS:          u.sysUS * 1000,
		PeakRSSKiB:        u.maxRSSKiB,
		GuestClockReadyNS: p.guestClock.Load(),
	}, nil
}

func readySeen(p *proc) string {
	select {
	case d := <-p.ready:
		p.ready <- d
		return fmt.Sprintf("READY after %s, no exit", d.Round(time.Microsecond))
	default:
		return "no READY"
	}
}

// sample assembles a finished start's Sample.
func (p *proc) sample(exitErr error, wantCode int) (report.Sample, error) {
	u, err := p.finish(exitErr)
	if err != nil {
		return report.Sample{}, err
	}
	if u.status != wantCode {
		return report.Sample{}, fmt.Errorf("%w %d, want %d%s", ErrExitCode, u.status, wantCode, p.output())
	}
	s := report.Sample{
		ExitNS:     p.exitAt.Nanoseconds(),
		CPUUserNS:  u.userUS * 1000,
		CPUSysNS:   u.sysUS * 1000,
		PeakRSSKiB: u.maxRSSKiB,
	}
	// The READY byte or line was written before the exit; its reader
	// may still be on its way.
	select {
	case d := <-p.ready:
		// The READY event came before the exit, but the goroutine that
		// saw it may have run after the one that reaped the launcher: a
		// subject that exits microseconds after READY can show READY
		// "after" its exit by that scheduling lag. The exit bounds it.
		s.ReadyNS = min(d.Nanoseconds(), s.ExitNS)
	case <-time.After(500 * time.Millisecond):
		return report.Sample{}, fmt.Errorf("%w%s", ErrNoReady, p.output())
	}
	// The clock line came before READY; on another pipe than the READY
	// byte it may still be unread. Bounded: a stray process may hold the
	// pipe open.
	select {
	case <-p.console:
	case <-time.After(time.Second):
	}
	s.GuestClockReadyNS = p.guestClock.Load()
	return s, nil
}

func cleanup(plan *Plan, id string) {
	if plan.Cleanup != nil {
		plan.Cleanup(id)
	}
}

// Probe starts plan's holding variant, reads its memory once READY, stops
// it, and checks that it left nothing behind. Only the memory fields of
// the returned Sample are set. A reading that failed is left zero and
// reported in missed; err is for a start that failed or left something
// behind.
func Probe(ctx context.Context, launcher string, plan *Plan, id string, timeout time.Duration, fs ProcFS) (s report.Sample, missed, err error) {
	p, err := spawn(launcher, plan.Hold(id), plan)
	if err != nil {
		return s, nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.ready:
	case exitErr := <-p.exited:
		p.kill(syscall.SIGKILL)
		cleanup(plan, id)
		return s, nil, fmt.Errorf("probe start: %w (%v)%s", ErrNoReady, exitErr, p.output())
	case <-timer.C:
		p.kill(syscall.SIGKILL)
		<-p.exited
		cleanup(plan, id)
		return s, nil, fmt.Errorf("probe start: %w after %s waiting for READY%s", ErrTimeout, timeout, p.output())
	case <-ctx.Done():
		pid := 0
		select {
		case pid = <-p.pid:
		case <-time.After(time.Second):
		}
		return s, nil, errors.Join(ctx.Err(), stop(p, fs, pid, plan, id))
	}
	var pid int
	select {
	case pid = <-p.pid:
	case <-time.After(time.Second):
	}
	var cg Cgroup
	var cgPID int
	var misses []error
	if pid != 0 {
		s, cg, cgPID, misses = readMemory(fs, pid, plan)
	} else {
		misses = append(misses, fmt.Errorf("%w: no pid line", ErrLauncher))
	}
	err = stop(p, fs, pid, plan, id)
	if cgPID != 0 {
		err = errors.Join(err, gone(fs, cg, cgPID))
	}
	return s, errors.Join(misses...), err
}

// readMemory reads what a probe reports, right after READY.
func readMemory(fs ProcFS, pid int, plan *Plan) (s report.Sample, cg Cgroup, cgPID int, errs []error) {
	var err error
	if s.SteadyRSSKiB, err = fs.VmRSS(pid); err != nil {
		errs = append(errs, fmt.Errorf("steady RSS: %w", err))
	}
	if plan.GuestMemKiB > 0 {
		if s.GuestTouchedKiB, err = fs.GuestTouched(pid, plan.GuestMemKiB); err != nil {
			errs = append(errs, fmt.Errorf("guest RAM touched: %w", err))
		}
	}
	if plan.Cgroup {
		cg, cgPID, err = fs.ContainerCgroup(pid)
		if err == nil {
			s.CgroupMemoryKiB, err = fs.MemoryKiB(cg)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container cgroup memory: %w", err))
		}
	}
	return s, cg, cgPID, errs
}

// stop ends a held start: SIGTERM to the subject and everything below
// it (a container's workload is in a session and PID namespace of its
// own, out of reach of the group), then SIGKILL to all after stopGrace.
func stop(p *proc, fs ProcFS, pid int, plan *Plan, id string) error {
	if pid == 0 {
		// Without the child's pid there is nothing to ask politely.
		p.kill(syscall.SIGKILL)
	}
	var tree []int
	if pid != 0 {
		tree = append([]int{pid}, fs.Descendants(pid)...)
	}
	// Not the launcher: it ends when its child does, and must live to
	// reap it.
	for _, t := range tree {
		_ = syscall.Kill(t, syscall.SIGTERM)
	}
	var err error
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		err = fmt.Errorf("%w: still running %s after SIGTERM, killed", ErrTimeout, stopGrace)
		for _, t := range tree {
			_ = syscall.Kill(t, syscall.SIGKILL)
		}
		p.kill(syscall.SIGKILL)
		<-p.exited
	}
	p.kill(syscall.SIGKILL)
	// The launcher's exit does not prove the tree has died: SIGKILL is
	// delivered when the target next runs, and an orphan may not have
	// run yet on a loaded host. The next round must not overlap it.
	if e := awaitEnded(fs, tree, killWait); e != nil && err == nil {
		err = e
	}
	cleanup(plan, id)
	return err
}

// killWait bounds the wait for killed processes to end.
const killWait = 2 * time.Second

// awaitEnded waits until none of pids is running (gone or a zombie).
func awaitEnded(fs ProcFS, pids []int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var left []int
		for _, pid := range pids {
			if fs.Running(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: pids %v still running %s after SIGKILL", ErrLeftBehind, left, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ErrLeftBehind: a start left a process or cgroup behind.
var ErrLeftBehind = errors.New("left behind")

// gone checks that the container's workload and cgroup went away.
func gone(fs ProcFS, cg Cgroup, pid int) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, perr := os.Stat(fmt.Sprintf("%s/proc/%d", fs.Root, pid))
		_, cerr := os.Stat(fs.Dir(cg))
		if os.IsNotExist(perr) && (os.IsNotExist(cerr) || cg.Path == "/") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: workload pid %d or cgroup %s still there after the runtime ended", ErrLeftBehind, pid, fs.Dir(cg))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
