package rig

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// killGrace is how long Wait gives QEMU's output pipes to drain after the
// process was killed.
const killGrace = 5 * time.Second

// Machine is one running L1: a single attempt, without retry. Most callers
// want Run; Start is for tests that watch the console while L1 runs.
type Machine struct {
	// Console is L1's serial console as it arrives.
	Console *Console

	cfg     Config
	nonce   string
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	ctx     context.Context
	initrd  string
	stderr  bytes.Buffer
	started time.Time
}

// Start builds the L1 initramfs for cfg and starts QEMU. The machine is
// killed when ctx ends or cfg.AttemptTimeout passes. Call Wait to collect it.
func Start(ctx context.Context, cfg Config) (*Machine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return start(ctx, cfg)
}

func start(ctx context.Context, cfg Config) (*Machine, error) {
	m := &Machine{cfg: cfg, nonce: newNonce()}
	f, err := os.CreateTemp(cfg.TempDir, "gvmm-rig-*.cpio")
	if err != nil {
		return nil, fmt.Errorf("rig: L1 initramfs: %w", err)
	}
	m.initrd = f.Name()
	err = writeInitramfs(f, &cfg, m.nonce)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(m.initrd)
		return nil, fmt.Errorf("rig: L1 initramfs: %w", err)
	}

	m.ctx, m.cancel = context.WithTimeout(ctx, cfg.AttemptTimeout)
	m.cmd = exec.CommandContext(m.ctx, cfg.QEMU, m.qemuArgs()...)
	m.cmd.WaitDelay = killGrace
	m.started = time.Now()
	m.Console = newConsole(m.started)
	var out io.Writer = m.Console
	if cfg.Console != nil {
		out = io.MultiWriter(m.Console, cfg.Console)
	}
	m.cmd.Stdout = out
	m.cmd.Stderr = &m.stderr
	if cfg.Interactive {
		m.cmd.Stdin = os.Stdin
	}
	if err := m.cmd.Start(); err != nil {
		m.cancel()
		os.Remove(m.initrd)
		return nil, fmt.Errorf("rig: start %s: %w", cfg.QEMU, err)
	}
	cfg.Logger.Debug("rig: L1 started", "qemu", cfg.QEMU, "kernel", cfg.Kernel, "pid", m.cmd.Process.Pid)
	return m, nil
}

// qemuArgs is the QEMU command line: TCG with `-cpu max,-vgif`, which
// exposes AMD SVM and NPT so that kvm-amd works in L1 (NESTED.md; vGIF off,
// see Config.CPUModel), no default
// devices, the serial console on stdio, and no reboot so that a reset or a
// panic (panic=-1) ends QEMU.
func (m *Machine) qemuArgs() []string {
	cmdline := baseKernelParameters
	if m.cfg.Append != "" {
		cmdline += " " + m.cfg.Append
	}
	args := []string{
		// Firmware from Debian's qemu-system-data and seabios, named
		// explicitly: the patched build looks beside its own binary.
		"-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
		"-accel", "tcg", "-cpu", m.cfg.CPUModel,
		"-m", strconv.Itoa(m.cfg.MemoryMiB), "-smp", strconv.Itoa(m.cfg.CPUs),
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", m.cfg.Kernel, "-initrd", m.initrd, "-append", cmdline,
	}
	for _, d := range m.cfg.Disks {
		drive := "file=" + strings.ReplaceAll(d.Path, ",", ",,") + ",format=raw,if=virtio"
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		args = append(args, "-drive", drive)
	}
	return args
}

// Wait waits for QEMU to end and interprets the console. The returned
// Result is non-nil whenever QEMU ran, also together with an error.
func (m *Machine) Wait() (*Result, error) {
	defer os.Remove(m.initrd)
	defer m.cancel()
	waitErr := m.cmd.Wait()
	m.Console.close()
	res := &Result{Console: m.Console, Wall: time.Since(m.started), ExitStatus: -1, Uptime: map[string]time.Duration{}, Attempts: 1}
	timedOut := errors.Is(m.ctx.Err(), context.DeadlineExceeded)
	parseErr := m.parse(res)
	switch {
	case parseErr == nil:
		return res, nil
	case errors.Is(parseErr, ErrSetup):
		return res, parseErr
	case timedOut:
		return res, fmt.Errorf("%w: no exit marker within %v (last line: %q)", ErrTimeout, m.cfg.AttemptTimeout, lastLine(m.Console))
	case m.ctx.Err() != nil:
		return res, fmt.Errorf("rig: L1 stopped: %w", m.ctx.Err())
	}
	detail := fmt.Sprintf("qemu: %v", waitErr)
	if s := strings.TrimSpace(m.stderr.String()); s != "" {
		detail += ": " + s
	}
	if l, ok := m.Console.Find(regexp.MustCompile(`Kernel panic`)); ok {
		detail = l.Text
	}
	return res, fmt.Errorf("%w (%s)", parseErr, detail)
}

// parse fills res from the marker lines of this run's nonce.
func (m *Machine) parse(res *Result) error {
	prefix := markerPrefix + m.nonce + ": "
	inCommand := false
	for _, l := range m.Console.Lines() {
		// A marker may follow output that did not end its line (firmware
		// banners before init, a command's last printf), so look anywhere.
		before, rest, ok := strings.Cut(l.Text, prefix)
		if !ok {
			if inCommand {
				res.Output = append(res.Output, l)
			}
			continue
		}
		if inCommand && before != "" {
			res.Output = append(res.Output, Line{At: l.At, Text: before})
		}
		word, args, _ := strings.Cut(rest, " ")
		if up, ok := parseUptime(args); ok {
			res.Uptime[word] = up
		}
		switch word {
		case markerFailure:
			return fmt.Errorf("%w: %s", ErrSetup, args)
		case markerStart:
			inCommand = true
		case markerExit:
			status, _, _ := strings.Cut(args, " ")
			n, err := strconv.Atoi(status)
			if err != nil {
				return fmt.Errorf("%w: bad exit marker %q", ErrNoExit, l.Text)
			}
			res.ExitStatus = n
			return nil
		}
	}
	return ErrNoExit
}

// parseUptime reads "uptime=12.34" (seconds from /proc/uptime) in args.
func parseUptime(args string) (time.Duration, bool) {
	for _, f := range strings.Fields(args) {
		if v, ok := strings.CutPrefix(f, "uptime="); ok {
			s, err := strconv.ParseFloat(v, 64)
			if err == nil && s >= 0 {
				return time.Duration(s * float64(time.Second)), true
			}
		}
	}
	return 0, false
}

func lastLine(c *Console) string {
	lines := c.Lines()
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1].Text
}

func newNonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}
