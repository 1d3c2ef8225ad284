package container

import (
	"os"

	"gvmm/container/nsinit"
)

// ReadyEnv is the environment variable that tells the workload which fd
// to write the READY byte to (the READY protocol).
const ReadyEnv = nsinit.ReadyEnv

// InitArgs are the arguments after the program name with which the runtime
// starts a binary as its own init when no gvmm-init is installed beside it:
// `gvmm container __gvmm_container_init`. A program that starts containers
// must call Init when it sees them (IsInit).
var InitArgs = []string{"container", nsinit.Arg}

// IsInit reports whether args (os.Args[1:]) are InitArgs.
func IsInit(args []string) bool {
	return len(args) == len(InitArgs) && args[0] == InitArgs[0] && args[1] == InitArgs[1]
}

// Init is the container's first process when a binary re-executes itself
// (see findInit): the same code as gvmm-init (package nsinit). It returns
// only on failure, with the exit code.
func Init() int { return nsinit.Main([]string{os.Args[0], nsinit.Arg}) }
