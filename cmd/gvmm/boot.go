package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"gvmm/boot"
	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
	"gvmm/internal/console"
	"gvmm/internal/machine"
	"gvmm/vmm"

	"golang.org/x/sys/unix"
)

// eol ends gvmm's own stderr lines: "\r\n" while the terminal is raw.
var eol = "\n"

// bootFlags are `gvmm boot`'s flags as the user typed them.
type bootFlags struct {
	kernel                    string
	initrd, cmdline, mem      string
	cpus                      int
	kvmPath                   string
	debug, stats, acpi        bool
	hugepages, noSeccomp      bool
	console, net, mac, hostIP string
	disks                     diskFlags
}

// diskFlags collects the repeatable --disk PATH[,ro][,serial=S].
type diskFlags []machine.DiskConfig

// String implements flag.Value.
func (d *diskFlags) String() string {
	var parts []string
	for _, c := range *d {
		parts = append(parts, c.Path)
	}
	return strings.Join(parts, " ")
}

// Set implements flag.Value: one --disk.
func (d *diskFlags) Set(s string) error {
	path, opts, _ := strings.Cut(s, ",")
	if path == "" {
		return fmt.Errorf("want PATH[,ro][,serial=S], e.g. --disk rootfs.ext4 or --disk data.img,ro")
	}
	c := machine.DiskConfig{Path: path}
	for _, o := range strings.Split(opts, ",") {
		switch k, v, _ := strings.Cut(o, "="); k {
		case "":
		case "ro":
			c.ReadOnly = true
		case "rw":
			c.ReadOnly = false
		case "serial":
			c.Serial = v
		default:
			return fmt.Errorf("unknown disk option %q: the options are ro and serial=S", o)
		}
	}
	*d = append(*d, c)
	return nil
}

// usageError is a mistake in the command line itself: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseBootFlags parses `gvmm boot KERNEL [flags]`; flags may come before
// or after KERNEL.
func parseBootFlags(args []string) (*bootFlags, error) {
	f := &bootFlags{}
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gvmm boot KERNEL [flags]\n\nBoot an ELF (PVH) or bzImage kernel.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.initrd, "initrd", "", "initial ramdisk `file` (a bzImage without it gets the default u-root initramfs; \"none\" for none)")
	fs.StringVar(&f.cmdline, "cmdline", "", "kernel command `line` (default: console=ttyS0, plus for a bzImage reboot=k panic=-1 and, with --net, the guest agent's address)")
	fs.StringVar(&f.mem, "mem", fmt.Sprintf("%dM", machine.DefaultMemSize>>20), "guest memory `size` (K, M, G suffixes)")
	fs.IntVar(&f.cpus, "cpus", 1, "number of vCPUs")
	fs.StringVar(&f.kvmPath, "kvm", vmm.DevKVM, "KVM device `path`")
	fs.BoolVar(&f.hugepages, "hugepages", false, "back guest RAM with the host's reserved 2 MiB huge pages (sysctl vm.nr_hugepages; --mem a multiple of 2M)")
	fs.BoolVar(&f.noSeccomp, "no-seccomp", false, "do not confine gvmm once the VM is set up (seccomp allowlist, capabilities dropped, no_new_privs; docs/09a): for debugging only")
	fs.BoolVar(&f.acpi, "acpi", true, "describe the machine in ACPI tables too (hardware-reduced), as QEMU and Firecracker do: a kernel without an MP-table parser (Debian's) needs them to see every vCPU and to power off; --acpi=false leaves only the MP table")
	fs.BoolVar(&f.debug, "debug", false, "log VMM details (unhandled I/O, devices) to stderr")
	fs.BoolVar(&f.stats, "stats", false, "print start-up timings (set-up, first console output, READY) and the exits that reached gvmm (by reason, port and MMIO page) at exit")
	fs.StringVar(&f.console, "console", "serial", "interactive console: serial or virtio (hvc0; boot with console=hvc0)")
	fs.Var(&f.disks, "disk", "add a virtio-blk disk: `PATH[,ro][,serial=S]`, a raw image; repeat for more (/dev/vda, /dev/vdb, ...)")
	fs.StringVar(&f.net, "net", "", "network: tap (create a TAP device) or tap=NAME (create or attach NAME)")
	fs.StringVar(&f.mac, "mac", "", "guest MAC `address` for --net (default: random, locally administered)")
	fs.StringVar(&f.hostIP, "host-addr", "192.168.100.1/24", "`address/prefix` for the host end of the TAP (\"\" for none)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usageError{"boot needs exactly one KERNEL argument (see gvmm boot -h)"}
	}
	f.kernel = pos[0]
	return f, nil
}

