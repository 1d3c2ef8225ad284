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
	"strings"
	"syscall"

	"gvmm/boot"
	"gvmm/internal/clock"
	"gvmm/internal/console"
	"gvmm/internal/machine"
	"gvmm/vmm"
)

// eol ends gvmm's own stderr lines: "\r\n" while the terminal is raw.
var eol = "\n"

// runBoot is `gvmm boot KERNEL [--initrd F] [--cmdline S] [--mem 256M]
// [--cpus N]`.
func runBoot(args []string) int {
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gvmm boot KERNEL [flags]\n\nBoot an ELF (PVH) or bzImage kernel.\n\nflags:")
		fs.PrintDefaults()
	}
	initrd := fs.String("initrd", "", "initial ramdisk `file` (a bzImage without it gets the default u-root initramfs; \"none\" for none)")
	cmdline := fs.String("cmdline", "", "kernel command `line` (default: console=ttyS0, plus for a bzImage reboot=k panic=-1 and, with --net, the guest agent's address)")
	mem := fs.String("mem", "256M", "guest memory `size` (K, M, G suffixes)")
	cpus := fs.Int("cpus", 1, "number of vCPUs")
	kvmPath := fs.String("kvm", vmm.DevKVM, "KVM device `path`")
	debug := fs.Bool("debug", false, "log VMM details (unhandled I/O, devices) to stderr")
	stats := fs.Bool("stats", false, "print start-up timings (set-up, first console output, READY) at exit")
	consoleKind := fs.String("console", "serial", "interactive console: serial or virtio (hvc0; boot with console=hvc0)")
	netFlag := fs.String("net", "", "network: tap (create a TAP device) or tap=NAME (create or attach NAME)")
	mac := fs.String("mac", "", "guest MAC `address` for --net (default: random, locally administered)")
	hostAddr := fs.String("host-addr", "192.168.100.1/24", "`address/prefix` for the host end of the TAP (\"\" for none)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "gvmm: boot needs exactly one KERNEL argument (see gvmm boot -h)")
		return 2
	}
	if *debug {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	linux := isBzImage(pos[0])
	switch {
	case *initrd == "none":
		*initrd = ""
	case *initrd == "" && linux:
		*initrd = defaultInitramfs()
	}
	if *cmdline == "" {
		*cmdline = defaultCmdline(linux, *netFlag != "", *hostAddr)
	}
	size, err := machine.ParseMemSize(*mem)
	if err != nil {
		return fail(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := machine.Config{
		KVMPath:    *kvmPath,
		Kernel:     pos[0],
		Initrd:     *initrd,
		Cmdline:    *cmdline,
		MemSize:    size,
		CPUs:       *cpus,
		ConsoleOut: os.Stdout,
		Console:    machine.ConsoleKind(*consoleKind),
		OnReady:    func(us int64) { fmt.Fprint(os.Stderr, clock.ReadyLine(us)+eol) },
	}
	if *netFlag != "" {
		nc, err := parseNetFlag(*netFlag)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gvmm: "+err.Error())
			return 2
		}
		nc.MAC, nc.HostAddr = *mac, *hostAddr
		cfg.Net = nc
	}
	restore, err := console.MakeRaw(os.Stdin)
	if err != nil {
		return fail(fmt.Errorf("terminal raw mode: %w", err))
	}
	defer restore()
	// In raw mode the terminal no longer turns "\n" into "\r\n".
	if console.IsTerminal(os.Stdin) {
		eol = "\r\n"
	}
	cfg.Input = console.NewEscapeReader(os.Stdin, os.Stderr, cancel)

	// SIGINT and SIGTERM stop the VM cleanly, as QEMU does ("terminating
	// on signal"): vCPUs are stopped, the terminal restored, resources
	// released.
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
		restore()
		return fail(err)
	}
	defer m.Close()
	res := m.Run(ctx)
	restore()
	if *stats {
		fmt.Fprintf(os.Stderr, "gvmm: stats: setup_us=%d first_output_us=%d ready_us=%d reason=%s\n",
			res.SetupDoneAt, res.FirstOutputAt, res.ReadyAt, res.Reason)
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
func defaultCmdline(linux, withNet bool, hostAddr string) string {
	c := "console=ttyS0"
	if !linux {
		return c
	}
	c += " reboot=k panic=-1"
	if !withNet {
		return c
	}
	p, err := netip.ParsePrefix(hostAddr)
	if err != nil || !p.Addr().Is4() {
		return c
	}
	guest := p.Addr().Next()
	return fmt.Sprintf("%s gvmm.ip=%s/%d gvmm.http=:%d", c, guest, p.Bits(), guestHTTPPort)
}
