package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"gvmm/bench/report"
	"gvmm/guest/agentcfg"
)

// Guest RAM of every VM subject, as gvmm's --mem and QEMU's -m take it.
const (
	guestMem    = "256M"
	guestMemKiB = 256 << 10
)

// The guest's I/O ports (vmm/layout_amd64.go DebugPort): register 0
// takes the READY byte, register 1 the exit status.
const (
	debugReadyPort = 0x440
	debugExitPort  = debugReadyPort + 1
)

// qemuExitCode is QEMU's exit status when the tiny guest writes 0 to
// isa-debug-exit: (value << 1) | 1 (hw/misc/debugexit.c).
const qemuExitCode = 1

// linuxKernelCmdline is the kernel's part of every Linux row's command
// line: the serial console, reset-to-exit (reboot=k) and no wait on panic.
const linuxKernelCmdline = "console=ttyS0 reboot=k panic=-1"

// linuxCmdline boots the u-root initramfs to the agent, configured by
// agent (agentcfg encodes its gvmm.* words).
func linuxCmdline(agent agentcfg.Config) (string, error) {
	words, err := agent.Cmdline()
	if err != nil {
		return "", err
	}
	return linuxKernelCmdline + " " + words, nil
}

// modeCmdlines are the command lines of a row's two kinds of start: the
// agent powers off at READY (Plan.Start) or stays up (Plan.Hold).
func modeCmdlines(agent agentcfg.Config) (run, hold string, err error) {
	agent.Mode = agentcfg.ModePoweroff
	if run, err = linuxCmdline(agent); err != nil {
		return "", "", err
	}
	agent.Mode = agentcfg.ModeStay
	hold, err = linuxCmdline(agent)
	return run, hold, err
}

// Catalogue is every subject of issue 6, in the order the report lists
// them: the floors, gvmm's VMs and their peers, then the containers and
// their peers.
func Catalogue() []Subject {
	vm := func(name, guest string, w report.Workload, prep func(*Workspace) (*Plan, error)) Subject {
		return Subject{Name: name, Kind: report.KindVM, Workload: w, Where: report.WhereHost, Guest: guest, Prepare: prep}
	}
	ctr := func(name string, w report.Workload, prep func(*Workspace) (*Plan, error)) Subject {
		return Subject{Name: name, Kind: report.KindContainer, Workload: w, Where: report.WhereHost, Prepare: prep}
	}
	linux := func(name, guest string, w report.Workload, prep func(*Workspace) (*Plan, error)) Subject {
		s := vm(name, guest, w, prep)
		s.Linux = true
		return s
	}
	proc := func(name string, prep func(*Workspace) (*Plan, error)) Subject {
		return Subject{Name: name, Kind: report.KindProcess, Workload: report.WorkloadReady, Where: report.WhereHost, Prepare: prep}
	}
	ready, nginx := report.WorkloadReady, report.WorkloadNginx
	// The guests, for comparing like with like.
	const tiny, minimal, debian = "pvh-tiny", "linux-minimal", "linux-debian"
	return []Subject{
		proc(report.SubjectRawKVM, prepRawKVM),
		vm(report.SubjectGvmmTiny, tiny, ready, prepGvmmTiny),
		vm(report.SubjectQEMUMicrovmTiny, tiny, ready, prepQEMUTiny("microvm,x-option-roms=off,rtc=off,isa-serial=on")),
		vm("qemu-pc-pvh-tiny", tiny, ready, prepQEMUTiny("pc")),
		linux(SubjectGvmmLinux, minimal, ready, prepGvmmLinux("kernel/bzImage", "kernel", "initramfs.cpio", "initramfs")),
		linux("gvmm-vm-pvh-minimal", minimal, ready, prepGvmmLinux("kernel/vmlinux", "kernel", "initramfs.cpio", "initramfs")),
		linux("gvmm-vm-bzimage-debian", debian, ready, prepGvmmLinux("debian-kernel/vmlinuz", "kernel-debian", "initramfs-debian.cpio", "initramfs-debian")),
		linux("qemu-microvm-linux-minimal", minimal, ready, prepQEMULinux),
		linux("gokvm-linux-minimal", minimal, ready, prepGokvm),
		linux("gvmm-vm-nginx", minimal, nginx, prepNginxVM),
		ctr(report.SubjectGvmmContainer, ready, prepGvmmContainer),
		ctr(report.SubjectCrun, ready, prepOCI("crun", "crun")),
		ctr("runc", ready, prepOCI("runc", "runc")),
		ctr("gvmm-container-nginx", nginx, prepNginxContainer),
		proc("unshare-chroot", prepUnshareChroot),
		proc("plain-exec", prepPlainExec),
	}
}

