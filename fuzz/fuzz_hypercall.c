// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: hc_validate() and the encryption bitmap against a
 * reference model. The input is a sequence of KVM_HC_MAP_GPA_RANGE calls
 * (gpa, npages, attrs) on a 64 MiB guest, or on a guest just over 3 GiB
 * (PCI hole, RAM above 4 GiB). Each call's verdict is compared with an
 * independent re-statement of the README's verdict table; valid calls are
 * applied to the encmap (encmap_set_shared / encmap_set_private) and to a
 * byte-per-page model with provenance. After every call: is_shared around
 * the range ends and inside it, and the shared count; at the end: every
 * page, the shared runs and the provenance intervals. Allocation failures
 * are injected through encmap_alloc_hook: a failed update must change
 * nothing. Any mismatch abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encmap.h"
#include "hypercall.h"
#include "memory.h"
#include "util.h"
#include "fuzz_input.h"

#define MAX_OPS 64

/*
 * The model: one byte per page (1 = shared) and each shared page's
 * provenance. Its loops are plain scans kept out of the coverage and ASan
 * instrumentation (the model is the harness's own memory), so that they
 * do not dominate the run time.
 */
#define NO_COVERAGE __attribute__((no_sanitize("coverage", "address"), noinline))

struct guest {
	struct guest_mem mem;
	struct encmap map;
	uint8_t *shared;
	struct encmap_prov *prov;
	uint64_t npages;
};

static struct guest guests[2];
static int alloc_countdown; /* 0: never fail; n: the n-th allocation fails */

static void *failing_alloc(size_t size)
{
	if (alloc_countdown > 0 && --alloc_countdown == 0)
		return NULL;
	return malloc(size);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint64_t sizes[2] = {64ull << 20, (3ull << 30) + (64ull << 20)};

	(void)argc;
	(void)argv;
	for (unsigned i = 0; i < 2; i++) {
		struct guest *g = &guests[i];

		/* Layout only: the bitmap does not need guest memory. */
		if (mem_layout(&g->mem, sizes[i], 1ull << 20))
			abort();
		g->npages = mem_nr_pages(&g->mem);
		g->shared = calloc(g->npages, 1);
		g->prov = calloc(g->npages, sizeof(*g->prov));
		if (!g->shared || !g->prov || encmap_init(&g->map, g->npages))
			abort();
	}
	encmap_alloc_hook = failing_alloc;
	return 0;
}

/* The verdict table of README.md, restated without hc_validate's code. */
static enum hc_verdict expected_verdict(const struct guest_mem *mem, bool sev, uint64_t nr,
					uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	unsigned __int128 end;
	uint64_t size, align;

	if (nr != 12)
		return HC_UNKNOWN_NR;
	if (!sev)
		return HC_NOT_ENABLED;
	if (gpa % 4096)
		return HC_GPA_UNALIGNED;
	if (npages == 0)
		return HC_ZERO_PAGES;
	if ((unsigned __int128)(gpa / 4096) + npages > UINT64_MAX)
		return HC_WRAP;
	end = (unsigned __int128)gpa + (unsigned __int128)npages * 4096;
	if (!(end <= mem->low_size ||
	      (mem->high_size && gpa >= 0x100000000ull && end <= 0x100000000ull + mem->high_size)))
		return HC_OUTSIDE_MEMORY;
	if (attrs >> 5)
		return HC_RESERVED_ATTR;
	size = attrs & 0xf;
	if (size > 2)
		return HC_BAD_PAGE_SIZE;
	align = size == 2 ? 512 * 512 : size == 1 ? 512 : 1;
	if ((gpa / 4096) % align || npages % align)
		return HC_SIZE_MISALIGNED;
	return HC_OK;
}

/* Apply an update; returns the change in the number of shared pages. */
NO_COVERAGE static int64_t model_apply(struct guest *g, uint64_t first, uint64_t count, bool shared,
				       const struct encmap_prov *prov)
{
	int64_t before = 0;

	for (uint64_t p = first; p < first + count; p++) {
		before += g->shared[p];
		if (shared)
			g->prov[p] = *prov;
	}
	memset(g->shared + first, shared, count);
	return shared ? (int64_t)count - before : -before;
}

/* Is every page of [s, e) shared (want 1) / private (want 0)? */
NO_COVERAGE static bool model_all(const struct guest *g, uint64_t s, uint64_t e, uint8_t want)
{
	return s >= e || !memchr(g->shared + s, !want, e - s);
}

NO_COVERAGE static bool model_prov_all(const struct guest *g, uint64_t s, uint64_t e,
				       const struct encmap_prov *prov)
{
	for (uint64_t p = s; p < e; p++)
		if (g->prov[p].vcpu != prov->vcpu || g->prov[p].generation != prov->generation ||
		    g->prov[p].seq != prov->seq)
			return false;
	return true;
}

static void check_page(const struct guest *g, uint64_t pfn)
{
	struct encmap_prov prov;
	bool shared = encmap_is_shared(&g->map, pfn);

	if (pfn >= g->npages) {
		if (shared)
			abort();
		return;
	}
	if (shared != g->shared[pfn])
		abort();
	if (encmap_provenance(&g->map, pfn, &prov) != shared)
		abort();
	if (shared && memcmp(&prov, &g->prov[pfn], sizeof(prov)))
		abort();
}

/*
 * The whole bitmap against the model: the runs must be exactly the model's
 * shared stretches (every page between them private), maximal, and the
 * provenance intervals must carry each page's provenance, merged. Only
 * [lo, hi) was updated: outside it the model is all private by
 * construction, so the runs must lie inside it and only it is scanned.
 */
