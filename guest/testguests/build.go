package testguests

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed *.S *.inc pvh.ld
var sources embed.FS

// Names lists the test guests.
var Names = []string{"hello32", "long64", "echo", "triplefault", "spin", "exit42", "acpioff", "hostile"}

// Build assembles and links every test guest into dir as NAME.elf, using
// gcc (as the C preprocessor and driver of the system assembler, as) and ld,
// exactly as the Makefile does. It returns the paths by name.
func Build(dir string) (map[string]string, error) {
	src, err := os.MkdirTemp("", "gvmm-testguests-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	entries, err := sources.ReadDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := sources.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(src, e.Name()), b, 0o644); err != nil {
			return nil, err
		}
	}
	out := make(map[string]string, len(Names))
	for _, name := range Names {
		obj := filepath.Join(src, name+".o")
		elf := filepath.Join(dir, name+".elf")
		if err := run(src, "gcc", "-m32", "-c", "-x", "assembler-with-cpp", "-o", obj, name+".S"); err != nil {
			return nil, err
		}
		if err := run(src, "ld", "-m", "elf_i386", "--no-warn-rwx-segments", "-T", "pvh.ld", "-o", elf, obj); err != nil {
			return nil, err
		}
		out[name] = elf
	}
	return out, nil
}

func run(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s (install gcc and binutils)", name, strings.Join(args, " "), err, b)
	}
	return nil
}
