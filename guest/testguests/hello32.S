/* hello32: the PVH demo guest. Prints a greeting, checks the
 * hvm_start_info handed over in EBX, prints the command line from it,
 * signals READY and exits with status 0. */
#include "common.inc"
	PVH_ENTRY
	mov %ebx, %edi                /* keep start_info */
	mov $hello, %esi
	call puts
	cmpl $START_INFO_MAGIC, (%edi)
	jne bad_info
	mov $cmdline_is, %esi
	call puts
	mov 24(%edi), %esi            /* hvm_start_info.cmdline_paddr (low half) */
	test %esi, %esi
	jz 1f
	call puts
1:	mov $newline, %esi
	call puts
	call ready
	mov $0, %al
	jmp exit
bad_info:
	mov $badinfo, %esi
	call puts
	mov $1, %al
	jmp exit

#include "lib32.inc"

	.section .rodata
hello:      .asciz "Hello from a gvmm PVH guest\r\n"
cmdline_is: .asciz "cmdline: "
newline:    .asciz "\r\n"
badinfo:    .asciz "bad hvm_start_info magic\r\n"
