package container

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// delete removes a container's state directory.
func (s *Store) delete(id string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return os.RemoveAll(filepath.Join(s.Dir, id))
}

// Kill sends sig to the container's workload (runc kill).
func (s *Store) Kill(ref string, sig syscall.Signal) error {
	st, err := s.Get(ref)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning {
		return fmt.Errorf("container %s is %s: nothing to signal", st.Name, st.Status)
	}
	if err := syscall.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("signal container %s: %w", st.Name, err)
	}
	return nil
}

// stopPoll is how often Stop looks whether the workload has exited.
const stopPoll = 10 * time.Millisecond

// Stop asks the workload to end with SIGTERM and kills it with SIGKILL
// after grace (docker stop). A pid 1 without a SIGTERM handler ignores
// SIGTERM (pid_namespaces(7)), so the SIGKILL is what usually ends it.
func (s *Store) Stop(ref string, grace time.Duration) error {
	st, err := s.Get(ref)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning {
		return nil
	}
	_ = syscall.Kill(st.Pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(st.Pid, st.PidStart) {
			return s.waitStopped(st)
		}
		time.Sleep(stopPoll)
	}
	if alive(st.Pid, st.PidStart) {
		_ = syscall.Kill(st.Pid, syscall.SIGKILL)
	}
	return s.waitStopped(st)
}

// waitStopped waits (bounded) for the runtime that owns the container to
// record its exit, so that a following rm or ps sees it stopped.
func (s *Store) waitStopped(st *State) error {
	for i := 0; i < 500; i++ {
		cur, err := s.Get(st.ID)
		if err != nil || cur.Status == StatusStopped && (cur.ExitCode != nil || !alive(cur.RuntimePid, 0)) {
			return nil
		}
		time.Sleep(stopPoll)
	}
	return fmt.Errorf("container %s did not stop", st.Name)
}

// Remove deletes a stopped container: its cgroup, its veth link and its
// state. With force a running one is killed first (docker rm -f).
func (s *Store) Remove(ref string, force bool) error {
	st, err := s.Get(ref)
	if err != nil {
		return err
	}
	if st.Status != StatusStopped {
		if !force {
			return fmt.Errorf("container %s: %w: stop it first or use rm -f", st.Name, ErrRunning)
		}
		if err := s.Stop(st.ID, 0); err != nil {
			return err
		}
	}
	if cg, err := loadCgroup(st.ID); err == nil {
		if err := cg.delete(); err != nil {
			return fmt.Errorf("remove cgroup of %s: %w", st.Name, err)
		}
	}
	if st.Net != nil {
		removeVeth(st.Net.HostIf)
	}
	if err := s.delete(st.ID); err != nil {
		return err
	}
	if err := SweepOrphans(s.Dir); err != nil {
		slog.Warn("sweeping the groups of killed starts", "err", err)
	}
	return nil
}

// OCIState returns the container's state in the OCI format that
// `runc state` prints (runtime.md "State").
func (s *Store) OCIState(ref string) (*specs.State, error) {
	st, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	out := &specs.State{Version: specs.Version, ID: st.ID, Bundle: st.Bundle,
		Annotations: map[string]string{"gvmm.name": st.Name}}
	switch st.Status {
	case StatusRunning:
		out.Status, out.Pid = specs.StateRunning, st.Pid
	case StatusCreating:
		out.Status = specs.StateCreating
	default:
		out.Status = specs.StateStopped
	}
	return out, nil
}
