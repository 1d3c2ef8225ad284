package machine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/boot"
	"gvmm/internal/kvmtest"
	"gvmm/internal/testenv"
	"gvmm/vmm"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// guest returns the path of a built test guest.
func guest(t *testing.T, name string) string {
	t.Helper()
	return kvmtest.Guest(t, name)
}

// boot runs a guest with a 10 s deadline and returns the result and the
// console output.
func bootGuest(t *testing.T, cfg Config) (Result, string) {
	t.Helper()
	kvmtest.Require(t)
	console := &testenv.SyncBuffer{}
	cfg.ConsoleOut = console
	if cfg.MemSize == 0 {
		cfg.MemSize = 64 << 20
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "guest did not finish within the deadline; console:\n%s", console)
	return res, console.String()
}

func TestBootTestGuests(t *testing.T) {
	cases := []struct {
		guest   string
		cmdline string
		input   string
		cpus    int
		acpi    bool
		want    []string
		reason  StopReason
		code    int
		ready   bool
	}{
		{guest: "hello32", cmdline: "console=ttyS0 gvmm.test=1",
			want:   []string{"Hello from a gvmm PVH guest", "cmdline: console=ttyS0 gvmm.test=1"},
			reason: GuestExit, code: 0, ready: true},
		{guest: "hello32", cpus: 4, want: []string{"Hello from a gvmm PVH guest"},
			reason: GuestExit, code: 0, ready: true},
		{guest: "long64", want: []string{"32-bit protected mode", "Hello from 64-bit long mode"},
			reason: GuestExit, code: 0, ready: true},
		{guest: "echo", input: "hello, echo!q", want: []string{"echo ready", "hello, echo!", "bye"},
			reason: GuestExit, code: 0, ready: true},
		{guest: "triplefault", want: []string{"about to triple fault"}, reason: Shutdown, code: 0},
		{guest: "exit42", want: []string{"exiting with 42"}, reason: GuestExit, code: 42},
		// Soft-off through the FADT's sleep control register, found by
		// walking the ACPI tables from hvm_start_info.
		{guest: "acpioff", cpus: 2, acpi: true, want: []string{"powering off through ACPI"}, reason: Poweroff, code: 0},
		{guest: "acpioff", want: []string{"ACPI tables not found"}, reason: GuestExit, code: 1},
	}
	for _, c := range cases {
		t.Run(c.guest, func(t *testing.T) {
			cfg := Config{Kernel: guest(t, c.guest), Cmdline: c.cmdline, CPUs: c.cpus, ACPI: c.acpi}
			if c.input != "" {
				cfg.Input = strings.NewReader(c.input)
			}
			res, out := bootGuest(t, cfg)
			for _, w := range c.want {
				assert.Contains(t, out, w)
			}
			assert.Equal(t, c.reason, res.Reason, "result %v; console:\n%s", res, out)
			assert.Equal(t, c.code, res.ExitCode)
			if c.reason == Shutdown {
				assert.Regexp(t, `^vcpu0: rip=0x[0-9a-f]+ rsp=`, res.CPUState, "the registers at the triple fault are reported")
			} else {
				assert.Empty(t, res.CPUState)
			}
			if c.ready {
				assert.Greater(t, res.ReadyAt, int64(0), "READY timestamp")
			} else {
				assert.Equal(t, int64(-1), res.ReadyAt)
			}
		})
	}
}

func TestStopSpinningGuest(t *testing.T) {
	kvmtest.Require(t)
	console := &testenv.SyncBuffer{}
	readyc := make(chan int64, 1)
	m, err := New(Config{
		Kernel: guest(t, "spin"), MemSize: 64 << 20, CPUs: 2, ConsoleOut: console,
		OnReady: func(us int64) { readyc <- us },
	})
	require.NoError(t, err)
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	resc := make(chan Result, 1)
	go func() { resc <- m.Run(ctx) }()
	select {
	case <-readyc:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no READY from the spinning guest; console:\n%s", console)
	}
	cancel()
	select {
	case res := <-resc:
		assert.Equal(t, Stopped, res.Reason)
		assert.Equal(t, 0, res.ExitCode)
	case <-time.After(10 * time.Second):
		t.Fatal("VM did not stop within 10 s of cancel")
	}
	assert.Contains(t, console.String(), "spinning")
}

func TestGuestMemoryUntouched(t *testing.T) {
	// MAP_NORESERVE and lazy KVM mapping: a 1 GiB guest running the demo
	// must not cost 1 GiB of host memory. The VMM writes only the boot
	// structures and the kernel.
	res, _ := bootGuest(t, Config{Kernel: guest(t, "hello32"), MemSize: 1 << 30})
	assert.Equal(t, GuestExit, res.Reason)
	rss := vmRSSKiB(t)
	assert.Less(t, rss, int64(512<<10), "process RSS %d KiB after a 1 GiB guest", rss)
	// The guest itself touched a few pages around 1 MiB and the boot
	// structures below it: with 2 MiB huge pages, a handful of those.
	assert.NotZero(t, res.GuestResident, "the kernel and boot structures are resident")
	assert.LessOrEqual(t, res.GuestResident, uint64(8<<20), "resident guest RAM %d KiB", res.GuestResident>>10)
}

