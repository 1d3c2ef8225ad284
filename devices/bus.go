package devices

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Device is a device model attached to a Bus. Offsets are relative to the
// base address the device was registered at; len(data) is the access width
// (1, 2, 4 or 8 bytes for port I/O and MMIO). Read fills data; the bus has
// zero-filled it first, so a device that ignores some bytes returns zeros
// for them rather than stale data.
//
// The bus may call a device from several vCPU goroutines at once: devices
// that hold state lock it themselves.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// Sentinel errors of Bus.Register.
var (
	ErrZeroSize = errors.New("device range has zero size")
	ErrOverlap  = errors.New("device range overlaps an existing device")
	ErrWrap     = errors.New("device range wraps around the address space")
)

// busEntry is one registered device and the range it answers to.
type busEntry struct {
	base, size uint64
	name       string
	dev        Device
}

// Bus routes accesses in one address space (port I/O or MMIO) to devices.
// Registration happens before the vCPUs start; lookups afterwards only read
// the table, under a read lock so late registration (PCI BAR moves) stays
// safe.
type Bus struct {
	name string

	mu      sync.RWMutex
	entries []busEntry // sorted by base, non-overlapping

	unknownMu   sync.Mutex
	unknown     map[uint64]bool // addresses already logged as unhandled
	unknownOnce sync.Once
}

// NewBus returns an empty bus; name ("pio", "mmio") is used in logs.
func NewBus(name string) *Bus {
	return &Bus{name: name, unknown: make(map[uint64]bool)}
}

// Register attaches d to [base, base+size). Zero-sized, wrapping and
// overlapping ranges are refused: two devices answering one address is
// always a wiring bug.
func (b *Bus) Register(name string, base, size uint64, d Device) error {
	if size == 0 {
		return fmt.Errorf("%s bus: %s at %#x: %w", b.name, name, base, ErrZeroSize)
	}
	if base+size < base && base+size != 0 {
		return fmt.Errorf("%s bus: %s at %#x+%#x: %w", b.name, name, base, size, ErrWrap)
	}
	last := base + size - 1 // inclusive end; cannot overflow after the check above
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		if base <= e.base+e.size-1 && e.base <= last {
			return fmt.Errorf("%s bus: %s [%#x, %#x] and %s [%#x, %#x]: %w",
				b.name, name, base, last, e.name, e.base, e.base+e.size-1, ErrOverlap)
		}
	}
	b.entries = append(b.entries, busEntry{base: base, size: size, name: name, dev: d})
	sort.Slice(b.entries, func(i, j int) bool { return b.entries[i].base < b.entries[j].base })
	return nil
}

// Unregister removes the device registered at base, if any. PCI uses it
// when the guest moves a BAR.
func (b *Bus) Unregister(base uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, e := range b.entries {
		if e.base == base {
			b.entries = append(b.entries[:i], b.entries[i+1:]...)
			return
		}
	}
}

// lookup finds the device covering the whole access [addr, addr+n).
func (b *Bus) lookup(addr uint64, n int) (busEntry, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	i := sort.Search(len(b.entries), func(i int) bool {
		return b.entries[i].base+b.entries[i].size-1 >= addr
	})
	if i == len(b.entries) {
		return busEntry{}, false
	}
	e := b.entries[i]
	off := addr - e.base
	if addr < e.base || off > e.size || uint64(n) > e.size-off {
		return busEntry{}, false
	}
	return e, true
}

// Read dispatches a read of len(data) bytes at addr. Unclaimed addresses
// read as all ones, as on a real PC bus where nobody drives the lines;
// Read reports whether a device answered.
func (b *Bus) Read(addr uint64, data []byte) bool {
	clear(data)
	e, ok := b.lookup(addr, len(data))
	if !ok {
		for i := range data {
			data[i] = 0xff
		}
		b.logUnknown(addr, len(data), false)
		return false
	}
	e.dev.Read(addr-e.base, data)
	return true
}

// Write dispatches a write at addr. Writes to unclaimed addresses are
// dropped; Write reports whether a device took it.
func (b *Bus) Write(addr uint64, data []byte) bool {
	e, ok := b.lookup(addr, len(data))
	if !ok {
		b.logUnknown(addr, len(data), true)
		return false
	}
	e.dev.Write(addr-e.base, data)
	return true
}

// maxLoggedUnknown bounds the set of addresses remembered by logUnknown:
// the guest chooses the addresses, and must not make the host's memory
// grow without limit by touching every one of them.
const maxLoggedUnknown = 1024

// logUnknown logs an unclaimed access once per address at debug level:
// Linux probes many legacy ports at boot, and one line each is enough.
// After maxLoggedUnknown distinct addresses it says so once and stops.
func (b *Bus) logUnknown(addr uint64, n int, write bool) {
	b.unknownMu.Lock()
	seen := b.unknown[addr]
	full := len(b.unknown) >= maxLoggedUnknown
	if !seen && !full {
		b.unknown[addr] = true
	}
	b.unknownMu.Unlock()
	switch {
	case seen:
	case full:
		b.unknownOnce.Do(func() {
			slog.Debug("too many unhandled addresses; no longer logging them", "bus", b.name)
		})
	default:
		slog.Debug("unhandled access", "bus", b.name, "addr", fmt.Sprintf("%#x", addr), "size", n, "write", write)
	}
}
