package harness

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"gvmm/guest"
	"gvmm/guest/agentcfg"
)

// The NGINX workload (issue 6, item 3): Debian's nginx serving one static
// page, started as a gvmm container and as a gvmm VM from the same image
// (guest/build-nginx-initramfs.sh). Its READY is the first HTTP 200 the
// host fetches from it (Plan.ReadyHTTP); it runs until the harness stops
// it (Plan.StopAfterReady).
const (
	// nginxImage is the image under Build, and the make target making it.
	nginxImage  = "initramfs-nginx.cpio"
	nginxTarget = "initramfs-nginx"
	// NginxInRootfs is the server's binary in the image; its
	// configuration (guest/nginx/nginx.conf) is at nginx's compiled-in
	// path, /etc/nginx/nginx.conf, and says: foreground, port 80.
	NginxInRootfs = "/usr/sbin/nginx"
)

// The container's address, asked of gvmm with --ip so that the URL is
// known before the container starts: the last of the container links
// (container/network.go), out of the way of the first-free links that
// other containers get.
const nginxContainerIP = "10.201.255.254"

// The VM's link: a TAP per start with the host at .1 and the guest agent
// configuring .2 before it execs nginx. A /30 of its own, apart from the
// container links and from gvmm boot's default 192.168.100.0/24.
const (
	nginxVMHostAddr = "10.202.0.1/30"
	nginxVMGuestIP  = "10.202.0.2"
	nginxVMPrefix   = 30
)

// nginxVMCmdline boots the image to the agent, which brings the network up,
// signals READY through the port (ignored here: READY is the HTTP 200) and
// execs nginx (guest/agent: gvmm.exec). gvmm.mode=poweroff makes an agent
// that fails before READY stop the VM with an error at once.
func nginxVMCmdline() (string, error) {
	return linuxCmdline(agentcfg.Config{
		Mode: agentcfg.ModePoweroff,
		IP:   netip.PrefixFrom(netip.MustParseAddr(nginxVMGuestIP), nginxVMPrefix),
		Exec: []string{NginxInRootfs},
	})
}

// guardPrefixes are the links of the two subjects. Until the veth or the
// TAP is up, and after it is gone, the host has no route of its own to
// them, and the READY poller's requests would follow the default route
// off the machine. An "unreachable" route of a low priority (a high
// metric) for each makes them fail at once on the host instead; the link's
// own route (metric 0, added with its address) wins while it exists.
var guardPrefixes = []string{"10.201.255.252/30", nginxVMHostAddr}

// guardMetric is the priority of the unreachable routes: below any route
// a link or a user adds.
const guardMetric = 4000

// nginxURL is the page READY fetches from a server at host.
func nginxURL(host string) string { return "http://" + host + "/" }

// NginxRootfs is the NGINX image unpacked into a directory: the
// container's root file system.
func (ws *Workspace) NginxRootfs() (string, error) {
	return ws.once("rootfs-nginx", func() (string, error) {
		cpio, err := ws.Artefact(nginxImage, nginxTarget)
		if err != nil {
			return "", err
		}
		dir := filepath.Join(ws.Dir, "rootfs-nginx")
		if err := guest.UnpackCPIO(cpio, dir); err != nil {
			return "", fmt.Errorf("unpack %s: %w", cpio, err)
		}
		if _, err := os.Stat(filepath.Join(dir, NginxInRootfs)); err != nil {
			return "", fmt.Errorf("%s has no %s: rebuild it with make %s", cpio, NginxInRootfs, nginxTarget)
		}
		return dir, nil
	})
}

// GuardNginxRoutes adds the unreachable routes of guardPrefixes (once per
// workspace); RemoveNginxRoutes takes them away when the bench ends.
func (ws *Workspace) GuardNginxRoutes() error {
	_, err := ws.once(nginxRoutesKey, func() (string, error) {
		for _, r := range guardRoutes() {
			if err := netlink.RouteReplace(r); err != nil {
				return "", fmt.Errorf("unreachable route %s (keeps READY polls on the host): %w", r.Dst, err)
			}
		}
		return "", nil
	})
	return err
}

