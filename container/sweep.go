package container

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// groupLockPath is the lock that keeps sweeps and starts apart, whatever
// their stores: a start holds it shared from before it creates its group
// until init is in it (an empty group is then a started container's
// only after its workload has ended), a sweep exclusively. The kernel
// drops a killed runtime's hold with its descriptors.
const groupLockPath = "/run/gvmm-cgroups.lock"

// lockGroups takes groupLockPath, shared (unix.LOCK_SH) or exclusive
// (unix.LOCK_EX); closing the file releases it.
func lockGroups(how int) (*os.File, error) {
	f, err := os.OpenFile(groupLockPath, os.O_RDONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cgroups lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cgroups lock %s: %w", groupLockPath, err)
	}
	return f, nil
}

// SweepOrphans removes the cgroups that a runtime killed while it started
// a container (SIGKILL, a crash) left behind before it recorded the
// container in its store: the group is created beside the record, for
// speed (prepare), so a kill between the two leaves a group that no
// record names and `gvmm container rm` cannot find. An orphan is a group
// under gvmm/ named like a container ID, which the store at runDir does
// not know, and which has no process while the sweep holds groupLockPath
// (so no start is between creating a group and putting init in it). A
// group with a process is always left alone: it belongs to a running
// container, perhaps of another store. An empty group of another store's
// stopped container goes too, which costs it nothing: its rm finds no
// group to remove. The sweep also removes the store's half-made records
// (sweepRecords). Store.Remove sweeps after each removal.
func SweepOrphans(runDir string) error {
	lock, err := lockGroups(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	s := &Store{Dir: runDir}
	if err := s.sweepRecords(); err != nil {
		return err
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(all))
	for _, st := range all {
		known[st.ID] = true
	}
	for _, id := range groupIDs() {
		if known[id] {
			continue
		}
		cg, err := loadCgroup(id)
		if err != nil {
			continue // removed meanwhile
		}
		if !empty(cg) {
			continue
		}
		if err := cg.delete(); err != nil {
			return err
		}
	}
	return nil
}

// sweepRecords removes the directories of records that a kill left
// half-made: create makes the directory and then writes state.json, both
// under the store's lock, so under that lock a directory without the file
// is what a killed create (or delete) left.
func (s *Store) sweepRecords() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !isContainerID(e.Name()) {
			continue
		}
		if _, err := os.Stat(s.path(e.Name())); os.IsNotExist(err) {
			if err := os.RemoveAll(filepath.Join(s.Dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupIDs lists the container IDs that have a group under gvmm/ in any
// hierarchy: the unified one, or any v1 controller (a start killed while
// it made the v1 directories leaves only some of them).
func groupIDs() []string {
	parents := []string{filepath.Join(cgroupRoot, cgroupParent)}
	if mounts, err := v1Mounts(); err == nil {
		for _, mnt := range mounts {
			parents = append(parents, filepath.Join(mnt, cgroupParent))
		}
	}
	seen := map[string]bool{}
	var ids []string
	for _, p := range parents {
		entries, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if id := e.Name(); e.IsDir() && isContainerID(id) && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// isContainerID reports whether name has the form newID gives.
func isContainerID(name string) bool {
	if len(name) != 12 || strings.ToLower(name) != name {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

// empty reports whether no directory of cg has a process.
func empty(cg *cgroup) bool {
	for _, d := range cg.dirs() {
		procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(procs))) > 0 {
			return false
		}
	}
	return true
}
