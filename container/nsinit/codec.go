package nsinit

import (
	"encoding/binary"
	"errors"
)

// The plan travels as a flat sequence of unsigned varints and
// length-prefixed strings (encoding/binary's varint, the format protocol
// buffers use for integers). It is written by the runtime and read once by
// init from a pipe, so there is no need for anything self-describing; the
// version number at the front catches a gvmm-init from another build.

// errShortPlan means the plan ended early or a length ran past its end.
var errShortPlan = errors.New("plan: truncated")

// maxCount bounds every length and count read from a plan, so a corrupt
// plan cannot make init allocate without limit.
const maxCount = 1 << 20

type encoder struct{ buf []byte }

func (e *encoder) u64(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.u64(1)
	} else {
		e.u64(0)
	}
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) strs(ss []string) {
	e.u64(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// decoder reads what encoder wrote; the first error sticks and every later
// read returns zero values, so callers check err once at the end.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errShortPlan
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bool() bool { return d.u64() != 0 }

// count reads a length or element count and checks it against maxCount.
func (d *decoder) count() int {
	n := d.u64()
	if n > maxCount {
		d.err = errShortPlan
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	if n > len(d.buf) {
		d.err = errShortPlan
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]string, 0, min(n, len(d.buf)))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}
