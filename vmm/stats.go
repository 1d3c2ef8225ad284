package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// KVM's binary statistics (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD",
// and include/uapi/linux/kvm.h, struct kvm_stats_header and struct
// kvm_stats_desc). The ioctl, on a VM or a vCPU fd, returns a file laid out
// as
//
//	header       struct kvm_stats_header, at offset 0
//	id           "kvm-PID/vcpu-N", at header.id_offset
//	descriptors  num_desc × (struct kvm_stats_desc + name_size bytes of name)
//	data         each statistic's size × u64, at data_offset + desc.offset
//
// The counts are KVM's own: every exit of the guest, including the ones KVM
// handles in the kernel and gvmm never sees (ExitCounts has those).

// Sizes and limits of the format.
const (
	statsHeaderSize = 24 // six u32
	statsDescSize   = 16 // u32 flags, s16 exponent, u16 size, u32 offset, u32 bucket_size
	// statsMaxFile bounds what ReadStats reads: today's files are a few
	// KiB, and a bound keeps a broken one from using the host's memory.
	statsMaxFile = 1 << 20
	// statsMaxName bounds a descriptor's name block (KVM_STATS_NAME_SIZE
	// is 48).
	statsMaxName = 4096
)

// Statistic types, the low bits of a descriptor's flags.
const (
	StatsTypeMask   = 0xf
	StatsCumulative = 0x0 // a counter that only grows (exits, io_exits)
	StatsInstant    = 0x1 // a value now (pages mapped)
	StatsPeak       = 0x2 // the largest value seen
	StatsLinearHist = 0x3
	StatsLogHist    = 0x4
)

// Stat is one statistic: its name, type and value(s) (one for a counter,
// one per bucket for a histogram).
type Stat struct {
	Name   string
	Type   uint32
	Values []uint64
}

// Stats is one reading of a VM's or a vCPU's statistics.
type Stats struct {
	// ID names the owner, e.g. "kvm-1234/vcpu-0".
	ID    string
	Stats []Stat
}

// Counter returns the single value of the statistic name, and whether
// there is one.
func (s Stats) Counter(name string) (uint64, bool) {
	for _, st := range s.Stats {
		if st.Name == name && len(st.Values) == 1 {
			return st.Values[0], true
		}
	}
	return 0, false
}

// ErrBadStats wraps every way a statistics file can be malformed.
var ErrBadStats = errors.New("malformed KVM statistics")

// ParseStats decodes a whole statistics file. Every offset and count is
// checked against the file's length, so a short or corrupt file is an
// error, never a panic.
func ParseStats(b []byte) (Stats, error) {
	if len(b) < statsHeaderSize {
		return Stats{}, fmt.Errorf("%w: %d bytes, shorter than the header", ErrBadStats, len(b))
	}
	le := binary.LittleEndian
	nameSize := uint64(le.Uint32(b[4:]))
	numDesc := uint64(le.Uint32(b[8:]))
	idOff := uint64(le.Uint32(b[12:]))
	descOff := uint64(le.Uint32(b[16:]))
	dataOff := uint64(le.Uint32(b[20:]))
	size := uint64(len(b))
	if nameSize == 0 || nameSize > statsMaxName {
		return Stats{}, fmt.Errorf("%w: name_size %d", ErrBadStats, nameSize)
	}
	descLen := statsDescSize + nameSize
	if numDesc > size/descLen || descOff > size || numDesc*descLen > size-descOff {
		return Stats{}, fmt.Errorf("%w: %d descriptors of %d bytes at %d do not fit in %d bytes", ErrBadStats, numDesc, descLen, descOff, size)
	}
	var out Stats
	if idOff < size {
		out.ID = cString(b[idOff:min(size, idOff+64)])
	}
	for i := range numDesc {
		d := b[descOff+i*descLen : descOff+(i+1)*descLen]
		flags := le.Uint32(d[0:])
		n := uint64(le.Uint16(d[6:]))
		off := uint64(le.Uint32(d[8:]))
		name := cString(d[statsDescSize:])
		if dataOff > size || off > size || n > size/8 || dataOff+off > size || n*8 > size-dataOff-off {
			return Stats{}, fmt.Errorf("%w: %s: %d values at %d+%d do not fit in %d bytes", ErrBadStats, name, n, dataOff, off, size)
		}
		vals := make([]uint64, n)
		for j := range n {
			vals[j] = le.Uint64(b[dataOff+off+j*8:])
		}
		out.Stats = append(out.Stats, Stat{Name: name, Type: flags & StatsTypeMask, Values: vals})
	}
	return out, nil
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\x00")
	return s
}

// ReadStats reads and decodes the statistics behind fd (KVM_GET_STATS_FD).
func ReadStats(fd int) (Stats, error) {
	f := os.NewFile(uintptr(fd), "kvm-stats")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, statsMaxFile))
	if err != nil {
		return Stats{}, fmt.Errorf("read KVM statistics: %w", err)
	}
	return ParseStats(b)
}

// statsOf asks KVM for the statistics of the VM or vCPU behind fd.
func statsOf(fd int) (Stats, error) {
	sfd, err := ioctl(fd, KVM_GET_STATS_FD, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return Stats{}, fmt.Errorf("KVM_GET_STATS_FD: %w (this kernel's KVM has no binary statistics; Linux 5.14 or later has them)", err)
		}
		return Stats{}, fmt.Errorf("KVM_GET_STATS_FD: %w", err)
	}
	return ReadStats(int(sfd))
}

// Stats reads the VM's statistics (remote TLB flushes, pages mapped...).
func (vm *VM) Stats() (Stats, error) { return statsOf(vm.fd) }

// Stats reads the vCPU's statistics (exits, io_exits, halt_exits,
// pf_taken...). Safe while the vCPU runs: KVM updates them in place.
func (c *VCPU) Stats() (Stats, error) { return statsOf(c.fd) }
