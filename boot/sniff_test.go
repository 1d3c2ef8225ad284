package boot

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsBzImage(t *testing.T) {
	img := make([]byte, 0x400)
	assert.False(t, IsBzImage(bytes.NewReader(img)), "no magic")
	copy(img[hdrMagicOff:], hdrMagic)
	assert.True(t, IsBzImage(bytes.NewReader(img)))
	assert.False(t, IsBzImage(bytes.NewReader(img[:hdrMagicOff+2])), "truncated before the magic ends")
}
