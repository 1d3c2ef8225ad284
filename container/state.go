package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultRunDir is where container state lives, like /run/runc.
const DefaultRunDir = "/run/gvmm"

// Container states, as in the OCI runtime spec (runtime.md "State").
const (
	StatusCreating = "creating"
	StatusRunning  = "running"
	StatusStopped  = "stopped"
)

// State is what the store keeps about one container.
type State struct {
	// ID is the container's unique identifier (12 hex digits).
	ID string `json:"id"`
	// Name is the user's name for it; the ID when none was given.
	Name string `json:"name"`
	// Bundle is the bundle directory, or the root file system for a bare rootfs.
	Bundle string `json:"bundle"`
	// Command is the workload's argv.
	Command []string `json:"command"`
	// Status is creating, running or stopped.
	Status string `json:"status"`
	// Pid is the workload's pid on the host; 0 before it starts.
	Pid int `json:"pid,omitempty"`
	// PidStart is the workload's start time in clock ticks since boot
	// (/proc/PID/stat field 22): a live process with the same pid but
	// another start time is not ours.
	PidStart uint64 `json:"pidStart,omitempty"`
	// RuntimePid is the gvmm process that waits for the workload.
	RuntimePid int `json:"runtimePid"`
	// Created is when the container was created.
	Created time.Time `json:"created"`
	// ExitCode is the workload's exit code once known (128+n for signal n).
	ExitCode *int `json:"exitCode,omitempty"`
	// OOMKilled tells that the memory limit killed the workload.
	OOMKilled bool `json:"oomKilled,omitempty"`
	// NetIndex chooses the container's /30; -1 without --net.
	NetIndex int `json:"netIndex"`
	// Net is the container's veth link, if any.
	Net *Network `json:"net,omitempty"`
}

// Store keeps container states under a directory, one subdirectory per
// container, with a lock file so that concurrent gvmm commands serialize
// their changes (flock(2) on Dir/lock; the kernel drops it if gvmm dies).
type Store struct {
	// Dir is the run directory, DefaultRunDir unless a test chooses.
	Dir string
}

func (s *Store) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("run directory %s: %w", s.Dir, err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", s.Dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", s.Dir, err)
	}
	return func() { f.Close() }, nil
}

func (s *Store) path(id string) string { return filepath.Join(s.Dir, id, "state.json") }

// newID returns a random container ID: 12 hex digits, like Docker's
// short IDs.
func newID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// create records a new container, checking the name is free and choosing
// its network index when withNet is true: the link of ip when given (it must
// be free), else the first free one. It keeps st.ID if already chosen.
func (s *Store) create(name string, withNet bool, ip net.IP, st *State) error {
	want := -1
	if ip != nil {
		if !withNet {
			return fmt.Errorf("%w: an address (%v) without a network: add --net", ErrBadAddress, ip)
		}
		var err error
		if want, err = NetIndexOf(ip); err != nil {
			return err
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.readAll()
	if err != nil {
		return err
	}
	used := map[int]bool{}
	for _, o := range all {
		if name != "" && o.Name == name {
			return fmt.Errorf("name %q is used by container %s (remove it with gvmm container rm %s): %w",
				name, o.ID, name, ErrNameInUse)
		}
		if want >= 0 && o.NetIndex == want {
			return fmt.Errorf("address %v is used by container %s (remove it with gvmm container rm %s, or choose another): %w",
				ip, o.Name, o.Name, ErrAddressInUse)
		}
		used[o.NetIndex] = true
	}
	if st.ID == "" {
		if st.ID, err = newID(); err != nil {
			return err
		}
	}
	st.Name = name
	if name == "" {
		st.Name = st.ID
	}
	st.NetIndex = -1
	if withNet {
		st.NetIndex = want
		for i := 0; i < maxNetIndex && st.NetIndex < 0; i++ {
			if !used[i] {
				st.NetIndex = i
				break
			}
		}
		if st.NetIndex < 0 {
			return errors.New("no free container network left: remove stopped containers")
		}
		n := networkFor(st.ID, st.NetIndex)
		st.Net = &n
	}
	if err := os.MkdirAll(filepath.Dir(s.path(st.ID)), 0o700); err != nil {
		return err
	}
	return s.write(st)
}

// write replaces the state file atomically (write a temporary, rename).
func (s *Store) write(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(st.ID) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(st.ID))
}

// update saves st under the lock.
func (s *Store) update(st *State) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.write(st)
}

// readAll loads every state. Precondition: the lock is held.
func (s *Store) readAll() ([]*State, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(s.path(e.Name()))
		if err != nil {
			continue // being created or removed
		}
		var st State
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("state of %s is corrupt: %w", e.Name(), err)
		}
		refresh(&st)
		out = append(out, &st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// List returns every container, oldest first, with statuses checked
// against the running processes.
func (s *Store) List() ([]*State, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.readAll()
}

// Get finds a container by name, ID or unique ID prefix.
func (s *Store) Get(ref string) (*State, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	return find(all, ref)
}

func find(all []*State, ref string) (*State, error) {
	var match *State
	for _, st := range all {
		if st.Name == ref || st.ID == ref {
			return st, nil
		}
		if ref != "" && strings.HasPrefix(st.ID, ref) {
			if match != nil {
				return nil, fmt.Errorf("%q matches more than one container: give more of the ID", ref)
			}
			match = st
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%q: %w (see gvmm container ps -a)", ref, ErrNoContainer)
	}
	return match, nil
}

// refresh marks a container stopped when neither its workload nor its
// runtime is alive any more, e.g. after gvmm was killed with SIGKILL.
func refresh(st *State) {
	if st.Status == StatusStopped {
		return
	}
	if st.Pid != 0 && alive(st.Pid, st.PidStart) {
		return
	}
	if st.Pid == 0 && alive(st.RuntimePid, 0) {
		return // still being created
	}
	st.Status = StatusStopped
}

// alive reports whether pid runs and, when start is not 0, is the process
// that started at that tick (pids are reused).
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := pidStartTime(pid)
	if err != nil {
		return false
	}
	return start == 0 || got == start
}

// pidStartTime reads field 22 (starttime) of /proc/PID/stat (proc(5)).
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func pidStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); a zombie has exited already.
	if len(fields) < 20 || fields[0] == "Z" {
		return 0, errors.New("process gone")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
