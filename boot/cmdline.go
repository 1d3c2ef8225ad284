package boot

import (
	"fmt"
	"strings"

	"gvmm/vmm"
)

// writeCmdline copies the command line and its terminating NUL to
// vmm.CmdlineAddr. kernelMax is the longest command line the kernel
// accepts, not counting the NUL (the setup header's cmdline_size; PVH has
// no such field and passes vmm.CmdlineMaxSize-1).
//
// Documentation/arch/x86/boot.rst, cmdline_size: "The maximum size of the
// command line without the terminating zero. This means that the command
// line can contain at most cmdline_size characters."
func writeCmdline(mem Memory, cmdline string, kernelMax uint64) error {
	if err := checkCmdline(cmdline, kernelMax); err != nil {
		return err
	}
	buf := make([]byte, len(cmdline)+1) // +1: the terminating NUL
	copy(buf, cmdline)
	if _, err := mem.WriteAt(buf, vmm.CmdlineAddr); err != nil {
		return fmt.Errorf("write command line: %w", err)
	}
	return nil
}

// checkCmdline validates the command line before anything is written.
func checkCmdline(cmdline string, kernelMax uint64) error {
	if i := strings.IndexByte(cmdline, 0); i >= 0 {
		return fmt.Errorf("%w: NUL byte at offset %d would cut it short; remove it", ErrBadCmdline, i)
	}
	n := uint64(len(cmdline))
	if n > vmm.CmdlineMaxSize-1 {
		return fmt.Errorf("%w: %d bytes, gvmm's buffer holds %d; shorten --cmdline",
			ErrCmdlineTooLong, n, vmm.CmdlineMaxSize-1)
	}
	if n > kernelMax {
		return fmt.Errorf("%w: %d bytes, the kernel accepts at most %d (setup header cmdline_size); shorten --cmdline",
			ErrCmdlineTooLong, n, kernelMax)
	}
	return nil
}
