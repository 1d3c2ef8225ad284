/* exit42: prints a line and stops the VM with exit status 42 through the
 * debug device, so tests see the guest's status become gvmm's. */
#include "common.inc"
	PVH_ENTRY
	mov $msg, %esi
	call puts
	mov $42, %al
	jmp exit

#include "lib32.inc"

	.section .rodata
msg: .asciz "exiting with 42\r\n"
