// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 state (x86.h): the identity page tables the VMM builds, long-mode
 * sregs and the GDT they are derived from, and the guest page-table walker
 * on tables built by hand in guest memory (4K/2M/1G leaves, holes,
 * software bits, hostile tables).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "memory.h"
#include "util.h"
#include "oracle.h"
#include "x86.h"

#define BIT52 (1ull << 52)
#define TABLE (PTE_P | PTE_W | PTE_US)

static struct guest_mem mem;

static int setup_mem(void **state)
{
	if (mem_layout(&mem, 16ull << 20, 1ull << 20) || mem_alloc(&mem))
		return -1;
	return 0;
}

static int teardown_mem(void **state)
{
	mem_free(&mem);
	return 0;
}

static uint64_t *page(uint64_t gpa)
{
	uint64_t *p = mem_gpa_to_hva(&mem, gpa, PAGE_SIZE);

	assert_non_null(p);
	return p;
}

/* ---- identity map ---- */

static void check_identity_map(uint64_t pml4_gpa, uint64_t top)
{
	uint64_t gib = ALIGN_UP(top, SZ_1G) / SZ_1G, pdpts = (gib + 511) / 512;
	uint64_t pdpt_gpa = pml4_gpa + PAGE_SIZE, pd_gpa = pdpt_gpa + pdpts * PAGE_SIZE;
	const uint64_t *pml4 = page(pml4_gpa);

	assert_int_equal(x86_pt_pages(top), 1 + pdpts + gib);
	for (uint64_t i = 0; i < 512; i++) {
		if (i < pdpts) {
			/* U/S at every level: docs/PVM.md, native execution. */
			assert_int_equal(pml4[i], (pdpt_gpa + i * PAGE_SIZE) | 0x7);
		} else {
			assert_int_equal(pml4[i], 0);
		}
	}
	for (uint64_t g = 0; g < pdpts * 512; g++) {
		uint64_t e = page(pdpt_gpa + (g / 512) * PAGE_SIZE)[g % 512];

		if (g < gib)
			assert_int_equal(e, (pd_gpa + g * PAGE_SIZE) | 0x7);
		else
			assert_int_equal(e, 0);
	}
	for (uint64_t g = 0; g < gib; g++) {
		const uint64_t *pd = page(pd_gpa + g * PAGE_SIZE);

		for (uint64_t j = 0; j < 512; j++)
			if (pd[j] != ((g * SZ_1G + j * SZ_2M) | 0x87))
				fail_msg("PD %" PRIu64 " entry %" PRIu64 ": %#" PRIx64, g, j,
					 pd[j]);
	}
}

static void test_x86_identity_map_small(void **state)
{
	const uint64_t pml4 = 0x201000;

	memset(page(pml4), 0xcc, PAGE_SIZE); /* stale bytes must be cleared */
	assert_int_equal(x86_build_identity_map(&mem, pml4, 16ull << 20), 0);
	check_identity_map(pml4, 16ull << 20);
}

static void test_x86_identity_map_5g(void **state)
{
	const uint64_t pml4 = 0x201000;

	/* 4 GiB of RAM: top is 5 GiB, the map covers the hole too. */
	assert_int_equal(x86_build_identity_map(&mem, pml4, 5 * SZ_1G), 0);
	check_identity_map(pml4, 5 * SZ_1G);
}

static void test_x86_identity_map_many_pdpts(void **state)
{
	const uint64_t pml4 = 0x200000;
	const uint64_t top = 600 * SZ_1G; /* two PDPT pages */

	assert_int_equal(x86_pt_pages(top), 1 + 2 + 600);
	assert_int_equal(x86_build_identity_map(&mem, pml4, top), 0);
	check_identity_map(pml4, top);
}

static void test_x86_identity_map_errors(void **state)
{
	/* Unaligned, outside memory, running off the end, too big. */
	assert_int_equal(x86_build_identity_map(&mem, 0x201008, SZ_1G), -EFAULT);
	assert_int_equal(x86_build_identity_map(&mem, 64ull << 20, SZ_1G), -EFAULT);
	assert_int_equal(x86_build_identity_map(&mem, (16ull << 20) - PAGE_SIZE, SZ_1G), -EFAULT);
	assert_int_equal(x86_build_identity_map(&mem, 0x200000, (1ull << 48) + SZ_1G), -EINVAL);
}

