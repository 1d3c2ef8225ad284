package virtiotest

import (
	"encoding/binary"

	"gvmm/devices/virtio"
)

// Operation codes of RunOps, one byte each followed by its arguments.
const (
	OpCommonWrite    = iota // off u8, width u8 (1, 2, 4 or 8 after masking), value u64
	OpMemWrite              // addr u32 (mod MemSize), 8 bytes
	OpKick                  // queue u8
	OpReadISR               //
	OpStatus                // value u8
	OpStart                 // negotiate all features, set up every queue, DRIVER_OK
	OpAdd                   // queue u8, readable len u16, writable len u16
	OpDesc                  // queue u8, index u8, addr u64, len u32, flags u16, next u16
	OpAvailIdx              // queue u8, idx u16
	OpDeviceCfgWrite        // off u8, value u32
	OpBARWrite              // off u16 (mod BAR size), width u8, value u64: MSI-X table, PBA, anything
	OpMSIX                  // enable MSI-X and map vectors, as Linux does
	numOps
)

// opReader hands out fixed-size fields, zeros once the input is used up.
type opReader struct{ b []byte }

func (r *opReader) next(n int) []byte {
	out := make([]byte, n)
	k := copy(out, r.b)
	r.b = r.b[k:]
	return out
}
func (r *opReader) u8() uint8   { return r.next(1)[0] }
func (r *opReader) u16() uint16 { return binary.LittleEndian.Uint16(r.next(2)) }
func (r *opReader) u32() uint32 { return binary.LittleEndian.Uint32(r.next(4)) }
func (r *opReader) u64() uint64 { return binary.LittleEndian.Uint64(r.next(8)) }

// RunOps interprets ops as a hostile driver's program against the device
// behind d, which has numQueues queues: arbitrary register writes and
// ring contents mixed with well-formed steps, so a fuzzer reaches deep
// states. It must never make the host panic or hang; fuzz targets call
// it, then reset the device and check it still works.
func (d *Driver) RunOps(numQueues int, ops []byte) {
	r := &opReader{b: ops}
	queues := make([]*Queue, numQueues)
	for len(r.b) > 0 {
		switch r.u8() % numOps {
		case OpCommonWrite:
			off, width, v := uint64(r.u8()%0x40), []int{1, 2, 4, 8}[r.u8()%4], r.u64()
			d.Write(d.Common+off, width, v)
		case OpMemWrite:
			addr := uint64(r.u32()) % (MemSize - 8)
			d.Mem.WriteAt(r.next(8), int64(addr))
		case OpKick:
			q := uint64(r.u8()) % uint64(numQueues+1)
			d.Write(d.Notify+q*uint64(d.notifyMul), 2, q)
		case OpReadISR:
			d.ReadISR()
		case OpStatus:
			d.SetStatus(r.u8())
		case OpStart:
			d.runStart(queues)
		case OpAdd:
			q, rl, wl := queues[int(r.u8())%numQueues], r.u16()%2048, r.u16()%2048
			if q == nil {
				continue
			}
			var bufs []Buffer
			if rl > 0 {
				bufs = append(bufs, Readable(make([]byte, rl)))
			}
			if wl > 0 || rl == 0 {
				bufs = append(bufs, Writable(uint32(wl)))
			}
			if _, err := q.Add(bufs...); err != nil {
				return // out of test memory: stop here
			}
		case OpDesc:
			q, i := queues[int(r.u8())%numQueues], r.u8()
			desc := virtio.Desc{Addr: r.u64(), Len: r.u32(), Flags: r.u16(), Next: r.u16()}
			if q != nil {
				q.WriteDesc(uint16(i)%q.Size, desc)
			}
		case OpAvailIdx:
			q, idx := queues[int(r.u8())%numQueues], r.u16()
			if q != nil {
				q.SetAvailIdx(idx)
			}
		case OpDeviceCfgWrite:
			d.Write(d.DeviceCfg+uint64(r.u8()%0x40), 4, uint64(r.u32()))
		case OpBARWrite:
			off, width, v := uint64(r.u16())%virtio.BARSize, []int{1, 2, 4, 8}[r.u8()%4], r.u64()
			d.Write(d.Common-virtio.CommonCfgOffset+off, width, v)
		case OpMSIX:
			d.EnableMSIX(numQueues)
		}
	}
}

// runStart brings the device up with small queues, recording them.
func (d *Driver) runStart(queues []*Queue) {
	sizes := make([]uint16, len(queues))
	for i := range sizes {
		sizes[i] = 16
	}
	if _, qs, err := d.Start(^uint64(0), sizes...); err == nil {
		copy(queues, qs)
	}
}
