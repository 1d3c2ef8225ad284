package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimitByName maps the OCI names (config.md "POSIX process") to getrlimit(2)
// resources.
var rlimitByName = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// execProcess turns init into the workload: rlimits, the command looked up
// in the container's PATH, then user, capabilities, no_new_privs and
// seccomp in the order that keeps each step allowed, and execve.
func execProcess(spec *specs.Spec) error {
	p := spec.Process
	for _, r := range p.Rlimits {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Setrlimit(rlimitByName[r.Type], &lim); err != nil {
			return fmt.Errorf("setrlimit %s: %w", r.Type, err)
		}
	}
	env := append(append([]string(nil), p.Env...), ReadyEnv+"="+strconv.Itoa(readyFD))
	path, err := lookPath(p.Args[0], env)
	if err != nil {
		return err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", cwd, err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("working directory %s: %w", cwd, err)
	}
	caps, err := decodeCaps(p.Capabilities)
	if err != nil {
		return err
	}
	var seccompSpec *specs.LinuxSeccomp
	if spec.Linux != nil {
		seccompSpec = spec.Linux.Seccomp
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the next steps drop: install it first then (runc does the same).
	if !p.NoNewPrivileges {
		if err := loadSeccomp(seccompSpec); err != nil {
			return err
		}
	}
	if err := dropBounding(caps.bounding); err != nil {
		return err
	}
	if err := switchUser(p.User); err != nil {
		return err
	}
	if err := setCapabilities(caps); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
		if err := loadSeccomp(seccompSpec); err != nil {
			return err
		}
	}
	if err := unix.Exec(path, p.Args, env); err != nil {
		return fmt.Errorf("exec %s: %w", p.Args[0], err)
	}
	return nil
}

// switchUser sets groups, gid and uid with raw per-thread system calls
// (the Go wrappers change every thread, which is not what this locked
// thread needs), keeping the permitted capabilities across setuid
// (PR_SET_KEEPCAPS) so setCapabilities can still choose them.
func switchUser(u specs.User) error {
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keepcaps: %w", err)
	}
	// In a user namespace whose setgroups is "deny" (user_namespaces(7))
	// the call fails with EPERM; that is only an error if groups were asked for.
	if err := setgroupsThread(u.AdditionalGids); err != nil && (err != unix.EPERM || len(u.AdditionalGids) > 0) {
		return fmt.Errorf("setgroups: %w", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("keepcaps: %w", err)
	}
	// prctl(2): the parent-death signal is cleared when credentials change.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	return nil
}

// lookPath finds name in the container (we are already pivoted into it)
// using the PATH of the container's environment, like execvp(3).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return name, nil
	}
	pathVar := strings.TrimPrefix(defaultPath, "PATH=")
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
	return "", fmt.Errorf("%q not in PATH %s: %w", name, pathVar, ErrNotFound)
}

func executable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return ErrNotFound
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("not an executable file: %w", ErrNotFound)
	}
	return nil
}
