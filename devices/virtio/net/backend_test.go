package net

import (
	"os"

	"golang.org/x/sys/unix"
)

// socketPair returns two connected packet files: a backend with the same
// one-read-one-frame semantics as a TAP, for tests that need no network
// interface (hostile-driver tests, fuzzing).
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "backend"), os.NewFile(uintptr(fds[1]), "peer"), nil
}
