// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_HC_MAP_GPA_RANGE validation (hypercall.h): KVM's own checks
 * (arch/x86/kvm/x86.c), mini-vmm's (one memslot, reserved attribute bits,
 * page-size hints), the order they apply in, and the values returned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hypercall.h"
#include "memory.h"
#include "util.h"

#define ATTR_4K KVM_MAP_GPA_RANGE_PAGE_SZ_4K
#define ATTR_2M KVM_MAP_GPA_RANGE_PAGE_SZ_2M
#define ATTR_1G KVM_MAP_GPA_RANGE_PAGE_SZ_1G
#define ENC	KVM_MAP_GPA_RANGE_ENCRYPTED

static struct guest_mem small; /* 256 MiB: low memory only */
static struct guest_mem big;   /* 4 GiB: 3 GiB low, hole, 1 GiB at 4 GiB */

static int setup(void **state)
{
	if (mem_layout(&small, 256ull << 20, 1ull << 20) ||
	    mem_layout(&big, 4ull << 30, 1ull << 20))
		return -1;
	return 0;
}

static enum hc_verdict v_nr(const struct guest_mem *m, bool sev, uint64_t nr, uint64_t gpa,
			    uint64_t npages, uint64_t attrs)
{
	struct hc_call c = {
		.nr = nr, .args = {gpa, npages, attrs, 0}, .transport = HC_TRANSPORT_PORT};

	return hc_validate(m, sev, &c);
}

static enum hc_verdict v(const struct guest_mem *m, uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	return v_nr(m, true, KVM_HC_MAP_GPA_RANGE, gpa, npages, attrs);
}

#define EXPECT(want, m, gpa, npages, attrs)                                                        \
	do {                                                                                       \
		enum hc_verdict got_ = v((m), (gpa), (npages), (attrs));                           \
		if (got_ != (want))                                                                \
			fail_msg("gpa %#" PRIx64 " npages %#" PRIx64 " attrs %#" PRIx64            \
				 ": verdict %s, want %s",                                          \
				 (uint64_t)(gpa), (uint64_t)(npages), (uint64_t)(attrs),           \
				 hc_verdict_name(got_), hc_verdict_name(want));                    \
	} while (0)

static void test_hypercall_valid(void **state)
{
	EXPECT(HC_OK, &small, 0x200000, 1, ATTR_4K);
	EXPECT(HC_OK, &small, 0x200000, 1, ATTR_4K | ENC);
	EXPECT(HC_OK, &small, 0, 1, 0);
	EXPECT(HC_OK, &small, 0x200000, 512, ATTR_2M);
	EXPECT(HC_OK, &small, 0x200000, 1024, ATTR_2M | ENC);
	EXPECT(HC_OK, &small, (256ull << 20) - PAGE_SIZE, 1, 0);   /* last page */
	EXPECT(HC_OK, &small, 0, (256ull << 20) >> PAGE_SHIFT, 0); /* all of it */
	/* Non-RAM but backed (firmware window, VMM region): as KVM, accepted. */
	EXPECT(HC_OK, &small, MEM_FW_SHARED_GPA, MEM_FW_SHARED_SIZE >> PAGE_SHIFT, 0);
	EXPECT(HC_OK, &small, small.vmm_gpa, 1, 0);
	/* High memory and 1G hints on the big guest. */
	EXPECT(HC_OK, &big, MEM_4G, 1, 0);
	EXPECT(HC_OK, &big, MEM_4G, 512 * 512, ATTR_1G);
	EXPECT(HC_OK, &big, 0, 2 * 512 * 512, ATTR_1G | ENC);
	EXPECT(HC_OK, &big, MEM_PCI_HOLE_START - PAGE_SIZE, 1, 0);
	EXPECT(HC_OK, &big, MEM_4G + SZ_1G - SZ_2M, 512, ATTR_2M);
}

static void test_hypercall_unknown_nr(void **state)
{
	assert_int_equal(v_nr(&small, true, 0, 0x200000, 1, 0), HC_UNKNOWN_NR);
	assert_int_equal(v_nr(&small, true, 11, 0x200000, 1, 0), HC_UNKNOWN_NR);
	assert_int_equal(v_nr(&small, true, 13, 0x200000, 1, 0), HC_UNKNOWN_NR);
	assert_int_equal(v_nr(&small, true, UINT64_MAX, 0x200000, 1, 0), HC_UNKNOWN_NR);
	assert_int_equal(v_nr(&small, true, (1ull << 32) | KVM_HC_MAP_GPA_RANGE, 0x200000, 1, 0),
			 HC_UNKNOWN_NR);
	/* Unknown beats not-enabled and bad arguments. */
	assert_int_equal(v_nr(&small, false, 99, 1, 0, ~0ull), HC_UNKNOWN_NR);
}

