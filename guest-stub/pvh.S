/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Xen PVH entry, so that other loaders (QEMU -kernel, Firecracker, Xen)
 * can boot guest.elf: XEN_ELFNOTE_PHYS32_ENTRY points at pvh_start32,
 * which the loader enters as the PVH ABI says (xen/include/public/
 * arch-x86/hvm/start_info.h): 32-bit protected mode, flat 4 GiB CS/DS,
 * paging off, EBX = GPA of struct hvm_start_info, no usable stack.
 *
 * We build our own GDT and a 4 GiB identity map (2 MiB pages, U/S at every
 * level, PML4 on an odd 4 KiB frame: the same rules mm.c follows for
 * native execution on kvm_pvm), enter long mode and jump to _start with
 * RDI = start info, RSI = 0 (no kexec handover).
 *
 * mini-vmm does not use this path: it starts _start (e_entry) directly in
 * long mode. No rep-string instructions (kvm_pvm emulates them one
 * iteration at a time), no stack needed.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define PTE_TABLE 0x7   /* P | W | U/S */
#define PTE_LEAF2M 0x87 /* P | W | U/S | PS */

#define PVH_CS64 0x08
#define PVH_DS 0x10

/* ELF note: namesz, descsz, type, "Xen\0", 32-bit physical entry. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f
	.long 4f - 3f
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_start32
4:	.balign 4

	.section .text, "ax"
	.code32
	.globl pvh_start32
	.type pvh_start32, @function
pvh_start32:
	cli
	cld
	mov %ebx, %ebp                  /* start info; kept in EBP */

	lgdt pvh_gdt_desc
	mov $PVH_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs

	/*
	 * Zero the tables 4 bytes a store (the loader zeroes memsz - filesz
	 * too, but the PVH ABI does not promise it for our own section).
	 */
	mov $pvh_pt_start, %edi
	mov $pvh_pt_end, %ecx
	xor %eax, %eax
1:	cmp %ecx, %edi
	jae 2f
	mov %eax, (%edi)
	add $4, %edi
	jmp 1b
2:
	/* PML4[0] -> PDPT */
	movl $(pvh_pdpt + PTE_TABLE), pvh_pml4
	/* PDPT[0..3] -> PD[0..3] */
	mov $pvh_pdpt, %edi
	mov $(pvh_pd + PTE_TABLE), %eax
	mov $4, %ecx
3:	mov %eax, (%edi)
	add $0x1000, %eax
	add $8, %edi
	dec %ecx
	jnz 3b
	/* PD: 2048 entries of 2 MiB, identity over the low 4 GiB */
	mov $pvh_pd, %edi
	mov $PTE_LEAF2M, %eax
	mov $2048, %ecx
4:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	dec %ecx
	jnz 4b

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pvh_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0                  /* long mode, compatibility submode */
	ljmp $PVH_CS64, $pvh_start64

	.code64
pvh_start64:
	mov $PVH_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %ebp, %edi                  /* zero-extends into RDI */
	xor %esi, %esi                  /* no kexec handover */
	jmp _start
	.size pvh_start32, . - pvh_start32

	.section .rodata
	.balign 8
pvh_gdt:
	.quad 0
	.quad 0x00af9b000000ffff        /* 0x08: 64-bit code, accessed */
	.quad 0x00cf93000000ffff        /* 0x10: flat data, accessed */
pvh_gdt_end:
	.balign 4
	.word 0
pvh_gdt_desc:
	.word pvh_gdt_end - pvh_gdt - 1
	.long pvh_gdt

/*
 * Page tables, outside [__bss_start, __bss_end): _start zeroes that range
 * while these tables are live. guest.ld places .pvh_pt after __bss_end and
 * before _end, so mm.c's allocator starts above them.
 * PDPT on the even frame of an 8 KiB pair, PML4 on the odd one.
 */
	.section .pvh_pt, "aw", @nobits
	.balign 8192
pvh_pt_start:
pvh_pdpt:
	.skip 4096
pvh_pml4:
	.skip 4096
pvh_pd:
	.skip 4 * 4096
pvh_pt_end:
