package boot

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/vmm"
)

// TestZeroPageOffsets pins the zero-page offsets to
// Documentation/arch/x86/zero-page.rst.
func TestZeroPageOffsets(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"ext_ramdisk_image", zpExtRamdiskImageOff, 0x0c0},
		{"ext_ramdisk_size", zpExtRamdiskSizeOff, 0x0c4},
		{"ext_cmd_line_ptr", zpExtCmdLinePtrOff, 0x0c8},
		{"e820_entries", zpE820EntriesOff, 0x1e8},
		{"sentinel", zpSentinelOff, 0x1ef},
		{"hdr", hdrStartOff, 0x1f1},
		{"e820_table", zpE820TableOff, 0x2d0},
		{"e820_table size (0x2d0/0xa00)", zpE820MaxEntries * zpE820EntrySize, 0xa00},
		{"sizeof(boot_params)", zpSize, 4096},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
}

func TestLoadBzImage(t *testing.T) {
	const memSize = 64 << 20
	mem := newMemory(t, memSize)
	spec := goodBz()
	kernel := spec.build()
	initrd := bytes.Repeat([]byte("initrd"), 200_000) // ~1.2 MiB, not page sized
	cmdline := "console=ttyS0 reboot=k panic=-1"

	cfg := configFor(kernel, initrd, cmdline)
	cfg.RSDP = vmm.ACPITablesStart
	entry, err := LoadBzImage(mem, cfg)
	require.NoError(t, err)

	// The 64-bit boot protocol's entry state.
	assert.Equal(t, Mode64, entry.Mode)
	assert.Equal(t, uint64(0x100200), entry.IP, "start of the loaded kernel plus 0x200")
	assert.Equal(t, uint64(vmm.ZeroPageAddr), entry.BootParams)
	assert.Equal(t, uint64(vmm.PML4Addr), entry.CR3)
	assert.Equal(t, uint64(vmm.BootGDTAddr), entry.GDTBase)
	assert.Equal(t, uint16(5*8-1), entry.GDTLimit)

	// The protected-mode kernel at 1 MiB, byte for byte.
	assert.Equal(t, spec.payload, readGuest(t, mem, 0x100000, len(spec.payload)))

	zp := readGuest(t, mem, vmm.ZeroPageAddr, zpSize)
	le := binary.LittleEndian
	assert.Equal(t, hdrMagic, string(zp[hdrMagicOff:hdrMagicOff+4]), "setup header copied")
	assert.Equal(t, kernel[hdrStartOff:hdrTypeOfLoaderOff], zp[hdrStartOff:hdrTypeOfLoaderOff], "header before type_of_loader unchanged")
	assert.Equal(t, kernel[hdrInitrdAddrMaxOff:0x26c], zp[hdrInitrdAddrMaxOff:0x26c], "header after cmd_line_ptr unchanged")
	assert.Equal(t, make([]byte, zpE820TableOff-0x26c), zp[0x26c:zpE820TableOff], "nothing past the header but the e820 map")
	assert.Equal(t, uint64(vmm.ACPITablesStart), le.Uint64(zp[zpACPIRSDPAddrOff:]), "acpi_rsdp_addr")
	assert.Equal(t, make([]byte, zpExtRamdiskImageOff-zpACPIRSDPAddrOff-8), zp[zpACPIRSDPAddrOff+8:zpExtRamdiskImageOff])
	assert.Equal(t, make([]byte, hdrStartOff-zpSentinelOff), zp[zpSentinelOff:hdrStartOff], "sentinel and padding zero")
	assert.Equal(t, byte(0xff), zp[hdrTypeOfLoaderOff])
	assert.Equal(t, byte(loadflagLoadedHigh), zp[hdrLoadflagsOff], "loadflags: the kernel's own bits only")
	assert.Equal(t, byte(0), zp[zpSentinelOff])
	assert.Equal(t, uint32(vmm.CmdlineAddr), le.Uint32(zp[hdrCmdLinePtrOff:]))
	assert.Equal(t, uint32(0), le.Uint32(zp[zpExtCmdLinePtrOff:]))
	assert.Equal(t, append([]byte(cmdline), 0), readGuest(t, mem, vmm.CmdlineAddr, len(cmdline)+1))

	// The initrd: high, page aligned, inside RAM, above the kernel.
	initrdAddr := uint64(le.Uint32(zp[hdrRamdiskImageOff:])) | uint64(le.Uint32(zp[zpExtRamdiskImageOff:]))<<32
	initrdSize := uint64(le.Uint32(zp[hdrRamdiskSizeOff:])) | uint64(le.Uint32(zp[zpExtRamdiskSizeOff:]))<<32
	assert.Equal(t, uint64(len(initrd)), initrdSize)
	assert.Zero(t, initrdAddr%4096, "page aligned")
	assert.LessOrEqual(t, initrdAddr+initrdSize, uint64(memSize))
	assert.Greater(t, initrdAddr+initrdSize, uint64(memSize-4096), "as high as possible")
	assert.GreaterOrEqual(t, initrdAddr, uint64(0x200000+4<<20), "above pref_address + init_size")
	assert.Equal(t, initrd, readGuest(t, mem, initrdAddr, len(initrd)))

	// The e820 map.
	want := []E820Entry{
		{0, vmm.EBDAStart, E820RAM},
		{vmm.EBDAStart, vmm.LowRAMEnd - vmm.EBDAStart, E820Reserved},
		{vmm.ACPITablesStart, vmm.HighMemoryStart - vmm.ACPITablesStart, E820Reserved},
		{vmm.HighMemoryStart, memSize - vmm.HighMemoryStart, E820RAM},
	}
	require.Equal(t, byte(len(want)), zp[zpE820EntriesOff])
	for i, w := range want {
		b := zp[zpE820TableOff+i*zpE820EntrySize:]
		assert.Equal(t, w, E820Entry{le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:])}, "e820 entry %d", i)
	}

	// Identity page tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD maps 2 MiB pages.
	assert.Equal(t, uint64(vmm.PDPTAddr|3), le.Uint64(readGuest(t, mem, vmm.PML4Addr, 8)))
	assert.Equal(t, uint64(vmm.PDAddr|3), le.Uint64(readGuest(t, mem, vmm.PDPTAddr, 8)))
	assert.Equal(t, uint64(0x200000|0x83), le.Uint64(readGuest(t, mem, vmm.PDAddr+8, 8)))
}