func prepRawKVM(ws *Workspace) (*Plan, error) {
	if err := ws.NeedKVM(); err != nil {
		return nil, err
	}
	floor, err := ws.KVMFloor()
	if err != nil {
		return nil, err
	}
	return &Plan{Start: fixed(Cmd{Argv: []string{floor}})}, nil
}

// fixed is a Start or Hold that is the same for every start.
func fixed(c Cmd) func(string) Cmd { return func(string) Cmd { return c } }

// prepGvmmTiny: gvmm boots the PVH demo guest, which signals READY and
// exits 0; the probe starts the spin guest, which stays after READY.
func prepGvmmTiny(ws *Workspace) (*Plan, error) {
	if err := ws.NeedKVM(); err != nil {
		return nil, err
	}
	gvmm, err := ws.Gvmm()
	if err != nil {
		return nil, err
	}
	hello, err := ws.TestGuest("hello32")
	if err != nil {
		return nil, err
	}
	spin, _ := ws.TestGuest("spin")
	return &Plan{
		Start:       fixed(Cmd{Argv: []string{gvmm, "boot", hello, "--mem", guestMem}}),
		Hold:        fixed(Cmd{Argv: []string{gvmm, "boot", spin, "--mem", guestMem}}),
		GuestMemKiB: guestMemKiB,
	}, nil
}

// prepQEMUTiny: QEMU with the same guest. isa-debug-exit at the exit port
// ends QEMU; isa-debugcon at the READY port copies the guest's READY byte
// into a "file" chardev that is the READY pipe (fd 3).
func prepQEMUTiny(machine string) func(*Workspace) (*Plan, error) {
	return func(ws *Workspace) (*Plan, error) {
		if err := ws.NeedKVM(); err != nil {
			return nil, err
		}
		qemu, err := NeedTool("qemu-system-x86_64", "qemu-system-x86")
		if err != nil {
			return nil, err
		}
		hello, err := ws.TestGuest("hello32")
		if err != nil {
			return nil, err
		}
		spin, _ := ws.TestGuest("spin")
		argv := func(guest string) Cmd {
			return Cmd{Argv: append([]string{qemu, "-M", machine, "-enable-kvm", "-cpu", "qemu64", "-m", guestMem,
				"-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", guest,
			}, qemuDebugDevices()...)}
		}
		return &Plan{Start: fixed(argv(hello)), Hold: fixed(argv(spin)), ReadyPipe: true,
			WantCode: qemuExitCode, GuestMemKiB: guestMemKiB}, nil
	}
}

// SubjectGvmmLinux is gvmm booting the minimal kernel's bzImage to the
// agent: the Linux row the others are read against.
const SubjectGvmmLinux = "gvmm-vm-bzimage-minimal"

// needLinuxKVM skips the Linux rows where no Linux boots: kvm_pvm.
// gvmm-bench runs them in the nested rig there instead (rig.go).
func needLinuxKVM(ws *Workspace) error {
	if ws.Flavour == report.FlavourPVM {
		return Skip("kvm_pvm cannot boot Linux (NESTED.md): the row runs in the nested rig (gvmm-bench -rig, on by default on kvm_pvm)")
	}
	return ws.NeedKVM()
}

// minimalLinux returns the minimal kernel's bzImage and the u-root
// initramfs, or a skip naming the make target that builds them.
func minimalLinux(ws *Workspace) (kernel, initrd string, err error) {
	if kernel, err = ws.Artefact("kernel/bzImage", "kernel"); err != nil {
		return "", "", err
	}
	initrd, err = ws.Artefact("initramfs.cpio", "initramfs")
	return kernel, initrd, err
}

// prepGvmmLinux: gvmm boots a Linux kernel with the u-root initramfs; the
// agent signals READY and powers the VM off (or stays, for the probe).
func prepGvmmLinux(kernel, kernelTarget, initrd, initrdTarget string) func(*Workspace) (*Plan, error) {
	return func(ws *Workspace) (*Plan, error) {
		if err := needLinuxKVM(ws); err != nil {
			return nil, err
		}
		k, err := ws.Artefact(kernel, kernelTarget)
		if err != nil {
			return nil, err
		}
		i, err := ws.Artefact(initrd, initrdTarget)
		if err != nil {
			return nil, err
		}
		gvmm, err := ws.Gvmm()
		if err != nil {
			return nil, err
		}
		run, hold, err := modeCmdlines(agentcfg.Config{})
		if err != nil {
			return nil, err
		}
		argv := func(cmdline string) Cmd {
			return Cmd{Argv: []string{gvmm, "boot", k, "--initrd", i, "--mem", guestMem, "--cmdline", cmdline}}
		}
		return &Plan{Start: fixed(argv(run)), Hold: fixed(argv(hold)), GuestMemKiB: guestMemKiB}, nil
	}
}

