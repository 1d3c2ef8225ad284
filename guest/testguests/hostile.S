/* hostile: a guest that plays a script. The script is the initrd (PVH
 * module 0), a list of 16-byte records { op, a, b, c } (le32 each) that
 * cmd/gvmm's hostile tests write, one per attack: port and MMIO accesses,
 * PCI configuration cycles, guest-memory writes (virtqueue rings and
 * descriptors), MSRs, CPUID, hlt with interrupts off. It is the attacker's
 * side of the hostile-guest suite: the test says what to do, this guest
 * does it from inside the VM, and the test asserts what gvmm did.
 *
 * State: ACC, the last value read; BASE, BAR0 of the device FIND chose;
 * CFG, that device's configuration address (CONFIG_ADDRESS form). A
 * REPEAT n record runs the record after it n times. The script ends at an
 * EXIT record or at its end ("hostile: done", status 0). An exception
 * prints "fault VV" and exits with status 0x80 + vector: every vector has
 * a handler, so a #GP from an unknown MSR is reported, not a triple
 * fault. */
#include "common.inc"

	.set PCI_CONFIG_ADDRESS, 0xcf8  /* PCI Local Bus 3.0, §3.2.2.3.2 */
	.set PCI_CONFIG_DATA,    0xcfc
	.set PCI_ENABLE,         0x80000000
	.set PCI_BAR0,           0x10
	.set SI_NR_MODULES,      0x0c   /* struct hvm_start_info */
	.set SI_MODLIST_PADDR,   0x10
	.set MOD_PADDR,          0x00   /* struct hvm_modlist_entry */
	.set MOD_SIZE,           0x08
	.set RECORD_SIZE,        16
	.set GATE_INTERRUPT32,   0x8e00 /* present, DPL 0, 32-bit interrupt gate */
	.set STUB_SIZE,          8

/* Exit statuses of the guest's own (script.go's Status*). */
	.set STATUS_NO_SCRIPT,   2
	.set STATUS_NOT_FOUND,   3
	.set STATUS_WAIT_OUT,    4
	.set STATUS_BAD_OP,      5
	.set STATUS_FAULT,       0x80   /* + the vector */

/* The script's operations; guest/testguests/script.go has the same list. */
	.set OP_EXIT,     0  /* a: status */
	.set OP_OUT,      1  /* port a, value b, size c (1, 2, 4) */
	.set OP_IN,       2  /* port a, size c -> ACC */
	.set OP_WRITE,    3  /* address a, value b, size c */
	.set OP_READ,     4  /* address a, size c -> ACC */
	.set OP_BWRITE,   5  /* BASE + a, value b, size c */
	.set OP_BREAD,    6  /* BASE + a, size c -> ACC */
	.set OP_CFGWRITE, 7  /* config offset a, value b, size c */
	.set OP_CFGREAD,  8  /* config offset a, size c -> ACC */
	.set OP_FIND,     9  /* vendor | device << 16 in a: sets CFG, BASE */
	.set OP_EXPECT,  10  /* (ACC & a) != b: exit with status c */
	.set OP_WAIT,    11  /* byte at a until (byte & b) != 0, c reads at most */
	.set OP_BWAIT,   12  /* the same at BASE + a */
	.set OP_REPEAT,  13  /* run the next record a times */
	.set OP_RDMSR,   14  /* MSR a -> ACC (low half) */
	.set OP_WRMSR,   15  /* MSR a = c:b */
	.set OP_CPUID,   16  /* leaf a -> ACC (eax) */
	.set OP_CLIHLT,  17  /* cli; hlt, for ever */
	.set OP_MARK,    18  /* print "mark XXXXXXXX" (a) */
	.set OP_SWEEP,   19  /* every config offset 0..255: write b (a = 1) or read, size c */
	.set OP_COUNT,   20

	PVH_ENTRY
	mov %ebx, %ebp                  /* struct hvm_start_info */
	call setup_idt
	cmpl $START_INFO_MAGIC, (%ebp)
	jne no_script
	cmpl $0, SI_NR_MODULES(%ebp)
	je no_script
	mov SI_MODLIST_PADDR(%ebp), %ebx
	mov MOD_PADDR(%ebx), %esi       /* the script, below 4 GiB */
	mov MOD_SIZE(%ebx), %edi
	and $~(RECORD_SIZE - 1), %edi   /* whole records only */
	add %esi, %edi                  /* its end */

