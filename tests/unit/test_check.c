// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bitmap checks (check.h) as pure functions: the truth audit against page
 * tables built in guest memory, in both directions, and its cost on the
 * largest guest (1 TiB): one audit runs at every READY, so it must stay
 * roughly linear in the number of leaves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "encmap.h"
#include "memory.h"
#include "util.h"
#include "x86.h"

#define CBIT	 52
#define PML4_GPA 0x201000ull

struct guest {
	struct guest_mem mem;
	struct encmap map;
	uint64_t *tables; /* PML4, PDPTs, PDs of the identity map */
	uint64_t npages;  /* of tables */
};

/* Identity map of all memory, every 2 MiB leaf private (C-bit set). */
static void guest_init(struct guest *g, uint64_t ram)
{
	const struct encmap_prov fw = {ENCMAP_VCPU_FIRMWARE, 0, 0};

	assert_int_equal(mem_layout(&g->mem, ram, 8ull << 20), 0);
	assert_int_equal(mem_alloc(&g->mem), 0);
	assert_int_equal(x86_build_identity_map(&g->mem, PML4_GPA, g->mem.top), 0);
	g->npages = x86_pt_pages(g->mem.top);
	g->tables = mem_gpa_to_hva(&g->mem, PML4_GPA, g->npages * PAGE_SIZE);
	assert_non_null(g->tables);
	for (uint64_t i = 0; i < g->npages * 512; i++)
		if ((g->tables[i] & PTE_P) && (g->tables[i] & PTE_PS))
			g->tables[i] |= 1ull << CBIT;
	assert_int_equal(encmap_init(&g->map, mem_nr_pages(&g->mem)), 0);
	assert_int_equal(encmap_set_shared(&g->map, MEM_FW_SHARED_GPA >> PAGE_SHIFT,
					   MEM_FW_SHARED_SIZE >> PAGE_SHIFT, &fw),
			 0);
}

static void guest_free(struct guest *g)
{
	encmap_destroy(&g->map);
	mem_free(&g->mem);
}

/* The 2 MiB leaf mapping gpa (identity map layout: PML4, PDPTs, then PDs). */
static uint64_t *leaf_2m(struct guest *g, uint64_t gpa)
{
	uint64_t gib = ALIGN_UP(g->mem.top, SZ_1G) / SZ_1G, pdpts = (gib + 511) / 512;

	return &g->tables[(1 + pdpts) * 512 + gpa / SZ_2M];
}

static void test_check_truth_clean(void **state)
{
	const struct encmap_prov p = {0, 1, 10};
	struct check_report rep = {0};
	struct guest g;

	guest_init(&g, 64ull << 20);
	/* The guest shares [4M, 6M) and tells the host. */
	*leaf_2m(&g, 4 * SZ_1M) &= ~(1ull << CBIT);
	assert_int_equal(encmap_set_shared(&g.map, (4 * SZ_1M) >> PAGE_SHIFT, 512, &p), 0);
	assert_int_equal(check_truth(&g.map, &g.mem, PML4_GPA, CBIT, &rep), 0);
	assert_int_equal(rep.error, 0);
	assert_int_equal(rep.n, 0);
	check_report_free(&rep);
	assert_int_equal(check_reset(&g.map, &g.mem, 1, &rep), 0);
	assert_int_equal(rep.n, 0);
	check_report_free(&rep);
	guest_free(&g);
}

static void test_check_truth_both_directions(void **state)
{
	const struct encmap_prov p = {1, 2, 77};
	struct check_report rep = {0};
	struct guest g;
	bool seen_private = false, seen_shared = false;

	guest_init(&g, 64ull << 20);
	/* Guest-shared, host never told. */
	*leaf_2m(&g, 8 * SZ_1M) &= ~(1ull << CBIT);
	/* Host told shared, the guest kept the C-bit. */
	assert_int_equal(encmap_set_shared(&g.map, (12 * SZ_1M) >> PAGE_SHIFT, 4, &p), 0);
	assert_int_equal(check_truth(&g.map, &g.mem, PML4_GPA, CBIT, &rep), 0);
	assert_int_equal(rep.error, 0);
	for (size_t i = 0; i < rep.n; i++) {
		const struct violation *v = &rep.v[i];

		if (v->kind == VIOL_HOST_PRIVATE_GUEST_SHARED) {
			assert_int_equal(v->start, (8 * SZ_1M) >> PAGE_SHIFT);
			assert_int_equal(v->end, (10 * SZ_1M) >> PAGE_SHIFT);
			seen_private = true;
		} else if (v->kind == VIOL_HOST_SHARED_GUEST_PRIVATE) {
			assert_int_equal(v->start, (12 * SZ_1M) >> PAGE_SHIFT);
			assert_int_equal(v->end, ((12 * SZ_1M) >> PAGE_SHIFT) + 4);
			assert_true(v->has_prov);
			assert_int_equal(v->prov.vcpu, 1);
			assert_int_equal(v->prov.seq, 77);
			seen_shared = true;
		} else {
			fail_msg("unexpected violation %s", violation_name(v->kind));
		}
	}
	assert_true(seen_private && seen_shared);
	check_report_free(&rep);
	/* Tables outside memory are reported, not followed. */
	assert_int_equal(check_truth(&g.map, &g.mem, 1ull << 40, CBIT, &rep), 0);
	assert_int_equal(rep.error, -EFAULT);
	check_report_free(&rep);
	guest_free(&g);
}

/*
 * A 1 TiB guest (2^19 leaves of 2 MiB) that shares only the firmware
 * window: the audit must not rescan the bitmap's tail for every leaf. It
 * runs in a child so that a slow audit fails the test after a bound
 * instead of stalling the suite (measured before the fix: ~12 s).
 */
#define TRUTH_1T_LIMIT_MS 3000

static void test_check_truth_1t_bounded(void **state)
{
	struct check_report rep = {0};
	struct guest g;
	uint64_t t0;
	int status = 0;
	pid_t pid;

	guest_init(&g, 1ull << 40);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r = check_truth(&g.map, &g.mem, PML4_GPA, CBIT, &rep);

		_exit(r == 0 && rep.n == 0 && rep.error == 0 ? 0 : 1);
	}
	t0 = now_ns();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ns() - t0 > TRUTH_1T_LIMIT_MS * 1000000ull) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			guest_free(&g);
			fail_msg("check_truth on a 1 TiB guest with one shared run took more than "
				 "%d ms (%u leaves): the audit rescans the bitmap per leaf",
				 TRUTH_1T_LIMIT_MS, 1u << 19);
		}
		usleep(10000);
	}
	guest_free(&g);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	print_message("1 TiB truth audit: %" PRIu64 " ms\n", (now_ns() - t0) / 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_truth_clean),
		cmocka_unit_test(test_check_truth_both_directions),
		cmocka_unit_test(test_check_truth_1t_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
