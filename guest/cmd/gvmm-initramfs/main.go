// Command gvmm-initramfs builds gvmm's u-root initramfs (or the same image
// unpacked as a container root file system). It is its own program, not a
// gvmm subcommand, because the image builder (u-root's gobusybox, which
// type-checks Go sources) would add over a millisecond of package
// initialisation and megabytes of memory to every `gvmm boot`.
//
//	go run ./guest/cmd/gvmm-initramfs -o build/initramfs.cpio
//	make initramfs      (the same, cached)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"gvmm/guest"
)

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return fmt.Sprint(*r) }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// runInitramfs implements `gvmm-initramfs -o FILE|--rootfs DIR [--extra
// SRC:DST ...] [--modules ORDER] [--module FILE.ko ...]`: build the u-root
// initramfs with the gvmm agent, as a cpio or unpacked into a directory.
func runInitramfs(args []string) int {
	fs := flag.NewFlagSet("gvmm-initramfs", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gvmm-initramfs -o FILE|--rootfs DIR [--extra SRC:DST ...] [--modules ORDER] [--module FILE.ko ...]\n\n"+
			"Builds the u-root initramfs with gvmm-agent as uinit (newc cpio, uncompressed).\n"+
			"Run it inside the gvmm source tree: it compiles the guest programs with Go.")
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "write the cpio to `FILE`")
	rootfs := fs.String("rootfs", "", "write the image unpacked into `DIR` instead (a container's root file system)")
	var extras, modules repeated
	order := fs.String("modules", "", "add the kernel modules listed, dependencies first, in load-order `FILE` (found beside it)")
	fs.Var(&extras, "extra", "add host file SRC at DST in the image (`SRC:DST`, repeatable)")
	fs.Var(&modules, "module", "add kernel module `FILE.ko` for the agent to load, dependencies first (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if (*out == "") == (*rootfs == "") || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "gvmm-initramfs: want one of -o FILE or --rootfs DIR, and no other arguments; see gvmm-initramfs -h")
		return 2
	}
	opts := guest.Options{Modules: modules}
	if *order != "" {
		mods, err := guest.ModulesFromOrderFile(*order)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gvmm-initramfs: --modules: %v\n", err)
			return 2
		}
		opts.Modules = append(mods, opts.Modules...)
	}
	for _, e := range extras {
		f, err := guest.ParseExtraFile(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gvmm-initramfs: --extra: %v\n", err)
			return 2
		}
		opts.ExtraFiles = append(opts.ExtraFiles, f)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	build := func() error { return guest.BuildCPIO(ctx, *out, opts) }
	if *rootfs != "" {
		build = func() error { return guest.BuildRootFS(ctx, *rootfs, opts) }
	}
	if err := build(); err != nil {
		fmt.Fprintf(os.Stderr, "gvmm-initramfs: %v\n", err)
		return 1
	}
	return 0
}

func main() { os.Exit(runInitramfs(os.Args[1:])) }
