# gvmm: a tiny KVM hypervisor in Go, and a container runner beside it.
#
#   make run    build gvmm and boot the demo guest (later: Linux to a shell)
#   make test   everything CI runs: lint, unit tests with -race, fuzz seeds,
#               KVM tests on /dev/kvm, and the end-to-end rig
#
# Go comes from /usr/local/go on Debian images; the tools below are what
# .ci/run installs.

export PATH := $(PATH):/usr/local/go/bin
GO        ?= go
BUILD     ?= build
GUESTS    := hello32 long64 echo triplefault spin exit42 acpioff hostile
STATICCHECK_VERSION ?= v0.8.2
ACTIONLINT_VERSION  ?= v1.7.7

.PHONY: all gvmm testguests run demo test lint unit kvm-tests e2e fuzz bench bench-floor bench-net bench-exits bench-disk clean initramfs initramfs-debian initramfs-nginx

all: gvmm testguests

# gvmm is static (no cgo) so the same binary runs in the nested rig's L1.
# gvmm-init, the containers' small first process (C, container/cinit),
# goes beside it, static too; container.InitCompile is the same command.
# Without it gvmm says so and re-executes itself as init, about 4 ms slower.
gvmm:
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/gvmm ./cmd/gvmm
	cc -static -Os -Wall -Wextra -Werror -o $(BUILD)/gvmm-init container/cinit/gvmm-init.c

# The tiny PVH test guests, assembled with the system assembler (gcc drives
# cpp and as) and linked with ld. guest/testguests.Build does the same for
# go test.
testguests: $(GUESTS:%=$(BUILD)/testguests/%.elf)

$(BUILD)/testguests/%.elf: guest/testguests/%.S guest/testguests/common.inc guest/testguests/lib32.inc guest/testguests/pvh.ld
	@mkdir -p $(@D)
	gcc -m32 -c -x assembler-with-cpp -Iguest/testguests -o $(@:.elf=.o) $<
	ld -m elf_i386 --no-warn-rwx-segments -T guest/testguests/pvh.ld -o $@ $(@:.elf=.o)

# run: build the kernel and the initramfs and boot Linux to a u-root shell.
# On hardware KVM gvmm boots it directly; where /dev/kvm is a software
# nested KVM (kvm_pvm), which cannot boot Linux, it boots inside the nested
# rig instead (Ctrl-A x quits there).
RUN_CMDLINE ?= console=ttyS0 reboot=k panic=-1 gvmm.mode=shell
run: gvmm kernel initramfs
	@if $(BUILD)/gvmm check | grep -q '^verdict: *OK'; then \
	  echo "booting Linux with gvmm (Ctrl-A x quits, shutdown -r ends the VM)"; \
	  $(BUILD)/gvmm boot $(BUILD)/kernel/bzImage --initrd $(BUILD)/initramfs.cpio --cmdline "$(RUN_CMDLINE)"; \
	else \
	  $(BUILD)/gvmm check | sed -n 's/^verdict: *//p'; \
	  $(MAKE) --no-print-directory kernel-debian rig-qemu >/dev/null; \
	  $(GO) run ./internal/rig/cmd/rigshell -cmdline "$(RUN_CMDLINE)"; \
	fi

