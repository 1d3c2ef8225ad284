package nsinit

import (
	"gvmm/internal/seccomp"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultPath is the PATH used to find the command when the environment
// has none (the value runc and Docker use).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execProcess turns init into the workload: rlimits, the command looked up
// in the container's PATH, then user, capabilities, no_new_privs and
// seccomp in the order that keeps each step allowed, and execve.
func execProcess(p *Plan) error {
	for _, r := range p.Rlimits {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Setrlimit(r.Resource, &lim); err != nil {
			return wrap("setrlimit "+strconv.Itoa(r.Resource), err)
		}
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return wrap("working directory "+cwd, err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return wrap("working directory "+cwd, err)
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the next steps drop: install it first then (runc does the same).
	if !p.NoNewPrivileges {
		if err := seccomp.LoadThread(p.Seccomp); err != nil {
			return wrap("seccomp", err)
		}
	}
	if err := dropBounding(p.Caps.Bounding); err != nil {
		return err
	}
	if err := switchUser(p.User); err != nil {
		return err
	}
	if err := setCapabilities(p.Caps); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return wrap("no_new_privs", err)
		}
		if err := seccomp.LoadThread(p.Seccomp); err != nil {
			return wrap("seccomp", err)
		}
	}
	return wrap("exec "+p.Args[0], unix.Exec(path, p.Args, p.Env))
}

// lookPath finds name in the container (we are already pivoted into it)
// using the PATH of the container's environment, like execvp(3).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", wrap(name, err)
		}
		return name, nil
	}
	pathVar := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", wrap(strconv.Quote(name)+" not in PATH "+pathVar, ErrNotFound)
}

func executable(path string) error {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return ErrNotFound
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 == 0 {
		return wrap("not an executable file", ErrNotFound)
	}
	return nil
}

// dropBounding removes every capability outside keep from the bounding
// set (prctl(2) PR_CAPBSET_DROP), so no later execve can regain it, not
// even by a set-user-ID-root binary. It stops at the first number the
// kernel does not know (EINVAL), which is how its last capability is found.
func dropBounding(keep uint64) error {
	for c := uint(0); c < 64; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				return nil
			}
			return wrap("drop capability "+strconv.Itoa(int(c))+" from the bounding set", err)
		}
	}
	return nil
}

// setCapabilities sets the effective, permitted and inheritable sets with
// capset(2) (version 3: two 32-bit words per set), then raises the ambient
// ones. capabilities(7): an ambient capability must be both permitted and
// inheritable; `runc spec` lists ambient ones without inheritable, and runc
// only warns about those, so they are skipped here as well.
func setCapabilities(s Caps) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(s.Effective), Permitted: uint32(s.Permitted), Inheritable: uint32(s.Inheritable)},
		{Effective: uint32(s.Effective >> 32), Permitted: uint32(s.Permitted >> 32), Inheritable: uint32(s.Inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return wrap("capset", err)
	}
	for c := uint(0); c < 64; c++ {
		if s.Ambient&s.Permitted&s.Inheritable&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return wrap("raise ambient capability "+strconv.Itoa(int(c)), err)
		}
	}
	return nil
}

// switchUser sets groups, gid and uid with raw per-thread system calls
// (the Go wrappers change every thread, which is not what this locked
// thread needs), keeping the permitted capabilities across setuid
// (PR_SET_KEEPCAPS) so setCapabilities can still choose them.
func switchUser(u User) error {
	if u.HasUmask {
		unix.Umask(int(u.Umask))
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return wrap("keepcaps", err)
	}
	// In a user namespace whose setgroups is "deny" (user_namespaces(7))
	// the call fails with EPERM; that is only an error if groups were asked for.
	if err := setgroupsThread(u.AdditionalGids); err != nil && (err != unix.EPERM || len(u.AdditionalGids) > 0) {
		return wrap("setgroups", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return wrap("setgid "+strconv.Itoa(int(u.GID)), e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return wrap("setuid "+strconv.Itoa(int(u.UID)), e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return wrap("keepcaps", err)
	}
	// prctl(2): the parent-death signal is cleared when credentials change.
	return wrap("set parent-death signal", unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0))
}
