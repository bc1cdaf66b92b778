// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest memory layout (memory.h): the E820 map for sizes from the minimum
 * to the maximum, the PCI hole, the reserved regions, and the bounds checks
 * of gpa -> hva translation and the range predicates.
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

#define VMM_SIZE (1ull << 20)

static const uint64_t sizes[] = {
	16ull << 20, 256ull << 20, 3ull << 30, (3ull << 30) + (1ull << 20),
	4ull << 30,  64ull << 30,  1ull << 40,
};

static const struct e820_entry *find_entry(const struct guest_mem *m, uint64_t addr)
{
	for (unsigned i = 0; i < m->nr_e820; i++)
		if (m->e820[i].addr == addr)
			return &m->e820[i];
	return NULL;
}

/* Everything the layout promises, for one size. */
static void check_layout(uint64_t ram)
{
	struct guest_mem m;
	uint64_t ram_total = 0, low_end = ram > MEM_PCI_HOLE_START ? MEM_PCI_HOLE_START : ram;
	const struct e820_entry *e;

	if (mem_layout(&m, ram, VMM_SIZE))
		fail_msg("mem_layout(%#" PRIx64 ") failed", ram);
	assert_int_equal(m.ram_size, ram);
	assert_null(m.host);
	assert_true(m.nr_e820 > 0 && m.nr_e820 <= MEM_E820_MAX);
	for (unsigned i = 0; i < m.nr_e820; i++) {
		const struct e820_entry *c = &m.e820[i];

		if (c->size == 0)
			fail_msg("%#" PRIx64 ": entry %u is empty", ram, i);
		if (c->addr + c->size < c->addr)
			fail_msg("%#" PRIx64 ": entry %u wraps", ram, i);
		if (i && c->addr < m.e820[i - 1].addr + m.e820[i - 1].size)
			fail_msg("%#" PRIx64 ": entry %u [%#" PRIx64 ", +%#" PRIx64
				 ") unsorted or overlapping its predecessor",
				 ram, i, c->addr, c->size);
		if (c->type != E820_TYPE_RAM && c->type != E820_TYPE_RESERVED)
			fail_msg("%#" PRIx64 ": entry %u has type %u", ram, i, c->type);
		/* Every entry is backed by the memslots. */
		if (!mem_is_backed(&m, c->addr, c->size))
			fail_msg("%#" PRIx64 ": entry %u not backed", ram, i);
		if (c->type == E820_TYPE_RAM) {
			ram_total += c->size;
			assert_true(mem_is_ram(&m, c->addr, c->size));
			assert_false(mem_touches_vmm(&m, c->addr, c->size));
		}
		/* No entry in the PCI hole. */
		if (ram > MEM_PCI_HOLE_START)
			assert_false(ranges_overlap(c->addr, c->size, MEM_PCI_HOLE_START,
						    MEM_4G - MEM_PCI_HOLE_START));
	}
	/* RAM = all of it minus the legacy hole [0x9f000, 1 MiB) and the VMM region. */
	if (ram_total != ram - (MEM_HIGH_RAM_START - MEM_LOW_RAM_END) - VMM_SIZE)
		fail_msg("%#" PRIx64 ": E820 RAM total %#" PRIx64, ram, ram_total);

	/* Low memory. */
	e = find_entry(&m, 0);
	assert_non_null(e);
	assert_int_equal(e->type, E820_TYPE_RAM);
	assert_int_equal(e->size, MEM_LOW_RAM_END);
	e = find_entry(&m, MEM_FW_SHARED_GPA);
	assert_non_null(e);
	assert_int_equal(e->type, E820_TYPE_RESERVED);
	assert_int_equal(e->size, MEM_FW_SHARED_SIZE);
	assert_false(mem_is_ram(&m, MEM_FW_SHARED_GPA, PAGE_SIZE));
	assert_true(mem_is_backed(&m, MEM_FW_SHARED_GPA, MEM_FW_SHARED_SIZE));
	e = find_entry(&m, MEM_HIGH_RAM_START);
	assert_non_null(e);
	assert_int_equal(e->type, E820_TYPE_RAM);

	/* The VMM region: reserved, at the top of low memory. */
	assert_int_equal(m.vmm_size, VMM_SIZE);
	assert_int_equal(m.vmm_gpa + m.vmm_size, low_end);
	e = find_entry(&m, m.vmm_gpa);
	assert_non_null(e);
	assert_int_equal(e->type, E820_TYPE_RESERVED);
	assert_int_equal(e->size, VMM_SIZE);
	assert_true(mem_touches_vmm(&m, m.vmm_gpa, 1));
	assert_true(mem_touches_vmm(&m, m.vmm_gpa + VMM_SIZE - 1, 1));
	assert_false(mem_is_ram(&m, m.vmm_gpa, PAGE_SIZE));

	/* High memory and the hole. */
	assert_int_equal(m.low_size, low_end);
	if (ram > MEM_PCI_HOLE_START) {
		assert_int_equal(m.high_size, ram - MEM_PCI_HOLE_START);
		assert_int_equal(m.top, MEM_4G + ram - MEM_PCI_HOLE_START);
		e = find_entry(&m, MEM_4G);
		assert_non_null(e);
		assert_int_equal(e->type, E820_TYPE_RAM);
		assert_int_equal(e->size, ram - MEM_PCI_HOLE_START);
		assert_false(mem_is_backed(&m, MEM_PCI_HOLE_START, 1));
		assert_false(mem_is_backed(&m, MEM_4G - 1, 1));
	} else {
		assert_int_equal(m.high_size, 0);
		assert_int_equal(m.top, ram);
		assert_null(find_entry(&m, MEM_4G));
	}
	assert_int_equal(mem_nr_pages(&m), m.top >> PAGE_SHIFT);
	assert_false(mem_is_backed(&m, m.top, 1));
	assert_false(mem_is_ram(&m, m.top - PAGE_SIZE, 2 * PAGE_SIZE));
}

