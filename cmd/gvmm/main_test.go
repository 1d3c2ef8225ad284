package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/kvmtest"
	"gvmm/internal/machine"
	"gvmm/internal/testenv"
)

// TestMain removes what testenv built: these tests drive the real gvmm
// binary and the test guests (built once, or the prebuilt ones of `make
// kvm-tests`) as a user does, and check exit codes and stderr.
func TestMain(m *testing.M) { testenv.Main(m) }

// gvmm runs the binary with a deadline and returns stdout, stderr and the
// exit code.
func gvmm(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, code, timedOut := gvmmBounded(t, stdin, 20*time.Second, args...)
	if timedOut {
		t.Fatalf("gvmm %v did not finish in 20 s; stdout:\n%s\nstderr:\n%s", args, out, errOut)
	}
	return out, errOut, code
}

// gvmmBounded runs the binary, killing it after limit; timedOut says it
// had to be killed.
func gvmmBounded(t *testing.T, stdin string, limit time.Duration, args ...string) (string, string, int, bool) {
	t.Helper()
	cmd := exec.Command(kvmtest.StaticGVMM(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return stdout.String(), stderr.String(), code, false
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return stdout.String(), stderr.String(), -1, true
	}
}

func TestBootDemoGuest(t *testing.T) {
	kvmtest.Require(t)
	out, errOut, code := gvmm(t, "", "boot", kvmtest.Guest(t, "hello32"), "--cmdline", "from the test", "--mem", "128M")
	assert.Equal(t, 0, code, "stderr: %s", errOut)
	assert.Contains(t, out, "Hello from a gvmm PVH guest")
	assert.Contains(t, out, "cmdline: from the test")
	assert.Regexp(t, `(?m)^gvmm: READY at [0-9]+ us$`, errOut)
}

func TestBootExitCodes(t *testing.T) {
	kvmtest.Require(t)
	_, _, code := gvmm(t, "", "boot", kvmtest.Guest(t, "exit42"))
	assert.Equal(t, 42, code, "the guest's status becomes gvmm's")
	_, errOut, code := gvmm(t, "", "boot", kvmtest.Guest(t, "triplefault"))
	assert.Equal(t, 0, code, "a triple fault is a reset; with no reboot, gvmm exits 0")
	assert.Contains(t, errOut, "triple fault")
}

// TestBootStatsCountsExits: --stats reports the exits that reached gvmm.
// exit42 prints one line (each byte: an LSR read at 0x3fd, a THR write at
// 0x3f8) and writes its status to the exit port once.
func TestBootStatsCountsExits(t *testing.T) {
	kvmtest.Require(t)
	_, errOut, code := gvmm(t, "", "boot", kvmtest.Guest(t, "exit42"), "--stats")
	require.Equal(t, 42, code, errOut)
	msg := "exiting with 42\r\n"
	assert.Contains(t, errOut, "gvmm: stats: setup_us=")
	assert.Regexp(t, `gvmm: stats: exits=[0-9]+ io=[0-9]+`, errOut)
	assert.Contains(t, errOut, fmt.Sprintf("0x3f8:out=%d", len(msg)), "one exit per byte written")
	assert.Contains(t, errOut, "0x441:out=1", "the status, written once")
	assert.Regexp(t, `0x3fd:in=[1-9][0-9]*`, errOut, "the polls of the line status")
	assert.Regexp(t, `gvmm: stats: kvm exits=[1-9][0-9]* io_exits=[1-9][0-9]*`, errOut, "KVM's own counters")
}

func TestBootEscapeQuits(t *testing.T) {
	kvmtest.Require(t)
	// Ctrl-A x stops a guest that would otherwise spin forever.
	out, _, code := gvmm(t, "\x01x", "boot", kvmtest.Guest(t, "spin"))
	assert.Equal(t, 0, code)
	_ = out
}

func TestBootEchoInput(t *testing.T) {
	kvmtest.Require(t)
	out, _, code := gvmm(t, "typed\x01\x01q", "boot", kvmtest.Guest(t, "echo"))
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "typed\x01", "Ctrl-A Ctrl-A sends one Ctrl-A")
}

