package agent

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"gvmm/guest/agentcfg"
)

// Exit statuses of Main.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// failureStatus is what a failed agent writes to the exit register, so
	// the VMM stops with a non-zero code instead of waiting for a timeout.
	failureStatus = 1
)

// shells are tried in order for agentcfg.ModeShell: u-root's default shell link,
// /bin/sh, then the busybox's gosh itself.
var shells = []string{"/bin/defaultsh", "/bin/sh", "/bbin/gosh"}

// Env is what Main reads from its surroundings. The binary passes the real
// ones (see HostEnv); tests substitute files.
type Env struct {
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// Stdout receives the console lines.
	Stdout io.Writer
	// CmdlineFile is the kernel command line, /proc/cmdline.
	CmdlineFile string
	// PortDevice is /dev/port; without it the agent uses ioperm(2).
	PortDevice string
	// ModuleDir holds the kernel modules to load (ModuleDir).
	ModuleDir string
}

// HostEnv is the environment of the real agent.
func HostEnv() Env {
	return Env{
		Getenv:      os.Getenv,
		Stdout:      os.Stdout,
		CmdlineFile: "/proc/cmdline",
		PortDevice:  PortDevice,
		ModuleDir:   ModuleDir,
	}
}

// agent carries one run's state.
type agent struct {
	env Env
	cfg agentcfg.Config
	sig Signaller
	// inContainer is set when GVMM_READY_FD is: a container runtime, not
	// a VMM, started the agent.
	inContainer bool
	// stop receives SIGTERM and SIGINT from just before READY on.
	stop chan os.Signal
}

func (a *agent) printf(format string, args ...any) {
	fmt.Fprintf(a.env.Stdout, "gvmm-agent: "+format+"\n", args...)
}

// Main runs the agent and returns its exit status. In agentcfg.ModeShell it does not
// return on success (it execs the shell); in agentcfg.ModePoweroff inside a VM it
// returns only if powering off failed.
func Main(env Env) int {
	inContainer := env.Getenv(agentcfg.EnvReadyFD) != ""
	a := &agent{env: env, cfg: agentcfg.DefaultConfig(), inContainer: inContainer}
	sig, err := a.signaller()
	if err != nil {
		a.printf("error: %v", err)
		return a.fail(exitFailure)
	}
	a.sig = sig
	defer func() { _ = a.sig.Close() }()
	if err := a.configure(); err != nil {
		a.printf("error: %v", err)
		return a.fail(exitUsage)
	}
	if a.cfg.ReadyConsoleOnly && sig.InVM() {
		_ = sig.Close()
		sig = consoleSignaller{}
		a.sig = sig // READY and poweroff without the boot-timer ports
	}
	if err := a.setUp(); err != nil {
		a.printf("error: %v", err)
		return a.fail(exitFailure)
	}
	// Catch SIGTERM before READY: a runtime may stop the workload the
	// moment it sees READY, and an uncaught SIGTERM would kill the agent
	// with a signal instead of a clean exit.
	a.stop = make(chan os.Signal, 1)
	signal.Notify(a.stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(a.stop)
	if sig.InVM() {
		// The guest's own clock at READY (CLOCK_BOOTTIME: since the
		// kernel started counting), for the bench to split a VM's start-up
		// into "VMM until the kernel runs" and "kernel until READY".
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
			a.printf("clock %d ns", ts.Nano())
		}
	}
	if err := sig.Ready(); err != nil {
		a.printf("error: %v", err)
		return a.fail(exitFailure)
	}
	a.printf("READY")
	if a.cfg.FetchURL != "" {
		n, sum, err := Fetch(a.cfg.FetchURL)
		if err != nil {
			a.printf("fetch: %v", err)
		} else {
			a.printf("fetch: received %d sha256 %s", n, sum)
		}
	}
	if len(a.cfg.Exec) > 0 {
		return a.execProgram()
	}
	a.printf("mode %s", a.cfg.Mode)
	return a.finish()
}

// signaller picks the READY channel per the protocol: the pipe named by
// GVMM_READY_FD, else port I/O.
func (a *agent) signaller() (Signaller, error) {
	fd, ok, err := ReadyFD(a.env.Getenv)
	if err != nil {
		return nil, err
	}
	if ok {
		return NewPipeSignaller(fd), nil
	}
	ports, err := OpenPorts(a.env.PortDevice)
	if err != nil {
		return nil, err
	}
	return NewPortSignaller(ports), nil
}

