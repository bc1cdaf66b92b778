// SPDX-License-Identifier: GPL-2.0-only
#include "x86.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"
#include "minivmm/abi.h"
#include "util.h"

/* Null, 64-bit code (type 0xb, L=1, D=0, G=1), data (type 3, G=1). */
const uint64_t x86_gdt[GDT_ENTRIES] = {
	0,
	0x00af9b000000ffffull,
	0x00cf93000000ffffull,
};

void x86_segment_from_gdt(uint16_t sel, struct kvm_segment *seg)
{
	uint64_t d;

	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	/* Beyond the table: a null (not present) segment, as the CPU would fault. */
	if ((sel >> 3) >= GDT_ENTRIES)
		return;
	d = x86_gdt[sel >> 3];
	seg->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	seg->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	seg->type = (d >> 40) & 0xf;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->g = (d >> 55) & 1;
	if (seg->g)
		seg->limit = (seg->limit << 12) | 0xfff;
}

uint64_t x86_pt_pages(uint64_t top)
{
	uint64_t gib = ALIGN_UP(top, SZ_1G) / SZ_1G;
	uint64_t pdpts = (gib + 511) / 512;

	return 1 + pdpts + gib;
}

int x86_build_identity_map(struct guest_mem *mem, uint64_t pml4_gpa, uint64_t top)
{
	uint64_t gib = ALIGN_UP(top, SZ_1G) / SZ_1G;
	uint64_t pdpts = (gib + 511) / 512;
	uint64_t pdpt_gpa = pml4_gpa + PAGE_SIZE;
	uint64_t pd_gpa = pdpt_gpa + pdpts * PAGE_SIZE;
	uint64_t *pml4, *pdpt, *pd;
	const uint64_t table = PTE_P | PTE_W | PTE_US;

	if (pdpts > 512)
		return -EINVAL;
	pml4 = mem_gpa_to_hva(mem, pml4_gpa, PAGE_SIZE * x86_pt_pages(top));
	if (!pml4 || !IS_ALIGNED(pml4_gpa, PAGE_SIZE))
		return -EFAULT;
	pdpt = pml4 + 512;
	pd = pdpt + 512 * pdpts;
	memset(pml4, 0, PAGE_SIZE * x86_pt_pages(top));
	for (uint64_t i = 0; i < pdpts; i++)
		pml4[i] = (pdpt_gpa + i * PAGE_SIZE) | table;
	for (uint64_t g = 0; g < gib; g++) {
		pdpt[g] = (pd_gpa + g * PAGE_SIZE) | table;
		for (uint64_t j = 0; j < 512; j++)
			pd[g * 512 + j] = (g * SZ_1G + j * SZ_2M) | table | PTE_PS;
	}
	return 0;
}

int x86_identity_map_encrypt(struct guest_mem *mem, uint64_t pml4_gpa, uint64_t top,
			     uint64_t cbit_mask, uint64_t shared_start, uint64_t shared_end,
			     uint64_t pt_gpa)
{
	uint64_t gib = ALIGN_UP(top, SZ_1G) / SZ_1G, pdpts = (gib + 511) / 512;
	uint64_t block = shared_start & ~(SZ_2M - 1);
	const uint64_t table = PTE_P | PTE_W | PTE_US;
	uint64_t *pd, *pt;

	if (shared_end <= shared_start || (shared_end - 1) / SZ_2M != shared_start / SZ_2M ||
	    shared_end > top || !IS_ALIGNED(shared_start | shared_end | pt_gpa, PAGE_SIZE))
		return -EINVAL;
	pd = mem_gpa_to_hva(mem, pml4_gpa + (1 + pdpts) * PAGE_SIZE, gib * PAGE_SIZE);
	pt = mem_gpa_to_hva(mem, pt_gpa, PAGE_SIZE);
	if (!pd || !pt)
		return -EFAULT;
	for (uint64_t j = 0; j < gib * 512; j++)
		pd[j] |= cbit_mask;
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t pa = block + i * PAGE_SIZE;
		bool shared = pa >= shared_start && pa < shared_end;

		pt[i] = pa | table | (shared ? 0 : cbit_mask);
	}
	pd[block / SZ_2M] = pt_gpa | table;
	return 0;
}

void x86_long_mode_sregs(struct kvm_sregs *sregs, uint64_t cr3, uint64_t gdt_gpa)
{
	struct kvm_segment code, data;

	x86_segment_from_gdt(GDT_SEL_CODE, &code);
	x86_segment_from_gdt(GDT_SEL_DATA, &data);
	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->gdt.base = gdt_gpa;
	sregs->gdt.limit = sizeof(x86_gdt) - 1;
	sregs->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM |
		     X86_CR0_PG;
	sregs->cr3 = cr3;
	sregs->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs->efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

/* Find or append (capacity checked by the caller's allocation). */
static struct kvm_cpuid_entry2 *cpuid_get(struct kvm_cpuid2 *c, uint32_t fn)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, 0);

	if (!e) {
		e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = fn;
	}
	return e;
}

