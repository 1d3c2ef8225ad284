package container

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadFilterAllThreads installs filter on every thread of the process
// (seccomp(2) SECCOMP_FILTER_FLAG_TSYNC).
func loadFilterAllThreads(filter []unix.SockFilter) error {
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return e
	}
	return nil
}
