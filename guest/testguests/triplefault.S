/* triplefault: loads an empty IDT and raises an exception. The CPU cannot
 * deliver it (#GP), nor the #GP (#DF), nor the #DF: a triple fault, which
 * shuts the CPU down. KVM reports KVM_EXIT_SHUTDOWN. */
#include "common.inc"
	PVH_ENTRY
	mov $msg, %esi
	call puts
	lidt idtr
	ud2

#include "lib32.inc"

	.section .rodata
	.balign 8
idtr:
	.word 0
	.long 0
msg: .asciz "about to triple fault\r\n"
