/* spin: prints a line, then loops forever without exiting, so tests can
 * check that the VMM stops a running vCPU on request. */
#include "common.inc"
	.code32
	.text
	.globl _start
_start:
	mov $0x8ff0, %esp
	mov $msg, %esi
	call puts
	call ready
1:	jmp 1b

#include "lib32.inc"

	.section .rodata
msg: .asciz "spinning\r\n"

	PVH_NOTE _start