static int count_leaf(const struct pt_leaf *lf, void *ctx)
{
	uint64_t *n = ctx;

	if (lf->va != lf->gpa || lf->size != SZ_2M || !(lf->pte & PTE_US))
		return -1;
	(*n)++;
	return 0;
}

static void test_x86_identity_map_walk(void **state)
{
	const uint64_t pml4 = 0x201000;
	uint64_t n = 0, gpa = 0;

	assert_int_equal(x86_build_identity_map(&mem, pml4, 5 * SZ_1G), 0);
	assert_int_equal(x86_walk_page_tables(&mem, pml4, UINT64_MAX, count_leaf, &n), 0);
	assert_int_equal(n, 5 * 512);
	assert_int_equal(x86_gva_to_gpa(&mem, pml4, 0x12345678, &gpa), 0);
	assert_int_equal(gpa, 0x12345678);
	assert_int_equal(x86_gva_to_gpa(&mem, pml4, 4 * SZ_1G + 0x1abc, &gpa), 0);
	assert_int_equal(gpa, 4 * SZ_1G + 0x1abc);
	assert_int_equal(x86_gva_to_gpa(&mem, pml4, 5 * SZ_1G, &gpa), -ENOENT);
}

/* ---- sregs and the GDT ---- */

static void check_code(const struct kvm_segment *s)
{
	assert_int_equal(s->selector, GDT_SEL_CODE);
	assert_int_equal(s->base, 0);
	assert_int_equal(s->limit, 0xffffffff);
	assert_int_equal(s->type, 0xb);
	assert_int_equal(s->s, 1);
	assert_int_equal(s->dpl, 0);
	assert_int_equal(s->present, 1);
	assert_int_equal(s->l, 1);
	assert_int_equal(s->db, 0);
	assert_int_equal(s->g, 1);
	assert_int_equal(s->avl, 0);
}

static void check_data(const struct kvm_segment *s)
{
	assert_int_equal(s->selector, GDT_SEL_DATA);
	assert_int_equal(s->base, 0);
	assert_int_equal(s->limit, 0xffffffff);
	assert_int_equal(s->type, 3);
	assert_int_equal(s->s, 1);
	assert_int_equal(s->dpl, 0);
	assert_int_equal(s->present, 1);
	assert_int_equal(s->l, 0);
	assert_int_equal(s->db, 1);
	assert_int_equal(s->g, 1);
}

static void test_x86_long_mode_sregs(void **state)
{
	struct kvm_sregs s;

	memset(&s, 0xa5, sizeof(s));
	x86_long_mode_sregs(&s, 0x5000, 0xff800);
	/* docs/PVM.md: the values measured to run natively on kvm_pvm. */
	assert_int_equal(s.cr0, 0x80050033);
	assert_int_equal(s.cr4, 0x620);
	assert_int_equal(s.efer, 0x501);
	assert_int_equal(s.cr3, 0x5000);
	assert_int_equal(s.gdt.base, 0xff800);
	assert_int_equal(s.gdt.limit, GDT_ENTRIES * 8 - 1);
	check_code(&s.cs);
	check_data(&s.ds);
	check_data(&s.es);
	check_data(&s.fs);
	check_data(&s.gs);
	check_data(&s.ss);
	assert_true(s.cr0 & X86_CR0_PG);
	assert_true(s.cr0 & X86_CR0_PE);
	assert_false(s.cr4 & (1ull << 17)); /* no PCIDE: kvm_pvm refuses it */
}

