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

#define MAX_OPS 64

struct input {
	const uint8_t *p;
	size_t n;
};

static void take(struct input *in, void *out, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

static uint8_t u8(struct input *in)
{
	uint8_t v;

	take(in, &v, sizeof(v));
	return v;
}

static uint32_t u32(struct input *in)
{
	uint32_t v;

	take(in, &v, sizeof(v));
	return v;
}

static uint64_t u64(struct input *in)
{
	uint64_t v;

	take(in, &v, sizeof(v));
	return v;
}

struct page_model {
	uint8_t shared;
	struct encmap_prov prov;
};

struct guest {
	struct guest_mem mem;
	struct encmap map;
	struct page_model *model;
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
		g->model = calloc(g->npages, sizeof(*g->model));
		if (!g->model || encmap_init(&g->map, g->npages))
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

static void model_apply(struct guest *g, uint64_t first, uint64_t count, bool shared,
			const struct encmap_prov *prov)
{
	for (uint64_t p = first; p < first + count; p++) {
		g->model[p].shared = shared;
		if (shared)
			g->model[p].prov = *prov;
		else
			memset(&g->model[p].prov, 0, sizeof(g->model[p].prov));
	}
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
	if (shared != g->model[pfn].shared)
		abort();
	if (encmap_provenance(&g->map, pfn, &prov) != shared)
		abort();
	if (shared && memcmp(&prov, &g->model[pfn].prov, sizeof(prov)))
		abort();
}

static void check_all(const struct guest *g, uint64_t lo, uint64_t hi, uint64_t count)
{
	struct encmap_run run;
	struct encmap_prov_run pr;
	uint64_t from = 0, seen = 0;

	for (uint64_t p = lo; p < hi; p++)
		check_page(g, p);
	/* Runs: maximal, ordered, and exactly the model's shared pages. */
	while (encmap_next_run(&g->map, from, &run)) {
		if (run.start >= run.end || run.start < from || run.end > g->npages)
			abort();
		if (run.start > 0 && g->model[run.start - 1].shared)
			abort();
		if (run.end < g->npages && g->model[run.end].shared)
			abort();
		for (uint64_t p = run.start; p < run.end; p++)
			if (!g->model[p].shared)
				abort();
		seen += run.end - run.start;
		from = run.end;
	}
	if (seen != count)
		abort();
	/* Provenance intervals: disjoint, ordered, merged, matching the model. */
	from = 0;
	seen = 0;
	bool have_prev = false;
	struct encmap_prov_run prev;

	while (encmap_next_prov_run(&g->map, from, &pr)) {
		if (pr.start >= pr.end || pr.start < from || pr.end > g->npages)
			abort();
		for (uint64_t p = pr.start; p < pr.end; p++)
			if (!g->model[p].shared || memcmp(&g->model[p].prov, &pr.prov, sizeof(pr.prov)))
				abort();
		if (have_prev && prev.end == pr.start && !memcmp(&prev.prov, &pr.prov, sizeof(pr.prov)))
			abort(); /* not merged */
		seen += pr.end - pr.start;
		from = pr.end;
		prev = pr;
		have_prev = true;
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
		case 1:
			npages = (uint64_t)(1 + (u8(&in) & 7)) << 9; /* 2M multiples */
			break;
		case 2:
			npages = u32(&in) & 0x3ffff;
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
			if (r == 0) {
				for (uint64_t p = first; p < first + npages; p++)
					if (g->model[p].shared == enc)
						count += enc ? -1ull : 1;
				model_apply(g, first, npages, !enc, &prov);
			}
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
	if (lo < hi)
		check_all(g, lo, hi, count);
	/* Leave the model clean for the next input (the encmap resets itself). */
	if (lo < hi)
		memset(g->model + lo, 0, (hi - lo) * sizeof(*g->model));
	return 0;
}