func TestLoadBzImageNoInitrd(t *testing.T) {
	mem := newMemory(t, 16<<20)
	_, err := LoadBzImage(mem, configFor(goodBz().build(), nil, ""))
	require.NoError(t, err)
	zp := readGuest(t, mem, vmm.ZeroPageAddr, zpSize)
	assert.Zero(t, binary.LittleEndian.Uint32(zp[hdrRamdiskImageOff:]))
	assert.Zero(t, binary.LittleEndian.Uint32(zp[hdrRamdiskSizeOff:]))
	assert.Equal(t, byte(0), readGuest(t, mem, vmm.CmdlineAddr, 1)[0], "empty command line is a lone NUL")
}

func TestLoadBzImageErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		memSize uint64
		mutate  func(*bzSpec)
		cfg     func(*Config)
		want    error
		// atWrite: the error can only show while copying (the data is
		// shorter than the size the caller gave), after validation.
		atWrite bool
	}{
		{name: "memory smaller than init_size", memSize: 8 << 20,
			mutate: func(s *bzSpec) { s.initSize = 16 << 20 }, want: ErrMemoryTooSmall},
		{name: "memory smaller than pref_address", memSize: 8 << 20,
			mutate: func(s *bzSpec) { s.prefAddress = 16 << 20 }, want: ErrMemoryTooSmall},
		{name: "init_size overflows", memSize: 8 << 20,
			mutate: func(s *bzSpec) { s.relocatable, s.prefAddress, s.initSize = false, ^uint64(0)-0xfff, 0x10000 }, want: ErrBadHeader},
		{name: "kernel beyond the 1 GiB identity map", memSize: 2 << 30,
			mutate: func(s *bzSpec) { s.prefAddress = 1 << 30 }, want: ErrBadHeader},
		{name: "initrd larger than RAM", memSize: 16 << 20,
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(nil), 32<<20 }, want: ErrInitrdTooLarge},
		{name: "initrd_addr_max below the kernel", memSize: 16 << 20,
			mutate: func(s *bzSpec) { s.initrdAddrMax = 0x400000 - 1 },
			cfg:    func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(make([]byte, 4096)), 4096 }, want: ErrOverlap},
		{name: "initrd fits RAM but not above the kernel", memSize: 16 << 20,
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(make([]byte, 12<<20)), 12<<20 }, want: ErrOverlap},
		{name: "initrd empty", memSize: 16 << 20,
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(nil), 0 }, want: ErrInitrdEmpty},
		{name: "initrd shorter than its size", memSize: 16 << 20,
			cfg: func(c *Config) { c.Initrd, c.InitrdSize = bytes.NewReader(make([]byte, 100)), 8192 }, want: ErrTruncated, atWrite: true},
		{name: "command line over cmdline_size", memSize: 16 << 20,
			mutate: func(s *bzSpec) { s.cmdlineSize = 10 },
			cfg:    func(c *Config) { c.Cmdline = "console=ttyS0" }, want: ErrCmdlineTooLong},
		{name: "command line over gvmm's buffer", memSize: 16 << 20,
			mutate: func(s *bzSpec) { s.cmdlineSize = 1 << 20 },
			cfg:    func(c *Config) { c.Cmdline = strings.Repeat("x", vmm.CmdlineMaxSize) }, want: ErrCmdlineTooLong},
		{name: "command line with NUL", memSize: 16 << 20,
			cfg: func(c *Config) { c.Cmdline = "quiet\x00init=/bin/sh" }, want: ErrBadCmdline},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newMemory(t, c.memSize)
			s := goodBz()
			if c.mutate != nil {
				c.mutate(&s)
			}
			cfg := configFor(s.build(), nil, "")
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			rec := &writeCounter{Memory: mem}
			_, err := LoadBzImage(rec, cfg)
			require.ErrorIs(t, err, c.want)
			t.Log(err)
			if !c.atWrite {
				assert.Zero(t, rec.writes, "guest memory must be untouched when validation fails")
				assert.ErrorIs(t, Check(mem.RAMRanges(), cfg), c.want, "Check finds what Load finds")
			}
		})
	}
}

// TestCmdlineExactlyAtLimit: cmdline_size counts characters without the
// NUL, so a command line of exactly cmdline_size bytes is fine.
func TestCmdlineExactlyAtLimit(t *testing.T) {
	mem := newMemory(t, 16<<20)
	s := goodBz()
	s.cmdlineSize = 16
	_, err := LoadBzImage(mem, configFor(s.build(), nil, strings.Repeat("a", 16)))
	require.NoError(t, err)
	_, err = LoadBzImage(mem, configFor(s.build(), nil, strings.Repeat("a", 17)))
	require.ErrorIs(t, err, ErrCmdlineTooLong)
}
