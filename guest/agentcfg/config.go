package agentcfg

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"gvmm/guest/ready"
)

// Mode is what the agent does once the guest is ready.
type Mode string

// The modes. ModeShell is the default: a user who boots gvmm by hand gets a
// shell, like `make run` promises.
const (
	// ModePoweroff stops the VM (exit status 0) or ends the container.
	ModePoweroff Mode = "poweroff"
	// ModeStay keeps the guest up until the agent gets SIGTERM or SIGINT.
	ModeStay Mode = "stay"
	// ModeShell replaces the agent with u-root's shell on the console.
	ModeShell Mode = "shell"
	// ModeReboot restarts the machine through the kernel (reboot(2)); with
	// reboot=k that is the i8042 reset line, which ends a gvmm VM with 0.
	ModeReboot Mode = "reboot"
)

// Kernel command-line keys. Linux passes unknown "key=value" words with a
// dot in the key on to /proc/cmdline untouched (Documentation/admin-guide/
// kernel-parameters.rst: "parameters with a '.' are module parameters"; an
// unknown module's parameters are ignored), so gvmm's own namespace is safe.
const (
	cmdlinePrefix  = "gvmm."
	keyMode        = "gvmm.mode"
	keyIP          = "gvmm.ip"
	keyGateway     = "gvmm.gw"
	keyInterface   = "gvmm.if"
	keyHTTP        = "gvmm.http"
	keyFetch       = "gvmm.fetch"
	keyModules     = "gvmm.modules"
	keyReady       = "gvmm.ready"
	keyExec        = "gvmm.exec"
	moduleListSeps = ","

	// The values of gvmm.ready.
	readyPort    = "port"
	readyConsole = "console"
)

// Environment variables. Each mirrors a command-line key; a container has no
// kernel command line of its own, so there the environment is the only source.
const (
	// EnvReadyFD names the inherited fd of the READY pipe (container only).
	EnvReadyFD   = ready.FDEnv
	EnvMode      = "GVMM_MODE"
	EnvIP        = "GVMM_IP"
	EnvGateway   = "GVMM_GW"
	EnvInterface = "GVMM_IF"
	EnvHTTP      = "GVMM_HTTP"
	EnvModules   = "GVMM_MODULES"
	EnvExec      = "GVMM_EXEC"
)

// ErrBadConfig is returned (wrapped) for any malformed setting.
var ErrBadConfig = errors.New("bad gvmm agent setting")

// Config is everything the agent reads from the command line and environment.
type Config struct {
	// Mode is what to do after READY.
	Mode Mode
	// IP is the address and prefix for the network interface; the zero
	// value means "leave the network alone".
	IP netip.Prefix
	// Gateway is the default route's next hop; the zero value means none.
	Gateway netip.Addr
	// Interface names the link to configure; empty means the first
	// Ethernet link that is not loopback.
	Interface string
	// HTTPAddr, when set (e.g. ":8080"), makes the agent serve a small page
	// and the bulk-transfer endpoints (transfer.go).
	HTTPAddr string
	// FetchURL, when set, is downloaded after READY and its size and
	// SHA-256 printed (the guest-to-host network test).
	FetchURL string
	// Modules lists kernel modules (names without .ko) to load from
	// ModuleDir, in order; nil means "all of them, in modules.order".
	Modules []string
	// ReadyConsoleOnly (gvmm.ready=console) makes the agent leave the
	// boot-timer ports alone: READY is only its "gvmm-agent: READY"
	// console line, and poweroff is the kernel's alone. For VMMs without
	// gvmm's debug device (gokvm stops the VM at an unknown port).
	ReadyConsoleOnly bool
	// Exec, when set (gvmm.exec=/usr/sbin/nginx), is the program the agent
	// execs after READY instead of following Mode: argv[0] is an absolute
	// path, the other words its arguments (see parseExec).
	Exec []string
	// Unknown lists gvmm.* keys that were ignored, for a warning.
	Unknown []string
}

// DefaultConfig is the configuration with no settings given.
func DefaultConfig() Config {
	return Config{Mode: ModeShell}
}

