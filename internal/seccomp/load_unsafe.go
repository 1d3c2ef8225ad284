package seccomp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// LoadThread installs filter on the calling thread only (seccomp(2)
// SECCOMP_SET_MODE_FILTER): a container's init locks its OS thread, and the
// exec that follows on it carries the filter into the workload.
func LoadThread(filter []unix.SockFilter) error { return load(filter, 0) }

// LoadProcess installs filter on every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC: Go runs goroutines on threads it chooses, so
// a filter on one thread would not hold), as the VMM's sandbox needs.
//
// Either way the caller must have set no_new_privs or hold CAP_SYS_ADMIN,
// and a filter cannot be removed.
func LoadProcess(filter []unix.SockFilter) error {
	return load(filter, unix.SECCOMP_FILTER_FLAG_TSYNC)
}

func load(filter []unix.SockFilter, flags uintptr) error {
	if len(filter) == 0 {
		return nil
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
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
