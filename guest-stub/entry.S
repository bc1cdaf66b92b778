/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * 64-bit entry: the VMM (or kexec) starts us in long mode on an identity
 * map with RDI = start info GPA, RSI = kexec handover GPA (0 at first boot).
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	mov %rdi, %r12
	mov %rsi, %r13
	/*
	 * Zero .bss (and the decrypted page), 8 bytes a store: kvm_pvm
	 * emulates rep-string instructions one iteration at a time.
	 */
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	xor %eax, %eax
0:	cmp %rcx, %rdi
	jae 1f
	mov %rax, (%rdi)
	add $8, %rdi
	jmp 0b
1:
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp
	mov %r12, %rdi
	mov %r13, %rsi
	call guest_main
3:	hlt
	jmp 3b

/* APs: CPU_ON loads RSP (a stack the BSP allocated) and RDI (the cpu id). */
	.globl ap_entry
ap_entry:
	cli
	xor %ebp, %ebp
	call ap_main
2:	hlt
	jmp 2b

	.section .bss
	.balign 4096
boot_stack:
	.skip 65536
	.globl boot_stack_top
boot_stack_top:
