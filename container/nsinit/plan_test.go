package nsinit

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func fullPlan() *Plan {
	return &Plan{
		CgroupNS: true, LoopbackUp: true, RootPropagation: unix.MS_PRIVATE | unix.MS_REC,
		Rootfs: "/tmp/root:with,odd chars",
		Mounts: []Mount{
			{Source: "proc", Destination: "/proc", Type: "proc"},
			{Source: "/etc/hosts", Destination: "/etc/hosts", Flags: unix.MS_BIND, File: true,
				Remount: unix.MS_BIND | unix.MS_RDONLY, Propagation: unix.MS_SLAVE},
			{Kind: KindRemount, Destination: "/sys/fs/cgroup", Flags: unix.MS_RDONLY},
		},
		SetupDev: true, Sysctl: [][2]string{{"net.ipv4.ip_forward", "1"}},
		MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"},
		ReadonlyRoot: true, Hostname: "gvmm", SetHostname: true, Terminal: true,
		ConsoleRows: 24, ConsoleCols: 80,
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 512, Hard: 1024}},
		Args:    []string{"/bin/sh", "-c", "echo ü"}, Env: []string{"PATH=/bin", ""}, Cwd: "/work",
		User:            User{UID: 1000, GID: 100, AdditionalGids: []uint32{4, 27}, Umask: 0o22, HasUmask: true},
		Caps:            Caps{Bounding: 1 << 40, Effective: 3, Permitted: 3, Inheritable: 1, Ambient: 1},
		NoNewPrivileges: true,
		Seccomp:         []unix.SockFilter{{Code: 0x20, K: 4}, {Code: 0x15, Jt: 1, Jf: 2, K: 0xc000003e}, {Code: 6, K: 0x7fff0000}},
	}
}

func TestPlanRoundTrip(t *testing.T) {
	for _, p := range []*Plan{fullPlan(), {Args: []string{"x"}}} {
		got, err := Decode(p.Encode())
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
}

// TestPlanRejects: init reads its plan from a pipe; whatever arrives there,
// it must fail with a clear error, never panic or allocate without bound.
func TestPlanRejects(t *testing.T) {
	good := fullPlan().Encode()
	other := &encoder{}
	other.str(planMagic)
	other.u64(PlanVersion + 1)
	huge := &encoder{}
	huge.str(planMagic)
	huge.u64(PlanVersion)
	huge.bool(false)
	huge.bool(false)
	huge.u64(0)
	huge.u64(1 << 62) // a string length far past the end
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty (runtime died)", nil, "not a gvmm plan"},
		{"garbage", []byte("{\"spec\":{}}"), "not a gvmm plan"},
		{"other version", other.buf, "different builds"},
		{"truncated", good[:len(good)/2], "truncated"},
		{"huge length", huge.buf, "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "trailing"},
		{"no command", (&Plan{}).Encode(), "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data)
			require.ErrorContains(t, err, tt.want)
		})
	}
	// Every prefix of a valid plan is refused.
	for n := 0; n < len(good); n++ {
		_, err := Decode(good[:n])
		require.Error(t, err, "prefix of %d bytes", n)
	}
}

func TestReadError(t *testing.T) {
	require.NoError(t, ReadError(nil))
	err := ReadError(append([]byte{kindNotFound}, `"nope" not in PATH /bin`...))
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, `"nope" not in PATH /bin`)
	err = ReadError(append([]byte{kindFailed}, "pivot_root: invalid argument"...))
	require.EqualError(t, err, "pivot_root: invalid argument")
}

func TestMainByHand(t *testing.T) {
	require.Equal(t, 2, Main([]string{"gvmm-init"}))
}
