package layers

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	GoFiles    []string
}

// listAll returns every package of the module.
func listAll(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "gvmm/...").Output()
	require.NoError(t, err, "go list")
	var all []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		all = append(all, p)
	}
	require.NotEmpty(t, all)
	return all
}

// rules maps a package (and everything under it) to the gvmm packages it
// may import, also by prefix. The longest matching key applies.
var rules = map[string][]string{
	"gvmm/vmm":              {},
	"gvmm/devices":          {"gvmm/vmm", "gvmm/devices", "gvmm/guest/ready"},
	"gvmm/boot":             {"gvmm/vmm", "gvmm/boot/acpi"},
	"gvmm/guest/ready":      {},
	"gvmm/guest/agentcfg":   {"gvmm/guest/ready"},
	"gvmm/container":        {"gvmm/container", "gvmm/guest/ready", "gvmm/internal/seccomp"},
	"gvmm/internal/seccomp": {},
}

// under reports whether path is prefix or inside it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// ruleFor returns the longest rule key that path falls under.
func ruleFor(path string) (string, bool) {
	best := ""
	for k := range rules {
		if under(path, k) && len(k) > len(best) {
			best = k
		}
	}
	return best, best != ""
}

func TestImportRules(t *testing.T) {
	checked := 0
	for _, p := range listAll(t) {
		key, ok := ruleFor(p.ImportPath)
		if !ok {
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "gvmm/") {
				continue
			}
			allowed := false
			for _, a := range rules[key] {
				allowed = allowed || under(imp, a)
			}
			assert.True(t, allowed, "%s imports %s: the rules of %s allow only %v", p.ImportPath, imp, key, rules[key])
		}
	}
	assert.Greater(t, checked, 10, "the rules matched the packages they are about")
}

func TestRuleForPicksTheLongestKey(t *testing.T) {
	k, ok := ruleFor("gvmm/guest/agentcfg")
	assert.True(t, ok)
	assert.Equal(t, "gvmm/guest/agentcfg", k)
	_, ok = ruleFor("gvmm/guest/agent")
	assert.False(t, ok, "guest/agent has no rule of its own")
	k, _ = ruleFor("gvmm/devices/virtio/net")
	assert.Equal(t, "gvmm/devices", k)
}

// unsafeName matches NAME_unsafe.go and its build-constrained and test
// variants (NAME_unsafe_amd64.go, NAME_unsafe_test.go).
var unsafeName = regexp.MustCompile(`_unsafe(_[a-z0-9]+)*\.go$`)

// TestUnsafeOnlyInUnsafeFiles: a file that imports "unsafe" is named for it.
func TestUnsafeOnlyInUnsafeFiles(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}} {{end}}{{range .TestGoFiles}}{{$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$d}}/{{.}} {{end}}`,
		"gvmm/...").Output()
	require.NoError(t, err)
	files := strings.Fields(string(out))
	require.NotEmpty(t, files)
	for _, f := range files {
		if unsafeName.MatchString(f) {
			continue
		}
		assert.False(t, importsUnsafe(t, f), "%s imports unsafe: move that code to a _unsafe.go file", f)
	}
}
