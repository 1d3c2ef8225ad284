package boot

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fuzz targets feed arbitrary bytes to the parsers and to the whole
// loaders running against real guest memory. They must never panic, and
// whatever they accept must satisfy the invariants checked below. Seeds
// come from the synthetic images (f.Add) and from the committed corpus in
// testdata/fuzz, which `go test -run TestWriteFuzzSeeds -update-seeds`
// regenerates.
//
// Run one for a minute:
//
//	go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 60s ./boot/

var updateSeeds = flag.Bool("update-seeds", false, "rewrite boot/testdata/fuzz from the synthetic images")

// fuzzMemSize is the guest RAM the fuzzed loaders write into.
const fuzzMemSize = 32 << 20

// smallBz is goodBz with one setup sector and a 256-byte payload, so
// seeds stay small.
func smallBz() bzSpec {
	s := goodBz()
	s.setupSects = 1
	s.payload = bytes.Repeat([]byte{0xf4}, 256)
	s.syssize = 256 / 16
	return s
}

// smallELF shrinks every segment of an ELF spec to at most 64 bytes of
// file data (keeping p_memsz), so seeds stay small.
func smallELF(s elfSpec) elfSpec {
	s.segs = append([]elfSeg(nil), s.segs...)
	for i, g := range s.segs {
		if g.typ == ptLoad && len(g.data) > 64 {
			s.segs[i].memsz = max(g.memsz, uint64(len(g.data)))
			s.segs[i].data = g.data[:64]
		}
	}
	return s
}

func bzSeeds() [][]byte {
	old := smallBz()
	old.version = 0x020a
	no64 := smallBz()
	no64.xloadFlags = 0
	fixed := smallBz()
	fixed.relocatable, fixed.prefAddress = false, 0x1000000
	return [][]byte{smallBz().build(), old.build(), no64.build(), fixed.build()}
}

func elfSeeds() [][]byte {
	pvh := smallELF(goodPVH32()).build()
	return [][]byte{pvh, smallELF(goodVmlinux()).build(), pvh[:len(pvh)-40]}
}

func FuzzSetupHeader(f *testing.F) {
	for _, s := range bzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseSetupHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			require.Nil(t, h)
			return
		}
		assert.GreaterOrEqual(t, h.Version, uint16(minProtocol))
		assert.NotZero(t, h.XLoadFlags&xlfKernel64)
		assert.NotZero(t, h.InitSize)
		assert.Equal(t, int64(len(data)), h.PayloadOffset+h.PayloadSize)
		assert.Positive(t, h.PayloadSize)
		assert.LessOrEqual(t, len(h.Raw), hdrMaxEnd-hdrStartOff)
	})
}

func FuzzLoadELF(f *testing.F) {
	for _, s := range elfSeeds() {
		f.Add(s)
	}
	mem := newMemory(f, fuzzMemSize)
	f.Fuzz(func(t *testing.T, data []byte) {
		entry, err := LoadPVH(mem, configFor(data, []byte("initrd"), "console=ttyS0"))
		if err != nil {
			return
		}
		assert.Equal(t, Mode32, entry.Mode)
		assert.GreaterOrEqual(t, entry.IP, uint64(1<<20))
		assert.Less(t, entry.IP, uint64(fuzzMemSize))
	})
}

func FuzzLoad(f *testing.F) {
	for _, s := range append(bzSeeds(), elfSeeds()...) {
		f.Add(s, "console=ttyS0", uint16(100))
	}
	f.Add([]byte("not a kernel"), "", uint16(0))
	mem := newMemory(f, fuzzMemSize)
	f.Fuzz(func(t *testing.T, data []byte, cmdline string, initrdSize uint16) {
		cfg := configFor(data, nil, cmdline)
		if initrdSize > 0 {
			// The initrd may claim more bytes than it has.
			cfg.Initrd, cfg.InitrdSize = bytes.NewReader(make([]byte, initrdSize/2)), int64(initrdSize)
		}
		entry, err := Load(mem, cfg)
		if err != nil {
			return
		}
		assert.Contains(t, []CPUMode{Mode32, Mode64}, entry.Mode)
		assert.Less(t, entry.IP, uint64(fuzzMemSize))
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpus. Without
// -update-seeds it checks that the corpus exists, so a missing corpus is
// a failure and not a silent gap.
func TestWriteFuzzSeeds(t *testing.T) {
	corpora := map[string][][]string{}
	for _, s := range bzSeeds() {
		corpora["FuzzSetupHeader"] = append(corpora["FuzzSetupHeader"], []string{bytesLit(s)})
		corpora["FuzzLoad"] = append(corpora["FuzzLoad"], []string{bytesLit(s), `string("console=ttyS0")`, "uint16(100)"})
	}
	for _, s := range elfSeeds() {
		corpora["FuzzLoadELF"] = append(corpora["FuzzLoadELF"], []string{bytesLit(s)})
		corpora["FuzzLoad"] = append(corpora["FuzzLoad"], []string{bytesLit(s), `string("")`, "uint16(4097)"})
	}
	for target, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", target)
		if !*updateSeeds {
			files, err := os.ReadDir(dir)
			require.NoError(t, err, "seed corpus missing; run go test -run TestWriteFuzzSeeds -update-seeds ./boot/")
			assert.GreaterOrEqual(t, len(files), len(seeds), target)
			continue
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i, values := range seeds {
			var b bytes.Buffer
			b.WriteString("go test fuzz v1\n")
			for _, v := range values {
				b.WriteString(v + "\n")
			}
			name := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			require.NoError(t, os.WriteFile(name, b.Bytes(), 0o644))
		}
	}
}

func bytesLit(b []byte) string { return "[]byte(" + strconv.Quote(string(b)) + ")" }
