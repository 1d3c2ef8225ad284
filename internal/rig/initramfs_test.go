package rig

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteInitramfsLayout(t *testing.T) {
	dir := t.TempDir()
	host := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	cfg := &Config{
		Command:  "gvmm boot /l2/kernel",
		Busybox:  host("busybox", "BB"),
		GVMM:     host("gvmm", "GV"),
		L2Kernel: host("bzImage", "K2"),
		L2Initrd: host("initrd", "I2"),
		Modules:  []string{host("irqbypass.ko", "m1"), host("kvm.ko", "m2")},
		Files:    []File{{Host: host("extra", "EX"), Guest: "/opt/deep/extra", Executable: true}},
	}
	out, err := os.Create(filepath.Join(dir, "l1.cpio"))
	require.NoError(t, err)
	require.NoError(t, writeInitramfs(out, cfg, "0123456789ab"))
	require.NoError(t, out.Close())
	data, err := os.ReadFile(out.Name())
	require.NoError(t, err)

	members := map[string]newcEntry{}
	var order []string
	for _, e := range readNewc(t, data) {
		members[e.name] = e
		order = append(order, e.name)
	}
	for name, want := range map[string]struct {
		mode uint32
		data string
	}{
		"bin/busybox":              {modeRegular | executable, "BB"},
		"bin/gvmm":                 {modeRegular | executable, "GV"},
		"l2/kernel":                {modeRegular | readable, "K2"},
		"l2/initrd":                {modeRegular | readable, "I2"},
		"rig/modules/irqbypass.ko": {modeRegular | readable, "m1"},
		"rig/modules/kvm.ko":       {modeRegular | readable, "m2"},
		"rig/modules.order":        {modeRegular | readable, "irqbypass\nkvm\n"},
		"rig/command":              {modeRegular | readable, "gvmm boot /l2/kernel\n"},
		"opt/deep/extra":           {modeRegular | executable, "EX"},
		"dev/console":              {modeCharDev | 0o600, ""},
	} {
		e, ok := members[name]
		require.True(t, ok, "%s missing from %v", name, order)
		require.Equal(t, want.mode, e.mode, name)
		require.Equal(t, want.data, e.data, name)
	}
	require.Equal(t, uint32(modeRegular|executable), members["init"].mode)
	// Parents come before children: the kernel does not create directories.
	seen := map[string]bool{}
	for _, name := range order {
		if parent := filepath.Dir(name); parent != "." {
			require.True(t, seen[parent], "%s before its directory %s", name, parent)
		}
		seen[name] = true
	}
}