// bootConfig turns the flags into a machine configuration, and checks
// them, without touching /dev/kvm: the initrd and command line defaults,
// the memory size, the network. sniffLinux says whether a path is a
// bzImage and defaultInitrd finds the default initramfs (both injected,
// so the table test runs without files). machine.Config.Validate then
// checks the files themselves, still before KVM.
func bootConfig(f *bootFlags, sniffLinux func(string) bool, defaultInitrd func() string) (machine.Config, error) {
	linux := sniffLinux(f.kernel)
	initrd := f.initrd
	switch {
	case initrd == "none":
		initrd = ""
	case initrd == "" && linux:
		initrd = defaultInitrd()
	}
	size, err := machine.ParseMemSize(f.mem)
	if err != nil {
		return machine.Config{}, err
	}
	cfg := machine.Config{
		KVMPath: f.kvmPath,
		Kernel:  f.kernel,
		Initrd:  initrd,
		Cmdline: f.cmdline,
		MemSize: size,
		CPUs:    f.cpus,
		Console: machine.ConsoleKind(f.console),
		ACPI:    f.acpi,
		HugeTLB: f.hugepages,
		// One VM per process, which exits after it: the sandbox
		// cannot be undone, and need not be.
		Sandbox:    !f.noSeccomp,
		SandboxLog: os.Getenv("GVMM_SECCOMP_LOG") == "1",
		Disks:      f.disks,
	}
	var host netip.Prefix
	if f.net != "" {
		nc, err := parseNetFlag(f.net)
		if err != nil {
			return machine.Config{}, usageError{err.Error()}
		}
		if f.hostIP != "" {
			if host, err = netip.ParsePrefix(f.hostIP); err != nil {
				return machine.Config{}, usageError{fmt.Sprintf("--host-addr %q: want an address with a prefix length, such as 192.168.100.1/24", f.hostIP)}
			}
		}
		nc.MAC, nc.HostAddr = f.mac, host
		cfg.Net = nc
	}
	if cfg.Cmdline == "" {
		if cfg.Cmdline, err = defaultCmdline(linux, f.net != "", host); err != nil {
			return machine.Config{}, usageError{err.Error()}
		}
	}
	return cfg, nil
}

// runBoot is `gvmm boot KERNEL [--initrd F] [--cmdline S] [--mem 256M]
// [--cpus N] ...`: parse, configure, check, run, report.
func runBoot(args []string) int {
	f, err := parseBootFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "gvmm: "+ue.msg)
		}
		return 2 // the flag package has printed its own message
	}
	if f.debug {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	cfg, err := bootConfig(f, isBzImage, defaultInitramfs)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "gvmm: "+ue.msg)
			return 2
		}
		return fail(err)
	}
	// Everything about the inputs is checked here, before /dev/kvm.
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	cfg.ConsoleOut = os.Stdout
	cfg.OnReady = func(us int64) { fmt.Fprint(os.Stderr, ready.Line(us)+eol) }
	res, err := runMachine(cfg)
	if err != nil {
		return fail(err)
	}
	return reportStop(res, f.stats)
}