static void test_memory_layout_sizes(void **state)
{
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++)
		check_layout(sizes[i]);
}

static void test_memory_layout_3g_boundary(void **state)
{
	struct guest_mem m;

	/* Exactly 3 GiB: everything low, no high RAM, no slot at 4 GiB. */
	assert_int_equal(mem_layout(&m, 3ull << 30, VMM_SIZE), 0);
	assert_int_equal(m.low_size, 3ull << 30);
	assert_int_equal(m.high_size, 0);
	assert_int_equal(m.top, 3ull << 30);
	/* 1 MiB more: that MiB lives at 4 GiB. */
	assert_int_equal(mem_layout(&m, (3ull << 30) + SZ_1M, VMM_SIZE), 0);
	assert_int_equal(m.low_size, 3ull << 30);
	assert_int_equal(m.high_size, SZ_1M);
	assert_int_equal(m.top, MEM_4G + SZ_1M);
	assert_true(mem_is_ram(&m, MEM_4G, SZ_1M));
	assert_false(mem_is_ram(&m, MEM_4G, SZ_1M + 1));
}

static void test_memory_layout_rejects(void **state)
{
	struct guest_mem m;

	assert_int_equal(mem_layout(&m, 0, VMM_SIZE), -EINVAL);
	assert_int_equal(mem_layout(&m, MEM_MIN_SIZE - SZ_1M, VMM_SIZE), -EINVAL);
	assert_int_equal(mem_layout(&m, MEM_MAX_SIZE + SZ_1M, VMM_SIZE), -EINVAL);
	assert_int_equal(mem_layout(&m, (256ull << 20) + PAGE_SIZE, VMM_SIZE), -EINVAL);
	assert_int_equal(mem_layout(&m, UINT64_MAX, VMM_SIZE), -EINVAL);
	/* VMM region: non-zero, page aligned, leaving 4 MiB above 1 MiB. */
	assert_int_equal(mem_layout(&m, 256ull << 20, 0), -EINVAL);
	assert_int_equal(mem_layout(&m, 256ull << 20, PAGE_SIZE + 1), -EINVAL);
	assert_int_equal(mem_layout(&m, 16ull << 20, 12ull << 20), -EINVAL);
	assert_int_equal(mem_layout(&m, 16ull << 20, 11ull << 20), 0);
	assert_int_equal(mem_layout(&m, 16ull << 20, UINT64_MAX & ~(PAGE_SIZE - 1)), -EINVAL);
	/* Bounds themselves are fine. */
	assert_int_equal(mem_layout(&m, MEM_MIN_SIZE, VMM_SIZE), 0);
	assert_int_equal(mem_layout(&m, MEM_MAX_SIZE, VMM_SIZE), 0);
}

static void test_memory_hva_low_only(void **state)
{
	struct guest_mem m;
	uint8_t *h;

	assert_int_equal(mem_layout(&m, 256ull << 20, VMM_SIZE), 0);
	assert_null(mem_gpa_to_hva(&m, 0, 1)); /* not allocated yet */
	assert_int_equal(mem_alloc(&m), 0);
	h = m.host;
	assert_ptr_equal(mem_gpa_to_hva(&m, 0, 256ull << 20), h);
	assert_ptr_equal(mem_gpa_to_hva(&m, 0x1234, 8), h + 0x1234);
	assert_ptr_equal(mem_gpa_to_hva(&m, (256ull << 20) - 1, 1), h + (256ull << 20) - 1);
	assert_null(mem_gpa_to_hva(&m, (256ull << 20) - 1, 2));
	assert_null(mem_gpa_to_hva(&m, 256ull << 20, 1));
	assert_null(mem_gpa_to_hva(&m, MEM_4G, 1));
	assert_null(mem_gpa_to_hva(&m, 0, (256ull << 20) + 1));
	/* Wrap-around. */
	assert_null(mem_gpa_to_hva(&m, UINT64_MAX, 2));
	assert_null(mem_gpa_to_hva(&m, 0x1000, UINT64_MAX));
	assert_null(mem_gpa_to_hva(&m, 0xfffffffffffff000ull, 0x2000));
	/* The memory is usable. */
	h[0x1234] = 0x5a;
	assert_int_equal(*(uint8_t *)mem_gpa_to_hva(&m, 0x1234, 1), 0x5a);
	mem_free(&m);
	assert_null(m.host);
	mem_free(&m); /* idempotent */
	assert_null(mem_gpa_to_hva(&m, 0, 1));
}

static void test_memory_hva_across_hole(void **state)
{
	struct guest_mem m;
	const uint64_t low = MEM_PCI_HOLE_START, high = SZ_1G;
	uint8_t *h;

	assert_int_equal(mem_layout(&m, 4ull << 30, VMM_SIZE), 0);
	assert_int_equal(mem_alloc(&m), 0);
	h = m.host;
	assert_ptr_equal(mem_gpa_to_hva(&m, low - 1, 1), h + low - 1);
	/* Low RAM into the hole, the hole itself, the hole into high RAM. */
	assert_null(mem_gpa_to_hva(&m, low - 1, 2));
	assert_null(mem_gpa_to_hva(&m, low, 1));
	assert_null(mem_gpa_to_hva(&m, MEM_4G - 1, 1));
	assert_null(mem_gpa_to_hva(&m, MEM_4G - 1, 2));
	/* Low RAM all the way to high RAM: not one memslot. */
	assert_null(mem_gpa_to_hva(&m, low - PAGE_SIZE, MEM_4G - low + 2 * PAGE_SIZE));
	assert_null(mem_gpa_to_hva(&m, 0, m.top));
	/* High RAM maps right after low RAM in the host mapping. */
	assert_ptr_equal(mem_gpa_to_hva(&m, MEM_4G, 1), h + low);
	assert_ptr_equal(mem_gpa_to_hva(&m, MEM_4G, high), h + low);
	assert_ptr_equal(mem_gpa_to_hva(&m, MEM_4G + high - 1, 1), h + low + high - 1);
	assert_null(mem_gpa_to_hva(&m, MEM_4G + high - 1, 2));
	assert_null(mem_gpa_to_hva(&m, MEM_4G + high, 1));
	assert_null(mem_gpa_to_hva(&m, MEM_4G, UINT64_MAX));
	assert_null(mem_gpa_to_hva(&m, UINT64_MAX - 1, 4));
	/* Writes through both halves land in distinct places. */
	*(uint8_t *)mem_gpa_to_hva(&m, 0x1000, 1) = 1;
	*(uint8_t *)mem_gpa_to_hva(&m, MEM_4G + 0x1000, 1) = 2;
	assert_int_equal(h[0x1000], 1);
	assert_int_equal(h[low + 0x1000], 2);

	assert_true(mem_is_backed(&m, low - 1, 1));
	assert_false(mem_is_backed(&m, low - 1, 2));
	assert_true(mem_is_backed(&m, MEM_4G, high));
	assert_false(mem_is_backed(&m, MEM_4G, high + 1));
	mem_free(&m);
}

