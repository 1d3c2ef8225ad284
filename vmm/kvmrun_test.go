package vmm

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageSizeForTests is the size of a kvm_run mapping on x86 (one page; KVM
// reports it through KVM_GET_VCPU_MMAP_SIZE, larger with a coalesced-MMIO
// ring, which decodeExit does not care about).
const pageSizeForTests = 4096

// fakeRun is a kvm_run page with reason set and fields written by set.
func fakeRun(reason uint32, set func(p []byte)) []byte {
	p := make([]byte, pageSizeForTests)
	binary.LittleEndian.PutUint32(p[runExitReason:], reason)
	if set != nil {
		set(p)
	}
	return p
}

// ioRun is a KVM_EXIT_IO page.
func ioRun(dir uint8, size uint8, port uint16, count uint32, dataOff uint64) []byte {
	return fakeRun(KVM_EXIT_IO, func(p []byte) {
		u := p[runUnion:]
		u[ioDirection], u[ioSize] = dir, size
		binary.LittleEndian.PutUint16(u[ioPort:], port)
		binary.LittleEndian.PutUint32(u[ioCount:], count)
		binary.LittleEndian.PutUint64(u[ioDataOffset:], dataOff)
	})
}

func mmioRun(addr uint64, n uint32, write bool) []byte {
	return fakeRun(KVM_EXIT_MMIO, func(p []byte) {
		u := p[runUnion:]
		binary.LittleEndian.PutUint64(u[mmioAddr:], addr)
		binary.LittleEndian.PutUint32(u[mmioLen:], n)
		if write {
			u[mmioIsWrite] = 1
		}
	})
}

func TestDecodeExitGood(t *testing.T) {
	e, err := decodeExit(ioRun(KVM_EXIT_IO_OUT, 1, 0x3f8, 3, 0x1000-3))
	require.NoError(t, err)
	assert.Equal(t, uint16(0x3f8), e.IO.Port)
	assert.True(t, e.IO.Write)
	assert.Equal(t, 3, e.IO.Count)
	assert.Len(t, e.IO.Data, 3, "the window may end exactly at the end of the page")

	e, err = decodeExit(ioRun(0, 4, 0xcfc, 1, 0x1000-4))
	require.NoError(t, err)
	assert.False(t, e.IO.Write)
	assert.Len(t, e.IO.Data, 4)

	page := mmioRun(0xfee00000, 8, true)
	e, err = decodeExit(page)
	require.NoError(t, err)
	assert.Equal(t, uint64(0xfee00000), e.MMIO.Addr)
	assert.True(t, e.MMIO.Write)
	e.MMIO.Data[0] = 0xab
	assert.Equal(t, byte(0xab), page[runUnion+mmioData], "MMIO data aliases the page, so a read's answer reaches KVM")

	e, err = decodeExit(fakeRun(KVM_EXIT_INTERNAL_ERROR, func(p []byte) {
		binary.LittleEndian.PutUint32(p[runUnion+internalSub:], KVM_INTERNAL_ERROR_EMULATION)
		binary.LittleEndian.PutUint32(p[runUnion+internalN:], 1<<31)
	}))
	require.NoError(t, err)
	assert.Len(t, e.InternalData, internalMaxData, "ndata is capped at the array's 16 entries")
}

func TestDecodeExitHostile(t *testing.T) {
	for _, c := range []struct {
		name string
		page []byte
	}{
		{"page shorter than the union", make([]byte, runUnion+runUnionSize-1)},
		{"empty page", nil},
		{"io size 0", ioRun(0, 0, 0x60, 1, 0x100)},
		{"io size 3", ioRun(0, 3, 0x60, 1, 0x100)},
		{"io size 9", ioRun(0, 9, 0x60, 1, 0x100)},
		{"io count 0", ioRun(0, 1, 0x60, 0, 0x100)},
		{"io data offset past the page", ioRun(0, 1, 0x60, 1, 0x1001)},
		{"io data offset huge", ioRun(0, 1, 0x60, 1, ^uint64(0))},
		{"io window runs past the page", ioRun(0, 4, 0x60, 2, 0x1000-4)},
		{"io count overflows 32 bits times size", ioRun(0, 4, 0x60, ^uint32(0), 0x100)},
		{"mmio length 0", mmioRun(0xd0000000, 0, false)},
		{"mmio length 9", mmioRun(0xd0000000, 9, false)},
		{"mmio length huge", mmioRun(0xd0000000, ^uint32(0), false)},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.NotPanics(t, func() {
				_, err := decodeExit(c.page)
				assert.Error(t, err)
			})
		})
	}
}

