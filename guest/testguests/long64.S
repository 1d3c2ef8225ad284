/* long64: enters 64-bit long mode by itself, the way a kernel's early
 * code does (Intel SDM Vol. 3A §9.8.5): build identity page tables for the
 * first 2 MiB, load a GDT with a 64-bit code segment, set CR4.PAE, point CR3
 * at the PML4, set EFER.LME, set CR0.PG, and far-jump into the 64-bit
 * segment. Then it prints from 64-bit code and exits with status 0. */
#include "common.inc"
	.set PML4, 0x10000
	.set PDPT, 0x11000
	.set PD,   0x12000
	.set PTE_P_RW, 0x3
	.set PTE_PS, 0x80
	.set CR4_PAE, 1 << 5
	.set CR0_PG, 1 << 31
	.set MSR_EFER, 0xc0000080
	.set EFER_LME, 1 << 8

	PVH_ENTRY
	mov $msg32, %esi
	call puts
	/* Zero the three table pages. */
	mov $PML4, %edi
	xor %eax, %eax
	mov $(3 * 4096 / 4), %ecx
	rep stosl
	movl $(PDPT | PTE_P_RW), PML4
	movl $(PD | PTE_P_RW), PDPT
	movl $(PTE_P_RW | PTE_PS), PD  /* one 2 MiB page at 0 */
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $PML4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	lgdt gdtr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $0x08, $long_mode

#include "lib32.inc"

	.code64
long_mode:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %ss
	lea msg64(%rip), %rsi
1:	lodsb
	test %al, %al
	jz 2f
	mov %al, %bl
	mov $COM1_LSR, %dx
3:	in %dx, %al
	test $LSR_THRE, %al
	jz 3b
	mov %bl, %al
	mov $COM1, %dx
	out %al, %dx
	jmp 1b
2:	mov $READY_MAGIC, %al
	mov $DEBUG_READY, %dx
	out %al, %dx
	xor %eax, %eax
	mov $DEBUG_EXIT, %dx
	out %al, %dx
4:	hlt
	jmp 4b

	.section .rodata
	.balign 8
gdt:
	.quad 0                       /* null */
	.quad 0x00af9b000000ffff      /* 0x08: 64-bit code, L=1 */
	.quad 0x00cf93000000ffff      /* 0x10: data */
gdt_end:
gdtr:
	.word gdt_end - gdt - 1
	.long gdt
msg32: .asciz "32-bit protected mode\r\n"
msg64: .asciz "Hello from 64-bit long mode\r\n"