static void check_all(const struct guest *g, uint64_t lo, uint64_t hi, uint64_t count)
{
	struct encmap_run run;
	struct encmap_prov_run pr, prev = {0, 0, {0, 0, 0}};
	uint64_t from = 0, seen = 0;

	while (encmap_next_run(&g->map, from, &run)) {
		if (run.start >= run.end || run.start < from || run.end > g->npages)
			abort();
		if (run.start < lo || run.end > hi)
			abort();
		if (!model_all(g, from > lo ? from : lo, run.start, 0) ||
		    !model_all(g, run.start, run.end, 1) ||
		    (run.end < g->npages && g->shared[run.end]))
			abort();
		check_page(g, run.start);
		check_page(g, run.end - 1);
		check_page(g, run.end);
		seen += run.end - run.start;
		from = run.end;
	}
	if (seen != count || !model_all(g, from > lo ? from : lo, hi, 0))
		abort();
	from = 0;
	seen = 0;
	while (encmap_next_prov_run(&g->map, from, &pr)) {
		if (pr.start >= pr.end || pr.start < from || pr.end > g->npages)
			abort();
		if (!model_all(g, pr.start, pr.end, 1) ||
		    !model_prov_all(g, pr.start, pr.end, &pr.prov))
			abort();
		if (prev.end && prev.end == pr.start &&
		    !memcmp(&prev.prov, &pr.prov, sizeof(pr.prov)))
			abort(); /* not merged */
		seen += pr.end - pr.start;
		from = pr.end;
		prev = pr;
	}
	if (seen != count)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t cfg = u8(&in);
	struct guest *g = &guests[cfg & 1];
	bool sev = !(cfg & 2);
	uint64_t count = 0, lo = UINT64_MAX, hi = 0, seq = 0;
	unsigned nops = 0;

	alloc_countdown = 0;
	encmap_reset(&g->map);

	while (in.n && nops++ < MAX_OPS) {
		uint8_t f = u8(&in);
		struct hc_call c = {.nr = KVM_HC_MAP_GPA_RANGE, .transport = HC_TRANSPORT_PORT};
		uint64_t gpa, npages, attrs;
		enum hc_verdict v, want;

		if (f & 0x80)
			c.nr = u64(&in);
		/* Mostly in-range, page-aligned addresses; sometimes raw. */
		switch (f & 3) {
		case 0:
			gpa = (uint64_t)(u32(&in) % g->npages) << PAGE_SHIFT;
			break;
		case 1:
			gpa = (g->mem.high_size ? MEM_4G : 0) +
			      ((uint64_t)(u32(&in) % 0x4000) << PAGE_SHIFT);
			break;
		case 2:
			gpa = (uint64_t)u32(&in) << PAGE_SHIFT;
			break;
		default:
			gpa = u64(&in);
			break;
		}
		switch ((f >> 2) & 3) {
		case 0:
			npages = 1 + u8(&in);
			break;
		case 1: {
			uint8_t k = u8(&in);

			/* 2M or 1G multiples, for the page-size hints */
			npages = (uint64_t)(1 + (k & 7)) << ((k & 8) ? 18 : 9);
			break;
		}
		case 2:
			npages = u32(&in) & 0x3fff;
			break;
		default:
			npages = u64(&in);
			break;
		}
		attrs = (f & 0x10) ? u64(&in) : (u8(&in) & 0x1f);
		if (f & 0x20)
			alloc_countdown = 1 + (u8(&in) & 3);
		c.args[0] = gpa;
		c.args[1] = npages;
		c.args[2] = attrs;
		c.args[3] = u8(&in); /* generation: ignored by hc_validate */

		v = hc_validate(&g->mem, sev, &c);
		want = expected_verdict(&g->mem, sev, c.nr, gpa, npages, attrs);
		if (v != want) {
			fprintf(stderr, "verdict %s, want %s: gpa %#lx npages %#lx attrs %#lx\n",
				hc_verdict_name(v), hc_verdict_name(want), gpa, npages, attrs);
			abort();
		}
		if (v == HC_OK) {
			uint64_t first = gpa >> PAGE_SHIFT;
			bool enc = attrs & KVM_MAP_GPA_RANGE_ENCRYPTED;
			struct encmap_prov prov = {f & 0x40 ? 1 : 0, (uint32_t)c.args[3], ++seq};
			int r;

			if (first >= g->npages || npages > g->npages - first)
				abort(); /* validated but outside the bitmap */
			r = enc ? encmap_set_private(&g->map, first, npages)
				: encmap_set_shared(&g->map, first, npages, &prov);
			if (r != 0 && r != -ENOMEM)
				abort();
			if (r == 0)
				count += (uint64_t)model_apply(g, first, npages, !enc, &prov);
			if (first < lo)
				lo = first;
			if (first + npages > hi)
				hi = first + npages;
			/* The range, its neighbours and the count. */
			check_page(g, first - 1);
			check_page(g, first);
			check_page(g, first + npages / 2);
			check_page(g, first + npages - 1);
			check_page(g, first + npages);
		}
		alloc_countdown = 0;
		if (encmap_count_shared(&g->map) != count)
			abort();
	}
	if (lo < hi) {
		check_all(g, lo, hi, count);
		/* Leave the model clean for the next input (the encmap resets itself). */
		memset(g->shared + lo, 0, hi - lo);
	}
	return 0;
}
