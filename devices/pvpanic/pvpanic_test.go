package pvpanic

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegister(t *testing.T) {
	var got []uint8
	d := &Device{OnEvent: func(e uint8) { got = append(got, e) }}
	b := []byte{0}
	d.Read(0, b)
	assert.Equal(t, uint8(EventPanicked|EventCrashLoaded), b[0], "the driver reads the supported events")
	d.Write(0, []byte{0x80})
	assert.Empty(t, got, "unknown event bits are ignored")
	d.Write(1, []byte{EventPanicked})
	assert.Empty(t, got, "only offset 0 is the register")
	d.Write(0, []byte{EventPanicked})
	assert.Equal(t, []uint8{EventPanicked}, got)
}

func TestFunctionIdentity(t *testing.T) {
	f, err := NewFunction(&Device{})
	require.NoError(t, err)
	id := make([]byte, 4)
	f.ReadConfig(0, id)
	assert.Equal(t, []byte{0x36, 0x1b, 0x11, 0x00}, id, "vendor 1b36, device 0011 as Linux's pvpanic-pci matches")
}