static void test_hypercall_not_enabled(void **state)
{
	assert_int_equal(v_nr(&small, false, KVM_HC_MAP_GPA_RANGE, 0x200000, 1, 0), HC_NOT_ENABLED);
	/* Even a malformed call gets "not enabled" first: nothing is offered. */
	assert_int_equal(v_nr(&small, false, KVM_HC_MAP_GPA_RANGE, 1, 0, ~0ull), HC_NOT_ENABLED);
}

static void test_hypercall_kvm_checks(void **state)
{
	/* arch/x86/kvm/x86.c: !PAGE_ALIGNED(gpa) || !npages || gfn + npages <= gfn */
	EXPECT(HC_GPA_UNALIGNED, &small, 0x200001, 1, 0);
	EXPECT(HC_GPA_UNALIGNED, &small, 0x200800, 1, 0);
	EXPECT(HC_GPA_UNALIGNED, &small, 0xfff, 1, 0);
	EXPECT(HC_GPA_UNALIGNED, &small, 0x200001, 0, 0); /* KVM's order */
	EXPECT(HC_ZERO_PAGES, &small, 0x200000, 0, 0);
	EXPECT(HC_ZERO_PAGES, &small, 0, 0, ATTR_2M);
	EXPECT(HC_WRAP, &small, 0x1000, UINT64_MAX, 0);
	EXPECT(HC_WRAP, &small, 0xfffffffffffff000ull, UINT64_MAX, 0);
	/* gfn + npages == 2^64 exactly: wraps to 0. */
	EXPECT(HC_WRAP, &small, 0x10000, (uint64_t)0 - 0x10, 0);
	/*
	 * The byte range [0xfffffffffffff000, +2 pages) wraps around 2^64, but
	 * in frame numbers (what KVM checks) 0xfffffffffffff + 2 does not: it is
	 * rejected as outside memory, with the same -KVM_EINVAL.
	 */
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0xfffffffffffff000ull, 2, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0xfffffffffffff000ull, 1, 0);
}

static void test_hypercall_outside_memory(void **state)
{
	EXPECT(HC_OUTSIDE_MEMORY, &small, 256ull << 20, 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, (256ull << 20) - PAGE_SIZE, 2, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0, ((256ull << 20) >> PAGE_SHIFT) + 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, MEM_4G, 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 1ull << 51, 1, 0);
	/* The PCI hole of a guest above 3 GiB. */
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_PCI_HOLE_START, 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_4G - PAGE_SIZE, 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_PCI_HOLE_START - PAGE_SIZE, 2, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_4G - PAGE_SIZE, 2, 0);
	/* Across the hole from low to high RAM: not one memslot. */
	EXPECT(HC_OUTSIDE_MEMORY, &big, 0, (5 * SZ_1G) >> PAGE_SHIFT, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_PCI_HOLE_START - SZ_2M, (SZ_1G + SZ_2M * 2) >> 12,
	       ATTR_2M);
	/* Past the end of high memory. */
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_4G + SZ_1G, 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_4G + SZ_1G - PAGE_SIZE, 2, 0);
	/* Huge page counts: the byte size itself would overflow. */
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0, 1ull << 52, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0, (1ull << 52) + 1, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0, 1ull << 40, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &big, MEM_4G, UINT64_MAX >> PAGE_SHIFT, 0);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 0x1000, (1ull << 63), 0);
}

static void test_hypercall_reserved_attrs(void **state)
{
	for (unsigned bit = 5; bit < 64; bit++) {
		EXPECT(HC_RESERVED_ATTR, &small, 0x200000, 1, 1ull << bit);
		EXPECT(HC_RESERVED_ATTR, &small, 0x200000, 512, (1ull << bit) | ATTR_2M | ENC);
	}
	EXPECT(HC_RESERVED_ATTR, &small, 0x200000, 1, ~0ull);
}

static void test_hypercall_page_size(void **state)
{
	for (uint64_t sz = 3; sz <= 15; sz++) {
		EXPECT(HC_BAD_PAGE_SIZE, &small, 0x200000, 512, sz);
		EXPECT(HC_BAD_PAGE_SIZE, &small, 0x200000, 512, sz | ENC);
	}
}

