/* acpioff: powers the VM off the way an ACPI kernel does, from nothing but
 * what gvmm's tables say (boot/acpi): hvm_start_info.rsdp_paddr -> the
 * RSDP -> the XSDT -> its first table, the FADT -> SLEEP_CONTROL_REG,
 * then SLP_TYP of \_S5 with SLP_EN, as Linux's acpi_hw_extended_sleep
 * writes it (ACPI 6.5 §4.8.3.7). gvmm stops with exit status 0 and reason
 * poweroff. A wrong signature on the way exits 1; a write that does not
 * power off exits 2. Only the low 32 bits of each pointer are used: the
 * tables sit below 1 MiB. */
#include "common.inc"
	.set SI_RSDP_PADDR,   32        /* hvm_start_info.rsdp_paddr */
	.set RSDP_XSDT,       24        /* RSDP XsdtAddress */
	.set SDT_HEADER,      36        /* the XSDT's first entry follows it */
	.set FADT_SLEEP_CTRL, 244       /* FADT SLEEP_CONTROL_REG, a GAS */
	.set GAS_ADDRESS,     4         /* GAS Address, after 4 bytes of kind */
	.set GAS_SYSTEM_IO,   1
	.set SLP_EN,          0x20
	PVH_ENTRY
	mov %ebx, %edi                /* keep start_info */
	mov $hello, %esi
	call puts                     /* putc uses DX: print before the walk */
	mov SI_RSDP_PADDR(%edi), %esi
	cmpl $0x20445352, (%esi)      /* "RSD " */
	jne bad
	cmpl $0x20525450, 4(%esi)     /* "PTR " */
	jne bad
	mov RSDP_XSDT(%esi), %esi
	cmpl $0x54445358, (%esi)      /* "XSDT" */
	jne bad
	mov SDT_HEADER(%esi), %esi
	cmpl $0x50434146, (%esi)      /* "FACP" */
	jne bad
	cmpb $GAS_SYSTEM_IO, FADT_SLEEP_CTRL(%esi)
	jne bad
	mov FADT_SLEEP_CTRL+GAS_ADDRESS(%esi), %edx
	mov $(SLEEP_TYPE_S5 << 2 | SLP_EN), %al
	out %al, %dx
	mov $2, %al                   /* still running: soft-off failed */
	jmp exit
bad:
	mov $badtables, %esi
	call puts
	mov $1, %al
	jmp exit

#include "lib32.inc"

	.section .rodata
hello:     .asciz "powering off through ACPI\r\n"
badtables: .asciz "ACPI tables not found or malformed\r\n"