static void test_memory_is_ram(void **state)
{
	struct guest_mem m;

	assert_int_equal(mem_layout(&m, (3ull << 30) + (1ull << 30), VMM_SIZE), 0);
	assert_true(mem_is_ram(&m, 0, PAGE_SIZE));
	assert_true(mem_is_ram(&m, 0, MEM_LOW_RAM_END));
	assert_false(mem_is_ram(&m, 0, MEM_LOW_RAM_END + 1)); /* into the EBDA */
	assert_false(mem_is_ram(&m, MEM_LOW_RAM_END, 1));
	assert_false(mem_is_ram(&m, MEM_FW_SHARED_GPA, 1));
	assert_false(mem_is_ram(&m, 0xc0000, 1));
	assert_true(mem_is_ram(&m, MEM_HIGH_RAM_START, PAGE_SIZE));
	/* Across two RAM entries separated by reserved memory: no. */
	assert_false(mem_is_ram(&m, 0, 2 * SZ_1M));
	assert_true(mem_is_ram(&m, m.vmm_gpa - 1, 1));
	assert_false(mem_is_ram(&m, m.vmm_gpa - 1, 2));
	assert_false(mem_is_ram(&m, m.vmm_gpa, 1));
	assert_false(mem_is_ram(&m, MEM_PCI_HOLE_START, 1));
	assert_true(mem_is_ram(&m, MEM_4G, SZ_1G));
	assert_false(mem_is_ram(&m, MEM_4G - PAGE_SIZE, 2 * PAGE_SIZE));
	assert_false(mem_is_ram(&m, MEM_4G + SZ_1G, 1));
	assert_false(mem_is_ram(&m, UINT64_MAX, 2));
	assert_false(mem_is_ram(&m, MEM_4G, UINT64_MAX));
}

static void test_memory_touches_vmm(void **state)
{
	struct guest_mem m;
	uint64_t v;

	assert_int_equal(mem_layout(&m, 256ull << 20, VMM_SIZE), 0);
	v = m.vmm_gpa;
	assert_true(mem_touches_vmm(&m, v, 1));
	assert_true(mem_touches_vmm(&m, v - 1, 2));
	assert_true(mem_touches_vmm(&m, v + VMM_SIZE - 1, 1));
	assert_true(mem_touches_vmm(&m, 0, 256ull << 20));  /* covers it */
	assert_false(mem_touches_vmm(&m, v - 1, 1));	    /* adjacent below */
	assert_false(mem_touches_vmm(&m, v + VMM_SIZE, 1)); /* adjacent above */
	assert_false(mem_touches_vmm(&m, v, 0));	    /* empty */
	/* A range that wraps around is treated as touching (it covers all). */
	assert_true(mem_touches_vmm(&m, UINT64_MAX, 2));
	assert_true(mem_touches_vmm(&m, 0x1000, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_layout_sizes),
		cmocka_unit_test(test_memory_layout_3g_boundary),
		cmocka_unit_test(test_memory_layout_rejects),
		cmocka_unit_test(test_memory_hva_low_only),
		cmocka_unit_test(test_memory_hva_across_hole),
		cmocka_unit_test(test_memory_is_ram),
		cmocka_unit_test(test_memory_touches_vmm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
