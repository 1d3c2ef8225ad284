package container

import (
	"net"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestValidate(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		edit func(*specs.Spec)
		want error
	}{
		{"default is valid", func(*specs.Spec) {}, nil},
		{"no process", func(s *specs.Spec) { s.Process = nil }, ErrBadSpec},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, ErrBadSpec},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, ErrUnsupported},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = root + "/nope" }, ErrNoRootfs},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, ErrBadSpec},
		{"unknown capability", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_FLY"} }, ErrBadSpec},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FUN"}} }, ErrBadSpec},
		{"hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/x"}}} }, ErrUnsupported},
		{"join namespace", func(s *specs.Spec) {
			s.Linux.Namespaces[0].Path = "/proc/1/ns/pid"
		}, ErrUnsupported},
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}, ErrUnsupported},
		{"user namespace without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, ErrBadSpec},
		{"blkio limit", func(s *specs.Spec) { s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{} }, ErrUnsupported},
		{"kernel memory", func(s *specs.Spec) {
			//lint:ignore SA1019 the deprecated field is what Validate must refuse
			s.Linux.Resources.Memory = &specs.LinuxMemory{Kernel: i64(1 << 20)}
		}, ErrUnsupported},
		{"bad device rule", func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Type: "z"})
		}, ErrBadSpec},
		{"extra devices", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda"}} }, ErrUnsupported},
		{"relative mount", func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "x"}) }, ErrBadSpec},
		{"seccomp notify", func(s *specs.Spec) { s.Linux.Seccomp.DefaultAction = specs.ActNotify }, ErrUnsupported},
		{"seccomp errno ENOSYS", func(s *specs.Spec) {
			e := uint(38)
			s.Linux.Seccomp.Syscalls[len(s.Linux.Seccomp.Syscalls)-1].ErrnoRet = &e
		}, nil},
		{"seccomp errno beyond MAX_ERRNO", func(s *specs.Spec) {
			e := uint(4096)
			s.Linux.Seccomp.Syscalls[len(s.Linux.Seccomp.Syscalls)-1].ErrnoRet = &e
		}, ErrBadSpec},
		{"seccomp unknown name", func(s *specs.Spec) {
			s.Linux.Seccomp.Syscalls[0].Names = append(s.Linux.Seccomp.Syscalls[0].Names, "open_tree_atr")
		}, ErrBadSpec},
		{"apparmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "x" }, ErrUnsupported},
		// linux.sysctl: only keys the container has its own copy of.
		{"sysctl net with netns", sysctl("net.ipv4.ip_forward"), nil},
		{"sysctl net with slashes", sysctl("net/ipv4/ip_forward"), nil},
		{"sysctl ipc", sysctl("kernel.shmmax"), nil},
		{"sysctl mqueue", sysctl("fs.mqueue.msg_max"), nil},
		{"sysctl uts", sysctl("kernel.domainname"), nil},
		{"sysctl core_pattern", sysctl("kernel.core_pattern"), ErrUnsupported},
		{"sysctl modprobe", sysctl("kernel.modprobe"), ErrUnsupported},
		{"sysctl vm", sysctl("vm.overcommit_memory"), ErrUnsupported},
		{"sysctl fs not mqueue", sysctl("fs.file-max"), ErrUnsupported},
		{"sysctl traversal", sysctl("net/../kernel/core_pattern"), ErrBadSpec},
		{"sysctl traversal dotted", sysctl("net.ipv4.../../kernel.core_pattern"), ErrBadSpec},
		{"sysctl empty part", sysctl("net..ipv4"), ErrBadSpec},
		{"sysctl net without netns", func(s *specs.Spec) {
			dropNamespace(s, specs.NetworkNamespace)
			sysctl("net.ipv4.ip_forward")(s)
		}, ErrUnsupported},
		{"sysctl ipc without ipcns", func(s *specs.Spec) {
			dropNamespace(s, specs.IPCNamespace)
			sysctl("kernel.msgmax")(s)
		}, ErrUnsupported},
		{"sysctl uts without utsns", func(s *specs.Spec) {
			dropNamespace(s, specs.UTSNamespace)
			sysctl("kernel.hostname")(s)
		}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpec(root, []string{"/bin/true"})
			tt.edit(s)
			err := Validate(s)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// sysctl returns an edit that asks for key = 1.
func sysctl(key string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{key: "1"} }
}

// dropNamespace removes namespace type t from s.
func dropNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	var keep []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			keep = append(keep, ns)
		}
	}
	s.Linux.Namespaces = keep
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64m", 64 << 20, true}, {"1G", 1 << 30, true}, {"8192k", 8 << 20, true},
		{"5242880", 5 << 20, true}, {"4194304b", 4 << 20, true},
		{"", 0, false}, {"-1m", 0, false}, {"lots", 0, false}, {"1m", 0, false},
		{"99999999999g", 0, false}, {"0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemory(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, ErrBadMemory)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseMountOptions(t *testing.T) {
	p := parseMountOptions([]string{"nosuid", "ro", "rw", "noexec", "mode=755", "rslave", "size=64k"})
	require.Equal(t, uintptr(0x2|0x8), p.flags) // MS_NOSUID|MS_NOEXEC; rw cleared ro
	require.NotZero(t, p.propagation)
	require.Equal(t, "mode=755,size=64k", p.data)
}

