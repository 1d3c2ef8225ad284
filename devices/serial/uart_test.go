package serial

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// line records the interrupt line's level changes.
type line struct{ levels []bool }

func (l *line) SetLevel(high bool) error { l.levels = append(l.levels, high); return nil }

func rd(u *UART, off uint64) byte {
	b := []byte{0}
	u.Read(off, b)
	return b[0]
}

func wr(u *UART, off uint64, v byte) { u.Write(off, []byte{v}) }

func TestUARTTransmit(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, &line{})
	assert.Equal(t, byte(lsrTHRE|lsrTEMT), rd(u, regLSR))
	for _, c := range []byte("hi\n") {
		wr(u, regTHR, c)
	}
	assert.Equal(t, "hi\n", out.String())
}

func TestUARTDivisorLatch(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, nil)
	wr(u, regLCR, lcrDLAB|0x03)
	wr(u, regDLL, 0x01)
	wr(u, regDLM, 0x00)
	assert.Equal(t, byte(1), rd(u, regDLL))
	wr(u, regLCR, 0x03)
	wr(u, regTHR, 'x')
	assert.Equal(t, "x", out.String(), "with DLAB clear, offset 0 is THR again")
}

func TestUARTLoopbackLikeLinuxProbe(t *testing.T) {
	// drivers/tty/serial/8250/8250_port.c autoconfig: MCR = LOOP|OUT2|RTS,
	// expect MSR high nibble = DCD|CTS (0x90).
	u := New(&bytes.Buffer{}, nil)
	wr(u, regMCR, mcrLoop|mcrOUT2|mcrRTS)
	assert.Equal(t, byte(0x90), rd(u, regMSR)&0xf0)
	wr(u, regTHR, 'z')
	assert.Equal(t, byte(lsrDataReady), rd(u, regLSR)&lsrDataReady, "looped-back byte received")
	assert.Equal(t, byte('z'), rd(u, regRBR))
}

func TestUARTReceiveInterrupt(t *testing.T) {
	irq := &line{}
	u := New(&bytes.Buffer{}, irq)
	u.Receive([]byte("ab"))
	assert.Empty(t, irq.levels, "no interrupt until enabled")
	wr(u, regIER, ierRxData)
	assert.Equal(t, []bool{true}, irq.levels)
	assert.Equal(t, byte(iirRxData), rd(u, regIIR))
	assert.Equal(t, byte('a'), rd(u, regRBR))
	assert.Equal(t, byte('b'), rd(u, regRBR))
	assert.Equal(t, []bool{true, false}, irq.levels, "line drops once the FIFO is drained")
	assert.Equal(t, byte(iirNoInterrupt), rd(u, regIIR))
}

func TestUARTTHREInterrupt(t *testing.T) {
	irq := &line{}
	u := New(&bytes.Buffer{}, irq)
	wr(u, regIER, ierTHRE)
	assert.Equal(t, []bool{true}, irq.levels, "enabling THRE with an empty THR interrupts")
	assert.Equal(t, byte(iirTHRE), rd(u, regIIR))
	assert.Equal(t, []bool{true, false}, irq.levels, "reading IIR clears THRE")
	wr(u, regTHR, 'x')
	assert.Equal(t, []bool{true, false, true}, irq.levels)
}

func TestUARTTHRWriteMakesNewEdge(t *testing.T) {
	irq := &line{}
	u := New(&bytes.Buffer{}, irq)
	u.Receive([]byte("r"))
	wr(u, regIER, ierRxData|ierTHRE)
	assert.Equal(t, []bool{true}, irq.levels)
	// The driver sees the higher-priority receive interrupt first, so
	// THRE stays pending and the line high; then it transmits.
	assert.Equal(t, byte(iirRxData), rd(u, regIIR))
	rd(u, regRBR)
	wr(u, regTHR, 'x')
	assert.Equal(t, []bool{true, false, true}, irq.levels, "a THR write drops and re-raises the line: a fresh edge")
}

func TestUARTIgnoresBadAccesses(t *testing.T) {
	u := New(&bytes.Buffer{}, nil)
	u.Write(99, []byte{1})
	u.Write(regSCR, []byte{1, 2})
	b := []byte{0, 0}
	u.Read(regSCR, b)
	assert.Equal(t, []byte{0, 0}, b, "wide and out-of-range accesses are ignored")
}

func TestUARTReceiveBackPressure(t *testing.T) {
	u := New(&bytes.Buffer{}, nil)
	big := make([]byte, rxCapacity+10)
	done := make(chan int)
	go func() { done <- u.Receive(big) }()
	select {
	case <-done:
		t.Fatal("Receive returned with the queue full")
	case <-time.After(50 * time.Millisecond):
	}
	for i := 0; i < 10; i++ {
		rd(u, regRBR)
	}
	require.Equal(t, len(big), <-done)
	u.Close()
	assert.Equal(t, 0, u.Receive([]byte("late")), "after Close nothing more is queued")
}