// prepQEMULinux: QEMU's microvm boots the same kernel and initramfs as
// gvmm-vm-bzimage-minimal, with the READY and exit ports of the tiny
// rows (isa-debugcon, isa-debug-exit), so the agent's port writes are
// READY and the exit for both VMMs. acpi=off: the minimal kernel has no
// ACPI, and QEMU then names its virtio-mmio devices on the command line.
func prepQEMULinux(ws *Workspace) (*Plan, error) {
	if err := needLinuxKVM(ws); err != nil {
		return nil, err
	}
	qemu, err := NeedTool("qemu-system-x86_64", "qemu-system-x86")
	if err != nil {
		return nil, err
	}
	kernel, initrd, err := minimalLinux(ws)
	if err != nil {
		return nil, err
	}
	run, hold, err := modeCmdlines(agentcfg.Config{})
	if err != nil {
		return nil, err
	}
	argv := func(cmdline string) Cmd {
		return Cmd{Argv: append([]string{qemu, "-M", "microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=on",
			"-enable-kvm", "-cpu", "host", "-m", guestMem, "-L", qemuDataDir,
			"-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
			"-kernel", kernel, "-initrd", initrd, "-append", cmdline,
		}, qemuDebugDevices()...)}
	}
	return &Plan{Start: fixed(argv(run)), Hold: fixed(argv(hold)), ReadyPipe: true,
		WantCode: qemuExitCode, GuestMemKiB: guestMemKiB}, nil
}

// qemuDebugDevices are QEMU's counterparts of gvmm's debug device:
// isa-debug-exit at the exit port ends QEMU, and isa-debugcon at the
// READY port copies the guest's READY byte into a "file" chardev that is
// the READY pipe. /proc/self/fd rather than /dev/fd: the rig's L1 has no
// /dev/fd link.
func qemuDebugDevices() []string {
	return []string{
		"-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=1", debugExitPort),
		"-chardev", fmt.Sprintf("file,id=ready,path=/proc/self/fd/%d", readyFD),
		"-device", fmt.Sprintf("isa-debugcon,iobase=%#x,chardev=ready", debugReadyPort),
	}
}

// qemuDataDir holds QEMU's firmware (qboot.rom for microvm) on Debian.
const qemuDataDir = "/usr/share/qemu"

// prepGokvm: gokvm (built from the module proxy) boots the same bzImage
// and initramfs. It has no READY device and stops the VM at an unknown
// I/O port, so the agent runs with gvmm.ready=console and READY is its
// console line; without a terminal on stdin gokvm never exits by itself
// (it waits forever once its vCPUs are started), so the harness stops it
// after READY and the row has no exit time.
func prepGokvm(ws *Workspace) (*Plan, error) {
	if err := needLinuxKVM(ws); err != nil {
		return nil, err
	}
	kernel, initrd, err := minimalLinux(ws)
	if err != nil {
		return nil, err
	}
	gokvm, err := ws.Gokvm()
	if err != nil {
		return nil, err
	}
	cmdline, err := linuxCmdline(agentcfg.Config{Mode: agentcfg.ModeStay, ReadyConsoleOnly: true})
	if err != nil {
		return nil, err
	}
	cmd := Cmd{Argv: []string{gokvm, "boot", "-k", kernel, "-i", initrd, "-m", guestMem, "-c", "1", "-p", cmdline}}
	return &Plan{Start: fixed(cmd), ReadyConsole: true, StopAfterReady: true, GuestMemKiB: guestMemKiB}, nil
}

// prepGvmmContainer: `gvmm container run` on the bundle crun and runc
// run (the u-root root file system, the agent as the workload), timed the
// same way: READY on the pipe at fd 3.
func prepGvmmContainer(ws *Workspace) (*Plan, error) {
	if err := NeedRoot("gvmm container"); err != nil {
		return nil, err
	}
	gvmm, err := ws.Gvmm()
	if err != nil {
		return nil, err
	}
	run, err := ws.Bundle(agentcfg.ModePoweroff)
	if err != nil {
		return nil, err
	}
	hold, err := ws.Bundle(agentcfg.ModeStay)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(ws.Dir, "gvmm-run")
	argv := func(bundle string) func(string) Cmd {
		return func(id string) Cmd { return Cmd{Argv: gvmmContainerArgv(gvmm, runDir, bundle, id)} }
	}
	return &Plan{Start: argv(run), Hold: argv(hold), ReadyPipe: true, Cgroup: true,
		Cleanup: func(id string) {
			_ = exec.Command(gvmm, "container", "rm", "-f", "--run-dir", runDir, id).Run()
		}}, nil
}

