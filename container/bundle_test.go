package container

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

// TestSpecBundles runs the config.json that `runc spec` and `crun spec`
// write, unchanged but for the rootfs it points at: a terminal, the shell,
// a read-only root, the cgroup mount and, for crun, a cgroup namespace.
func TestSpecBundles(t *testing.T) {
	root := testRootfs(t)
	for _, tool := range []string{"runc", "crun"} {
		t.Run(tool, func(t *testing.T) {
			bundle := toolSpecBundle(t, tool)
			require.NoError(t, os.Symlink(root, filepath.Join(bundle, "rootfs")))
			spec, err := LoadBundle(bundle)
			require.NoError(t, err)
			require.True(t, spec.Process.Terminal)
			c, err := Start(Options{Spec: spec, RunDir: t.TempDir(), Remove: true})
			require.NoError(t, err)
			var got bytes.Buffer
			done := make(chan struct{})
			go func() { _, _ = got.ReadFrom(c.Console()); close(done) }()
			_, err = c.Console().Write([]byte("hostname; ls /sys/fs/cgroup | wc -l; touch /x || exit 3\n"))
			require.NoError(t, err)
			st := waitBounded(t, c)
			<-done
			require.Equal(t, 3, st.Code, got.String())
			require.Contains(t, got.String(), tool)
		})
	}
}

// TestDefaultPathsCoverRuncs: gvmm's default masked and read-only paths
// include every one that `runc spec` and `crun spec` write (issue 16).
func TestDefaultPathsCoverRuncs(t *testing.T) {
	for _, tool := range []string{"runc", "crun"} {
		t.Run(tool, func(t *testing.T) {
			spec, err := LoadBundle(toolSpecBundle(t, tool))
			require.NoError(t, err)
			require.NotEmpty(t, spec.Linux.MaskedPaths)
			require.Subset(t, DefaultMaskedPaths, spec.Linux.MaskedPaths)
			require.Subset(t, DefaultReadonlyPaths, spec.Linux.ReadonlyPaths)
		})
	}
}

// toolSpecBundle is a directory holding the config.json that `tool spec`
// writes (runc or crun).
func toolSpecBundle(t *testing.T, tool string) string {
	t.Helper()
	testenv.NeedTool(t, tool, tool)
	bundle := t.TempDir()
	cmd := exec.Command(tool, "spec")
	cmd.Dir = bundle
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bundle
}
