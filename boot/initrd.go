package boot

import (
	"fmt"

	"gvmm/vmm"
)

// placeInitrd chooses where the initrd goes: as high as possible, page
// aligned, ending at or below limit, and not below kernelEnd.
//
// High placement is what every PC boot loader does and what
// Documentation/arch/x86/boot.rst suggests for the 2.03+ protocol
// ("initrd_addr_max: The maximum address that may be occupied by the
// initial ramdisk/ramfs contents"): it keeps the initrd clear of the
// kernel, which grows upwards from its load address while it decompresses
// and sets itself up.
//
// limit is exclusive (one past the highest usable byte); kernelEnd is the
// first byte past everything the kernel may touch before it reads the
// memory map.
func placeInitrd(size, limit, kernelEnd uint64) (uint64, error) {
	if size == 0 {
		return 0, fmt.Errorf("%w: pass a cpio archive or leave --initrd out", ErrInitrdEmpty)
	}
	// The initrd can never go below 1 MiB: the boot structures live there.
	if limit <= vmm.HighMemoryStart || size > limit-vmm.HighMemoryStart {
		return 0, fmt.Errorf("%w: %s does not fit in guest RAM between 1 MiB and %#x; raise --mem or shrink the initrd",
			ErrInitrdTooLarge, sizeString(size), limit)
	}
	addr := (limit - size) &^ pageMask
	if addr < kernelEnd {
		return 0, fmt.Errorf("%w: a %s initrd ending by %#x would start at %#x, inside the kernel's area ending at %#x; raise --mem or shrink the initrd",
			ErrOverlap, sizeString(size), limit, addr, kernelEnd)
	}
	return addr, nil
}

// planInitrd places the initrd of cfg, returning its guest address, or 0
// when the config has no initrd. It writes nothing.
func planInitrd(cfg Config, limit, kernelEnd uint64) (uint64, error) {
	if cfg.Initrd == nil {
		return 0, nil
	}
	if cfg.InitrdSize < 0 {
		return 0, fmt.Errorf("%w: negative size %d", ErrInitrdEmpty, cfg.InitrdSize)
	}
	return placeInitrd(uint64(cfg.InitrdSize), limit, kernelEnd)
}

// writeInitrd copies the initrd to the address planInitrd chose (a no-op
// without an initrd).
func writeInitrd(mem Memory, cfg Config, addr uint64) error {
	if cfg.Initrd == nil || addr == 0 {
		return nil
	}
	return copyToGuest(mem, addr, cfg.Initrd, 0, cfg.InitrdSize, "initrd")
}

// sizeString formats a byte count for messages: whole MiB (rounded up)
// from 1 MiB, KiB below.
func sizeString(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	}
	return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20)
}