// prepOCI: runc or crun with an OCI bundle of the same root file system.
func prepOCI(tool, pkg string) func(*Workspace) (*Plan, error) {
	return func(ws *Workspace) (*Plan, error) {
		if err := NeedRoot(tool); err != nil {
			return nil, err
		}
		if _, err := NeedTool(tool, pkg); err != nil {
			return nil, err
		}
		run, err := ws.Bundle(agentcfg.ModePoweroff)
		if err != nil {
			return nil, err
		}
		hold, err := ws.Bundle(agentcfg.ModeStay)
		if err != nil {
			return nil, err
		}
		argv := func(bundle string) func(string) Cmd {
			return func(id string) Cmd {
				return Cmd{Argv: ociArgv(tool, bundle, id)}
			}
		}
		return &Plan{Start: argv(run), Hold: argv(hold), ReadyPipe: true, Cgroup: true,
			Cleanup: func(id string) {
				_ = exec.Command(tool, "delete", "-f", id).Run()
			}}, nil
	}
}

// ociArgv is the command line of an OCI runtime's timed start: its own
// `run`, bare (see EnterV1View for crun on a hybrid host).
func ociArgv(tool, bundle, id string) []string {
	return []string{tool, "run", "--preserve-fds", "1", "--bundle", bundle, id}
}

// gvmmContainerArgv is gvmm's timed start of the same bundle, in the same
// mode: the READY pipe as fd 3 (--preserve-fds 1), the container removed
// at exit as `crun run` removes it (--rm), its state in runDir.
func gvmmContainerArgv(gvmm, runDir, bundle, id string) []string {
	return []string{gvmm, "container", "run", "--rm", "--preserve-fds", "1", "--run-dir", runDir, "--name", id, bundle}
}

// prepUnshareChroot: the agent in fresh PID, mount, UTS, IPC and network
// namespaces, chrooted into the root file system: a container without a
// runtime. The agent reads /sys (online CPUs), so sysfs is mounted into
// the root first, in the new mount namespace only.
func prepUnshareChroot(ws *Workspace) (*Plan, error) {
	if err := NeedRoot("unshare-chroot"); err != nil {
		return nil, err
	}
	if _, err := NeedTool("unshare", "util-linux"); err != nil {
		return nil, err
	}
	root, err := ws.Rootfs()
	if err != nil {
		return nil, err
	}
	script := `mount -t sysfs sysfs "$1/sys" && exec chroot "$1" ` + AgentInRootfs
	argv := []string{"unshare", "-pmuin", "--fork", "sh", "-c", script, "sh", root}
	return agentEnvPlan(argv)
}

// prepPlainExec: the same agent binary, exec'ed on the host.
func prepPlainExec(ws *Workspace) (*Plan, error) {
	root, err := ws.Rootfs()
	if err != nil {
		return nil, err
	}
	agent := filepath.Join(root, AgentInRootfs)
	if _, err := os.Stat(agent); err != nil {
		return nil, err
	}
	return agentEnvPlan([]string{agent})
}

// agentEnvPlan starts argv, the agent, with its READY fd and mode in the
// environment: it powers off at READY (Start) or stays up (Hold).
func agentEnvPlan(argv []string) (*Plan, error) {
	run, err := agentEnv(argv, agentcfg.ModePoweroff)
	if err != nil {
		return nil, err
	}
	hold, err := agentEnv(argv, agentcfg.ModeStay)
	if err != nil {
		return nil, err
	}
	return &Plan{Start: fixed(run), Hold: fixed(hold), ReadyPipe: true}, nil
}

// agentEnv is argv with the agent's READY fd and mode.
func agentEnv(argv []string, mode agentcfg.Mode) (Cmd, error) {
	vars, err := agentcfg.Config{Mode: mode}.Environ()
	if err != nil {
		return Cmd{}, err
	}
	return Cmd{Argv: argv, Env: append([]string{fmt.Sprintf("%s=%d", agentcfg.EnvReadyFD, readyFD)}, vars...)}, nil
}
