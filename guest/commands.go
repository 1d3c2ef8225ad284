package guest

// urootCore is the import path prefix of u-root's core commands.
const urootCore = "github.com/u-root/u-root/cmds/core/"

// CoreCommands are the u-root commands compiled into the initramfs busybox:
// init, a shell, and what one needs to look around a guest by hand (files,
// mounts, processes, network, kernel modules, port I/O). Keep tools.go in
// step: a test checks the two lists agree.
var CoreCommands = []string{
	"init",
	"gosh",
	"cat", "cp", "dmesg", "echo", "free", "grep", "hexdump", "io", "ip",
	"insmod", "ln", "ls", "lsmod", "mkdir", "mount", "mv", "ping", "ps",
	"pwd", "rm", "shutdown", "sleep", "sync", "umount", "uname", "wget",
}

// AgentPackage is the import path of the guest agent, built as its own
// static binary so the container runner can run it directly too.
const AgentPackage = "gvmm/guest/cmd/gvmm-agent"

// Names inside the image.
const (
	// AgentName is the agent's command name; it lives in /bin.
	AgentName = "gvmm-agent"
	// AgentPath is the agent binary's path in the image.
	AgentPath = "/bin/" + AgentName
	// InitCommand is u-root's init, linked from /init.
	InitCommand = "init"
	// ShellCommand is the default shell, linked from /bin/sh.
	ShellCommand = "gosh"
	// ModuleDir is where kernel modules go; the agent loads them from there.
	ModuleDir = "lib/gvmm/modules"
	// ModuleOrderFile lists ModuleDir's modules in load order.
	ModuleOrderFile = "modules.order"
)

// corePackages returns the import paths of CoreCommands.
func corePackages() []string {
	pkgs := make([]string, len(CoreCommands))
	for i, c := range CoreCommands {
		pkgs[i] = urootCore + c
	}
	return pkgs
}
