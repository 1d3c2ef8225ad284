package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"gvmm/guest/agentcfg"
	"gvmm/internal/testenv"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("not an ELF module"), 0o644))
	}
}

func TestModulePaths(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "b.ko", "a.ko", "c.ko")

	got, err := modulePaths(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "a.ko"), filepath.Join(dir, "b.ko"), filepath.Join(dir, "c.ko")}, got,
		"without an order file: every .ko, by name")

	got, err = modulePaths(dir, []string{"c", "a.ko"})
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "c.ko"), filepath.Join(dir, "a.ko")}, got, "names as given")

	_, err = modulePaths(dir, []string{"../etc/evil"})
	assert.ErrorIs(t, err, agentcfg.ErrBadConfig)

	order := "# deps first\nc\n\nb.ko\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, ModuleOrderFile), []byte(order), 0o644))
	got, err = modulePaths(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "c.ko"), filepath.Join(dir, "b.ko")}, got, "order file wins")
}

// The kernel rejects a file that is not a module; LoadModules reports it and
// loads nothing. This is a real finit_module(2) call, so it needs root.
func TestLoadModulesRejectsGarbage(t *testing.T) {
	testenv.NeedRoot(t, "finit_module (CAP_SYS_MODULE)")
	dir := t.TempDir()
	touch(t, dir, "garbage.ko")
	loaded, err := LoadModules(dir, nil)
	assert.Empty(t, loaded)
	require.Error(t, err)
	// ENOEXEC: not an ELF module; ENOSYS: a kernel built without module
	// support (CONFIG_MODULES=n), like this project's CI host.
	assert.True(t, errors.Is(err, unix.ENOEXEC) || errors.Is(err, unix.ENOSYS), "got %v", err)
}

func TestLoadModulesMissingFile(t *testing.T) {
	loaded, err := LoadModules(t.TempDir(), []string{"virtio_nope"})
	assert.Empty(t, loaded)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
