package guest

import (
	"context"
	"crypto/sha256"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/u-root/mkuimage/cpio"

	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
)

func TestImageLayout(t *testing.T) {
	recs := recordsByName(t, builtImage(t))

	symlinks := map[string]string{
		"init":          "bbin/" + InitCommand,
		"bin/uinit":     AgentName,
		"bin/sh":        "../bbin/" + ShellCommand,
		"bin/defaultsh": "../bbin/" + ShellCommand,
	}
	for _, c := range CoreCommands {
		symlinks["bbin/"+c] = "bb"
	}
	for name, target := range symlinks {
		r, ok := recs[name]
		if assert.True(t, ok, "missing %s", name) {
			assert.Equal(t, uint64(cpio.S_IFLNK), r.Mode&modeTypeMask, name)
			assert.Equal(t, target, string(contents(t, r)), name)
		}
	}

	root, ok := recs["."]
	require.True(t, ok)
	assert.Equal(t, uint64(cpio.S_IFDIR|rootDirPerm), root.Mode, "root directory mode")
	assert.Equal(t, uint64(cpio.S_IFCHR), recs["dev/console"].Mode&modeTypeMask, "u-root's default /dev/console")

	extra, err := os.ReadFile(extraSrc)
	require.NoError(t, err)
	assert.Equal(t, extra, contents(t, recs[extraDst]))
	assert.Equal(t, strings.Join(testModules, "\n")+"\n",
		string(contents(t, recs[ModuleDir+"/"+ModuleOrderFile])), "modules in the given order")
	for _, m := range testModules {
		assert.Equal(t, "module "+m, string(contents(t, recs[ModuleDir+"/"+m])))
	}

	for _, bin := range []string{"bbin/bb", strings.TrimPrefix(AgentPath, "/")} {
		r, ok := recs[bin]
		require.True(t, ok, bin)
		assert.Equal(t, uint64(0o755), r.Mode&modePermMask, bin)
		isStaticELF(t, contents(t, r))
	}
	for name, r := range recs {
		assert.Zero(t, r.MTime, "%s: mtime must be 0 for reproducible images", name)
		assert.Zero(t, r.UID, name)
	}
}

// The unpacked image is what a container runs: its agent, started as a plain
// process with GVMM_READY_FD, must report READY on the pipe.
func TestUnpackedAgentReportsReady(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, UnpackCPIO(builtImage(t), root))
	for _, p := range []string{"init", "bin/uinit", "bbin/ls", "bbin/" + ShellCommand} {
		_, err := os.Stat(filepath.Join(root, p)) // follows the symlinks inside root
		assert.NoError(t, err, p)
	}

	tests := []struct {
		mode string
		stop bool // the agent stays up until SIGTERM
	}{
		{mode: "poweroff"},
		{mode: "stay", stop: true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			r, w, err := os.Pipe()
			require.NoError(t, err)
			defer r.Close()
			var out strings.Builder
			cmd := exec.Command(filepath.Join(root, "bin/uinit"))
			cmd.Dir = root
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
			cmd.Env = []string{agentcfg.EnvReadyFD + "=3", agentcfg.EnvMode + "=" + tt.mode}
			require.NoError(t, cmd.Start())
			w.Close()

			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, 1)
				n, _ := r.Read(b)
				got <- b[:n]
			}()
			select {
			case b := <-got:
				require.Equal(t, []byte{ready.Magic}, b)
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("no READY within 30 s; output:\n%s", out.String())
			}
			if tt.stop {
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			}
			require.NoError(t, cmd.Wait(), out.String())
			assert.Contains(t, out.String(), "gvmm-agent: READY\n")
			assert.Contains(t, out.String(), "gvmm-agent: mode "+tt.mode+"\n")
		})
	}
}

// A second, independent build gives the same files: same contents, modes and
// link targets, since the image is reproducible (and BuildRootFS writes the
// tree a container runs). Skipped with -short: it builds the image again.
func TestReproducibleRootFS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image a second time")
	}
	first := recordsByName(t, builtImage(t))
	dir := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, buildWithCLI(t, "--rootfs", dir))
	for name, r := range first {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if !assert.NoError(t, err, name) {
			continue
		}
		assert.Equal(t, os.FileMode(r.Mode&modePermMask).Perm(), fi.Mode().Perm(), name)
		switch r.Mode & modeTypeMask {
		case cpio.S_IFREG:
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.Equal(t, sha256.Sum256(contents(t, r)), sha256.Sum256(b), "%s differs between builds", name)
		case cpio.S_IFLNK:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			assert.Equal(t, string(contents(t, r)), target, name)
		}
	}
}

func TestBuildBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	out := filepath.Join(t.TempDir(), "out.cpio")
	tests := []struct {
		name string
		opts Options
	}{
		{name: "missing extra file", opts: Options{ExtraFiles: []ExtraFile{{Src: missing, Dst: "x"}}}},
		{name: "extra file onto the root", opts: Options{ExtraFiles: []ExtraFile{{Src: extraSrc, Dst: "/"}}}},
		{name: "missing module", opts: Options{Modules: []string{missing}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := BuildCPIO(context.Background(), out, tt.opts)
			require.ErrorIs(t, err, ErrBadExtraFile)
			_, statErr := os.Stat(out)
			assert.ErrorIs(t, statErr, os.ErrNotExist, "nothing written")
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
			assert.Empty(t, left, "no temp files left")
		})
	}
}

func TestFindModuleRootOutsideRepo(t *testing.T) {
	t.Chdir(t.TempDir())
	err := BuildCPIO(context.Background(), filepath.Join(t.TempDir(), "x.cpio"), Options{})
	assert.ErrorIs(t, err, ErrNoSource)
}

func TestParseExtraFile(t *testing.T) {
	tests := []struct {
		in      string
		want    ExtraFile
		wantErr bool
	}{
		{in: "/a/b:etc/b", want: ExtraFile{Src: "/a/b", Dst: "etc/b"}},
		{in: "/a/b", want: ExtraFile{Src: "/a/b", Dst: "/a/b"}},
		{in: ":etc/b", wantErr: true},
		{in: "/a/b:", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseExtraFile(tt.in)
		if tt.wantErr {
			assert.ErrorIs(t, err, ErrBadExtraFile, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
}

func TestModulesFromOrderFile(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"virtio.ko", "virtio_net.ko"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, m), nil, 0o644))
	}
	order := filepath.Join(dir, "virtio.order")
	require.NoError(t, os.WriteFile(order, []byte("# deps first\nvirtio\n\nvirtio_net.ko\n"), 0o644))
	got, err := ModulesFromOrderFile(order)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "virtio.ko"), filepath.Join(dir, "virtio_net.ko")}, got)

	require.NoError(t, os.WriteFile(order, []byte("virtio_blk\n"), 0o644))
	_, err = ModulesFromOrderFile(order)
	assert.ErrorIs(t, err, ErrBadExtraFile)
	_, err = ModulesFromOrderFile(filepath.Join(dir, "none.order"))
	assert.ErrorIs(t, err, ErrBadExtraFile)
}

// tools.go must import exactly the commands BuildCPIO compiles, or go mod
// tidy may drop a command's dependencies.
func TestToolsGoMatchesCoreCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "tools.go", nil, parser.ImportsOnly)
	require.NoError(t, err)
	var imported []string
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		require.NoError(t, err)
		imported = append(imported, p)
	}
	assert.ElementsMatch(t, corePackages(), imported)
}
