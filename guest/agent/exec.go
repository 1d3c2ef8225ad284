package agent

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// ErrNoProgram: the program gvmm.exec names is missing or not executable.
var ErrNoProgram = errors.New("gvmm.exec program not runnable")

// checkExecutable fails before READY, not after it, when the program of
// gvmm.exec cannot run: a guest that reports READY and then has nothing
// to run would leave the host waiting for a server that never comes.
func checkExecutable(argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	fi, err := os.Stat(argv[0])
	if err != nil {
		return fmt.Errorf("%w: %w (is it in the image?)", ErrNoProgram, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not an executable file (mode %v)", ErrNoProgram, argv[0], fi.Mode())
	}
	return nil
}

// execProgram replaces the agent with the program of gvmm.exec once the
// guest is set up and READY has gone out: the program (nginx, for the
// bench) inherits the console, the environment and the agent's place as
// u-root's uinit (or as the container's workload). The READY channel is
// closed first so the program does not hold the runtime's pipe. It returns
// only when execve fails.
func (a *agent) execProgram() int {
	argv := a.cfg.Exec
	a.printf("exec %s", strings.Join(argv, " "))
	// execve resets caught signals to their default; stop relaying them
	// anyway so none is consumed in between.
	signal.Stop(a.stop)
	if err := a.sig.Close(); err != nil {
		a.printf("warning: close the READY channel: %v", err)
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	a.printf("error: exec %s: %v", argv[0], err)
	return exitFailure
}
