package rig

import (
	"debug/elf"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// Where things live inside the L1 initramfs. Commands passed in Config.Command
// use these paths (e.g. "gvmm boot --initrd /l2/initrd /l2/kernel").
const (
	// GVMMPath is where Config.GVMM is placed; /bin is on PATH.
	GVMMPath = "/bin/gvmm"
	// L2KernelPath is where Config.L2Kernel is placed.
	L2KernelPath = "/l2/kernel"
	// L2InitrdPath is where Config.L2Initrd is placed.
	L2InitrdPath = "/l2/initrd"

	busyboxPath   = "/bin/busybox"
	commandPath   = "/rig/command"
	modulesDir    = "/rig/modules"
	modulesOrder  = "/rig/modules.order"
	consoleMajor  = 5 // Documentation/admin-guide/devices.txt: 5,1 = /dev/console
	consoleMinor  = 1
	executable    = 0o755
	readable      = 0o644
	dirPermission = 0o755
)

// File is one extra host file to copy into the L1 initramfs.
type File struct {
	// Host is the path of a regular file on the host.
	Host string
	// Guest is the absolute path inside L1.
	Guest string
	// Executable marks the file mode 0755 instead of 0644.
	Executable bool
}

// imageBuilder lays out the L1 root file system as a newc cpio, creating
// parent directories on demand.
type imageBuilder struct {
	cpio *cpioWriter
	dirs map[string]bool
}

func (b *imageBuilder) mkdirAll(dir string) error {
	dir = path.Clean(dir)
	if dir == "/" || dir == "." || b.dirs[dir] {
		return nil
	}
	if err := b.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	b.dirs[dir] = true
	return b.cpio.Dir(dir, dirPermission)
}

func (b *imageBuilder) hostFile(guest, host string, perm uint32) error {
	if err := b.mkdirAll(path.Dir(guest)); err != nil {
		return err
	}
	return b.cpio.HostFile(guest, perm, host)
}

func (b *imageBuilder) bytes(guest string, perm uint32, data []byte) error {
	if err := b.mkdirAll(path.Dir(guest)); err != nil {
		return err
	}
	return b.cpio.Bytes(guest, perm, data)
}

// writeInitramfs writes the L1 initramfs for cfg (already defaulted) to out.
func writeInitramfs(out *os.File, cfg *Config, nonce string) error {
	b := &imageBuilder{cpio: newCPIOWriter(out), dirs: map[string]bool{}}
	for _, d := range []string{"/dev", "/proc", "/sys", "/tmp", "/rig"} {
		if err := b.mkdirAll(d); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init's stdio before init can mount
	// devtmpfs (init/main.c, console_on_rootfs), so the node must be in the archive.
	if err := b.cpio.CharDev("/dev/console", 0o600, consoleMajor, consoleMinor); err != nil {
		return err
	}
	if err := b.hostFile(busyboxPath, cfg.Busybox, executable); err != nil {
		return err
	}
	if err := b.bytes("/init", executable, []byte(initScript(cfg, nonce))); err != nil {
		return err
	}
	if err := b.bytes(commandPath, readable, []byte(cfg.Command+"\n")); err != nil {
		return err
	}
	var order strings.Builder
	for _, m := range cfg.Modules {
		name := strings.TrimSuffix(path.Base(m), ".ko")
		if err := b.hostFile(modulesDir+"/"+name+".ko", m, readable); err != nil {
			return err
		}
		fmt.Fprintln(&order, name)
	}
	if err := b.bytes(modulesOrder, readable, []byte(order.String())); err != nil {
		return err
	}
	files := append([]File(nil), cfg.Files...)
	if cfg.GVMM != "" {
		files = append(files, File{Host: cfg.GVMM, Guest: GVMMPath, Executable: true})
	}
	if cfg.L2Kernel != "" {
		files = append(files, File{Host: cfg.L2Kernel, Guest: L2KernelPath})
	}
	if cfg.L2Initrd != "" {
		files = append(files, File{Host: cfg.L2Initrd, Guest: L2InitrdPath})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Guest < files[j].Guest })
	for _, f := range files {
		if !path.IsAbs(f.Guest) {
			return fmt.Errorf("file %s: guest path %q is not absolute", f.Host, f.Guest)
		}
		perm := uint32(readable)
		if f.Executable {
			perm = executable
		}
		if err := b.hostFile(f.Guest, f.Host, perm); err != nil {
			return err
		}
	}
	return b.cpio.Close()
}

// checkStatic fails unless the ELF file at p has no program interpreter: the
// L1 initramfs has no dynamic loader or libc.
func checkStatic(p, fix string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w (%s)", p, err, fix)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; L1 has no libc: %s", p, fix)
		}
	}
	return nil
}