func TestBadInputOneLine(t *testing.T) {
	dir := t.TempDir()
	notKernel := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notKernel, []byte("hello\n"), 0o644))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	// A bzImage setup header ("HdrS", protocol 2.15) whose file ends
	// before the header does.
	bz := make([]byte, 0x210)
	copy(bz[0x202:], "HdrS")
	bz[0x206], bz[0x207] = 0x0f, 0x02
	bz[0x201] = 0x6a
	truncatedBz := filepath.Join(dir, "bzImage.part")
	require.NoError(t, os.WriteFile(truncatedBz, bz, 0o644))
	big := filepath.Join(dir, "big.cpio")
	require.NoError(t, os.WriteFile(big, nil, 0o644))
	require.NoError(t, os.Truncate(big, 80<<20))
	disk := filepath.Join(dir, "disk.img")
	require.NoError(t, os.WriteFile(disk, make([]byte, 4096), 0o644))
	busy := filepath.Join(dir, "busy.img")
	require.NoError(t, os.WriteFile(busy, make([]byte, 4096), 0o644))
	holder, err := os.Open(busy)
	require.NoError(t, err)
	defer holder.Close()
	require.NoError(t, syscall.Flock(int(holder.Fd()), syscall.LOCK_EX), "another VM holds busy.img")
	noPerm := filepath.Join(dir, "kvm-noperm")
	require.NoError(t, os.WriteFile(noPerm, nil, 0o000))

	cases := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"no kernel argument", []string{"boot"}, "exactly one KERNEL", 2},
		{"unknown flag", []string{"boot", "--bogus", "k"}, "flag provided but not defined", 2},
		{"memory malformed", []string{"boot", "k", "--mem", "lots"}, "bad memory size", 1},
		// The inputs are checked before /dev/kvm is opened, so these give
		// their own message on a host without KVM too.
		{"kernel missing", []string{"boot", filepath.Join(dir, "nope")}, "no such file", 1},
		{"kernel empty", []string{"boot", empty}, "not", 1},
		{"kernel not a kernel", []string{"boot", notKernel}, "bzImage", 1},
		{"kernel a truncated bzImage", []string{"boot", truncatedBz}, "truncated", 1},
		{"kernel a directory", []string{"boot", dir}, "not a regular file", 1},
		{"initrd missing", []string{"boot", kvmtest.Guest(t, "hello32"), "--initrd", filepath.Join(dir, "nope.cpio")}, "initrd", 1},
		{"initrd too large for memory", []string{"boot", kvmtest.Guest(t, "hello32"), "--initrd", big, "--mem", "64M"}, "initrd too large", 1},
		{"memory too small", []string{"boot", notKernel, "--mem", "1M"}, "too small", 1},
		{"memory too large", []string{"boot", notKernel, "--mem", "64T"}, "too large for this host", 1},
		{"zero vCPUs", []string{"boot", notKernel, "--cpus", "0"}, "vCPU count", 1},
		{"too many vCPUs", []string{"boot", notKernel, "--cpus", "100000"}, "vCPU count", 1},
		{"disk missing", []string{"boot", kvmtest.Guest(t, "hello32"), "--disk", filepath.Join(dir, "nope.img")}, "no such file", 1},
		{"disk empty", []string{"boot", kvmtest.Guest(t, "hello32"), "--disk", empty}, "smaller than one 512-byte sector", 1},
		{"disk a directory", []string{"boot", kvmtest.Guest(t, "hello32"), "--disk", dir}, "not a disk image", 1},
		{"disk given twice", []string{"boot", kvmtest.Guest(t, "hello32"), "--disk", disk, "--disk", disk + ",ro"}, "given twice", 1},
		{"disk in use", []string{"boot", kvmtest.Guest(t, "hello32"), "--disk", busy}, "locked by another process", 1},
		{"disk option unknown", []string{"boot", "k", "--disk", disk + ",readonly"}, "unknown disk option", 2},
		{"no /dev/kvm", []string{"boot", kvmtest.Guest(t, "hello32"), "--kvm", filepath.Join(dir, "kvm")}, "nested virtualization", 1},
		{"unknown command", []string{"frobnicate"}, "unknown command", 2},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name string
			args []string
			want string
			code int
		}{"/dev/kvm unreadable", []string{"boot", kvmtest.Guest(t, "hello32"), "--kvm", noPerm}, "kvm group", 1})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := gvmm(t, "", c.args...)
			assert.Equal(t, c.code, code, "stderr: %s", errOut)
			assert.Contains(t, errOut, c.want)
			if c.code == 1 {
				assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1,
					"one line, got:\n%s", errOut)
				assert.True(t, strings.HasPrefix(errOut, "gvmm: "), errOut)
			}
		})
	}
}

