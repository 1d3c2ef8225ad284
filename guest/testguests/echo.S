/* echo: prints a prompt, then echoes every byte it receives on COM1
 * (polling LSR.DR) until it reads 'q', then exits with status 0. */
#include "common.inc"
	PVH_ENTRY
	mov $prompt, %esi
	call puts
	call ready
loop:
	mov $COM1_LSR, %dx
1:	in %dx, %al
	test $LSR_DR, %al
	jz 1b
	mov $COM1, %dx
	in %dx, %al
	cmp $'q', %al
	je done
	call putc
	jmp loop
done:
	mov $bye, %esi
	call puts
	mov $0, %al
	jmp exit

#include "lib32.inc"

	.section .rodata
prompt: .asciz "echo ready\r\n"
bye:    .asciz "\r\nbye\r\n"
