package container

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"gvmm/container/nsinit"
)

// TestCgroupMountSteps is the regression test for a "cgroup" mount on a
// unified host without a cgroup namespace, which used to mount the whole
// hierarchy (the host's root group) read-write.
func TestCgroupMountSteps(t *testing.T) {
	const dst = "/sys/fs/cgroup"
	nosuid := uint64(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	mount := func(opts ...string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "cgroup", Source: "cgroup",
			Options: append([]string{"nosuid", "noexec", "nodev"}, opts...)}
	}
	v2 := cgroupView{v2: "/sys/fs/cgroup/gvmm/c1"}
	v1 := cgroupView{v1: map[string]string{"memory": "/sys/fs/cgroup/memory/gvmm/c1", "pids": "/sys/fs/cgroup/pids/gvmm/c1"}}
	tests := []struct {
		name string
		m    specs.Mount
		cg   cgroupView
		ns   bool
		want []nsinit.Mount
	}{
		{"v2 without cgroupns binds the container's own group, ro", mount(), v2, false,
			[]nsinit.Mount{{Source: v2.v2, Destination: dst, Flags: unix.MS_BIND, Remount: nosuid | unix.MS_RDONLY | unix.MS_BIND}}},
		{"v2 without cgroupns, rw asked", mount("rw"), v2, false,
			[]nsinit.Mount{{Source: v2.v2, Destination: dst, Flags: unix.MS_BIND, Remount: nosuid | unix.MS_BIND}}},
		{"v2 with cgroupns mounts cgroup2 at the namespace root, ro", mount(), v2, true,
			[]nsinit.Mount{{Source: "cgroup2", Destination: dst, Type: "cgroup2", Flags: nosuid | unix.MS_RDONLY}}},
		{"v1 binds each controller's own directory, ro", mount("ro"), v1, false, []nsinit.Mount{
			{Source: "tmpfs", Destination: dst, Type: "tmpfs", Flags: nosuid, Data: "mode=755"},
			{Source: v1.v1["memory"], Destination: dst + "/memory", Flags: unix.MS_BIND, Remount: nosuid | unix.MS_RDONLY | unix.MS_BIND},
			{Source: v1.v1["pids"], Destination: dst + "/pids", Flags: unix.MS_BIND, Remount: nosuid | unix.MS_RDONLY | unix.MS_BIND},
			{Kind: nsinit.KindRemount, Destination: dst, Flags: nosuid | unix.MS_RDONLY},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mountSteps(tt.m, tt.cg, tt.ns)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := mountSteps(mount(), cgroupView{}, false)
	require.ErrorIs(t, err, ErrUnsupported, "no group of its own: refuse rather than show the host's")
}