bool x86_cpuid_is_amd(const struct kvm_cpuid2 *cpuid)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 0)
			return e->ebx == 0x68747541 /* "Auth" */ ||
			       e->ebx == 0x6f677948 /* "Hygo" */;
	}
	return false;
}

struct kvm_cpuid2 *x86_build_cpuid(int kvm_fd, const struct cpuid_opts *opts)
{
	const unsigned spare = 8;
	struct kvm_cpuid2 *c = NULL;
	struct kvm_cpuid_entry2 *e;
	/*
	 * KVM_MAX_CPUID_ENTRIES (arch/x86/include/asm/kvm_host.h): KVM fills
	 * the whole table before it finds a smaller one too small (E2BIG), so
	 * asking for its maximum at once saves a second enumeration.
	 */
	uint32_t nent = 256;
	int r;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + (nent + spare) * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = nent;
		r = kvm_ioctl_raw(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == -E2BIG && nent < 4096) {
			nent *= 2;
			continue;
		}
		if (r < 0) {
			kvm_ioctl_named(kvm_fd, KVM_GET_SUPPORTED_CPUID, c,
					"KVM_GET_SUPPORTED_CPUID");
			free(c);
			return NULL;
		}
		break;
	}

	/* cpuid.rst: KVM_CPUID_SIGNATURE = "KVMKVMKVM\0\0\0", EAX = max leaf. */
	e = cpuid_get(c, KVM_CPUID_SIGNATURE);
	e->eax = KVM_CPUID_FEATURES;
	e->ebx = 0x4b4d564b;
	e->ecx = 0x564b4d56;
	e->edx = 0x4d;
	e = cpuid_get(c, KVM_CPUID_FEATURES);
	e->eax &= ~((1u << KVM_FEATURE_HC_MAP_GPA_RANGE) | (1u << KVM_FEATURE_MIGRATION_CONTROL));
	if (opts->sev)
		e->eax |= (1u << KVM_FEATURE_HC_MAP_GPA_RANGE) |
			  (1u << KVM_FEATURE_MIGRATION_CONTROL);

	e = cpuid_get(c, 0x80000000);
	if (opts->sev && e->eax < CPUID_AMD_SEV)
		e->eax = CPUID_AMD_SEV;
	/* AMD APM 15.34.1: 0x8000001F EAX bit 1 = SEV, EBX[5:0] = C-bit. */
	e = cpuid_get(c, CPUID_AMD_SEV);
	if (opts->sev) {
		e->eax = 1u << 1;
		e->ebx = opts->cbit & 0x3f;
		e->ecx = 1; /* number of encrypted guests supported */
		e->edx = 0;
	} else {
		e->eax = e->ebx = e->ecx = e->edx = 0;
	}
	if (opts->phys_bits) {
		e = cpuid_get(c, 0x80000008);
		if ((e->eax & 0xff) < opts->phys_bits)
			e->eax = (e->eax & ~0xffu) | opts->phys_bits;
	}
	return c;
}

void x86_cpuid_fw_table(const struct kvm_cpuid2 *cpuid, struct minivmm_cpuid_table *t)
{
	static const uint32_t leaves[] = {KVM_CPUID_SIGNATURE, KVM_CPUID_FEATURES, 0x80000000u,
					  CPUID_AMD_SEV};
	_Static_assert(sizeof(leaves) / sizeof(leaves[0]) <= MINIVMM_CPUID_MAX, "cpuid table");

	memset(t, 0, sizeof(*t));
	t->magic = MINIVMM_CPUID_MAGIC;
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		const struct kvm_cpuid_entry2 *e =
			cpuid_find((struct kvm_cpuid2 *)cpuid, leaves[i], 0);
		struct minivmm_cpuid_fn *f = &t->fn[t->count++];

		f->eax_in = leaves[i];
		if (e) {
			f->eax = e->eax;
			f->ebx = e->ebx;
			f->ecx = e->ecx;
			f->edx = e->edx;
		}
	}
}

int x86_set_msr(int vcpu_fd, uint32_t index, uint64_t value)
{
	/* struct kvm_msrs ends in a flexible array: one entry after it. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = index;
	m.hdr.entries[0].data = value;
	return kvm_ioctl_raw(vcpu_fd, KVM_SET_MSRS, &m);
}
