package guest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/cpio"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/mkuimage/uimage/initramfs"
	"github.com/u-root/uio/llog"
)

// Target of every build: gvmm runs x86-64 Linux guests only.
const (
	targetOS   = "linux"
	targetArch = "amd64"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrNoSource means the gvmm module root could not be found.
	ErrNoSource = errors.New("gvmm source tree not found")
	// ErrBadExtraFile means an ExtraFile is malformed or unreadable.
	ErrBadExtraFile = errors.New("bad extra file")
)

// ExtraFile is one host file to copy into the image.
type ExtraFile struct {
	// Src is the file's path on the host.
	Src string
	// Dst is its path in the image, relative to / (a leading / is allowed).
	Dst string
}

// ParseExtraFile parses "SRC:DST" (or "SRC", which keeps the path) as the
// --extra flag takes it.
func ParseExtraFile(s string) (ExtraFile, error) {
	src, dst, found := strings.Cut(s, ":")
	if !found {
		dst = src
	}
	if src == "" || dst == "" {
		return ExtraFile{}, fmt.Errorf("%w: %q: want SRC:DST", ErrBadExtraFile, s)
	}
	return ExtraFile{Src: src, Dst: dst}, nil
}

// Options configure a build. The zero value builds the default image.
type Options struct {
	// ExtraFiles are copied into the image as they are.
	ExtraFiles []ExtraFile
	// Modules are kernel module files (.ko) in load order, dependencies
	// first; they go to ModuleDir with a modules.order file for the agent.
	Modules []string
	// SourceDir is the root of the gvmm module; empty means the module of
	// the working directory (found with `go env GOMOD`).
	SourceDir string
	// Logger receives progress; nil means slog.Default().
	Logger *slog.Logger
}

// BuildCPIO builds the initramfs and writes it to path as an uncompressed newc
// cpio. It writes a temporary file beside path and renames it, so path is
// either the complete new image or untouched.
func BuildCPIO(ctx context.Context, path string, opts Options) error {
	return withBuiltImage(ctx, opts, func(records []cpio.Record) error {
		return writeCPIOFile(path, records)
	})
}

// BuildRootFS builds the same image into the directory dir (created if
// missing) instead of a cpio: the root file system a container runs.
// Device nodes are created only when the caller may mknod.
func BuildRootFS(ctx context.Context, dir string, opts Options) error {
	return withBuiltImage(ctx, opts, func(records []cpio.Record) error {
		return unpackRecords(recordList(records), dir)
	})
}

// withBuiltImage builds the image in memory and hands its records, in archive
// order, to write. The records read their contents from build outputs in a
// temp dir, so write runs before that dir is removed.
func withBuiltImage(ctx context.Context, opts Options, write func([]cpio.Record) error) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	src := opts.SourceDir
	if src == "" {
		var err error
		if src, err = findModuleRoot(ctx); err != nil {
			return err
		}
	}
	files, cleanup, err := imageFiles(opts)
	defer cleanup()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "gvmm-initramfs-")
	if err != nil {
		return fmt.Errorf("initramfs temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	env := golang.Default(
		golang.DisableCGO(), // static binaries: the image has no libc
		golang.WithGOOS(targetOS),
		golang.WithGOARCH(targetArch),
		golang.WithWorkingDir(src),
	)
	archive := cpio.InMemArchive()
	mods := []uimage.Modifier{
		uimage.WithReplaceEnv(env),
		uimage.WithTempDir(tmp),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithBusyboxCommands(corePackages()...),
		uimage.WithBinaryCommands(AgentPackage),
		uimage.WithInit(InitCommand),
		uimage.WithUinit(AgentName),
		uimage.WithShell(ShellCommand),
		uimage.WithFiles(files...),
		// Extra files are kernel modules and data, not host programs:
		// pulling in the host's shared libraries would only break
		// reproducibility.
		uimage.WithSkipLDD(),
		uimage.WithOutput(&initramfs.Archive{Archive: archive}),
	}
	logger.Info("building initramfs", "source", src, "commands", len(CoreCommands)+1)
	if err := uimage.Create(llogFrom(logger), mods...); err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return write(finalRecords(archive))
}