// configure reads the command line (VM only: a container sees the host's)
// and the environment.
func (a *agent) configure() error {
	if !a.inContainer {
		b, err := os.ReadFile(a.env.CmdlineFile)
		if err != nil {
			return fmt.Errorf("read kernel command line: %w", err)
		}
		cmdline := strings.TrimSpace(string(b))
		a.printf("cmdline: %s", cmdline)
		if err := a.cfg.ParseCmdline(cmdline); err != nil {
			return err
		}
	}
	if err := a.cfg.ApplyEnv(a.env.Getenv); err != nil {
		return err
	}
	for _, key := range a.cfg.Unknown {
		a.printf("warning: ignoring unknown setting %s", key)
	}
	return a.cfg.Validate()
}

// setUp prepares the guest: mounts and modules (VM only), network, HTTP, and
// prints the facts tests assert.
func (a *agent) setUp() error {
	if err := checkExecutable(a.cfg.Exec); err != nil {
		return err
	}
	if !a.inContainer {
		mounted, err := EnsureMounts()
		if err != nil {
			return err
		}
		if len(mounted) > 0 {
			a.printf("mounted %s", strings.Join(mounted, " "))
		}
		a.loadModules()
	}
	if a.cfg.IP.IsValid() {
		name, err := ConfigureNetwork(a.cfg)
		if err != nil {
			return err
		}
		gw := "none"
		if a.cfg.Gateway.IsValid() {
			gw = a.cfg.Gateway.String()
		}
		a.printf("net %s %s gw %s", name, a.cfg.IP, gw)
	}
	if a.cfg.HTTPAddr != "" {
		addr, err := ServeHTTP(a.cfg.HTTPAddr, a.printf)
		if err != nil {
			return err
		}
		a.printf("http listening on %s", addr)
	}
	n, list, err := OnlineCPUs()
	if err != nil {
		return fmt.Errorf("count online cpus: %w", err)
	}
	a.printf("cpus online: %d (%s)", n, list)
	return nil
}

// loadModules loads what ModuleDir holds. A missing directory is normal (a
// kernel with the drivers built in); a failed module is reported and the
// boot goes on: whatever needed it fails later with its own error.
func (a *agent) loadModules() {
	if _, err := os.Stat(a.env.ModuleDir); err != nil && len(a.cfg.Modules) == 0 {
		return
	}
	loaded, err := LoadModules(a.env.ModuleDir, a.cfg.Modules)
	if len(loaded) > 0 {
		a.printf("modules loaded: %s", strings.Join(loaded, " "))
	}
	if err != nil {
		a.printf("warning: modules: %v", err)
	}
}

// finish does what the mode asks.
func (a *agent) finish() int {
	switch a.cfg.Mode {
	case agentcfg.ModePoweroff:
		if !a.sig.InVM() {
			return exitOK // a container ends when its process does
		}
		if err := PowerOff(a.sig); err != nil {
			a.printf("error: poweroff: %v", err)
		}
		return exitFailure
	case agentcfg.ModeReboot:
		if !a.sig.InVM() {
			return exitOK
		}
		if err := Reboot(); err != nil {
			a.printf("error: reboot: %v", err)
		}
		return exitFailure
	case agentcfg.ModeStay:
		// Stay up until asked to stop, as a container's workload would.
		s := <-a.stop
		a.printf("got %v, exiting", s)
		return exitOK
	default:
		return a.execShell()
	}
}

// execShell replaces the agent with the first shell that exists.
//
// With the HTTP server on, the agent must stay alive to serve it, so the
// shell runs as its child instead, on the same console, and the agent
// returns when it exits.
func (a *agent) execShell() int {
	for _, sh := range shells {
		if _, err := os.Stat(sh); err != nil {
			continue
		}
		if a.cfg.HTTPAddr != "" {
			cmd := exec.Command(sh)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				a.printf("shell %s: %v", sh, err)
			}
			return exitOK
		}
		err := syscall.Exec(sh, []string{sh}, os.Environ())
		a.printf("error: exec %s: %v", sh, err)
		return exitFailure
	}
	a.printf("error: no shell found (tried %s)", strings.Join(shells, ", "))
	return exitFailure
}

// fail ends a run that could not get ready. In a VM asked to power off it
// stops the VM with a failure status, so the VMM does not wait for a READY
// that will never come; in shell mode the user gets the shell to look into
// it. Otherwise the agent exits non-zero (in a VM u-root's init then exits,
// and the kernel panics: the VMM sees a failure either way).
func (a *agent) fail(status int) int {
	switch {
	case a.cfg.Mode == agentcfg.ModePoweroff && a.sig != nil && a.sig.InVM() && inGuestInitramfs():
		if err := a.sig.Exit(failureStatus); err != nil {
			a.printf("error: %v", err)
		}
	case a.cfg.Mode == agentcfg.ModeShell && !a.inContainer && inGuestInitramfs():
		return a.execShell()
	}
	return status
}
