package machine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckDisks: the disk list is checked, and every image opened and
// locked, before anything else is created.
func TestCheckDisks(t *testing.T) {
	dir := t.TempDir()
	img := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, make([]byte, 8192), 0o644))
		return p
	}
	a, b := img("a.img"), img("b.img")
	for _, c := range []struct {
		name  string
		disks []DiskConfig
		want  string
	}{
		{"none", nil, ""},
		{"two, one read-only", []DiskConfig{{Path: a}, {Path: b, ReadOnly: true}}, ""},
		{"too many", make([]DiskConfig, MaxDisks+1), "at most"},
		{"no path", []DiskConfig{{}}, "no path"},
		{"twice", []DiskConfig{{Path: a}, {Path: filepath.Join(dir, ".", "a.img"), ReadOnly: true}}, "given twice (as vda and vdb)"},
		{"serial too long", []DiskConfig{{Path: a, Serial: strings.Repeat("s", 21)}}, "longer than 20 bytes"},
		{"missing", []DiskConfig{{Path: filepath.Join(dir, "none.img")}}, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Disks: c.disks}
			err := cfg.checkDisks()
			if c.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, c.want)
		})
	}
	assert.Equal(t, "vdc", DiskName(2))
}