func vmRSSKiB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			require.Len(t, f, 3)
			kib, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kib
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestBadInput: every bad input is its own one-line error, found before
// /dev/kvm is opened (the cases run with a KVM path that does not exist,
// so an input reported after the device would show up as vmm.ErrNoKVM).
// It needs no KVM and runs on every host.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	noKVM := filepath.Join(dir, "no-such-kvm")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	hello, err := os.ReadFile(guest(t, "hello32"))
	require.NoError(t, err)
	empty := write("empty", nil)
	text := write("text", []byte("this is not a kernel, just some words\n"))
	truncated := write("truncated.elf", hello[:100])
	// An ELF whose segment lies at 1 MiB, booted with 4 MiB of RAM, then
	// moved past RAM by patching p_paddr (ELF32 phdr at e_phoff=52,
	// p_paddr at +12) to 64 MiB.
	outside := append([]byte(nil), hello...)
	outside[52+12+3] = 0x04 // p_paddr = 0x04100000
	outsidePath := write("outside.elf", outside)
	// A sparse 80 MiB initrd for a 64 MiB guest: costs no disk.
	big := filepath.Join(dir, "big.cpio")
	require.NoError(t, os.WriteFile(big, nil, 0o644))
	require.NoError(t, os.Truncate(big, 80<<20))

	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"kernel missing", Config{Kernel: filepath.Join(dir, "nope")}, os.ErrNotExist},
		{"initrd empty", Config{Kernel: guest(t, "hello32"), Initrd: empty}, boot.ErrInitrdEmpty},
		{"initrd larger than memory", Config{Kernel: guest(t, "hello32"), Initrd: big}, boot.ErrInitrdTooLarge},
		{"initrd is a directory", Config{Kernel: guest(t, "hello32"), Initrd: dir}, nil},
		{"command line too long", Config{Kernel: guest(t, "hello32"), Cmdline: strings.Repeat("x", vmm.CmdlineMaxSize)}, boot.ErrCmdlineTooLong},
		{"kernel is a directory", Config{Kernel: dir}, boot.ErrNotKernel},
		{"kernel empty", Config{Kernel: empty}, boot.ErrNotKernel},
		{"kernel not ELF", Config{Kernel: text}, boot.ErrNotKernel},
		{"ELF truncated", Config{Kernel: truncated}, nil},
		{"segment outside RAM", Config{Kernel: outsidePath}, nil},
		{"initrd missing", Config{Kernel: guest(t, "hello32"), Initrd: filepath.Join(dir, "nope")}, os.ErrNotExist},
		{"memory too small", Config{Kernel: guest(t, "hello32"), MemSize: 1 << 20}, ErrMemTooSmall},
		{"memory too large", Config{Kernel: guest(t, "hello32"), MemSize: 1 << 50}, ErrMemTooLarge},
		{"memory unaligned", Config{Kernel: guest(t, "hello32"), MemSize: 64<<20 + 1}, ErrBadMemSize},
		{"hugetlb memory not in 2 MiB", Config{Kernel: guest(t, "hello32"), MemSize: 65 << 20, HugeTLB: true}, ErrBadMemSize},
		{"zero vCPUs", Config{Kernel: guest(t, "hello32"), CPUs: -1}, ErrBadCPUs},
		{"too many vCPUs", Config{Kernel: guest(t, "hello32"), CPUs: MaxCPUs + 1}, ErrBadCPUs},
		{"no /dev/kvm", Config{Kernel: guest(t, "hello32"), KVMPath: filepath.Join(dir, "kvm")}, vmm.ErrNoKVM},
		{"/dev/kvm not a KVM device", Config{Kernel: guest(t, "hello32"), KVMPath: text}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			if cfg.MemSize == 0 {
				cfg.MemSize = 64 << 20
			}
			if cfg.CPUs == 0 {
				cfg.CPUs = 1
			}
			if cfg.CPUs < 0 {
				cfg.CPUs = 0
			}
			if cfg.KVMPath == "" {
				cfg.KVMPath = noKVM
			}
			m, err := New(cfg)
			if m != nil {
				m.Close()
			}
			require.Error(t, err)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want)
			}
			if c.cfg.KVMPath == "" {
				assert.NotErrorIs(t, err, vmm.ErrNoKVM, "the input is checked before /dev/kvm is opened")
			}
			assert.NotContains(t, err.Error(), "\n", "errors are one line")
		})
	}
}

func TestParseMemSize(t *testing.T) {
	good := map[string]uint64{
		"256M": 256 << 20, "1G": 1 << 30, "512MiB": 512 << 20, "64m": 64 << 20,
		"2048K": 2 << 20, "268435456": 256 << 20, "1gb": 1 << 30,
	}
	for in, want := range good {
		got, err := ParseMemSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "M", "abc", "-1G", "1.5G", "0", "0M", "99999999999T"} {
		_, err := ParseMemSize(in)
		assert.Error(t, err, in)
	}
}