// runMachine builds and runs the VM with the terminal as its console:
// raw mode, the Ctrl-A escapes, and SIGINT/SIGTERM/SIGHUP stopping the VM
// cleanly, as QEMU does ("terminating on signal").
func runMachine(cfg machine.Config) (machine.Result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	restore, err := console.MakeRaw(os.Stdin)
	if err != nil {
		return machine.Result{}, fmt.Errorf("terminal raw mode: %w", err)
	}
	defer restore()
	// In raw mode the terminal no longer turns "\n" into "\r\n".
	if console.IsTerminal(os.Stdin) {
		eol = "\r\n"
	}
	cfg.Input = console.NewEscapeReader(os.Stdin, os.Stderr, cancel)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if s, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "\r\ngvmm: terminating on signal %v\r\n", s)
			cancel()
		}
	}()

	m, err := machine.New(cfg)
	if err != nil {
		return machine.Result{}, err
	}
	defer m.Close()
	res := m.Run(ctx)
	restore()
	if os.Getenv(forbiddenCallHook) == "1" {
		// The sandbox's own test: a call the allowlist does not name,
		// after a guest ran under it; the kernel must kill gvmm here.
		fmt.Fprintln(os.Stderr, "gvmm: test hook: socket(AF_INET)")
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
			unix.Close(fd)
		}
	}
	return res, nil
}

// forbiddenCallHook names the environment variable that makes gvmm, once
// its VM has stopped, make a system call its sandbox forbids
// (TestBootSandboxKillsForbiddenCall).
const forbiddenCallHook = "GVMM_TEST_FORBIDDEN_CALL"

// reportStop says why the VM stopped and returns gvmm's exit code.
func reportStop(res machine.Result, stats bool) int {
	if stats {
		for _, l := range machine.StatsLines(res) {
			fmt.Fprintln(os.Stderr, l)
		}
	}
	switch res.Reason {
	case machine.Failure, machine.Crashed:
		return fail(res.Err)
	case machine.Shutdown:
		fmt.Fprintln(os.Stderr, "gvmm: guest shut down (triple fault); not rebooting")
		if res.CPUState != "" {
			fmt.Fprintln(os.Stderr, "gvmm: at the triple fault:", res.CPUState)
		}
	case machine.Reset:
		fmt.Fprintln(os.Stderr, "gvmm: guest reset; not rebooting")
	}
	return res.ExitCode
}

// parseNetFlag reads --net tap or --net tap=NAME.
func parseNetFlag(s string) (*machine.NetConfig, error) {
	kind, name, _ := strings.Cut(s, "=")
	if kind != "tap" {
		return nil, fmt.Errorf("--net %q: only tap and tap=NAME are supported", s)
	}
	return &machine.NetConfig{TAP: name}, nil
}

// defaultInitramfsName is the initramfs `make initramfs` builds next to
// build/gvmm.
const defaultInitramfsName = "initramfs.cpio"

// defaultInitramfs finds the u-root initramfs for a bzImage booted without
// --initrd: $GVMM_INITRAMFS, else initramfs.cpio beside the gvmm binary.
// It returns "" (no initrd) when neither exists.
func defaultInitramfs() string {
	if p := os.Getenv("GVMM_INITRAMFS"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), defaultInitramfsName)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// isBzImage reports whether the file at path is a bzImage (boot.IsBzImage).
func isBzImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return boot.IsBzImage(f)
}

// guestHTTPPort is where the guest agent serves HTTP by default.
const guestHTTPPort = 80

// defaultCmdline is the command line when --cmdline is not given: the
// serial console; for Linux also reset-to-exit (gvmm has no ACPI) and an
// immediate reboot on panic (pvpanic reports it first); and with --net the
// agent's address, the host's plus one, with its HTTP server on, so that
// `gvmm boot --net tap bzImage` answers HTTP from the host.
func defaultCmdline(linux, withNet bool, host netip.Prefix) (string, error) {
	c := "console=ttyS0"
	if !linux {
		return c, nil
	}
	c += " reboot=k panic=-1"
	if !withNet || !host.IsValid() || !host.Addr().Is4() {
		return c, nil
	}
	guest := host.Addr().Next()
	if !guest.IsValid() || !host.Masked().Contains(guest) {
		return "", fmt.Errorf("--host-addr %s leaves no address for the guest (the host's plus one) in its subnet; give --cmdline with gvmm.ip=, or another --host-addr", host)
	}
	words, err := agentcfg.Config{
		IP:       netip.PrefixFrom(guest, host.Bits()),
		HTTPAddr: ":" + strconv.Itoa(guestHTTPPort),
	}.Cmdline()
	if err != nil {
		return "", fmt.Errorf("--host-addr %s: %w", host, err)
	}
	return c + " " + words, nil
}