static void test_x86_gdt_decoding(void **state)
{
	struct kvm_segment s;

	/* The segments are decoded from the very words written to guest memory. */
	assert_int_equal(x86_gdt[0], 0);
	assert_int_equal(x86_gdt[GDT_SEL_CODE >> 3], 0x00af9b000000ffffull);
	assert_int_equal(x86_gdt[GDT_SEL_DATA >> 3], 0x00cf93000000ffffull);
	x86_segment_from_gdt(GDT_SEL_CODE, &s);
	check_code(&s);
	x86_segment_from_gdt(GDT_SEL_DATA, &s);
	check_data(&s);
	memset(&s, 0xff, sizeof(s));
	x86_segment_from_gdt(0, &s);
	assert_int_equal(s.present, 0);
	assert_int_equal(s.selector, 0);
	assert_int_equal(s.type, 0);
	assert_int_equal(s.base, 0);
	/* A selector beyond the table is a null segment, not a read past it. */
	memset(&s, 0xff, sizeof(s));
	x86_segment_from_gdt(GDT_ENTRIES << 3, &s);
	assert_int_equal(s.present, 0);
	assert_int_equal(s.selector, GDT_ENTRIES << 3);
	x86_segment_from_gdt(0xfff8, &s);
	assert_int_equal(s.present, 0);
	assert_int_equal(s.limit, 0);
}

/* ---- the walker on hand-made tables ---- */

enum {
	G_PML4 = 0x11000, /* odd frame, as the VMM uses */
	G_PDPT = 0x12000,
	G_PD = 0x13000,
	G_PT = 0x14000,
	G_PDPT_HI = 0x15000,
	G_PD_HI = 0x16000,
};

#define VA_HI 0xffffffff80000000ull /* PML4 511, PDPT 510 */

/*
 *   va 0x0000      -> 0x5000    4K
 *   va 0x1000      -> 0x7000    4K, software bit 52, NX
 *   va 0x2000      not present (an address but no P)
 *   va 0x200000    -> 0x600000  2M, bit 52, PAT bit 12 set (not address)
 *   va 0x400000    not present
 *   va 0x40000000  -> 0x80000000 1G, PAT bit 12 set
 *   va VA_HI       -> 0x200000  2M
 */
static void build_tables(void)
{
	uint64_t *pml4 = page(G_PML4), *pdpt = page(G_PDPT), *pd = page(G_PD), *pt = page(G_PT);
	uint64_t *pdpt_hi = page(G_PDPT_HI), *pd_hi = page(G_PD_HI);

	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	memset(pd, 0, PAGE_SIZE);
	memset(pt, 0, PAGE_SIZE);
	memset(pdpt_hi, 0, PAGE_SIZE);
	memset(pd_hi, 0, PAGE_SIZE);
	pml4[0] = G_PDPT | TABLE;
	pml4[511] = G_PDPT_HI | TABLE | BIT52; /* software bits in tables too */
	pdpt[0] = G_PD | TABLE;
	pdpt[1] = 0x80000000ull | 0x1000 | PTE_P | PTE_W | PTE_PS;
	pd[0] = G_PT | TABLE;
	pd[1] = 0x600000 | 0x1000 | PTE_P | PTE_PS | BIT52;
	pd[2] = 0x800000 | PTE_PS; /* not present */
	pt[0] = 0x5000 | PTE_P | PTE_W;
	pt[1] = 0x7000 | PTE_P | BIT52 | PTE_NX;
	pt[2] = 0x9000 | PTE_W; /* not present */
	pdpt_hi[510] = G_PD_HI | TABLE;
	pd_hi[0] = 0x200000 | PTE_P | PTE_PS;
}

#define MAX_SEEN 16

struct seen {
	struct pt_leaf leaf[MAX_SEEN];
	unsigned n;
	unsigned stop_at; /* return 42 at this leaf (1-based), 0: never */
};

static int collect(const struct pt_leaf *lf, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		s->leaf[s->n] = *lf;
	s->n++;
	return s->n == s->stop_at ? 42 : 0;
}

static void expect_leaf(const struct pt_leaf *lf, uint64_t va, uint64_t gpa, uint64_t size)
{
	if (lf->va != va || lf->gpa != gpa || lf->size != size)
		fail_msg("leaf va %#" PRIx64 " gpa %#" PRIx64 " size %#" PRIx64 ", want %#" PRIx64
			 " %#" PRIx64 " %#" PRIx64,
			 lf->va, lf->gpa, lf->size, va, gpa, size);
}

