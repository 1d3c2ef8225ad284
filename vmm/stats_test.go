package vmm

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsFile builds a statistics file as include/uapi/linux/kvm.h lays it
// out: header, id, descriptors with names of nameSize bytes, data.
func statsFile(id string, nameSize int, stats []Stat) []byte {
	le := binary.LittleEndian
	descLen := statsDescSize + nameSize
	idOff := statsHeaderSize
	descOff := idOff + 64
	dataOff := descOff + len(stats)*descLen
	b := make([]byte, dataOff)
	le.PutUint32(b[4:], uint32(nameSize))
	le.PutUint32(b[8:], uint32(len(stats)))
	le.PutUint32(b[12:], uint32(idOff))
	le.PutUint32(b[16:], uint32(descOff))
	le.PutUint32(b[20:], uint32(dataOff))
	copy(b[idOff:], id)
	var data []byte
	for i, s := range stats {
		d := b[descOff+i*descLen:]
		le.PutUint32(d[0:], s.Type)
		le.PutUint16(d[6:], uint16(len(s.Values)))
		le.PutUint32(d[8:], uint32(len(data)))
		copy(d[statsDescSize:statsDescSize+nameSize-1], s.Name)
		for _, v := range s.Values {
			data = le.AppendUint64(data, v)
		}
	}
	return append(b, data...)
}

var sampleStats = []Stat{
	{Name: "exits", Type: StatsCumulative, Values: []uint64{106377}},
	{Name: "io_exits", Type: StatsCumulative, Values: []uint64{73354}},
	{Name: "halt_poll_success_hist", Type: StatsLogHist, Values: []uint64{1, 2, 3, 4}},
	{Name: "pages_4k", Type: StatsInstant, Values: []uint64{512}},
}

func TestParseStats(t *testing.T) {
	s, err := ParseStats(statsFile("kvm-42/vcpu-0", 48, sampleStats))
	require.NoError(t, err)
	assert.Equal(t, "kvm-42/vcpu-0", s.ID)
	assert.Equal(t, sampleStats, s.Stats)
	n, ok := s.Counter("io_exits")
	assert.True(t, ok)
	assert.Equal(t, uint64(73354), n)
	_, ok = s.Counter("halt_poll_success_hist")
	assert.False(t, ok, "a histogram is not a counter")
	_, ok = s.Counter("nope")
	assert.False(t, ok)
}

func TestParseStatsRefusesBrokenFiles(t *testing.T) {
	good := statsFile("kvm-1/vcpu-0", 48, sampleStats)
	le := binary.LittleEndian
	tests := map[string]func([]byte) []byte{
		"short":               func(b []byte) []byte { return b[:10] },
		"no name size":        func(b []byte) []byte { le.PutUint32(b[4:], 0); return b },
		"huge name size":      func(b []byte) []byte { le.PutUint32(b[4:], 1<<30); return b },
		"too many":            func(b []byte) []byte { le.PutUint32(b[8:], 1<<31); return b },
		"descriptors outside": func(b []byte) []byte { le.PutUint32(b[16:], 1<<31); return b },
		"data outside":        func(b []byte) []byte { le.PutUint32(b[20:], 1<<31); return b },
		"truncated data":      func(b []byte) []byte { return b[:len(b)-8] },
		"value count overflows": func(b []byte) []byte {
			le.PutUint16(b[statsHeaderSize+64+6:], 0xffff)
			return b
		},
	}
	for name, mangle := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseStats(mangle(append([]byte(nil), good...)))
			assert.ErrorIs(t, err, ErrBadStats)
		})
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(statsFile("kvm-1/vcpu-0", 48, sampleStats))
	f.Add(statsFile("", 1, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStats(b)
		if err != nil {
			return
		}
		for _, st := range s.Stats {
			if len(st.Values)*8 > len(b) {
				t.Fatalf("%s: %d values from %d bytes", st.Name, len(st.Values), len(b))
			}
		}
	})
}
