package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrProc: a /proc or cgroup file did not hold what proc(5) says it does.
var ErrProc = errors.New("unexpected /proc contents")

// ProcFS reads the kernel's views of processes and cgroups under Root
// ("/" on a real host; a directory of copies in tests).
type ProcFS struct {
	Root string
}

func (fs ProcFS) open(rel string) (*os.File, error) {
	return os.Open(filepath.Join(fs.Root, rel))
}

// VmRSS returns the resident set of pid in KiB: the "VmRSS:" line of
// /proc/PID/status (proc(5)).
func (fs ProcFS) VmRSS(pid int) (int64, error) {
	f, err := fs.open(fmt.Sprintf("proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return kBField(f, "VmRSS:")
}

// kBField returns the value of the first "Key:  N kB" line.
func kBField(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			return parseKB(v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: no %s line", ErrProc, key)
}

func parseKB(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("%w: %q is not \"N kB\"", ErrProc, v)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not \"N kB\"", ErrProc, v)
	}
	return n, nil
}

// GuestTouched returns the resident KiB of pid's mapping of exactly
// sizeKiB, the VMM's guest RAM: its Rss is the guest memory actually
// touched (by the guest or by the VMM loading it). /proc/PID/smaps
// (proc(5)) lists each mapping as a header line and "Key: N kB" lines.
func (fs ProcFS) GuestTouched(pid int, sizeKiB int64) (int64, error) {
	f, err := fs.open(fmt.Sprintf("proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return mappingRss(f, sizeKiB)
}

// mappingRss finds, in smaps text, the first mapping whose Size is
// sizeKiB and returns its Rss.
func mappingRss(r io.Reader, sizeKiB int64) (int64, error) {
	sc := bufio.NewScanner(r)
	var size int64 = -1
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Size:"); ok {
			n, err := parseKB(v)
			if err != nil {
				return 0, err
			}
			size = n
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && size == sizeKiB {
			return parseKB(v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: no mapping of %d KiB (the guest's RAM)", ErrProc, sizeKiB)
}

// Children returns pid's children (every thread's), from
// /proc/PID/task/TID/children (proc(5), CONFIG_PROC_CHILDREN).
func (fs ProcFS) Children(pid int) ([]int, error) {
	tasks, err := os.ReadDir(filepath.Join(fs.Root, fmt.Sprintf("proc/%d/task", pid)))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(fs.Root, fmt.Sprintf("proc/%d/task/%s/children", pid, t.Name())))
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("%w: children list %q", ErrProc, b)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// Descendants returns every process below pid, parents before children.
func (fs ProcFS) Descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids, _ := fs.Children(queue[0])
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

// Running reports whether pid is still a live process: its
// /proc/PID/stat exists and its state (proc(5), field 3) is not Z. A
// zombie has ended; only its parent has not reaped it yet.
func (fs ProcFS) Running(pid int) bool {
	b, err := os.ReadFile(filepath.Join(fs.Root, fmt.Sprintf("proc/%d/stat", pid)))
	if err != nil {
		return false
	}
	// The command name in parentheses may hold spaces: the state is
	// the first field after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// Cgroup is a process's memory cgroup.
type Cgroup struct {
	// Path is the path inside the hierarchy, e.g. "/gvmm/abc".
	Path string
	// V2 is true for the unified hierarchy (cgroup v2), false for the
	// v1 memory controller.
	V2 bool
}

// MemoryCgroup returns pid's memory cgroup from /proc/PID/cgroup
// (cgroups(7)): the v1 "N:memory:/path" line when there is one (a v1 or
// hybrid host), else the v2 "0::/path" line.
func (fs ProcFS) MemoryCgroup(pid int) (Cgroup, error) {
	f, err := fs.open(fmt.Sprintf("proc/%d/cgroup", pid))
	if err != nil {
		return Cgroup{}, err
	}
	defer f.Close()
	return parseCgroup(f)
}

func parseCgroup(r io.Reader) (Cgroup, error) {
	sc := bufio.NewScanner(r)
	var v2 *Cgroup
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			return Cgroup{}, fmt.Errorf("%w: cgroup line %q", ErrProc, sc.Text())
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return Cgroup{Path: parts[2]}, nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = &Cgroup{Path: parts[2], V2: true}
		}
	}
	if err := sc.Err(); err != nil {
		return Cgroup{}, err
	}
	if v2 == nil {
		return Cgroup{}, fmt.Errorf("%w: no memory cgroup", ErrProc)
	}
	return *v2, nil
}

// Dir is the cgroup's directory in the file system.
func (fs ProcFS) Dir(c Cgroup) string {
	if c.V2 {
		return filepath.Join(fs.Root, "sys/fs/cgroup", c.Path)
	}
	return filepath.Join(fs.Root, "sys/fs/cgroup/memory", c.Path)
}

// MemoryKiB returns the cgroup's memory use: memory.current on v2,
// memory.usage_in_bytes on v1 (Documentation/admin-guide/cgroup-v2.rst,
// cgroup-v1/memory.rst), in KiB.
func (fs ProcFS) MemoryKiB(c Cgroup) (int64, error) {
	name := "memory.usage_in_bytes"
	if c.V2 {
		name = "memory.current"
	}
	b, err := os.ReadFile(filepath.Join(fs.Dir(c), name))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s holds %q", ErrProc, name, b)
	}
	return n / 1024, nil
}

// ContainerCgroup finds, below pid, the first process whose memory
// cgroup differs from pid's own: the container's workload, which the
// runtime put into the container's cgroup.
func (fs ProcFS) ContainerCgroup(pid int) (Cgroup, int, error) {
	own, err := fs.MemoryCgroup(pid)
	if err != nil {
		return Cgroup{}, 0, err
	}
	for _, d := range fs.Descendants(pid) {
		c, err := fs.MemoryCgroup(d)
		if err == nil && c != own {
			return c, d, nil
		}
	}
	return Cgroup{}, 0, fmt.Errorf("%w: no process below %d in a cgroup of its own", ErrProc, pid)
}