// nginxRoutesKey marks, in the workspace's cache, that the routes were added.
const nginxRoutesKey = "nginx-routes"

// RemoveNginxRoutes deletes the routes GuardNginxRoutes added; routes that
// are not there are no error.
func (ws *Workspace) RemoveNginxRoutes() {
	for _, r := range guardRoutes() {
		_ = netlink.RouteDel(r)
	}
}

func guardRoutes() []*netlink.Route {
	var out []*netlink.Route
	for _, p := range guardPrefixes {
		_, dst, err := net.ParseCIDR(p)
		if err != nil {
			panic(err) // a constant above
		}
		out = append(out, &netlink.Route{Dst: dst, Type: unix.RTN_UNREACHABLE, Priority: guardMetric})
	}
	return out
}

// prepNginxContainer: `gvmm container run --net` of the NGINX image with
// nginx as the workload, at a fixed address.
func prepNginxContainer(ws *Workspace) (*Plan, error) {
	if err := NeedRoot("gvmm container (nginx)"); err != nil {
		return nil, err
	}
	root, err := ws.NginxRootfs()
	if err != nil {
		return nil, err
	}
	gvmm, err := ws.Gvmm()
	if err != nil {
		return nil, err
	}
	if err := ws.GuardNginxRoutes(); err != nil {
		return nil, err
	}
	runDir := filepath.Join(ws.Dir, "gvmm-run-nginx")
	start := func(id string) Cmd {
		return Cmd{Argv: []string{gvmm, "container", "run", "--rm", "--net", "--ip", nginxContainerIP,
			"--run-dir", runDir, "--name", id, root, "--", NginxInRootfs}}
	}
	return &Plan{Start: start, ReadyHTTP: nginxURL(nginxContainerIP), StopAfterReady: true, Cgroup: true,
		Cleanup: func(id string) {
			_ = exec.Command(gvmm, "container", "rm", "-f", "--run-dir", runDir, id).Run()
		}}, nil
}

// prepNginxVM: gvmm boots the minimal kernel with the NGINX image, 256 MiB
// and a TAP of its own per start.
func prepNginxVM(ws *Workspace) (*Plan, error) {
	if err := needLinuxKVM(ws); err != nil {
		return nil, err
	}
	if err := NeedRoot("gvmm boot --net (a TAP device)"); err != nil {
		return nil, err
	}
	kernel, err := ws.Artefact("kernel/bzImage", "kernel")
	if err != nil {
		return nil, err
	}
	image, err := ws.Artefact(nginxImage, nginxTarget)
	if err != nil {
		return nil, err
	}
	gvmm, err := ws.Gvmm()
	if err != nil {
		return nil, err
	}
	if err := ws.GuardNginxRoutes(); err != nil {
		return nil, err
	}
	cmdline, err := nginxVMCmdline()
	if err != nil {
		return nil, err
	}
	start := func(id string) Cmd {
		return Cmd{Argv: nginxVMArgv(gvmm, kernel, image, cmdline, id)}
	}
	return &Plan{Start: start, ReadyHTTP: nginxURL(nginxVMGuestIP), StopAfterReady: true, GuestMemKiB: guestMemKiB,
		Cleanup: func(id string) { removeLink(nginxTap(id)) }}, nil
}

// nginxVMArgv is the gvmm command line of one VM start.
func nginxVMArgv(gvmm, kernel, image, cmdline, id string) []string {
	return []string{gvmm, "boot", kernel, "--initrd", image, "--mem", guestMem,
		"--net", "tap=" + nginxTap(id), "--host-addr", nginxVMHostAddr, "--cmdline", cmdline}
}

// nginxTap names the TAP of start id: gvmm creates it and removes it when
// it ends; a name per start means a TAP a killed VMM left behind cannot
// stop the next start. Interface names have at most 15 bytes (IFNAMSIZ),
// so the id is hashed.
func nginxTap(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf("gvb%08x", h.Sum32())
}

// removeLink deletes a network link if it is there (a TAP left by a
// VMM that was killed).
func removeLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		_ = netlink.LinkDel(l)
	}
}