func TestSignalByName(t *testing.T) {
	for in, want := range map[string]int{"TERM": 15, "sigkill": 9, "9": 9, "HUP": 1} {
		sig, err := SignalByName(in)
		require.NoError(t, err, in)
		require.Equal(t, want, int(sig), in)
	}
	_, err := SignalByName("NOPE")
	require.Error(t, err)
}

func TestDefaultSeccompAssembles(t *testing.T) {
	rules, def, err := seccompRules(DefaultSeccomp())
	require.NoError(t, err)
	require.Equal(t, uint32(unix.SECCOMP_RET_ALLOW), def)
	// clone, once per namespace flag, clone3, then one rule per denied
	// call x86_64 has.
	require.Len(t, rules, len(cloneNamespaceFlags)+1+len(deniedSyscalls)-countUnknown(deniedSyscalls))
	for _, r := range rules {
		require.NotEqual(t, def, r.Action, "every rule denies: libseccomp drops rules with the default's action")
	}
	filter, err := assembleSeccomp(DefaultSeccomp())
	require.NoError(t, err)
	require.Greater(t, len(filter), len(rules), "one comparison per denied call at least")
}

// countUnknown counts the names x86_64 has no system call for (vm86 and
// other 32-bit calls of the deny list).
func countUnknown(names []string) int {
	n := 0
	for _, name := range names {
		if _, ok := syscallNumber(name); !ok {
			n++
		}
	}
	return n
}

func TestNetworkFor(t *testing.T) {
	n := networkFor("0123456789abcdef", 65)
	require.Equal(t, "10.201.1.5", n.HostIP.String())
	require.Equal(t, "10.201.1.6", n.ContainerIP.String())
	require.LessOrEqual(t, len(n.HostIf), 15)
}

func TestStoreNames(t *testing.T) {
	s := testStore(t)
	a := &State{Created: timeNow()}
	require.NoError(t, s.create("web", true, nil, a))
	b := &State{Created: timeNow()}
	require.ErrorIs(t, s.create("web", false, nil, b), ErrNameInUse)
	c := &State{Created: timeNow()}
	require.NoError(t, s.create("", true, nil, c))
	require.NotEqual(t, a.NetIndex, c.NetIndex)
	got, err := s.Get(a.ID[:6])
	require.NoError(t, err)
	require.Equal(t, "web", got.Name)
	require.Equal(t, StatusStopped, got.Status, "no pid and no runtime: stopped")
	_, err = s.Get("nothing")
	require.ErrorIs(t, err, ErrNoContainer)
}

func TestNetIndexOf(t *testing.T) {
	for _, index := range []int{0, 1, 63, 64, 65, 1000, maxNetIndex - 1} {
		got, err := NetIndexOf(networkFor("id", index).ContainerIP)
		require.NoError(t, err)
		require.Equal(t, index, got, "round trip of link %d", index)
	}
	last, err := NetIndexOf(net.ParseIP("10.201.255.254"))
	require.NoError(t, err)
	require.Equal(t, maxNetIndex-1, last)
	for _, bad := range []string{"10.201.0.1", "10.201.0.3", "10.201.0.4", "10.202.0.2", "192.168.0.2", "fd00::2"} {
		_, err := NetIndexOf(net.ParseIP(bad))
		require.ErrorIs(t, err, ErrBadAddress, bad)
	}
	_, err = NetIndexOf(nil)
	require.ErrorIs(t, err, ErrBadAddress)
}

func TestStoreAddress(t *testing.T) {
	s := testStore(t)
	a := &State{Created: timeNow()}
	require.NoError(t, s.create("a", true, net.ParseIP("10.201.255.254"), a))
	require.Equal(t, maxNetIndex-1, a.NetIndex)
	require.Equal(t, "10.201.255.254", a.Net.ContainerIP.String())
	require.Equal(t, "10.201.255.253", a.Net.HostIP.String())
	b := &State{Created: timeNow()}
	require.ErrorIs(t, s.create("b", true, net.ParseIP("10.201.255.254"), b), ErrAddressInUse)
	require.ErrorIs(t, s.create("b", false, net.ParseIP("10.201.0.6"), b), ErrBadAddress, "an address needs --net")
	require.ErrorIs(t, s.create("b", true, net.ParseIP("10.201.0.5"), b), ErrBadAddress)
	require.NoError(t, s.create("b", true, nil, b))
	require.Equal(t, 0, b.NetIndex, "without an address: the first free link")
	c := &State{Created: timeNow()}
	require.ErrorIs(t, s.create("c", true, net.ParseIP("10.201.0.2"), c), ErrAddressInUse)
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"", "web", "web-1", "a.b_c", "0x"} {
		require.NoError(t, validName(ok), ok)
	}
	for _, bad := range []string{"../x", "-x", ".hidden", "a b", "a/b", "x\ny", strings.Repeat("a", maxNameLen+1), "é"} {
		require.ErrorIs(t, validName(bad), ErrBadSpec, bad)
	}
}
