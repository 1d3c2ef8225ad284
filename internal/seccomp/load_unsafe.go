package seccomp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// LoadProcess installs filter on every thread of the calling process
// (seccomp(2) SECCOMP_SET_MODE_FILTER with SECCOMP_FILTER_FLAG_TSYNC: Go
// runs goroutines on threads it chooses, so a filter on one thread would
// not hold). The caller must have set no_new_privs or hold
// CAP_SYS_ADMIN. A filter cannot be removed.
func LoadProcess(filter []unix.SockFilter) error {
	if len(filter) == 0 {
		return nil
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return e
	}
	if r != 0 {
		// TSYNC failed: r is the id of a thread that could not be
		// synchronized (it has a filter of its own).
		return unix.ESRCH
	}
	return nil
}
