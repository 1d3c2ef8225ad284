// Package console connects the user's terminal to the guest's console the
// way QEMU's -nographic does: the terminal goes into raw mode so every key,
// Ctrl-C included, reaches the guest, and Ctrl-A starts an escape sequence
// for the VMM itself (Ctrl-A x quits, Ctrl-A Ctrl-A sends a literal Ctrl-A,
// Ctrl-A h prints help).
package console

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Escape bytes.
const (
	CtrlA    = 0x01
	keyQuit  = 'x'
	keyHelp  = 'h'
	helpText = "\r\nC-a x    exit gvmm\r\nC-a C-a  send C-a to the guest\r\nC-a h    this help\r\n"
)

// EscapeReader filters a terminal input stream: it removes the escape
// sequences and acts on them, passing everything else through.
type EscapeReader struct {
	in     io.Reader
	help   io.Writer
	onQuit func()

	mu      sync.Mutex
	pending bool // the previous byte was Ctrl-A
	quit    bool
}

// NewEscapeReader wraps in. onQuit runs when the user types Ctrl-A x; help
// text goes to help.
func NewEscapeReader(in io.Reader, help io.Writer, onQuit func()) *EscapeReader {
	return &EscapeReader{in: in, help: help, onQuit: onQuit}
}

// Read reads from the terminal and returns the bytes meant for the guest.
// After Ctrl-A x it returns io.EOF.
func (e *EscapeReader) Read(p []byte) (int, error) {
	for {
		e.mu.Lock()
		quit := e.quit
		e.mu.Unlock()
		if quit {
			return 0, io.EOF
		}
		n, err := e.in.Read(p)
		m := e.filter(p[:n])
		if m > 0 || err != nil {
			return m, err
		}
	}
}

// filter rewrites p in place and returns how many bytes remain.
func (e *EscapeReader) filter(p []byte) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := 0
	for _, b := range p {
		if e.quit {
			break
		}
		if !e.pending {
			if b == CtrlA {
				e.pending = true
				continue
			}
			p[out] = b
			out++
			continue
		}
		e.pending = false
		switch b {
		case CtrlA:
			p[out] = CtrlA
			out++
		case keyQuit:
			e.quit = true
			if e.onQuit != nil {
				e.onQuit()
			}
		case keyHelp:
			if e.help != nil {
				io.WriteString(e.help, helpText)
			}
		}
		// Other keys after Ctrl-A are dropped, as QEMU does.
	}
	return out
}

// MakeRaw puts f in raw mode if it is a terminal and returns a function
// that restores it (a no-op otherwise).
func MakeRaw(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return func() {}, nil
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { _ = term.Restore(fd, old) }, nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