// ParseCmdline applies the gvmm.* words of a kernel command line to c.
// Unknown gvmm.* keys are collected in c.Unknown and ignored, so a newer VMM can pass keys an
// older agent does not know without breaking its boot.
func (c *Config) ParseCmdline(cmdline string) error {
	for _, word := range splitCmdline(cmdline) {
		key, value, _ := strings.Cut(word, "=")
		if !strings.HasPrefix(key, cmdlinePrefix) {
			continue
		}
		if err := c.set(key, value); err != nil {
			return err
		}
	}
	return nil
}

// envKeys pairs each environment variable with the command-line key it
// stands for (gvmm.fetch and gvmm.ready have none: they are VM-only).
var envKeys = []struct{ env, key string }{
	{EnvMode, keyMode},
	{EnvIP, keyIP},
	{EnvGateway, keyGateway},
	{EnvInterface, keyInterface},
	{EnvHTTP, keyHTTP},
	{EnvModules, keyModules},
	{EnvExec, keyExec},
}

// ApplyEnv applies the GVMM_* variables that getenv returns non-empty;
// they override the command line.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	for _, p := range envKeys {
		if v := getenv(p.env); v != "" {
			if err := c.set(p.key, v); err != nil {
				return fmt.Errorf("%s: %w", p.env, err)
			}
		}
	}
	return nil
}

// set applies one key=value setting.
func (c *Config) set(key, value string) error {
	switch key {
	case keyMode:
		m := Mode(value)
		if m != ModePoweroff && m != ModeStay && m != ModeShell && m != ModeReboot {
			return fmt.Errorf("%w: %s=%q: want poweroff, reboot, stay or shell", ErrBadConfig, key, value)
		}
		c.Mode = m
	case keyReady:
		switch value {
		case readyPort:
			c.ReadyConsoleOnly = false
		case readyConsole:
			c.ReadyConsoleOnly = true
		default:
			return fmt.Errorf("%w: %s=%q: want port (the boot-timer device, the default) or console", ErrBadConfig, key, value)
		}
	case keyExec:
		argv, err := parseExec(value)
		if err != nil {
			return fmt.Errorf("%w: %s=%q: %w", ErrBadConfig, key, value, err)
		}
		c.Exec = argv
	case keyIP:
		p, err := netip.ParsePrefix(value)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("%w: %s=%q: want an IPv4 address with prefix, e.g. 10.0.2.15/24", ErrBadConfig, key, value)
		}
		c.IP = p
	case keyGateway:
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%w: %s=%q: want an IPv4 address, e.g. 10.0.2.2", ErrBadConfig, key, value)
		}
		c.Gateway = a
	case keyInterface:
		c.Interface = value
	case keyFetch:
		c.FetchURL = value
	case keyHTTP:
		if !strings.Contains(value, ":") {
			return fmt.Errorf("%w: %s=%q: want host:port or :port", ErrBadConfig, key, value)
		}
		c.HTTPAddr = value
	case keyModules:
		c.Modules = nil
		for _, m := range strings.Split(value, moduleListSeps) {
			if m = strings.TrimSpace(m); m != "" {
				c.Modules = append(c.Modules, m)
			}
		}
	default:
		c.Unknown = append(c.Unknown, key)
	}
	return nil
}

// Validate checks settings that only make sense together.
func (c *Config) Validate() error {
	if c.Gateway.IsValid() && !c.IP.IsValid() {
		return fmt.Errorf("%w: %s given without %s", ErrBadConfig, keyGateway, keyIP)
	}
	if c.Gateway.IsValid() && !c.IP.Masked().Contains(c.Gateway) {
		return fmt.Errorf("%w: gateway %s is not in %s", ErrBadConfig, c.Gateway, c.IP.Masked())
	}
	if len(c.Exec) > 0 && c.HTTPAddr != "" {
		return fmt.Errorf("%w: %s and %s together: the agent's HTTP server would end with the exec", ErrBadConfig, keyExec, keyHTTP)
	}
	return nil
}

// splitCmdline splits a kernel command line into words the way the kernel's
// next_arg() does (lib/cmdline.c): whitespace separates words, and double
// quotes group spaces into a value and are removed.
func splitCmdline(s string) []string {
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			inWord = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
