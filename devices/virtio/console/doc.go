// Package console is virtio-console (virtio 1.2 §5.3, device type 3) with
// a single port, port 0, which Linux's virtio_console driver turns into
// the hvc0 console. Output the guest writes to the transmit queue goes to
// an io.Writer (the terminal); bytes read from an io.Reader (the
// terminal's input) fill the buffers the guest posts on the receive queue.
//
// Without VIRTIO_CONSOLE_F_MULTIPORT the device has exactly two queues,
// receiveq (0) and transmitq (1), and no control queue (§5.3.2). The
// device offers VIRTIO_CONSOLE_F_EMERG_WRITE so that early output can
// also be written one character at a time to the emerg_wr register.
package console