// TestCheckReportsThisHost runs `gvmm check` on a host with KVM: it must
// exit 0, describe the host as the probe does, name the module and give the
// verdict that module deserves.
func TestCheckReportsThisHost(t *testing.T) {
	kvmtest.Require(t)
	out, _, code := gvmm(t, "", "check")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "API version:   12")
	h := systemProbe().facts()
	var host bytes.Buffer
	writeHost(&host, h)
	assert.Contains(t, out, host.String())
	assert.Contains(t, out, "KVM module:    "+describeFlavour(h.module, h.kvmCore)+"\n")
	switch h.module {
	case "kvm_intel", "kvm_amd":
		assert.Contains(t, out, "\nverdict:       OK")
	case "kvm_pvm":
		assert.Contains(t, out, "Linux will not boot to userspace here")
	}
}

// TestCheckWithoutKVM points `gvmm check` at a device that does not exist.
// What it should advise depends on the host, so the real probe decides
// which answer is the truthful one here.
func TestCheckWithoutKVM(t *testing.T) {
	out, _, code := gvmm(t, "", "check", "--kvm", "/nonexistent/kvm")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "/nonexistent/kvm: NOT USABLE (does not exist")
	assert.Regexp(t, `(?m)^verdict: +NO KVM: `, out)
	h := systemProbe().facts()
	switch {
	case h.kvmMinor >= 0: // KVM is registered: the node is what is missing
		assert.Contains(t, out, "mknod /dev/kvm c 10 ")
	case h.hypervisorBit && !h.vmx && !h.svm: // a VM without VT-x/SVM
		assert.Contains(t, out, "loading kvm_intel or kvm_amd cannot help")
		assert.Contains(t, out, "make kvm-tests")
		assert.NotContains(t, out, "modprobe")
	default:
		assert.Contains(t, out, "modprobe")
	}
}

func TestDefaultCmdline(t *testing.T) {
	host := netip.MustParsePrefix("192.168.100.1/24")
	for _, tt := range []struct {
		linux, net bool
		host       netip.Prefix
		want       string
	}{
		{false, true, host, "console=ttyS0"},
		{true, false, host, "console=ttyS0 reboot=k panic=-1"},
		{true, true, host, "console=ttyS0 reboot=k panic=-1 gvmm.ip=192.168.100.2/24 gvmm.http=:80"},
		{true, true, netip.Prefix{}, "console=ttyS0 reboot=k panic=-1"}, // no host address: no guest address
	} {
		got, err := defaultCmdline(tt.linux, tt.net, tt.host)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got)
	}
	// The guest's address is the host's plus one: the end of a subnet
	// leaves none.
	for _, h := range []string{"10.0.0.255/24", "192.168.1.7/32", "255.255.255.255/8"} {
		_, err := defaultCmdline(true, true, netip.MustParsePrefix(h))
		assert.ErrorContains(t, err, "leaves no address for the guest", h)
	}
}

