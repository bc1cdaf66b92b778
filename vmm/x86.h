/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * x86 state the VMM gives a vCPU: the GDT (one array, written to guest
 * memory and used to derive the segment registers, so they cannot
 * disagree), identity page tables, long-mode sregs, CPUID, MSR filter.
 */
#ifndef MINIVMM_X86_H
#define MINIVMM_X86_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory.h"
#include "minivmm/abi.h"

#define X86_CR0_PE	   (1ull << 0)
#define X86_CR0_MP	   (1ull << 1)
#define X86_CR0_ET	   (1ull << 4)
#define X86_CR0_NE	   (1ull << 5)
#define X86_CR0_WP	   (1ull << 16)
#define X86_CR0_AM	   (1ull << 18)
#define X86_CR0_PG	   (1ull << 31)
#define X86_CR4_PAE	   (1ull << 5)
#define X86_CR4_OSFXSR	   (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_SCE	   (1ull << 0)
#define X86_EFER_LME	   (1ull << 8)
#define X86_EFER_LMA	   (1ull << 10)

#define PTE_P	      (1ull << 0)
#define PTE_W	      (1ull << 1)
#define PTE_US	      (1ull << 2)
#define PTE_PS	      (1ull << 7)
#define PTE_NX	      (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

#define GDT_SEL_CODE 0x08
#define GDT_SEL_DATA 0x10
#define GDT_ENTRIES  3

/* kvm_pvm (docs/PVM.md): writing 1 lets a 64-bit guest run natively. */
#define MSR_PVM_NATIVE 0x4b564d10u

extern const uint64_t x86_gdt[GDT_ENTRIES];

/* Segment register described by GDT entry `sel`. */
void x86_segment_from_gdt(uint16_t sel, struct kvm_segment *seg);

/* Page-table pages needed to identity map [0, top) with 2 MiB pages. */
uint64_t x86_pt_pages(uint64_t top);
/*
 * Build an identity map of [0, top) at pml4_gpa (followed by the PDPT and
 * PD pages), U/S set at every level (docs/PVM.md: required to run
 * natively on kvm_pvm; harmless on hardware KVM). 0 or -EFAULT.
 */
int x86_build_identity_map(struct guest_mem *mem, uint64_t pml4_gpa, uint64_t top);

/*
 * Under SEV, as OVMF does: the identity map built at pml4_gpa gets the
 * C-bit on every mapping but [shared_start, shared_end), which must lie in
 * one 2 MiB block; that block is remapped with 4 KiB pages by the page
 * table at pt_gpa. 0, -EINVAL or -EFAULT.
 */
int x86_identity_map_encrypt(struct guest_mem *mem, uint64_t pml4_gpa, uint64_t top,
			     uint64_t cbit_mask, uint64_t shared_start, uint64_t shared_end,
			     uint64_t pt_gpa);

/* Long-mode sregs: CR0/CR4/EFER as docs/PVM.md, flat 64-bit segments. */
void x86_long_mode_sregs(struct kvm_sregs *sregs, uint64_t cr3, uint64_t gdt_gpa);

struct cpuid_opts {
	bool sev;	    /* advertise the emulated SEV platform */
	unsigned cbit;	    /* C-bit position */
	unsigned phys_bits; /* MAXPHYADDR to advertise (0 = leave) */
};

/*
 * KVM_GET_SUPPORTED_CPUID, edited for mini-vmm: KVM signature leaves,
 * SEV leaves when asked, physical address width. Caller frees.
 */
struct kvm_cpuid2 *x86_build_cpuid(int kvm_fd, const struct cpuid_opts *opts);
/* CPU vendor from the supported CPUID: true for AMD/Hygon. */
bool x86_cpuid_is_amd(const struct kvm_cpuid2 *cpuid);
/*
 * The firmware CPUID table the guest reads (minivmm/abi.h): the leaves that
 * x86_build_cpuid defines, copied from the table KVM gets.
 */
void x86_cpuid_fw_table(const struct kvm_cpuid2 *cpuid, struct minivmm_cpuid_table *t);

/* Set one MSR through KVM_SET_MSRS. 1 if KVM took it, 0 if refused, -errno. */
int x86_set_msr(int vcpu_fd, uint32_t index, uint64_t value);

#endif