# demo: the tiny PVH demo guest, which runs on any /dev/kvm in milliseconds.
demo: gvmm testguests
	$(BUILD)/gvmm boot $(BUILD)/testguests/hello32.elf --cmdline "hello from make demo"

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) .github/workflows/*.yml

# unit: every package's tests with the race detector. Tests that need
# /dev/kvm run here on any host that has it (and skip, saying why, where
# it is absent: kvm-tests runs them then); fuzz targets run their seed
# corpora. The bench harness's tests run real containers on the initramfs
# images, so they come first; the boot loaders' tests load the minimal
# kernel (bzImage and vmlinux, from the cache once built).
unit: initramfs initramfs-nginx kernel
	env -u GVMM_E2E GVMM_TEST_BZIMAGE=$(CURDIR)/$(BUILD)/kernel/bzImage \
	  GVMM_TEST_VMLINUX=$(CURDIR)/$(BUILD)/kernel/vmlinux \
	  $(GO) test -race -count=1 -timeout 15m ./...

# fuzz: run each fuzz target for FUZZTIME (not part of make test).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

# fuzz-long: every fuzz target for FUZZ_LONG_TIME each (default 5m; or a
# count, FUZZ_LONG_TIME=1000000x), the grown corpus copied into
# testdata/fuzz (FUZZ_KEEP=0: not), a summary of executions and findings
# per target in build/fuzz-long.tsv. See internal/fuzz-long.sh.
.PHONY: fuzz-long
fuzz-long:
	GO=$(GO) internal/fuzz-long.sh

# soak: SOAK_CYCLES (1000) start/stop cycles of a container in one runtime
# process, checking every 100 that its descriptors, threads, memory,
# cgroups, state entries and mounts did not grow (container.TestSoak).
SOAK_CYCLES ?= 1000
.PHONY: soak
soak:
	GVMM_SOAK=$(SOAK_CYCLES) $(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./container/

# kvm-tests: every test that needs /dev/kvm (every test that calls
# kvmtest.Require), built as static test binaries with their test guests
# and artefacts, run with GVMM_REQUIRE_KVM=1 so that none can skip: on the
# host's /dev/kvm when it is usable, else inside one L1 of the nested rig
# (internal/kvmtest/suite). Ends with "kvm-tests: N passed, N failed, N
# skipped" and fails on any failure or skip. The rig needs the Debian
# kernel (L1) and the rig's QEMU, built first where there is no /dev/kvm.
KVM_RIG_DEPS := $(if $(wildcard /dev/kvm),,kernel-debian rig-qemu)
kvm-tests: $(KVM_RIG_DEPS)
	$(GO) run ./internal/kvmtest/cmd/kvm-tests

# bench-floor: process start to READY and VMM RSS for the PVH demo guest,
# beside a raw KVM C program and QEMU microvm, 20 starts each; inside the
# nested rig (and labelled so) where the host has no /dev/kvm.
bench-floor: $(KVM_RIG_DEPS)
	$(GO) run ./internal/kvmtest/cmd/kvm-tests -bench -benchtime 20x

# bench: Castles vs Villages (bench/harness, bench/report). Starts every
# subject BENCH_N times after a warm-up, interleaved round by round, and
# writes $(BUILD)/bench/results.json, report.md, startup.svg and memory.svg.
# The harness builds gvmm, the agent, the test guests, its launcher and
# gokvm (from the Go module proxy) from source; the u-root initramfs is the
# containers' root file system. The Linux rows need a KVM that boots Linux:
# on a kvm_pvm host they run inside the nested rig instead (BENCH_RIG_N
# starts each, 3 by default, one L1 for all of them, about 30 minutes;
# BENCH_RIG=never skips them; the rig's console goes to
# $(BUILD)/bench/rig-console.log). The kernels and the rig's QEMU are
# built first when they can be; where they cannot (no linux-source-6.1
# outside Debian), their rows are skipped with the reason.
# BENCH_ONLY=container runs the container half only (CI without usable
# KVM). Then, unless BENCH_ONLY=container, the Debian disk VM's rows
# (make bench-disk, $(BUILD)/bench-disk.md). Needs root (containers).
BENCH_N ?= 20
BENCH_RIG_DEPS := $(if $(wildcard /sys/module/kvm_pvm),rig-qemu)
BENCH_VM_DEPS := $(if $(filter container,$(BENCH_ONLY)),,kernel kernel-debian initramfs-debian $(BENCH_RIG_DEPS))
bench: gvmm initramfs initramfs-nginx
	@$(if $(BENCH_VM_DEPS),$(MAKE) $(BENCH_VM_DEPS) || echo "bench: WARNING: could not build $(BENCH_VM_DEPS); the rows that need them are reported as skipped with the make target to run",true)
	$(GO) build -o $(BUILD)/gvmm-bench ./bench/cmd/gvmm-bench
	$(BUILD)/gvmm bench -n $(BENCH_N) -out $(BUILD)/bench -build $(BUILD) $(if $(BENCH_ONLY),-only $(BENCH_ONLY))
	$(if $(filter container,$(BENCH_ONLY)),,$(MAKE) --no-print-directory bench-disk)

# bench-net: host<->guest TCP throughput and VMM CPU per GB, gvmm's
# virtio-net against QEMU's, both VMs side by side in one L1 of the nested
# rig (bench/netrig_test.go), L1 on one CPU. About 20 minutes. The table goes to
# $(BUILD)/bench-net.md.
bench-net: kernel kernel-debian initramfs rig-qemu
	GVMM_E2E=1 GVMM_BENCH_NET_OUT=$(CURDIR)/$(BUILD)/bench-net.md \
	  $(GO) test -run '^$$' -bench VirtioNetRig -benchtime 1x -timeout 60m ./bench/

# bench-exits: VM exits per boot (KVM's counters in L1's debugfs, read at
# READY) and time to READY, gvmm against QEMU microvm, the minimal kernel
# (bzImage and PVH) and Debian's, alternating in one L1 of the nested rig,
# medians of 3 (bench/exitsrig_test.go). The table goes to
# $(BUILD)/bench-exits.md.
bench-exits: kernel kernel-debian initramfs initramfs-debian rig-qemu
	GVMM_E2E=1 GVMM_BENCH_EXITS_OUT=$(CURDIR)/$(BUILD)/bench-exits.md \
	  $(GO) test -run '^$$' -bench BootExitsRig -benchtime 1x -timeout 60m ./bench/

# bench-disk: the Debian disk VM (make image-debian), gvmm against QEMU
# microvm with the same kernel, initramfs and disk image, alternating in
# one L1 of the nested rig, medians of 3: time to READY (nginx up) and to
# the login prompt, RSS, and 4 KiB fio IOPS in the guest
# (bench/diskrig_test.go). About 25 minutes. The table goes to
# $(BUILD)/bench-disk.md.
bench-disk: kernel-debian image-debian rig-qemu
	GVMM_E2E=1 GVMM_BENCH_DISK_OUT=$(CURDIR)/$(BUILD)/bench-disk.md \
	  $(GO) test -run '^$$' -bench DiskRig -benchtime 1x -timeout 100m ./bench/

# The u-root initramfs with the gvmm agent (guest/), cached under
# ~/.cache/gvmm by the hash of its sources; -debian adds the Debian cloud
# kernel's virtio modules for the agent to load.
initramfs:
	guest/build-initramfs.sh $(BUILD)/initramfs.cpio

# initramfs-nginx: the u-root initramfs plus Debian's nginx, its libraries
# and guest/nginx/ (the bench's NGINX workload, VM and container); cached
# like initramfs. Needs `apt-get update` (the .deb files come from the
# Debian mirror; nothing is installed on the host).
initramfs-nginx:
	guest/build-nginx-initramfs.sh $(BUILD)/initramfs-nginx.cpio

# image-debian: a Debian bookworm VM that boots from its own disk
# (guest/debian-image/build.sh): mmdebstrap makes the tree from Debian's
# packages (systemd, nginx, fio, Debian's cloud kernel and its initramfs),
# mkfs.ext4 -d the disk. -> $(BUILD)/debian-image/{vmlinuz,initrd.img,
# cmdline,image.ext4,rootfs.ext4}. About 2 minutes when not cached; needs
# root and the Debian mirror.
.PHONY: image-debian run-debian
image-debian:
	guest/debian-image/build.sh $(BUILD)/debian-image

# run-debian: boot that VM, two vCPUs, the TAP network (nginx answers on
# 192.168.100.2 from the host), to a login prompt on the serial console:
# log in as root, no password; poweroff ends it. The disk is
# $(BUILD)/debian-image/rootfs.ext4 and keeps what you do (delete it for
# a fresh one). Where /dev/kvm cannot boot Linux it runs in the rig,
# as make run does (Ctrl-A x quits there).
DEBIAN_VM_FLAGS := --mem 1G --cpus 2 --net tap
run-debian: gvmm image-debian
	@d=$(BUILD)/debian-image; cmdline="$$(cat $$d/cmdline) gvmm.ip=192.168.100.2/24"; \
	if $(BUILD)/gvmm check | grep -q '^verdict: *OK'; then \
	  echo "booting Debian from $$d/rootfs.ext4 (log in as root; poweroff ends the VM)"; \
	  $(BUILD)/gvmm boot $$d/vmlinuz --initrd $$d/initrd.img --disk $$d/rootfs.ext4 $(DEBIAN_VM_FLAGS) --cmdline "$$cmdline"; \
	else \
	  $(BUILD)/gvmm check | sed -n 's/^verdict: *//p'; \
	  $(MAKE) --no-print-directory kernel-debian rig-qemu >/dev/null; \
	  $(GO) run ./internal/rig/cmd/rigshell -kernel $$d/vmlinuz -initrd $$d/initrd.img \
	    -disk $$d/rootfs.ext4 -mem 1G -l1-mem 3072 -gvmm-flags "$(filter-out --mem 1G,$(DEBIAN_VM_FLAGS))" -cmdline "$$cmdline"; \
	fi

