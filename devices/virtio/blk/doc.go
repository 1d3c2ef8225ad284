// Package blk is the virtio block device (virtio 1.2 §5.2): a disk for the
// guest, /dev/vda in Linux, backed by a raw image file on the host.
//
// The guest's driver puts requests on one virtqueue, each a descriptor
// chain laid out as struct virtio_blk_req (§5.2.6):
//
//	le32 type; le32 reserved; le64 sector;   header, device-readable
//	u8   data[];                             readable (OUT) or writable (IN)
//	u8   status;                             device-writable, always last
//
// blk.go is the device: its features and configuration (§5.2.3, §5.2.4),
// the I/O goroutine that takes requests off the queue, and the checks every
// request passes before it reaches the file. backend.go is the file: open
// with an advisory lock, vectored reads and writes straight between the
// file and guest memory, fdatasync for FLUSH, and fallocate for DISCARD
// and WRITE_ZEROES, so that a sparse image stays sparse.
//
// A request is the guest's word, so it is checked as hostile input: its
// header and status byte where the layout says, its direction, a length in
// whole sectors, sectors inside the disk, no more segments than SEG_MAX
// and no segment larger than SIZE_MAX, no write to a read-only disk. A
// request that fails a check gets VIRTIO_BLK_S_IOERR (or S_UNSUPP for a
// type or flag the device does not offer) and the device goes on; only a
// broken ring (the transport's checks, package virtio) stops the queue
// with DEVICE_NEEDS_RESET.
package blk
