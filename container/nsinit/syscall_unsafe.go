package nsinit

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The two system calls of init whose arguments are pointers that
// golang.org/x/sys/unix has no wrapper for on the calling thread alone.
// Each pointer conversion stays inside the call expression, as package
// unsafe's rule for system call arguments requires.

// loadSeccomp installs the assembled filter on the calling thread
// (seccomp(2) SECCOMP_SET_MODE_FILTER without TSYNC); the exec that
// follows on the same thread carries it into the workload.
func loadSeccomp(filter []unix.SockFilter) error {
	if len(filter) == 0 {
		return nil
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return wrap("seccomp", e)
	}
	return nil
}

// setgroupsThread is setgroups(2) on the calling thread only. The pointer
// conversion stays inside the call expression, as package unsafe requires
// for system call arguments.
func setgroupsThread(gids []uint32) error {
	var e unix.Errno
	if len(gids) == 0 {
		_, _, e = unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(unsafe.Pointer(&gids[0])), 0)
	}
	if e != 0 {
		return e
	}
	return nil
}
