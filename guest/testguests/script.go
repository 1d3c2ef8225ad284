package testguests

import "encoding/binary"

// Op is one operation of the hostile guest's script (hostile.S, whose
// .set OP_* lines list the same numbers; TestScriptOpsMatchAssembly checks).
type Op uint32

// The script's operations. a, b and c are the record's three arguments.
const (
	OpExit     Op = iota // status a
	OpOut                // port a, value b, size c
	OpIn                 // port a, size c -> ACC
	OpWrite              // guest-physical address a, value b, size c
	OpRead               // address a, size c -> ACC
	OpBWrite             // BASE + a, value b, size c
	OpBRead              // BASE + a, size c -> ACC
	OpCfgWrite           // config offset a of the found function, value b, size c
	OpCfgRead            // config offset a, size c -> ACC
	OpFind               // a = vendor | device<<16: CFG and BASE (BAR0) of that function
	OpExpect             // (ACC & a) != b: exit with status c
	OpWait               // byte at a until (byte & b) != 0, at most c reads (else status 4)
	OpBWait              // the same at BASE + a
	OpRepeat             // run the next record a times
	OpRdmsr              // MSR a -> ACC
	OpWrmsr              // MSR a = c:b
	OpCPUID              // leaf a -> ACC (eax)
	OpCliHlt             // cli; hlt, for ever
	OpMark               // print "mark XXXXXXXX" with a in hex
	OpSweep              // every config offset 0..255: write b (a = 1) or read (a = 0), size c
)

// The hostile guest's own exit statuses (besides OpExit's and OpExpect's).
const (
	StatusNoScript = 2    // booted without --initrd
	StatusNotFound = 3    // OpFind found no such function
	StatusWaitOut  = 4    // OpWait's bound ran out
	StatusBadOp    = 5    // an operation number hostile.S does not know
	StatusFault    = 0x80 // + the exception vector: the guest took an exception
)

// RecordSize is the size of one script record: op, a, b, c (le32 each).
const RecordSize = 16

// Script is a hostile guest's script, built record by record; write
// Bytes to a file and boot the "hostile" guest with it as --initrd.
type Script struct{ b []byte }

// Add appends one record.
func (s *Script) Add(op Op, a, b, c uint32) *Script {
	var r [RecordSize]byte
	binary.LittleEndian.PutUint32(r[0:], uint32(op))
	binary.LittleEndian.PutUint32(r[4:], a)
	binary.LittleEndian.PutUint32(r[8:], b)
	binary.LittleEndian.PutUint32(r[12:], c)
	s.b = append(s.b, r[:]...)
	return s
}

// Write stores a value of size bytes (1, 2 or 4) in guest memory.
func (s *Script) Write(addr uint32, v uint32, size int) *Script {
	return s.Add(OpWrite, addr, v, uint32(size))
}

// Write64 stores a le64 as two le32 writes.
func (s *Script) Write64(addr uint32, v uint64) *Script {
	return s.Write(addr, uint32(v), 4).Write(addr+4, uint32(v>>32), 4)
}

// BWrite writes size bytes at BASE + off (the found function's BAR0).
func (s *Script) BWrite(off uint32, v uint32, size int) *Script {
	return s.Add(OpBWrite, off, v, uint32(size))
}

// BWrite64 writes a le64 register at BASE + off as two le32 writes, as
// §4.1.3.1 allows for the 64-bit fields of the common configuration.
func (s *Script) BWrite64(off uint32, v uint64) *Script {
	return s.BWrite(off, uint32(v), 4).BWrite(off+4, uint32(v>>32), 4)
}

// Expect ends the run with status when (ACC & mask) != want.
func (s *Script) Expect(mask, want uint32, status uint8) *Script {
	return s.Add(OpExpect, mask, want, uint32(status))
}

// Repeat runs the record added next n times.
func (s *Script) Repeat(n uint32) *Script { return s.Add(OpRepeat, n, 0, 0) }

// Mark prints "mark %08x" on the serial console.
func (s *Script) Mark(v uint32) *Script { return s.Add(OpMark, v, 0, 0) }

// Bytes is the script as the guest reads it.
func (s *Script) Bytes() []byte { return s.b }
