// Command rigshell boots gvmm's Linux guest to an interactive console
// inside the nested rig, for hosts whose /dev/kvm cannot boot Linux itself
// (software nested KVM such as kvm_pvm). `make run` (a u-root shell) and
// `make run-debian` (Debian from its disk, a login prompt) use it there.
//
// You type into L2's console through L1's serial console. Ctrl-A x is
// QEMU's escape and ends the whole rig; a guest that ends gvmm (poweroff
// with --acpi, or `shutdown -r`: reboot=k makes it the i8042 reset that
// ends gvmm) ends L1 too.
//
// Each -disk FILE becomes L1's /dev/vdX (a QEMU virtio disk on the host
// file) and, with the same letter, gvmm's --disk /dev/vdX for L2: what
// the guest writes lands in FILE.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gvmm/internal/rig"
)

func main() {
	kernel := flag.String("kernel", "build/kernel/bzImage", "L2 kernel")
	initrd := flag.String("initrd", "build/initramfs.cpio", "L2 initramfs")
	cmdline := flag.String("cmdline", "console=ttyS0 reboot=k panic=-1 gvmm.mode=shell", "L2 kernel command line")
	mem := flag.String("mem", "256M", "L2 memory (gvmm --mem)")
	l1mem := flag.Int("l1-mem", rig.DefaultMemoryMiB, "L1 memory in MiB")
	extra := flag.String("gvmm-flags", "", "further gvmm boot flags, e.g. \"--cpus 2 --acpi --net tap\"")
	var disks diskList
	flag.Var(&disks, "disk", "a host image `file[,ro]` for L2 (repeatable): L1's /dev/vdX, gvmm's --disk /dev/vdX")
	flag.Parse()
	var rigDisks []rig.Disk
	diskFlags := ""
	for i, d := range disks {
		path, ro := strings.CutSuffix(d, ",ro")
		rigDisks = append(rigDisks, rig.Disk{Path: path})
		diskFlags += " --disk /dev/vd" + string(rune('a'+i))
		if ro {
			diskFlags += ",ro"
		}
	}

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
		Command: waitForDisks(len(disks)) + "gvmm boot " + rig.L2KernelPath + " --initrd " + rig.L2InitrdPath +
			" --mem " + *mem + diskFlags + " " + *extra + " --cmdline '" + *cmdline + "'",
		Disks:          rigDisks,
		MemoryMiB:      *l1mem,
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

// diskList collects the repeatable -disk flag.
type diskList []string

func (d *diskList) String() string     { return strings.Join(*d, " ") }
func (d *diskList) Set(s string) error { *d = append(*d, s); return nil }

// waitForDisks is the L1 shell line that waits (up to 30 s) until the
// last of n virtio disks has appeared: virtio_blk probes them in the
// background after its module is loaded.
func waitForDisks(n int) string {
	if n == 0 {
		return ""
	}
	last := "/dev/vd" + string(rune('a'+n-1))
	return fmt.Sprintf("i=0; while [ ! -b %s ] && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done; ", last)
}