static void test_hypercall_size_hints(void **state)
{
	/* 2M: gpa and npages multiples of 512 pages. */
	EXPECT(HC_SIZE_MISALIGNED, &small, 0x201000, 512, ATTR_2M);
	EXPECT(HC_SIZE_MISALIGNED, &small, 0x100000, 512, ATTR_2M);
	EXPECT(HC_SIZE_MISALIGNED, &small, 0x200000, 511, ATTR_2M);
	EXPECT(HC_SIZE_MISALIGNED, &small, 0x200000, 513, ATTR_2M | ENC);
	EXPECT(HC_SIZE_MISALIGNED, &small, 0x200000, 1, ATTR_2M);
	/* 1G: 262144 pages. */
	EXPECT(HC_SIZE_MISALIGNED, &big, 0x200000, 512 * 512, ATTR_1G);
	EXPECT(HC_SIZE_MISALIGNED, &big, 0, 512, ATTR_1G);
	EXPECT(HC_SIZE_MISALIGNED, &big, MEM_4G, 512 * 512 - 512, ATTR_1G);
	EXPECT(HC_SIZE_MISALIGNED, &big, MEM_4G + SZ_2M, 512 * 511, ATTR_1G);
	/* 4K: anything aligned goes. */
	EXPECT(HC_OK, &small, 0x201000, 3, ATTR_4K);
}

static void test_hypercall_check_order(void **state)
{
	/* One verdict per call: the first failing check in the documented order. */
	EXPECT(HC_GPA_UNALIGNED, &small, 0x201001, 0, ~0ull);
	EXPECT(HC_ZERO_PAGES, &small, 0x201000, 0, ~0ull);
	EXPECT(HC_OUTSIDE_MEMORY, &small, 1ull << 40, 1, ~0ull);
	EXPECT(HC_RESERVED_ATTR, &small, 0x201000, 1, (1ull << 5) | 0xf);
	EXPECT(HC_BAD_PAGE_SIZE, &small, 0x201000, 1, 3);
}

static void test_hypercall_verdict_ret(void **state)
{
	assert_int_equal(hc_verdict_ret(HC_OK), 0);
	assert_int_equal(hc_verdict_ret(HC_UNKNOWN_NR), -1000);
	assert_int_equal(hc_verdict_ret(HC_NOT_ENABLED), -KVM_ENOSYS);
	assert_int_equal(hc_verdict_ret(HC_GPA_UNALIGNED), -22);
	assert_int_equal(hc_verdict_ret(HC_ZERO_PAGES), -22);
	assert_int_equal(hc_verdict_ret(HC_WRAP), -22);
	assert_int_equal(hc_verdict_ret(HC_OUTSIDE_MEMORY), -22);
	assert_int_equal(hc_verdict_ret(HC_RESERVED_ATTR), -22);
	assert_int_equal(hc_verdict_ret(HC_BAD_PAGE_SIZE), -22);
	assert_int_equal(hc_verdict_ret(HC_SIZE_MISALIGNED), -KVM_EINVAL);
	assert_int_equal(hc_verdict_ret(HC_STALE_GEN), -1);
	assert_int_equal(hc_verdict_ret(HC_NOMEM), -KVM_EFAULT);
}

static void test_hypercall_verdict_names(void **state)
{
	static const char *const want[HC_VERDICT_MAX] = {
		[HC_OK] = "ok",
		[HC_UNKNOWN_NR] = "unknown_nr",
		[HC_NOT_ENABLED] = "not_enabled",
		[HC_GPA_UNALIGNED] = "gpa_unaligned",
		[HC_ZERO_PAGES] = "zero_pages",
		[HC_WRAP] = "wrap",
		[HC_OUTSIDE_MEMORY] = "outside_memory",
		[HC_RESERVED_ATTR] = "reserved_attr",
		[HC_BAD_PAGE_SIZE] = "bad_page_size",
		[HC_SIZE_MISALIGNED] = "size_misaligned",
		[HC_STALE_GEN] = "stale_generation",
		[HC_NOMEM] = "no_memory",
	};

	for (int i = 0; i < HC_VERDICT_MAX; i++) {
		assert_non_null(want[i]);
		assert_string_equal(hc_verdict_name((enum hc_verdict)i), want[i]);
	}
	assert_string_equal(hc_verdict_name(HC_VERDICT_MAX), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hypercall_valid),
		cmocka_unit_test(test_hypercall_unknown_nr),
		cmocka_unit_test(test_hypercall_not_enabled),
		cmocka_unit_test(test_hypercall_kvm_checks),
		cmocka_unit_test(test_hypercall_outside_memory),
		cmocka_unit_test(test_hypercall_reserved_attrs),
		cmocka_unit_test(test_hypercall_page_size),
		cmocka_unit_test(test_hypercall_size_hints),
		cmocka_unit_test(test_hypercall_check_order),
		cmocka_unit_test(test_hypercall_verdict_ret),
		cmocka_unit_test(test_hypercall_verdict_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
