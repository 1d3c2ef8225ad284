// Package guest builds what runs inside a gvmm guest: a u-root initramfs whose
// /init is u-root's init and whose uinit is gvmm-agent (see package
// gvmm/guest/agent and command gvmm/guest/cmd/gvmm-agent).
//
// u-root is used as a Go library (github.com/u-root/mkuimage/uimage), not as a
// pre-installed binary: [BuildCPIO] compiles u-root's core commands into one
// busybox-style binary (/bbin/bb, with a symlink per command), compiles
// gvmm-agent as its own static binary (/bin/gvmm-agent), links /bin/uinit to
// it, adds optional extra files and kernel modules, and writes an
// uncompressed newc cpio (Documentation/driver-api/early-userspace/
// buffer-format.rst). Builds are reproducible: Go is run with -trimpath and
// without build IDs, and every cpio record gets mtime 0, owner root and a
// fixed inode, so the same sources give the same bytes and a Makefile can
// cache the output.
//
// Building needs the Go toolchain and the gvmm source tree (the module root
// is found from the working directory or given in [Options.SourceDir]); the
// u-root commands resolve through gvmm's go.mod, which pins their version
// (tools.go keeps them required).
//
// The container runner runs the same root file system: [UnpackCPIO] extracts
// a built cpio into a directory, and [BuildRootFS] builds straight into one.
//
// Layout of the image:
//
//	/init                 -> bbin/init (u-root's init: mounts /proc, /sys, /dev, /tmp; runs /bin/uinit)
//	/bin/uinit            -> gvmm-agent
//	/bin/gvmm-agent       the agent, static
//	/bin/sh, /bin/defaultsh -> ../bbin/gosh
//	/bbin/bb, /bbin/<cmd> the u-root busybox and its command links
//	/lib/gvmm/modules/    kernel modules and modules.order, when given
package guest
