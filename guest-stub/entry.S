/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * 64-bit entry: the VMM (or kexec) starts us in long mode on an identity
 * map with RDI = start info GPA, RSI = kexec handover GPA (0 at first boot).
 * Interrupts are off already, and we do not disable them again: as Linux's
 * startup_64 (arch/x86/kernel/head_64.S), which begins with no cli, since
 * the 64-bit boot protocol hands over with interrupts disabled
 * (Documentation/arch/x86/boot.rst) and so does kexec (machine_kexec runs
 * with interrupts off; relocate_kernel clears RFLAGS). The VMM starts
 * every vCPU with RFLAGS = 2, our trampoline leaves IF as it is, and
 * nothing here ever sets it. (cli traps on a hypervisor that runs the
 * kernel deprivileged, kvm_pvm.) pvh.S, an entry from 32-bit mode,
 * keeps its cli as pvh_start_xen does; ap_entry keeps its own as the
 * real-mode trampoline_start does.
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
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

/*
 * kexec trampoline, copied to a safe low page and run with RDI = handover.
 * Position independent, no stack: copies every segment (8 bytes a store:
 * kvm_pvm emulates rep movs one iteration at a time), zeroes the rest,
 * then enters the new image with RDI = start info, RSI = handover.
 */
	.section .text
	.globl kexec_trampoline, kexec_trampoline_end
kexec_trampoline:
	mov 32(%rdi), %r8          /* nsegs */
	lea 40(%rdi), %r9          /* seg[0] */
4:	test %r8, %r8
	jz 8f
	mov 0(%r9), %rsi           /* src */
	mov 8(%r9), %rdx           /* dst */
	mov 16(%r9), %rcx          /* filesz */
	mov 24(%r9), %r10          /* memsz */
	sub %rcx, %r10             /* bytes to zero */
5:	cmp $8, %rcx
	jb 6f
	mov (%rsi), %rax
	mov %rax, (%rdx)
	add $8, %rsi
	add $8, %rdx
	sub $8, %rcx
	jmp 5b
6:	test %rcx, %rcx
	jz 7f
	movb (%rsi), %al
	movb %al, (%rdx)
	inc %rsi
	inc %rdx
	dec %rcx
	jmp 6b
7:	cmp $8, %r10
	jb 10f
	movq $0, (%rdx)
	add $8, %rdx
	sub $8, %r10
	jmp 7b
10:	test %r10, %r10
	jz 9f
	movb $0, (%rdx)
	inc %rdx
	dec %r10
	jmp 10b
9:	add $32, %r9
	dec %r8
	jmp 4b
8:	mov %rdi, %rsi
	mov 16(%rsi), %rdi         /* start_info */
	mov 24(%rsi), %rax         /* entry */
	jmp *%rax
kexec_trampoline_end:

	.section .bss
	.balign 4096
boot_stack:
	.skip 65536
	.globl boot_stack_top
boot_stack_top:
