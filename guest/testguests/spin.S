/* spin: prints a line, then loops forever without exiting, so tests can
 * check that the VMM stops a running vCPU on request. */
#include "common.inc"
	PVH_ENTRY
	mov $msg, %esi
	call puts
	call ready
1:	jmp 1b

#include "lib32.inc"

	.section .rodata
msg: .asciz "spinning\r\n"