// TestBootConfig: the flags become a machine.Config without any file or
// KVM: defaults for Linux and PVH kernels, --initrd none, the network.
func TestBootConfig(t *testing.T) {
	isLinux := func(p string) bool { return strings.HasSuffix(p, "bzImage") }
	initramfs := func() string { return "/build/initramfs.cpio" }
	flags := func(mod func(*bootFlags)) *bootFlags {
		f, err := parseBootFlags([]string{"k"})
		require.NoError(t, err)
		if mod != nil {
			mod(f)
		}
		return f
	}
	for _, c := range []struct {
		name     string
		flags    *bootFlags
		want     func(*testing.T, machine.Config)
		usage    bool
		inputErr bool
	}{
		{name: "PVH defaults", flags: flags(nil), want: func(t *testing.T, c machine.Config) {
			assert.Equal(t, "k", c.Kernel)
			assert.Empty(t, c.Initrd, "a PVH guest gets no default initramfs")
			assert.Equal(t, "console=ttyS0", c.Cmdline)
			assert.Equal(t, uint64(machine.DefaultMemSize), c.MemSize)
			assert.Equal(t, 1, c.CPUs)
			assert.Nil(t, c.Net)
			assert.True(t, c.ACPI, "ACPI tables by default, as QEMU and Firecracker")
			assert.True(t, c.Sandbox, "confined by default, as Firecracker")
		}},
		{name: "no seccomp", flags: flags(func(f *bootFlags) { f.noSeccomp = true }), want: func(t *testing.T, c machine.Config) {
			assert.False(t, c.Sandbox)
		}},
		{name: "acpi off", flags: flags(func(f *bootFlags) { f.acpi = false }), want: func(t *testing.T, c machine.Config) {
			assert.False(t, c.ACPI)
		}},
		{name: "bzImage defaults", flags: flags(func(f *bootFlags) { f.kernel = "bzImage" }), want: func(t *testing.T, c machine.Config) {
			assert.Equal(t, "/build/initramfs.cpio", c.Initrd)
			assert.Equal(t, "console=ttyS0 reboot=k panic=-1", c.Cmdline)
		}},
		{name: "initrd none", flags: flags(func(f *bootFlags) { f.kernel, f.initrd = "bzImage", "none" }), want: func(t *testing.T, c machine.Config) {
			assert.Empty(t, c.Initrd)
		}},
		{name: "net with host address", flags: flags(func(f *bootFlags) { f.kernel, f.net, f.mac = "bzImage", "tap=t0", "52:54:00:00:00:01" }), want: func(t *testing.T, c machine.Config) {
			require.NotNil(t, c.Net)
			assert.Equal(t, "t0", c.Net.TAP)
			assert.Equal(t, "52:54:00:00:00:01", c.Net.MAC)
			assert.Equal(t, netip.MustParsePrefix("192.168.100.1/24"), c.Net.HostAddr, "parsed once, here")
			assert.Contains(t, c.Cmdline, "gvmm.ip=192.168.100.2/24")
		}},
		{name: "net without host address", flags: flags(func(f *bootFlags) { f.kernel, f.net, f.hostIP = "bzImage", "tap", "" }), want: func(t *testing.T, c machine.Config) {
			assert.False(t, c.Net.HostAddr.IsValid())
			assert.NotContains(t, c.Cmdline, "gvmm.ip=")
		}},
		{name: "explicit command line wins", flags: flags(func(f *bootFlags) { f.kernel, f.cmdline = "bzImage", "quiet" }), want: func(t *testing.T, c machine.Config) {
			assert.Equal(t, "quiet", c.Cmdline)
		}},
		{name: "bad --net", flags: flags(func(f *bootFlags) { f.net = "bridge" }), usage: true},
		{name: "bad --host-addr", flags: flags(func(f *bootFlags) { f.net, f.hostIP = "tap", "192.168.100.1" }), usage: true},
		{name: "bad --mem", flags: flags(func(f *bootFlags) { f.mem = "lots" }), inputErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := bootConfig(c.flags, isLinux, initramfs)
			var ue usageError
			switch {
			case c.usage:
				require.ErrorAs(t, err, &ue)
			case c.inputErr:
				require.Error(t, err)
				assert.False(t, errors.As(err, &ue))
			default:
				require.NoError(t, err)
				c.want(t, cfg)
			}
		})
	}
}

