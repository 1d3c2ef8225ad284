// Package net is virtio-net (virtio 1.2 §5.1, device type 1) with one
// receive and one transmit queue, backed by a Linux TAP device.
//
// The device offers VIRTIO_NET_F_MAC (the MAC address is in the device
// configuration, §5.1.4) and VIRTIO_NET_F_STATUS (link up), and no
// offloads: every packet carries a 12-byte struct virtio_net_hdr with no
// checksum or segmentation work requested (§5.1.6). The TAP is opened with
// IFF_VNET_HDR and a 12-byte header size, so the header format on the TAP
// file is the same one the guest uses, and the device only has to check
// and rewrite it.
//
// Work is driven by events, never by timers: the guest's notification on
// the transmit queue makes the device drain it into the TAP on the
// notifying vCPU's goroutine; a receive goroutine blocks in read(2) on the
// TAP (through Go's netpoller) and fills receive buffers, waiting on a
// condition variable for the guest's notification when it has none.
package net