// finalRecords returns the archive's records in order, without the trailer
// (writers add their own) and with the root directory made 0755: mkuimage
// records "." from its 0700 temp dir, and the kernel would chmod the rootfs
// root to that (init/initramfs.c, do_name: init_chmod on a directory).
func finalRecords(a *cpio.Archive) []cpio.Record {
	records := make([]cpio.Record, 0, len(a.Order))
	for _, name := range a.Order {
		r := a.Files[name]
		if r.Name == cpio.Trailer {
			continue
		}
		if r.Name == "." {
			r.Mode = cpio.S_IFDIR | rootDirPerm
		}
		records = append(records, r)
	}
	return records
}

// rootDirPerm is the permission of the image's root directory.
const rootDirPerm = 0o755

// imageFiles turns extra files and modules into mkuimage's "src:dst" list,
// writing the modules.order file into a temp dir.
func imageFiles(opts Options) (files []string, cleanup func(), err error) {
	cleanup = func() {}
	for _, f := range opts.ExtraFiles {
		if _, err := os.Stat(f.Src); err != nil {
			return nil, cleanup, fmt.Errorf("%w: %w", ErrBadExtraFile, err)
		}
		dst := strings.TrimPrefix(path.Clean("/"+f.Dst), "/")
		if dst == "" {
			return nil, cleanup, fmt.Errorf("%w: %s: destination is the root", ErrBadExtraFile, f.Src)
		}
		files = append(files, absPath(f.Src)+":"+dst)
	}
	if len(opts.Modules) == 0 {
		return files, cleanup, nil
	}
	var order strings.Builder
	for _, m := range opts.Modules {
		if _, err := os.Stat(m); err != nil {
			return nil, cleanup, fmt.Errorf("%w: kernel module: %w", ErrBadExtraFile, err)
		}
		name := filepath.Base(m)
		files = append(files, absPath(m)+":"+path.Join(ModuleDir, name))
		order.WriteString(name + "\n")
	}
	orderFile, err := writeTemp(ModuleOrderFile, order.String())
	if err != nil {
		return nil, cleanup, err
	}
	cleanup = func() { os.Remove(orderFile) }
	return append(files, orderFile+":"+path.Join(ModuleDir, ModuleOrderFile)), cleanup, nil
}

// writeTemp writes content to a new temp file. Its mtime does not matter:
// cpio records are made reproducible.
func writeTemp(name, content string) (string, error) {
	f, err := os.CreateTemp("", "gvmm-"+name+"-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// findModuleRoot asks the go command where the current module's go.mod is
// and checks it is gvmm's.
func findModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("%w: go env GOMOD: %w", ErrNoSource, err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("%w: run from inside the gvmm repository", ErrNoSource)
	}
	b, err := os.ReadFile(gomod)
	if err != nil || !isGvmmModule(string(b)) {
		return "", fmt.Errorf("%w: %s is not gvmm's go.mod; run from inside the gvmm repository", ErrNoSource, gomod)
	}
	return filepath.Dir(gomod), nil
}

// llogFrom adapts slog to the level logger mkuimage takes.
func llogFrom(l *slog.Logger) *llog.Logger {
	return llog.New(slog.LevelInfo, func(format string, args ...any) {
		l.Debug(fmt.Sprintf(format, args...))
	})
}

// isGvmmModule reports whether a go.mod declares module gvmm.
func isGvmmModule(gomod string) bool {
	for _, line := range strings.Split(gomod, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "gvmm"
		}
	}
	return false
}

// ModulesFromOrderFile reads a load-order file (module names or .ko file
// names, one a line, dependencies first; "#" starts a comment) and returns
// the module files, found in the order file's directory, for
// Options.Modules.
func ModulesFromOrderFile(orderFile string) ([]string, error) {
	b, err := os.ReadFile(orderFile)
	if err != nil {
		return nil, fmt.Errorf("%w: module order: %w", ErrBadExtraFile, err)
	}
	dir := filepath.Dir(orderFile)
	var mods []string
	for _, line := range strings.Split(string(b), "\n") {
		name, _, _ := strings.Cut(line, "#")
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		file := filepath.Join(dir, strings.TrimSuffix(filepath.Base(name), ".ko")+".ko")
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("%w: module %s listed in %s: %w", ErrBadExtraFile, name, orderFile, err)
		}
		mods = append(mods, file)
	}
	return mods, nil
}
