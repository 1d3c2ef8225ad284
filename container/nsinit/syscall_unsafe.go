package nsinit

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system call of init whose arguments are pointers that
// golang.org/x/sys/unix has no wrapper for on the calling thread alone.
// Each pointer conversion stays inside the call expression, as package
// unsafe's rule for system call arguments requires.

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