next_record:
	cmp %edi, %esi
	jae script_done
	cmpl $OP_REPEAT, (%esi)
	jne 1f
	mov 4(%esi), %eax
	mov %eax, repeat
	add $RECORD_SIZE, %esi
	jmp next_record
1:	mov repeat, %eax
	test %eax, %eax
	jnz 2f
	mov $1, %eax
2:	mov %eax, count
3:	call run_record
	decl count
	jnz 3b
	movl $0, repeat
	add $RECORD_SIZE, %esi
	jmp next_record

script_done:
	mov $done_msg, %esi
	call puts
	xor %al, %al
	jmp exit

no_script:
	mov $no_script_msg, %esi
	call puts
	mov $STATUS_NO_SCRIPT, %al
	jmp exit

/* run_record: the record at %esi, with a, b, c in %ebx, %ecx, %edx.
 * Handlers may clobber everything but %esi and %edi. */
run_record:
	mov (%esi), %eax
	cmp $OP_COUNT, %eax
	jae bad_op
	mov 4(%esi), %ebx
	mov 8(%esi), %ecx
	mov 12(%esi), %edx
	jmp *ops(, %eax, 4)

bad_op:
	mov $bad_op_msg, %esi
	call puts
	mov $STATUS_BAD_OP, %al
	jmp exit

op_exit:
	mov %bl, %al
	jmp exit

op_out:
	mov %edx, %ebp                  /* size */
	mov %ecx, %eax                  /* value */
	mov %ebx, %edx                  /* port */
out_sized:
	cmp $1, %ebp
	je 1f
	cmp $2, %ebp
	je 2f
	out %eax, %dx
	ret
1:	out %al, %dx
	ret
2:	out %ax, %dx
	ret

op_in:
	mov %edx, %ebp
	mov %ebx, %edx
in_sized:
	cmp $1, %ebp
	je 1f
	cmp $2, %ebp
	je 2f
	in %dx, %eax
	jmp 3f
1:	xor %eax, %eax
	in %dx, %al
	jmp 3f
2:	xor %eax, %eax
	in %dx, %ax
3:	mov %eax, acc
	ret

op_bwrite:
	add base, %ebx
op_write:
	cmp $1, %edx
	je 1f
	cmp $2, %edx
	je 2f
	mov %ecx, (%ebx)
	ret
1:	mov %cl, (%ebx)
	ret
2:	mov %cx, (%ebx)
	ret

op_bread:
	add base, %ebx
op_read:
	cmp $1, %edx
	je 1f
	cmp $2, %edx
	je 2f
	mov (%ebx), %eax
	jmp 3f
1:	movzbl (%ebx), %eax
	jmp 3f
2:	movzwl (%ebx), %eax
3:	mov %eax, acc
	ret

/* select_config: CONFIG_ADDRESS = CFG | (%ebx & 0xfc); %dx = the data
 * port for %ebx's byte lane. Keeps %ecx. */
select_config:
	mov %edx, %ebp                  /* size */
	mov %ebx, %eax
	and $0xfc, %eax
	or cfg, %eax
	mov $PCI_CONFIG_ADDRESS, %dx
	out %eax, %dx
	mov %ebx, %edx
	and $3, %edx
	add $PCI_CONFIG_DATA, %edx
	ret

op_cfgwrite:
	call select_config
	mov %ecx, %eax
	jmp out_sized

op_cfgread:
	call select_config
	jmp in_sized

/* op_find: the first function on bus 0 whose vendor and device IDs are a;
 * none is status 3. */
op_find:
	mov $PCI_ENABLE, %ecx           /* bus 0, device 0, function 0 */
1:	mov %ecx, %eax
	mov $PCI_CONFIG_ADDRESS, %dx
	out %eax, %dx
	mov $PCI_CONFIG_DATA, %dx
	in %dx, %eax
	cmp %ebx, %eax
	je 2f
	add $(1 << 11), %ecx            /* the next device */
	cmp $(PCI_ENABLE + (32 << 11)), %ecx
	jb 1b
	mov $not_found_msg, %esi
	call puts
	mov $STATUS_NOT_FOUND, %al
	jmp exit
2:	mov %ecx, cfg
	lea PCI_BAR0(%ecx), %eax
	mov $PCI_CONFIG_ADDRESS, %dx
	out %eax, %dx
	mov $PCI_CONFIG_DATA, %dx
	in %dx, %eax
	and $~0xf, %eax                 /* the memory BAR's flag bits */
	mov %eax, base
	ret