static void test_x86_walk_leaves(void **state)
{
	struct seen s = {0};

	build_tables();
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 100, collect, &s), 0);
	assert_int_equal(s.n, 5);
	expect_leaf(&s.leaf[0], 0, 0x5000, PAGE_SIZE);
	expect_leaf(&s.leaf[1], 0x1000, 0x7000, PAGE_SIZE);
	expect_leaf(&s.leaf[2], 0x200000, 0x600000, SZ_2M);
	expect_leaf(&s.leaf[3], 0x40000000, 0x80000000, SZ_1G);
	expect_leaf(&s.leaf[4], VA_HI, 0x200000, SZ_2M);
	/* The leaf entry is handed over whole: software bits, NX, flags. */
	assert_true(s.leaf[1].pte & BIT52);
	assert_true(s.leaf[1].pte & PTE_NX);
	assert_false(s.leaf[0].pte & BIT52);
	assert_true(s.leaf[2].pte & BIT52);
	assert_true(s.leaf[2].pte & PTE_PS);
	assert_true(s.leaf[3].pte & PTE_W);
	/* CR3 low bits (PCD/PWT) are not part of the address. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4 | 0x18, 100, collect, &s), 0);
	assert_int_equal(s.n, 5);
}

static void test_x86_walk_callback_stops(void **state)
{
	struct seen s = {.stop_at = 2};

	build_tables();
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 100, collect, &s), 42);
	assert_int_equal(s.n, 2);
}

static void test_x86_walk_max_leaves(void **state)
{
	struct seen s = {0};

	build_tables();
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 5, collect, &s), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 4, collect, &s), -E2BIG);
	assert_int_equal(s.n, 4);
}

static void test_x86_walk_table_outside_memory(void **state)
{
	struct seen s = {0};
	uint64_t gpa;

	build_tables();
	/* CR3 itself outside memory, in the VMM-less hole beyond the top. */
	assert_int_equal(x86_walk_page_tables(&mem, 1ull << 40, 100, collect, &s), -EFAULT);
	assert_int_equal(x86_gva_to_gpa(&mem, 1ull << 40, 0, &gpa), -EFAULT);
	/* A PD entry pointing at a page table beyond the end of memory. */
	page(G_PD)[3] = (64ull << 20) | TABLE;
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 100, collect, &s), -EFAULT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x600000, &gpa), -EFAULT);
	/* And at the other levels. */
	build_tables();
	page(G_PML4)[1] = 0x000ffffffffff000ull | TABLE;
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 100, collect, &s), -EFAULT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 1ull << 39, &gpa), -EFAULT);
	build_tables();
	page(G_PDPT)[2] = (16ull << 20) | TABLE; /* exactly one past the end */
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 100, collect, &s), -EFAULT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 2 * SZ_1G, &gpa), -EFAULT);
}

static void test_x86_walk_self_reference(void **state)
{
	uint64_t *pml4 = page(G_PML4), gpa = 0;
	struct seen s = {0};

	/* Every entry points back at the same page: 2^36 leaves if followed. */
	for (unsigned i = 0; i < 512; i++)
		pml4[i] = G_PML4 | TABLE;
	assert_int_equal(x86_walk_page_tables(&mem, G_PML4, 1000, collect, &s), -E2BIG);
	assert_int_equal(s.n, 1000);
	/* A translation through it terminates too (4 levels, then a 4K leaf). */
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x123, &gpa), 0);
	assert_int_equal(gpa, G_PML4 + 0x123);
}

