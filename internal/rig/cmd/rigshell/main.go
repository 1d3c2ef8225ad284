// Command rigshell boots gvmm's Linux guest to an interactive u-root shell
// inside the nested rig, for hosts whose /dev/kvm cannot boot Linux itself
// (software nested KVM such as kvm_pvm). `make run` uses it there.
//
// You type into L2's shell through L1's serial console. Ctrl-A x is QEMU's
// escape and ends the whole rig; `shutdown -r` in the guest (a reboot, which
// reboot=k makes the i8042 reset that ends gvmm) ends gvmm, then L1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"gvmm/internal/rig"
)

func main() {
	kernel := flag.String("kernel", "build/kernel/bzImage", "L2 kernel")
	initrd := flag.String("initrd", "build/initramfs.cpio", "L2 initramfs")
	cmdline := flag.String("cmdline", "console=ttyS0 reboot=k panic=-1 gvmm.mode=shell", "L2 kernel command line")
	flag.Parse()

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gvmm-rigshell-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "rigshell:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	gvmm, err := rig.BuildGVMM(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rigshell:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "rigshell: booting an emulated L1 with KVM, then gvmm and Linux inside it (about 30 s); Ctrl-A x quits")
	res, err := rig.Run(ctx, rig.Config{
		GVMM: gvmm, L2Kernel: *kernel, L2Initrd: *initrd, TempDir: dir,
		Command: "gvmm boot " + rig.L2KernelPath + " --initrd " + rig.L2InitrdPath +
			" --mem 256M --cmdline '" + *cmdline + "'",
		Interactive:    true,
		Console:        os.Stdout,
		AttemptTimeout: 24 * time.Hour,
		Attempts:       1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rigshell:", err)
		os.Exit(1)
	}
	os.Exit(res.ExitStatus)
}
