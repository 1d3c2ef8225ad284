package rig_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"time"

	"gvmm/internal/rig"
)

// Boot an L2 kernel with gvmm inside the rig and wait for the guest agent's
// READY line. In Go tests, rigtest.Run does the same and logs the whole
// console on failure.
func ExampleRun() {
	ctx := context.Background()
	gvmm, err := rig.BuildGVMM(ctx, os.TempDir())
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := rig.Run(ctx, rig.Config{
		GVMM:     gvmm,
		L2Kernel: "build/kernel/bzImage",
		L2Initrd: "build/initramfs.cpio",
		Command:  "gvmm boot --initrd " + rig.L2InitrdPath + " --cpus 2 " + rig.L2KernelPath,
	})
	if err != nil {
		fmt.Println(err) // QEMU or a kernel missing, or L1 stuck twice
		return
	}
	line, err := res.Expect(regexp.MustCompile(`READY`), 60*time.Second)
	fmt.Println(res.ExitStatus, line.Text, err)
}