static void test_x86_gva_to_gpa(void **state)
{
	uint64_t gpa = 0;

	build_tables();
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x123, &gpa), 0);
	assert_int_equal(gpa, 0x5123);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x1abc, &gpa), 0);
	assert_int_equal(gpa, 0x7abc);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x212345, &gpa), 0);
	assert_int_equal(gpa, 0x612345);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x40123456, &gpa), 0);
	assert_int_equal(gpa, 0x80123456);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, VA_HI + 0x1234, &gpa), 0);
	assert_int_equal(gpa, 0x201234);
	/* Non-canonical twins of mapped addresses are not mapped (#GP). */
	gpa = 0xdead;
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x0000ffff80001234ull, &gpa), -ENOENT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x8000000000000123ull, &gpa), -ENOENT);
	assert_int_equal(gpa, 0xdead);
	/* Holes at every level. */
	gpa = 0xdead;
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x2000, &gpa), -ENOENT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x400000, &gpa), -ENOENT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 0x80000000, &gpa), -ENOENT);
	assert_int_equal(x86_gva_to_gpa(&mem, G_PML4, 1ull << 39, &gpa), -ENOENT);
	assert_int_equal(gpa, 0xdead);
}

/* The firmware CPUID table carries exactly the leaves KVM gets, in order. */
static void test_x86_cpuid_fw_table(void **state)
{
	union {
		struct kvm_cpuid2 hdr;
		uint8_t bytes[sizeof(struct kvm_cpuid2) + 3 * sizeof(struct kvm_cpuid_entry2)];
	} c;
	struct minivmm_cpuid_table t;

	memset(&c, 0, sizeof(c));
	c.hdr.nent = 3;
	c.hdr.entries[0] =
		(struct kvm_cpuid_entry2){.function = CPUID_AMD_SEV, .eax = 2, .ebx = 52};
	c.hdr.entries[1] = (struct kvm_cpuid_entry2){
		.function = KVM_CPUID_SIGNATURE, .eax = KVM_CPUID_FEATURES, .ebx = 0x4b4d564b};
	/* A subleaf other than 0 of a listed leaf is not the leaf. */
	c.hdr.entries[2] = (struct kvm_cpuid_entry2){.function = 0x80000000u, .index = 1, .eax = 9};
	x86_cpuid_fw_table(&c.hdr, &t);
	assert_int_equal(t.magic, MINIVMM_CPUID_MAGIC);
	assert_int_equal(t.count, 4);
	assert_int_equal(t.fn[0].eax_in, KVM_CPUID_SIGNATURE);
	assert_int_equal(t.fn[0].eax, KVM_CPUID_FEATURES);
	assert_int_equal(t.fn[0].ebx, 0x4b4d564b);
	assert_int_equal(t.fn[1].eax_in, KVM_CPUID_FEATURES);
	assert_int_equal(t.fn[1].eax | t.fn[1].ebx | t.fn[1].ecx | t.fn[1].edx, 0);
	assert_int_equal(t.fn[2].eax_in, 0x80000000u);
	assert_int_equal(t.fn[2].eax, 0);
	assert_int_equal(t.fn[3].eax_in, CPUID_AMD_SEV);
	assert_int_equal(t.fn[3].eax, 2);
	assert_int_equal(t.fn[3].ebx, 52);
	for (unsigned i = 0; i < t.count; i++)
		assert_int_equal(t.fn[i].ecx_in, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x86_identity_map_small),
		cmocka_unit_test(test_x86_identity_map_5g),
		cmocka_unit_test(test_x86_identity_map_many_pdpts),
		cmocka_unit_test(test_x86_identity_map_errors),
		cmocka_unit_test(test_x86_identity_map_walk),
		cmocka_unit_test(test_x86_long_mode_sregs),
		cmocka_unit_test(test_x86_gdt_decoding),
		cmocka_unit_test(test_x86_walk_leaves),
		cmocka_unit_test(test_x86_walk_callback_stops),
		cmocka_unit_test(test_x86_walk_max_leaves),
		cmocka_unit_test(test_x86_walk_table_outside_memory),
		cmocka_unit_test(test_x86_walk_self_reference),
		cmocka_unit_test(test_x86_gva_to_gpa),
		cmocka_unit_test(test_x86_cpuid_fw_table),
	};

	return cmocka_run_group_tests(tests, setup_mem, teardown_mem);
}
