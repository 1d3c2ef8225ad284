package machine

import (
	"fmt"
	"log/slog"
	"net/netip"

	"gvmm/boot"
	"gvmm/devices/pci"
	"gvmm/devices/pvpanic"
	"gvmm/devices/virtio"
	"gvmm/devices/virtio/blk"
	"gvmm/devices/virtio/console"
	vnet "gvmm/devices/virtio/net"
	"gvmm/internal/hostnet"
	"gvmm/vmm"
)

// NetConfig asks for a virtio-net device backed by a TAP device.
type NetConfig struct {
	// TAP names the TAP device: "" creates a new one (gvmm%d), an
	// existing TAP is attached to, a missing name is created.
	TAP string
	// MAC is the guest's MAC address; "" picks a random local one.
	MAC string
	// HostAddr, if valid (e.g. 192.168.100.1/24), is given to the host end
	// of the TAP, so host and guest can talk.
	HostAddr netip.Prefix
}

// attachPCI builds the PCI bus: the host bridge, a pvpanic device so a
// guest panic stops the VM as crashed, and the virtio devices asked for.
// Devices get memory BARs in the PCI window and one interrupt line each.
func (m *Machine) attachPCI() error {
	root, err := pci.NewRoot(m.mmio, vmm.PCIMMIOStart, vmm.PCIMMIOSize)
	if err != nil {
		return err
	}
	if err := m.pio.Register("pci-conf1", pci.ConfigAddressPort, pci.ConfigPortsSize, root.ConfigPorts()); err != nil {
		return err
	}
	panicFn, err := pvpanic.NewFunction(&pvpanic.Device{OnEvent: m.guestPanicked})
	if err != nil {
		return err
	}
	if _, err := root.Add(panicFn, nil, 0); err != nil {
		return err
	}
	if m.cfg.Console == ConsoleVirtio {
		con := console.New(m.cfg.ConsoleOut, m.cfg.Input)
		m.closers = append(m.closers, func() error { con.Close(); return nil })
		if err := m.addVirtio(root, "virtio-console", con, vmm.VirtioConsoleIRQ); err != nil {
			return err
		}
	}
	for i, d := range m.cfg.Disks {
		if err := m.attachDisk(root, i, d); err != nil {
			return err
		}
	}
	if m.cfg.Net != nil {
		if err := m.attachNet(root, m.cfg.Net); err != nil {
			return err
		}
	}
	return nil
}

// attachDisk opens the i-th disk's image, taking its lock, and adds the
// virtio-blk device. Disks are added in order, so they take consecutive
// PCI slots and Linux names them vda, vdb, ... in that order.
func (m *Machine) attachDisk(root *pci.Root, i int, dc DiskConfig) error {
	be, err := blk.Open(dc.Path, dc.ReadOnly)
	if err != nil {
		return err
	}
	serial := dc.Serial
	if serial == "" {
		serial = "gvmm-" + DiskName(i)
	}
	dev, err := blk.New(be, serial)
	if err != nil {
		be.Close()
		return err
	}
	m.closers = append(m.closers, dev.Close)
	slog.Debug("virtio-blk", "disk", DiskName(i), "path", dc.Path, "sectors", be.Sectors(), "ro", dc.ReadOnly)
	return m.addVirtio(root, "virtio-blk-"+DiskName(i), dev, vmm.VirtioBlkIRQs[i])
}

// addVirtio puts one virtio device on the bus behind the PCI transport and
// records its interrupt for the MP table.
func (m *Machine) addVirtio(root *pci.Root, name string, dev virtio.Device, irq uint8) error {
	t, err := virtio.NewTransport(name, m.mem, dev, m.vm)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, func() error { t.Close(); return nil })
	slot, err := root.Add(t.Function(), m.vm.IRQLine(uint32(irq)), irq)
	if err != nil {
		return err
	}
	m.pciIRQs = append(m.pciIRQs, boot.PCIInterrupt{Device: uint8(slot), Pin: 1, IRQ: irq})
	return nil
}

// attachNet opens (or creates) the TAP device, configures its host end
// (internal/hostnet) and adds the virtio-net device.
func (m *Machine) attachNet(root *pci.Root, nc *NetConfig) error {
	mac := vnet.RandomMAC()
	if nc.MAC != "" {
		var err error
		if mac, err = vnet.ParseMAC(nc.MAC); err != nil {
			return err
		}
	}
	tap, err := vnet.OpenTAP(nc.TAP)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, tap.Close)
	if nc.HostAddr.IsValid() {
		link, err := hostnet.Configure(tap.Name, nc.HostAddr)
		if err != nil {
			return err
		}
		// A TAP gvmm created goes away with its file, and its address
		// with it; an existing one is given back as it was. The closers
		// run in reverse, so this runs before tap.Close.
		if !tap.Created {
			m.closers = append(m.closers, link.Undo)
		}
	}
	dev, err := vnet.New(tap.File(), mac)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, dev.Close)
	slog.Debug("virtio-net", "mac", mac.String())
	return m.addVirtio(root, "virtio-net", dev, vmm.VirtioNetIRQ)
}

// guestPanicked is the pvpanic event: the guest kernel panicked.
func (m *Machine) guestPanicked(events uint8) {
	m.requestStop(Result{
		Reason: Crashed, ExitCode: 1,
		Err: fmt.Errorf("guest kernel panicked (pvpanic event %#x); see the console above", events),
	})
}
