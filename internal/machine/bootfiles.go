package machine

import (
	"fmt"
	"os"

	"gvmm/boot"
	"gvmm/vmm"
)

// bootFiles are the opened kernel and initrd of a Config, ready for the
// loader (boot.Config reads them through io.ReaderAt with their sizes).
type bootFiles struct {
	kernel, initrd *os.File
	cfg            boot.Config
}

// openBootFiles opens the kernel and the initrd and checks that each is a
// regular, non-empty file. The caller closes the result.
func openBootFiles(c *Config) (_ *bootFiles, err error) {
	bf := &bootFiles{cfg: boot.Config{Cmdline: c.Cmdline}}
	defer func() {
		if err != nil {
			bf.Close()
		}
	}()
	if bf.kernel, bf.cfg.KernelSize, err = openRegular(c.Kernel, "kernel"); err != nil {
		return nil, err
	}
	bf.cfg.Kernel = bf.kernel
	if c.Initrd != "" {
		if bf.initrd, bf.cfg.InitrdSize, err = openRegular(c.Initrd, "initrd"); err != nil {
			return nil, err
		}
		bf.cfg.Initrd = bf.initrd
	}
	return bf, nil
}

// openRegular opens path for reading and returns it with its size; what
// names the file in messages ("kernel", "initrd").
func openRegular(path, what string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", what, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		if what == "kernel" {
			return nil, 0, fmt.Errorf("kernel %s: %w: not a regular file", path, boot.ErrNotKernel)
		}
		return nil, 0, fmt.Errorf("%s %s: not a regular file", what, path)
	}
	return f, st.Size(), nil
}

// Close closes the files.
func (bf *bootFiles) Close() {
	if bf.kernel != nil {
		bf.kernel.Close()
	}
	if bf.initrd != nil {
		bf.initrd.Close()
	}
}

// checkBoot validates the kernel, initrd and command line against the
// memory size exactly as the loader will (boot.Check), before /dev/kvm is
// opened: a typo or a wrong file is reported as such on any host.
func (c *Config) checkBoot() error {
	bf, err := openBootFiles(c)
	if err != nil {
		return err
	}
	defer bf.Close()
	if err := boot.Check(vmm.RAMLayout(c.MemSize), bf.cfg); err != nil {
		return fmt.Errorf("kernel %s: %w", c.Kernel, err)
	}
	return nil
}