func TestParseBootFlags(t *testing.T) {
	f, err := parseBootFlags([]string{"--mem", "1G", "kernel", "--cpus", "2"})
	require.NoError(t, err)
	assert.Equal(t, "kernel", f.kernel, "flags before and after KERNEL")
	assert.Equal(t, "1G", f.mem)
	assert.Equal(t, 2, f.cpus)
	assert.True(t, f.acpi)
	assert.False(t, f.noSeccomp)
	f, err = parseBootFlags([]string{"kernel", "--no-seccomp"})
	require.NoError(t, err)
	assert.True(t, f.noSeccomp)
	f, err = parseBootFlags([]string{"kernel", "--acpi=false"})
	require.NoError(t, err)
	assert.False(t, f.acpi)
	_, err = parseBootFlags([]string{"a", "b"})
	var ue usageError
	assert.ErrorAs(t, err, &ue)

	// --disk repeats, in order, with its options.
	f, err = parseBootFlags([]string{"k", "--disk", "root.img", "--disk", "data.img,ro,serial=DATA1"})
	require.NoError(t, err)
	assert.Equal(t, diskFlags{{Path: "root.img"}, {Path: "data.img", ReadOnly: true, Serial: "DATA1"}}, f.disks)
	for _, bad := range []string{",ro", "x.img,readonly"} {
		_, err = parseBootFlags([]string{"k", "--disk", bad})
		assert.Error(t, err, bad)
	}
	_, err = parseBootFlags(nil)
	assert.ErrorAs(t, err, &ue)
}

// TestBenchExecsHarness: `gvmm bench` hands over to gvmm-bench beside the
// binary with its arguments, and says how to build it when it is missing.
func TestBenchExecsHarness(t *testing.T) {
	_, stderr, code := gvmm(t, "", "bench", "-n", "1")
	if _, err := os.Stat(filepath.Join(filepath.Dir(kvmtest.StaticGVMM(t)), "gvmm-bench")); err == nil {
		t.Fatal("a gvmm-bench is already beside the test binary")
	}
	if _, err := exec.LookPath("gvmm-bench"); err != nil {
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "make bench")
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
	// A stand-in harness that prints its arguments proves the hand-over.
	stand := filepath.Join(filepath.Dir(kvmtest.StaticGVMM(t)), "gvmm-bench")
	require.NoError(t, os.WriteFile(stand, []byte("#!/bin/sh\necho \"harness: $*\"\nexit 3\n"), 0o755))
	defer os.Remove(stand)
	stdout, _, code := gvmm(t, "", "bench", "-n", "1", "-only", "container")
	assert.Equal(t, 3, code, "the harness's exit code is gvmm's")
	assert.Equal(t, "harness: -n 1 -only container\n", stdout)
}

// TestBootSandboxKillsForbiddenCall runs a guest with gvmm's sandbox on
// (the default), then lets gvmm make a call the allowlist does not name
// (socket(AF_INET), through a test hook): the kernel kills it with SIGSYS.
// With --no-seccomp the same call goes through.
func TestBootSandboxKillsForbiddenCall(t *testing.T) {
	kvmtest.Require(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(kvmtest.StaticGVMM(t), args...)
		cmd.Env = append(os.Environ(), forbiddenCallHook+"=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("gvmm %v did not finish in 20 s:\n%s", args, &out)
		}
		return "", nil
	}
	out, err := run("boot", kvmtest.Guest(t, "hello32"), "--mem", "128M")
	assert.Contains(t, out, "Hello from a gvmm PVH guest", "the guest ran under the filter")
	assert.Contains(t, out, "test hook: socket(AF_INET)")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out)
	ws := ee.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "killed, not exited: %s", out)
	assert.Equal(t, syscall.SIGSYS, ws.Signal())

	out, err = run("boot", kvmtest.Guest(t, "hello32"), "--mem", "128M", "--no-seccomp")
	require.NoError(t, err, out)
	assert.Contains(t, out, "test hook: socket(AF_INET)")
}