// portRecorder is an ExitHandler that records what it is given.
type portRecorder struct {
	ports []uint16
	data  [][]byte
	mmio  []uint64
	err   error
}

func (r *portRecorder) PortIO(port uint16, data []byte, write bool) error {
	r.ports = append(r.ports, port)
	r.data = append(r.data, append([]byte(nil), data...))
	return r.err
}

func (r *portRecorder) MMIO(addr uint64, data []byte, write bool) error {
	r.mmio = append(r.mmio, addr)
	return r.err
}

// TestDispatchExit drives the exit dispatch with fake exits, as
// Firecracker's test_handle_kvm_exit does.
func TestDispatchExit(t *testing.T) {
	rip := func() uint64 { return 0x1234 }

	// rep outsb of "abc": three one-byte accesses in one exit.
	r := &portRecorder{}
	require.NoError(t, dispatchExit(0, Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x3f8, Size: 1, Count: 3, Write: true, Data: []byte("abc")}}, r, rip))
	assert.Equal(t, []uint16{0x3f8, 0x3f8, 0x3f8}, r.ports)
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, r.data)

	r = &portRecorder{}
	require.NoError(t, dispatchExit(0, Exit{Reason: KVM_EXIT_MMIO, MMIO: MMIOExit{Addr: 0xd0000000, Data: make([]byte, 4)}}, r, rip))
	assert.Equal(t, []uint64{0xd0000000}, r.mmio)

	boom := errors.New("device failed")
	r = &portRecorder{err: boom}
	assert.ErrorIs(t, dispatchExit(0, Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 1, Size: 1, Count: 2, Data: make([]byte, 2)}}, r, rip), boom)
	assert.Len(t, r.ports, 1, "a failing access stops the string instruction")

	assert.NoError(t, dispatchExit(0, Exit{Reason: KVM_EXIT_INTR}, r, rip))
	assert.ErrorIs(t, dispatchExit(0, Exit{Reason: KVM_EXIT_HLT}, r, rip), ErrHalted)
	assert.ErrorIs(t, dispatchExit(0, Exit{Reason: KVM_EXIT_SHUTDOWN}, r, rip), ErrShutdown)

	var se *SystemEvent
	require.ErrorAs(t, dispatchExit(1, Exit{Reason: KVM_EXIT_SYSTEM_EVENT, SystemEventType: 2}, r, rip), &se)
	assert.Equal(t, uint32(2), se.Type)
	var fe *EntryFailure
	require.ErrorAs(t, dispatchExit(1, Exit{Reason: KVM_EXIT_FAIL_ENTRY, FailReason: 7}, r, rip), &fe)
	assert.Equal(t, uint64(0x1234), fe.RIP)
	var ie *InternalError
	require.ErrorAs(t, dispatchExit(1, Exit{Reason: KVM_EXIT_INTERNAL_ERROR, InternalSuberror: KVM_INTERNAL_ERROR_EMULATION}, r, rip), &ie)
	assert.Contains(t, ie.Error(), "emulation failure")
	var ue *UnexpectedExit
	require.ErrorAs(t, dispatchExit(1, Exit{Reason: 999}, r, rip), &ue)
	assert.Equal(t, uint64(0x1234), ue.RIP)
}

// FuzzDecodeExit: no kvm_run page makes decoding panic, and a decoded I/O
// or MMIO window always lies inside the page.
func FuzzDecodeExit(f *testing.F) {
	f.Add(ioRun(KVM_EXIT_IO_OUT, 1, 0x3f8, 1, 0x1000-1)[:runUnion+runUnionSize+16], uint16(0))
	f.Add(mmioRun(0xd0000000, 4, true)[:runUnion+runUnionSize], uint16(0))
	f.Fuzz(func(t *testing.T, head []byte, pad uint16) {
		page := append(append([]byte(nil), head...), make([]byte, pad)...)
		e, err := decodeExit(page)
		if err != nil {
			return
		}
		switch e.Reason {
		case KVM_EXIT_IO:
			if len(e.IO.Data) != e.IO.Size*e.IO.Count {
				t.Fatalf("IO window %d bytes for %d×%d", len(e.IO.Data), e.IO.Count, e.IO.Size)
			}
		case KVM_EXIT_MMIO:
			if len(e.MMIO.Data) < 1 || len(e.MMIO.Data) > mmioMaxLen {
				t.Fatalf("MMIO data of %d bytes", len(e.MMIO.Data))
			}
		}
	})
}
