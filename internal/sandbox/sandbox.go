package sandbox

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"gvmm/internal/seccomp"
)

// Options say what the confined VMM still needs.
type Options struct {
	// NetAdmin keeps CAP_NET_ADMIN, for undoing host network changes at
	// exit (an address put on a TAP device gvmm did not create).
	NetAdmin bool
	// Log makes a call outside the allowlist be logged to the kernel's
	// audit log (dmesg: "type=1326") and allowed, instead of killing the
	// process: for finding what a new code path needs
	// (GVMM_SECCOMP_LOG=1). Never for production.
	Log bool
}

// ErrSandbox: the sandbox could not be entered.
var ErrSandbox = errors.New("cannot enter the VMM sandbox")

// Enter confines the calling process for good (see the package
// documentation). It fails, and changes nothing the caller relies on,
// when the kernel refuses a step.
func Enter(o Options) error {
	filter, err := Filter(o)
	if err != nil {
		return err
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("%w: no_new_privs: %v", ErrSandbox, err)
	}
	if err := dropCapabilities(o.NetAdmin); err != nil {
		return err
	}
	if err := seccomp.LoadProcess(filter); err != nil {
		return fmt.Errorf("%w: seccomp filter (Linux 3.17 or later with CONFIG_SECCOMP_FILTER; or run with --no-seccomp): %v", ErrSandbox, err)
	}
	return nil
}

// Filter compiles the allowlist for o.
func Filter(o Options) ([]unix.SockFilter, error) {
	def := uint32(unix.SECCOMP_RET_KILL_PROCESS)
	if o.Log {
		def = unix.SECCOMP_RET_LOG
	}
	prog, err := seccomp.Compile(Rules(), def)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSandbox, err)
	}
	return prog, nil
}

// allThreads makes a three-argument system call on every thread of the
// process (syscall.AllThreadsSyscall: it needs a program without cgo,
// which gvmm is).
func allThreads(nr, a1, a2, a3 uintptr) error {
	_, _, e := syscall.AllThreadsSyscall(nr, a1, a2, a3)
	if e != 0 {
		return e
	}
	return nil
}

// capNetAdmin is CAP_NET_ADMIN's number (capability.h).
const capNetAdmin = unix.CAP_NET_ADMIN

// dropCapabilities empties the bounding set, then the effective,
// permitted and inheritable sets, keeping CAP_NET_ADMIN when netAdmin.
// Dropping from the bounding set needs CAP_SETPCAP: without it (gvmm run
// by a user in the kvm group, who has no capabilities to drop) the
// bounding set is left alone.
func dropCapabilities(netAdmin bool) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	if hasCap(unix.CAP_SETPCAP) {
		for c := 0; c <= last; c++ {
			if netAdmin && c == capNetAdmin {
				continue
			}
			if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
				return fmt.Errorf("%w: drop capability %d from the bounding set: %v", ErrSandbox, c, err)
			}
		}
	}
	var keep uint32
	if netAdmin && hasCap(capNetAdmin) {
		keep = 1 << capNetAdmin
	}
	if err := capsetAllThreads(keep); err != nil {
		return fmt.Errorf("%w: capset: %v", ErrSandbox, err)
	}
	return nil
}