op_expect:
	mov acc, %eax
	and %ebx, %eax
	cmp %ecx, %eax
	jne 1f
	ret
1:	push %edx
	mov $expect_msg, %esi
	call puts
	mov acc, %eax
	call puthex
	call newline
	pop %eax
	jmp exit

op_bwait:
	add base, %ebx
op_wait:
1:	mov (%ebx), %al
	test %cl, %al
	jnz 2f
	pause
	dec %edx
	jnz 1b
	mov $wait_msg, %esi
	call puts
	mov $STATUS_WAIT_OUT, %al
	jmp exit
2:	ret

op_rdmsr:
	mov %ebx, %ecx
	rdmsr
	mov %eax, acc
	ret

op_wrmsr:
	mov %ecx, %eax
	mov %ebx, %ecx
	wrmsr
	ret

op_cpuid:
	mov %ebx, %eax
	xor %ecx, %ecx
	cpuid
	mov %eax, acc
	ret

op_clihlt:
	cli
1:	hlt
	jmp 1b

op_mark:
	push %esi
	mov $mark_msg, %esi
	call puts
	pop %esi
	mov %ebx, %eax
	call puthex
	jmp newline

op_sweep:
	mov %ebx, %eax                  /* 1: write */
	xor %ebx, %ebx                  /* the offset */
1:	push %eax
	push %ebx
	push %ecx
	push %edx
	test %eax, %eax
	jz 2f
	call op_cfgwrite
	jmp 3f
2:	call op_cfgread
3:	pop %edx
	pop %ecx
	pop %ebx
	pop %eax
	inc %ebx
	cmp $256, %ebx
	jb 1b
	ret

/* setup_idt: a gate for each of the 32 exception vectors, to its stub. */
setup_idt:
	xor %ecx, %ecx
	mov %cs, %dx
1:	lea stubs(, %ecx, STUB_SIZE), %eax
	mov %ax, idt(, %ecx, 8)         /* offset 15:0 */
	mov %dx, idt + 2(, %ecx, 8)     /* selector */
	movw $GATE_INTERRUPT32, idt + 4(, %ecx, 8)
	shr $16, %eax
	mov %ax, idt + 6(, %ecx, 8)     /* offset 31:16 */
	inc %ecx
	cmp $32, %ecx
	jb 1b
	lidt idtr
	ret

/* The stubs push their vector (after the CPU's error code, if any). */
	.balign STUB_SIZE
stubs:
	.set vector, 0
	.rept 32
	.balign STUB_SIZE
	push $vector
	jmp fault
	.set vector, vector + 1
	.endr

fault:
	mov $fault_msg, %esi
	call puts
	pop %eax
	push %eax
	call puthex
	call newline
	pop %eax
	or $STATUS_FAULT, %al
	jmp exit

/* puthex: %eax as eight hex digits. */
puthex:
	push %ecx
	mov $8, %ecx
1:	rol $4, %eax
	push %eax
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 2f
	add $('a' - '9' - 1), %al
2:	call putc
	pop %eax
	dec %ecx
	jnz 1b
	pop %ecx
	ret

newline:
	mov $'\r', %al
	call putc
	mov $'\n', %al
	jmp putc

#include "lib32.inc"

	.section .rodata
	.balign 4
ops:
	.long op_exit, op_out, op_in, op_write, op_read, op_bwrite, op_bread
	.long op_cfgwrite, op_cfgread, op_find, op_expect, op_wait, op_bwait
	.long bad_op, op_rdmsr, op_wrmsr, op_cpuid, op_clihlt, op_mark, op_sweep
	.balign 8
idtr:
	.word 32 * 8 - 1
	.long idt
done_msg:      .asciz "hostile: done\r\n"
no_script_msg: .asciz "hostile: no script (boot with --initrd SCRIPT)\r\n"
bad_op_msg:    .asciz "hostile: bad operation\r\n"
not_found_msg: .asciz "hostile: no such PCI device\r\n"
expect_msg:    .asciz "hostile: expect failed, read "
wait_msg:      .asciz "hostile: wait timed out\r\n"
mark_msg:      .asciz "mark "
fault_msg:     .asciz "fault "

	.bss
	.balign 8
idt:    .skip 32 * 8
acc:    .long 0
base:   .long 0
cfg:    .long 0
repeat: .long 0
count:  .long 0