initramfs-debian: kernel-debian
	guest/build-initramfs.sh $(BUILD)/initramfs-debian.cpio --modules $(BUILD)/debian-kernel/modules/virtio.order

# e2e: boot the real kernels with the real initramfs. On this project's CI
# machines /dev/kvm is kvm_pvm (no Linux boots under it), so the tests run
# gvmm inside the nested rig (internal/rig): a QEMU TCG L1 with kvm-amd.
# -p 1: one L1 at a time; two emulators on two cores starve each other.
e2e: kernel kernel-debian initramfs initramfs-debian image-debian rig-qemu
	GVMM_E2E=1 $(GO) test -p 1 -count=1 -timeout 40m ./internal/e2e/ ./internal/rig/...

test: lint unit kvm-tests e2e

clean:
	rm -rf $(BUILD)

# seccomp-table: regenerate container/seccomp_syscalls.go (the system call
# names seccomp profiles may use) from the newest Debian linux-libc-dev.
.PHONY: seccomp-table
seccomp-table:
	container/gen-syscalls.sh

# --- kernel and rig (helper) ---
# Guest kernels (guest/kernel/) and the end-to-end rig (internal/rig/).
# Both kernels are cached outside the checkout, keyed by their inputs, under
# $${GVMM_CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/gvmm}; see the scripts.

