package container

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

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
