#include "textflag.h"

// func outb(port uint16, b byte)
// OUT DX, AL (Intel SDM vol. 2B, "OUT": opcode EE writes AL to the port in DX).
TEXT ·outb(SB), NOSPLIT, $0-3
	MOVW port+0(FP), DX
	MOVB b+2(FP), AX
	OUTB
	RET