# kernel: gvmm's minimal microVM kernel (linux-source-6.1 + guest/kernel/microvm.config)
# -> $(BUILD)/kernel/{bzImage,vmlinux,config}. About 5 minutes on 2 idle cores
# when not cached, a second when cached.
.PHONY: kernel
kernel:
	guest/kernel/build.sh $(BUILD)/kernel

# kernel-debian: Debian's stock cloud kernel and the modules the rig's L1 and
# the stock-distro guest need -> $(BUILD)/debian-kernel/{vmlinuz,config,release,
# modules/*.ko,modules/kvm.order,modules/virtio.order}.
.PHONY: kernel-debian
kernel-debian:
	guest/kernel/debian.sh $(BUILD)/debian-kernel

# rig-qemu: the rig's L1 emulator, Debian's QEMU 7.2 with the TCG SVM
# interrupt race fixed (internal/rig/qemu, NESTED.md) -> $(BUILD)/rig-qemu/.
# About 4 minutes when not cached. The rig uses it when it exists.
.PHONY: rig-qemu
rig-qemu:
	internal/rig/qemu/build.sh $(BUILD)/rig-qemu/qemu-system-x86_64

# rig-test: the rig's own end-to-end tests: QEMU TCG L1 with kvm-amd, a tiny
# KVM program and `gvmm check` inside it, the minimal kernel booting under TCG.
.PHONY: rig-test
rig-test: kernel kernel-debian rig-qemu
	GVMM_E2E=1 $(GO) test -race -count=1 -timeout 20m ./internal/rig/...
# --- end kernel and rig ---
