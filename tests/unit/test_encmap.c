// SPDX-License-Identifier: GPL-2.0-only
/*
 * encmap against a naive reference model (one byte and one provenance per
 * page), plus the edge cases: tiny maps around the word size, ranges that
 * touch the end, a 1 TiB map, bad ranges and allocation failure.
 *
 * ENCMAP_TEST_SEED=<n> in the environment replays another random sequence;
 * ENCMAP_TEST_FILTER=<pattern> runs only the matching tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encmap.h"

/* Report a mismatch with the seed and step that reproduce it. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error("seed %" PRIu64 " step %" PRIu64 ": ", test_seed, test_step);  \
			print_error(__VA_ARGS__);                                                  \
			fail_msg("check failed: %s", #cond);                                       \
		}                                                                                  \
	} while (0)

static uint64_t test_seed = 1;
static uint64_t test_step;
static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static void rnd_seed(uint64_t salt)
{
	rng_state = (test_seed + 1) * 0x9e3779b97f4a7c15ull ^ salt;
	if (!rng_state)
		rng_state = 1;
	test_step = 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool prov_eq(const struct encmap_prov *a, const struct encmap_prov *b)
{
	return a->vcpu == b->vcpu && a->generation == b->generation && a->seq == b->seq;
}

/* ---- reference model -------------------------------------------------- */

struct model {
	uint64_t n;
	uint8_t *shared;
	struct encmap_prov *prov;
	uint64_t count;
	size_t nintervals; /* maximal runs of equal provenance */
};

static void model_init(struct model *md, uint64_t n)
{
	md->n = n;
	md->shared = calloc(n, 1);
	md->prov = calloc(n, sizeof(*md->prov));
	assert_non_null(md->shared);
	assert_non_null(md->prov);
	md->count = 0;
	md->nintervals = 0;
}

static void model_destroy(struct model *md)
{
	free(md->shared);
	free(md->prov);
}

static bool model_is_start(const struct model *md, uint64_t p)
{
	return md->shared[p] &&
	       (p == 0 || !md->shared[p - 1] || !prov_eq(&md->prov[p - 1], &md->prov[p]));
}

static size_t model_starts(const struct model *md, uint64_t lo, uint64_t hi)
{
	size_t k = 0;

	for (uint64_t p = lo; p < hi; p++)
		k += model_is_start(md, p);
	return k;
}

/* prov == NULL makes the range private. */
static void model_set(struct model *md, uint64_t a, uint64_t b, const struct encmap_prov *prov)
{
	uint64_t hi = b + 1 < md->n ? b + 1 : md->n;
	size_t before = model_starts(md, a, hi);

	for (uint64_t p = a; p < b; p++) {
		md->count -= md->shared[p];
		md->shared[p] = prov != NULL;
		md->count += md->shared[p];
		if (prov)
			md->prov[p] = *prov;
	}
	md->nintervals = md->nintervals - before + model_starts(md, a, hi);
}

static void model_reset(struct model *md)
{
	memset(md->shared, 0, md->n);
	md->count = 0;
	md->nintervals = 0;
}

static uint64_t model_next_shared(const struct model *md, uint64_t p)
{
	const uint8_t *hit = p < md->n ? memchr(md->shared + p, 1, md->n - p) : NULL;

	return hit ? (uint64_t)(hit - md->shared) : md->n;
}

/* encmap_next_run's contract, computed the slow way. */
static bool model_next_run(const struct model *md, uint64_t from, struct encmap_run *r)
{
	uint64_t s, e;

	if (from >= md->n)
		return false;
	s = from;
	if (md->shared[s]) {
		while (s > 0 && md->shared[s - 1])
			s--;
	} else {
		s = model_next_shared(md, s);
		if (s == md->n)
			return false;
	}
	e = s;
	while (e < md->n && md->shared[e])
		e++;
	r->start = s;
	r->end = e;
	return true;
}

static bool model_next_prov_run(const struct model *md, uint64_t from, struct encmap_prov_run *r)
{
	uint64_t s, e;

	if (from >= md->n)
		return false;
	s = from;
	if (md->shared[s]) {
		while (s > 0 && md->shared[s - 1] && prov_eq(&md->prov[s - 1], &md->prov[s]))
			s--;
	} else {
		s = model_next_shared(md, s);
		if (s == md->n)
			return false;
	}
	e = s + 1;
	while (e < md->n && md->shared[e] && prov_eq(&md->prov[e], &md->prov[s]))
		e++;
	r->start = s;
	r->end = e;
	r->prov = md->prov[s];
	return true;
}

/* ---- comparisons -------------------------------------------------------- */

static void check_page(const struct encmap *m, const struct model *md, uint64_t p)
{
	struct encmap_prov got;
	bool has = encmap_provenance(m, p, &got);

	CHECK(encmap_is_shared(m, p) == (bool)md->shared[p], "page %" PRIu64 "\n", p);
	CHECK(has == (bool)md->shared[p], "provenance presence of page %" PRIu64 "\n", p);
	if (has)
		CHECK(prov_eq(&got, &md->prov[p]), "provenance of page %" PRIu64 "\n", p);
}

static void check_next_run(const struct encmap *m, const struct model *md, uint64_t from)
{
	struct encmap_run got, want;
	bool g = encmap_next_run(m, from, &got), w = model_next_run(md, from, &want);

	CHECK(g == w, "next_run(%" PRIu64 ") found %d want %d\n", from, g, w);
	if (w)
		CHECK(got.start == want.start && got.end == want.end,
		      "next_run(%" PRIu64 ") = [%" PRIu64 ",%" PRIu64 ") want [%" PRIu64 ",%" PRIu64
		      ")\n",
		      from, got.start, got.end, want.start, want.end);
}

static void check_next_prov_run(const struct encmap *m, const struct model *md, uint64_t from)
{
	struct encmap_prov_run got, want;
	bool g = encmap_next_prov_run(m, from, &got), w = model_next_prov_run(md, from, &want);

	CHECK(g == w, "next_prov_run(%" PRIu64 ") found %d want %d\n", from, g, w);
	if (w)
		CHECK(got.start == want.start && got.end == want.end &&
			      prov_eq(&got.prov, &want.prov),
		      "next_prov_run(%" PRIu64 ") = [%" PRIu64 ",%" PRIu64 ") want [%" PRIu64
		      ",%" PRIu64 ")\n",
		      from, got.start, got.end, want.start, want.end);
}

static void check_counts(const struct encmap *m, const struct model *md)
{
	CHECK(encmap_count_shared(m) == md->count, "count %" PRIu64 " want %" PRIu64 "\n",
	      encmap_count_shared(m), md->count);
	CHECK(encmap_prov_count(m) == md->nintervals, "%zu intervals, want %zu (not merged?)\n",
	      encmap_prov_count(m), md->nintervals);
}

/* A full chunk is whole, inside the map, and its words are zero and unmarked. */
static void check_chunks(const struct encmap *m)
{
	const uint64_t words = ENCMAP_CHUNK_PAGES / 64;

	for (uint64_t c = 0; c <= m->npages / ENCMAP_CHUNK_PAGES; c++) {
		if (!(m->full[c / 64] >> (c % 64) & 1))
			continue;
		CHECK((c + 1) * ENCMAP_CHUNK_PAGES <= m->npages, "chunk %" PRIu64 " past the end\n",
		      c);
		for (uint64_t w = c * words; w < (c + 1) * words; w++)
			CHECK(!m->bits[w] && !(m->summary[w / 64] >> (w % 64) & 1),
			      "full chunk %" PRIu64 ": word %" PRIu64 " set or marked\n", c, w);
	}
}

/* Every page, the whole run export and the summary level. */
static void check_full(const struct encmap *m, const struct model *md)
{
	struct encmap_run run;
	struct encmap_prov_run prun;
	uint64_t p;

	check_counts(m, md);
	for (p = 0; p < md->n; p++)
		check_page(m, md, p);

	/* Walk both exports run by run: each starts where the last ended. */
	for (p = 0; encmap_next_run(m, p, &run); p = run.end)
		check_next_run(m, md, p);
	check_next_run(m, md, p);
	for (p = 0; encmap_next_prov_run(m, p, &prun); p = prun.end)
		check_next_prov_run(m, md, p);
	check_next_prov_run(m, md, p);
	CHECK(!encmap_next_run(m, md->n, &run), "run past the end\n");

	/* A non-zero word must be marked in the summary; no bits past npages. */
	for (uint64_t w = 0; w < m->nwords; w++)
		if (m->bits[w])
			CHECK(m->summary[w / 64] >> (w % 64) & 1, "word %" PRIu64 " unmarked\n", w);
	if (m->npages % 64)
		CHECK(!(m->bits[m->nwords - 1] >> (m->npages % 64)), "bits past the end\n");
	check_chunks(m);
}

/*
 * The pages around the ends of [a, b) (two words either side), a few
 * inside, and the exports starting there; check_full does the rest.
 */
static void check_local(const struct encmap *m, const struct model *md, uint64_t a, uint64_t b)
{
	uint64_t lo = a ? a - 1 : 0, hi = b + 1 < md->n ? b + 1 : md->n;

	check_counts(m, md);
	for (uint64_t p = lo; p < hi; p++) {
		if (p == lo + 130 && hi - p > 130) {
			for (int i = 0; i < 4; i++)
				check_page(m, md, p + rnd_below(hi - p));
			p = hi - 130;
		}
		check_page(m, md, p);
	}
	check_next_run(m, md, lo);
	check_next_prov_run(m, md, lo);
	check_next_run(m, md, b - 1);
	check_next_prov_run(m, md, b - 1);
}

/* ---- random operations --------------------------------------------------- */

static const struct encmap_prov provs[] = {
	{.vcpu = 0, .generation = 1, .seq = 10},
	{.vcpu = 1, .generation = 1, .seq = 11},
	{.vcpu = ENCMAP_VCPU_FIRMWARE, .generation = 0, .seq = 0},
};

/* A random non-empty range [*a, *b) in [0, n), biased towards the edges. */
static void rnd_range(uint64_t n, uint64_t max_len, uint64_t *a, uint64_t *b)
{
	uint64_t len = 1 + rnd_below(max_len < n ? max_len : n);

	if (rnd_below(2)) /* keep some fragmentation even when max_len is large */
		len = 1 + rnd_below(8);

	switch (rnd_below(8)) {
	case 0: /* one page */
		len = 1;
		*a = rnd_below(n);
		break;
	case 1: /* around a word boundary */
		*a = rnd_below(n / 64 + 1) * 64;
		*a = *a >= 2 ? *a - rnd_below(3) : *a;
		len = 1 + rnd_below(3);
		break;
	case 2: /* touching the end */
		*a = n - len;
		break;
	case 3: /* from page 0 */
		*a = 0;
		break;
	case 4: /* word aligned, whole words */
		*a = rnd_below(n / 64 + 1) * 64;
		len = 64 * (1 + rnd_below(4));
		break;
	default:
		*a = rnd_below(n);
		break;
	}
	if (*a >= n)
		*a = n - 1;
	if (len > n - *a)
		len = n - *a;
	*b = *a + len;
}

/* Bad arguments must return -EINVAL and change nothing. */
static void check_invalid(struct encmap *m, uint64_t n)
{
	const struct encmap_prov *p = &provs[0];

	CHECK(encmap_set_shared(m, n, 1, p) == -EINVAL, "first == npages\n");
	CHECK(encmap_set_shared(m, 0, n + 1, p) == -EINVAL, "count > npages\n");
	CHECK(encmap_set_shared(m, n - 1, 2, p) == -EINVAL, "end > npages\n");
	CHECK(encmap_set_shared(m, 1, UINT64_MAX, p) == -EINVAL, "wrap\n");
	CHECK(encmap_set_shared(m, 0, 0, p) == -EINVAL, "count 0\n");
	CHECK(encmap_set_shared(m, 0, 1, NULL) == -EINVAL, "prov NULL\n");
	CHECK(encmap_set_private(m, UINT64_MAX, 1) == -EINVAL, "private first\n");
	CHECK(encmap_set_private(m, n - 1, 2) == -EINVAL, "private end\n");
	CHECK(encmap_set_private(m, 0, 0) == -EINVAL, "private count 0\n");
}

typedef void range_fn(uint64_t n, uint64_t max_len, uint64_t *a, uint64_t *b);

/*
 * A random non-empty range [*a, *b) in [0, n) around chunks: whole chunks,
 * a chunk and a few pages either side, partial chunks from a chunk edge,
 * single pages at an edge; otherwise as rnd_range.
 */
static void rnd_chunk_range(uint64_t n, uint64_t max_len, uint64_t *a, uint64_t *b)
{
	const uint64_t ch = ENCMAP_CHUNK_PAGES, nch = n / ch + 1;
	uint64_t s = rnd_below(nch) * ch, e;

	switch (rnd_below(8)) {
	case 0: /* whole chunks */
		e = s + ch * (1 + rnd_below(rnd_below(2) ? 2 : nch));
		break;
	case 1: /* whole chunks, widened or narrowed by a few pages at either end */
		e = s + ch * (1 + rnd_below(3)) + rnd_below(7) - 3;
		s = s >= 3 ? s + rnd_below(7) - 3 : s + rnd_below(4);
		break;
	case 2: /* from a chunk edge into the chunk */
		e = s + 1 + rnd_below(ch - 1);
		break;
	case 3: /* into a chunk edge from inside */
		e = s + ch;
		s = e - 1 - rnd_below(ch - 1);
		break;
	case 4: /* one page at a chunk edge */
		s = s >= 1 && rnd_below(2) ? s - 1 : s;
		e = s + 1;
		break;
	case 5: /* the whole map */
		s = 0;
		e = n;
		break;
	default:
		rnd_range(n, max_len, a, b);
		return;
	}
	if (s >= n)
		s = n - 1 - rnd_below(n < ch ? n : ch);
	if (e > n)
		e = n;
	if (e <= s)
		e = s + 1;
	*a = s;
	*b = e;
}

/*
 * ops random updates on an n-page map, ranges drawn by range; after each
 * one the touched pages are compared, and every full_every steps the
 * whole map.
 */
static void run_random_ranges(uint64_t n, uint64_t ops, uint64_t max_len, uint64_t full_every,
			      range_fn *range)
{
	struct encmap m;
	struct model md;
	struct encmap_prov fresh;
	double t0 = now_ms();
	size_t max_intervals = 0;

	rnd_seed(n * 1000003 + ops);
	assert_int_equal(encmap_init(&m, n), 0);
	model_init(&md, n);

	for (test_step = 0; test_step < ops; test_step++) {
		uint64_t a, b, dice = rnd_below(1000);

		range(n, max_len, &a, &b);
		if (dice < 2 && n <= 5000) { /* big maps: see the reset tests */
			encmap_reset(&m);
			model_reset(&md);
			check_full(&m, &md);
			continue;
		}
		if (dice < 560) {
			const struct encmap_prov *p = &provs[rnd_below(3)];

			if (dice < 60) { /* a provenance never seen before */
				fresh = (struct encmap_prov){.vcpu = (uint32_t)rnd_below(4),
							     .generation = 2,
							     .seq = test_step};
				p = &fresh;
			}
			CHECK(encmap_set_shared(&m, a, b - a, p) == 0,
			      "share [%" PRIu64 ",%" PRIu64 ")\n", a, b);
			model_set(&md, a, b, p);
		} else {
			CHECK(encmap_set_private(&m, a, b - a) == 0,
			      "private [%" PRIu64 ",%" PRIu64 ")\n", a, b);
			model_set(&md, a, b, NULL);
		}
		if (dice >= 995)
			check_invalid(&m, n);
		check_local(&m, &md, a, b);
		check_next_run(&m, &md, rnd_below(n));
		if (md.nintervals > max_intervals)
			max_intervals = md.nintervals;
		if (test_step % full_every == 0)
			check_full(&m, &md);
	}
	check_full(&m, &md);
	print_message("%" PRIu64 " pages: %" PRIu64
		      " random ops checked, up to %zu intervals, %.0f ms\n",
		      n, ops, max_intervals, now_ms() - t0);
	encmap_destroy(&m);
	model_destroy(&md);
}

static void run_random(uint64_t n, uint64_t ops, uint64_t max_len, uint64_t full_every)
{
	run_random_ranges(n, ops, max_len, full_every, rnd_range);
}

/* ---- tests ------------------------------------------------------------- */

static void test_encmap_init_rejects_zero_pages(void **state)
{
	struct encmap m;

	(void)state;
	assert_int_equal(encmap_init(&m, 0), -EINVAL);
	encmap_destroy(&m); /* safe after a failed init */
}

static void test_encmap_rejects_out_of_range(void **state)
{
	struct encmap m;
	struct model md;
	struct encmap_prov p = provs[1];

	(void)state;
	assert_int_equal(encmap_init(&m, 100), 0);
	model_init(&md, 100);
	assert_int_equal(encmap_set_shared(&m, 10, 20, &p), 0);
	model_set(&md, 10, 30, &p);
	check_invalid(&m, 100);
	check_full(&m, &md);
	assert_false(encmap_is_shared(&m, 100));
	assert_false(encmap_is_shared(&m, UINT64_MAX));
	assert_false(encmap_provenance(&m, 100, &p));
	model_destroy(&md);
	encmap_destroy(&m);
}

static void test_encmap_merges_and_splits_provenance(void **state)
{
	struct encmap m;
	struct encmap_prov_run r;
	const struct encmap_prov *a = &provs[0], *b = &provs[1];

	(void)state;
	assert_int_equal(encmap_init(&m, 1000), 0);
	assert_int_equal(encmap_set_shared(&m, 0, 10, a), 0);
	assert_int_equal(encmap_set_shared(&m, 10, 10, a), 0);
	assert_int_equal(encmap_prov_count(&m), 1); /* adjacent, equal: merged */
	assert_int_equal(encmap_set_shared(&m, 5, 10, b), 0);
	assert_int_equal(encmap_prov_count(&m), 3); /* a [0,5) b [5,15) a [15,20) */
	assert_true(encmap_next_prov_run(&m, 7, &r));
	assert_true(r.start == 5 && r.end == 15 && prov_eq(&r.prov, b));
	assert_int_equal(encmap_set_shared(&m, 5, 10, a), 0);
	assert_int_equal(encmap_prov_count(&m), 1);	     /* both neighbours joined */
	assert_int_equal(encmap_set_shared(&m, 3, 4, a), 0); /* no-op inside */
	assert_int_equal(encmap_prov_count(&m), 1);
	assert_int_equal(encmap_count_shared(&m), 20);
	assert_int_equal(encmap_set_private(&m, 8, 4), 0); /* split */
	assert_int_equal(encmap_prov_count(&m), 2);
	assert_int_equal(encmap_count_shared(&m), 16);
	assert_int_equal(encmap_set_private(&m, 0, 1000), 0);
	assert_int_equal(encmap_prov_count(&m), 0);
	assert_int_equal(encmap_count_shared(&m), 0);
	assert_false(encmap_next_prov_run(&m, 0, &r));
	encmap_destroy(&m);
}

static void test_encmap_next_run_returns_whole_run(void **state)
{
	struct encmap m;
	struct encmap_run r;

	(void)state;
	assert_int_equal(encmap_init(&m, 300), 0);
	assert_int_equal(encmap_set_shared(&m, 60, 140, &provs[0]), 0); /* [60, 200) */
	assert_int_equal(encmap_set_shared(&m, 200, 10, &provs[1]), 0); /* one run */
	assert_int_equal(encmap_set_shared(&m, 299, 1, &provs[2]), 0);	/* last page */
	assert_true(encmap_next_run(&m, 0, &r));
	assert_true(r.start == 60 && r.end == 210);
	assert_true(encmap_next_run(&m, 150, &r));
	assert_true(r.start == 60 && r.end == 210);
	assert_true(encmap_next_run(&m, 210, &r));
	assert_true(r.start == 299 && r.end == 300);
	assert_true(encmap_next_run(&m, 299, &r));
	assert_false(encmap_next_run(&m, 300, &r));
	assert_int_equal(encmap_set_private(&m, 299, 1), 0);
	assert_false(encmap_next_run(&m, 210, &r));
	encmap_destroy(&m);
}

static void test_encmap_random_tiny_maps(void **state)
{
	static const uint64_t sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 200};

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run_random(sizes[i], 150000, sizes[i], 1);
}

static void test_encmap_random_medium_maps(void **state)
{
	(void)state;
	run_random(1000, 300000, 200, 200);
	run_random(4096 + 17, 300000, 5000, 500);
}

static void test_encmap_random_big_map(void **state)
{
	(void)state;
	/* Mostly short ranges, so that many intervals coexist. */
	run_random((1u << 20) + 3, 300000, 70, 100000);
	/* Long ranges: many words at once, far fewer intervals. */
	run_random((1u << 14) + 5, 100000, 1u << 14, 5000);
}

static void test_encmap_random_chunk_maps(void **state)
{
	static const uint64_t sizes[] = {511, 512, 513, 1023, 1536, 4099, 4608};

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run_random_ranges(sizes[i], 60000, sizes[i], 50, rnd_chunk_range);
	/* Many chunks, full checks rarer. */
	run_random_ranges(64 * ENCMAP_CHUNK_PAGES + 100, 100000, 8 * ENCMAP_CHUNK_PAGES, 2000,
			  rnd_chunk_range);
}

/* ---- 1 TiB against a plain bitmap ------------------------------------- */

struct tib_op {
	uint64_t a, b;
	const struct encmap_prov *prov; /* NULL: made private */
};

struct tib_ref {
	uint64_t n;
	uint64_t *bits; /* 32 MiB for 1 TiB: one bit per page, nothing else */
	uint64_t count;
	struct tib_op ops[512]; /* provenance: the last share that covers a page */
	unsigned int nops;
};

static bool ref_test(const struct tib_ref *r, uint64_t p)
{
	return r->bits[p / 64] >> (p % 64) & 1;
}

/* First page >= p whose bit equals want, or n. */
static uint64_t ref_next(const struct tib_ref *r, uint64_t p, bool want)
{
	while (p < r->n && p % 64 && ref_test(r, p) != want)
		p++;
	while (p < r->n && r->bits[p / 64] == (want ? 0 : ~0ull))
		p += 64;
	while (p < r->n && ref_test(r, p) != want)
		p++;
	return p < r->n ? p : r->n;
}

static void ref_set(struct tib_ref *r, uint64_t a, uint64_t b, const struct encmap_prov *prov)
{
	for (uint64_t p = a; p < b;) {
		uint64_t w = p / 64, lo = p % 64, hi = b - w * 64 < 64 ? b - w * 64 : 64;
		uint64_t mask = (hi == 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1);

		r->count -= (uint64_t)__builtin_popcountll(r->bits[w] & mask);
		r->bits[w] = prov ? r->bits[w] | mask : r->bits[w] & ~mask;
		r->count += prov ? (uint64_t)__builtin_popcountll(mask) : 0;
		p = w * 64 + hi;
	}
	r->ops[r->nops++] = (struct tib_op){a, b, prov};
}

static void tib_check_page(const struct encmap *m, const struct tib_ref *r, uint64_t p)
{
	struct encmap_prov got;
	bool shared = p < r->n && ref_test(r, p);

	if (p >= r->n)
		return;
	CHECK(encmap_is_shared(m, p) == shared, "page %" PRIu64 "\n", p);
	CHECK(encmap_provenance(m, p, &got) == shared, "provenance presence %" PRIu64 "\n", p);
	if (!shared)
		return;
	for (unsigned int i = r->nops; i-- > 0;) {
		if (p >= r->ops[i].a && p < r->ops[i].b) {
			CHECK(r->ops[i].prov && prov_eq(&got, r->ops[i].prov),
			      "provenance of %" PRIu64 "\n", p);
			return;
		}
	}
	fail_msg("page %" PRIu64 " shared by no operation", p);
}

static void tib_check_run(const struct encmap *m, const struct tib_ref *r, uint64_t from)
{
	struct encmap_run got;
	uint64_t s, e;
	bool g;

	if (from >= r->n)
		return;
	g = encmap_next_run(m, from, &got);
	s = from;
	if (ref_test(r, s)) {
		while (s > 0 && ref_test(r, s - 1)) /* short walks: runs start near from */
			s = s % 64 == 0 && s >= 64 && r->bits[s / 64 - 1] == ~0ull ? s - 64 : s - 1;
	} else {
		s = ref_next(r, s, true);
	}
	if (s >= r->n) {
		CHECK(!g, "next_run(%" PRIu64 ") found a run\n", from);
		return;
	}
	e = ref_next(r, s, false);
	CHECK(g && got.start == s && got.end == e,
	      "next_run(%" PRIu64 ") = [%" PRIu64 ",%" PRIu64 ") want [%" PRIu64 ",%" PRIu64 ")\n",
	      from, got.start, got.end, s, e);
}

/*
 * 1 TiB (2^28 pages): random chunk-sized and huge ranges, partial chunks,
 * single pages, the whole map; every page near the range ends, the chunk
 * edges and random pages inside are compared, the exports from there,
 * and the whole export every 40 operations.
 */
static void test_encmap_terabyte_random_chunks(void **state)
{
	const uint64_t n = 1ull << 28, ch = ENCMAP_CHUNK_PAGES;
	static struct tib_ref r;
	struct encmap m;
	struct encmap_mem mem;
	double t0 = now_ms();

	(void)state;
	rnd_seed(0x7e1b);
	r.n = n;
	r.count = 0;
	r.nops = 0;
	r.bits = calloc(n / 64, sizeof(uint64_t));
	assert_non_null(r.bits);
	assert_int_equal(encmap_init(&m, n), 0);
	for (test_step = 0; test_step < sizeof(r.ops) / sizeof(r.ops[0]); test_step++) {
		uint64_t a, b, len, dice = rnd_below(100);
		const struct encmap_prov *p = &provs[rnd_below(3)];

		if (dice < 3) {
			a = 0;
			b = n;
		} else {
			/* Up to 2^24 pages (64 GiB), chunk-aligned or not at either end. */
			len = 1 + rnd_below(1ull << (1 + rnd_below(24)));
			a = rnd_below(n - len);
			if (rnd_below(2))
				a -= a % ch;
			b = a + len;
			if (rnd_below(2) && b % ch && b + ch - b % ch <= n)
				b += ch - b % ch;
		}
		if (rnd_below(100) < 55) {
			CHECK(encmap_set_shared(&m, a, b - a, p) == 0, "share\n");
			ref_set(&r, a, b, p);
		} else {
			CHECK(encmap_set_private(&m, a, b - a) == 0, "private\n");
			ref_set(&r, a, b, NULL);
		}
		CHECK(encmap_count_shared(&m) == r.count, "count %" PRIu64 " want %" PRIu64 "\n",
		      encmap_count_shared(&m), r.count);
		for (int d = -2; d <= 2; d++) {
			uint64_t edges[] = {
				a, b, a - a % ch, a - a % ch + ch, b - b % ch, b - b % ch + ch};

			for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
				tib_check_page(&m, &r, edges[i] + (uint64_t)d);
		}
		for (int i = 0; i < 16; i++)
			tib_check_page(&m, &r, a + rnd_below(b - a));
		tib_check_run(&m, &r, a ? a - 1 : 0);
		tib_check_run(&m, &r, b - 1);
		tib_check_run(&m, &r, rnd_below(n));
		if (test_step % 40 == 39) {
			struct encmap_run run;
			uint64_t from = 0, total = 0;

			while (encmap_next_run(&m, from, &run)) {
				tib_check_run(&m, &r, from);
				total += run.end - run.start;
				from = run.end;
			}
			tib_check_run(&m, &r, from);
			CHECK(total == r.count, "export covers %" PRIu64 " want %" PRIu64 "\n",
			      total, r.count);
			check_chunks(&m);
		}
	}
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	print_message("1 TiB: %u random chunk operations checked, %" PRIu64
		      " pages shared, bitmap %" PRIu64 " KiB resident, %.0f ms\n",
		      r.nops, r.count, mem.bitmap_rss >> 10, now_ms() - t0);
	encmap_destroy(&m);
	free(r.bits);
}

/* A 1 TiB map whose guest shares 1 GiB in 2 MiB-aligned and odd pieces stays small. */
static void test_encmap_terabyte_sparse_chunks(void **state)
{
	const uint64_t n = 1ull << 28;
	struct encmap m;
	struct encmap_mem mem;
	uint64_t shared = 0;

	(void)state;
	rnd_seed(0x51);
	assert_int_equal(encmap_init(&m, n), 0);
	/* 256 MiB at once, 256 MiB as 2 MiB pieces spread over the map, 512 MiB in odd pieces. */
	assert_int_equal(encmap_set_shared(&m, 1ull << 20, 1ull << 16, &provs[0]), 0);
	shared += 1ull << 16;
	for (int i = 0; i < 128; i++) {
		uint64_t a = (1ull << 21) + (uint64_t)i * (n / 256);

		assert_int_equal(encmap_set_shared(&m, a, 512, &provs[1]), 0);
		shared += 512;
	}
	for (int i = 0; i < 256; i++) {
		uint64_t a = (3ull << 26) + (uint64_t)i * (1ull << 18) + 1 + rnd_below(100);

		assert_int_equal(encmap_set_shared(&m, a, 512, &provs[2]), 0);
		shared += 512;
	}
	assert_int_equal(encmap_count_shared(&m), shared);
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	print_message("1 TiB map, %" PRIu64 " MiB shared: %" PRIu64 " KiB resident\n", shared >> 8,
		      mem.bitmap_rss >> 10);
	assert_true(mem.bitmap_rss < (4u << 20));
	encmap_destroy(&m);
}

static void test_encmap_terabyte_set_reset(void **state)
{
	const uint64_t n = 1ull << 28; /* 1 TiB of 4 KiB pages */
	struct encmap m;
	struct encmap_run r;
	struct encmap_mem mem;
	struct encmap_prov p;
	double t0, ms;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(encmap_init(&m, n), 0);
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	assert_true(mem.bitmap_mapped >= n / 8);
	assert_true(mem.bitmap_rss < (1u << 20)); /* reserved, not resident */

	assert_int_equal(encmap_set_shared(&m, 0, 1, &provs[2]), 0);
	assert_int_equal(encmap_set_shared(&m, 0xa0, 0x60, &provs[2]), 0);
	assert_int_equal(encmap_set_shared(&m, 1ull << 20, 1ull << 18, &provs[0]), 0); /* 1 GiB */
	assert_int_equal(encmap_set_shared(&m, (1ull << 27) - 5, 11, &provs[1]), 0);
	assert_int_equal(encmap_set_shared(&m, n - 1, 1, &provs[1]), 0);
	assert_int_equal(encmap_count_shared(&m), 1 + 0x60 + (1ull << 18) + 11 + 1);
	assert_true(encmap_provenance(&m, (1ull << 27) + 5, &p));
	assert_true(prov_eq(&p, &provs[1]));

	for (uint64_t from = 0; encmap_next_run(&m, from, &r); from = r.end)
		total += r.end - r.start;
	assert_int_equal(total, encmap_count_shared(&m));
	assert_true(encmap_next_run(&m, (1ull << 27) + 6, &r));
	assert_true(r.start == n - 1 && r.end == n);

	t0 = now_ms();
	encmap_reset(&m);
	ms = now_ms() - t0;
	print_message("1 TiB reset: %.3f ms\n", ms);
	/* The bench holds the 10 ms target; this only catches O(npages) work. */
	assert_true(ms < 100);
	assert_int_equal(encmap_count_shared(&m), 0);
	assert_int_equal(encmap_prov_count(&m), 0);
	assert_false(encmap_next_run(&m, 0, &r));
	assert_false(encmap_is_shared(&m, n - 1));
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	/* The shares touched ~9 pages of bits; a reset that wrote everything would show. */
	assert_true(mem.bitmap_rss < (1u << 20));
	encmap_destroy(&m);
}

static void test_encmap_reset_mostly_dirty(void **state)
{
	const uint64_t n = (1ull << 22) + 1;
	struct encmap m;
	struct encmap_run r;
	struct encmap_mem mem;
	uint64_t holes = 0;

	(void)state;
	assert_int_equal(encmap_init(&m, n), 0);
	assert_int_equal(encmap_set_shared(&m, 0, n, &provs[0]), 0);
	/* Whole chunks are shared without writing their words: almost nothing resident. */
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	assert_true(mem.bitmap_rss < n / 64);
	assert_int_equal(encmap_set_private(&m, n / 2, 1), 0);
	holes++;
	/* One private page per 512-page chunk turns every chunk back into words. */
	for (uint64_t p = 7; p < n; p += 512, holes++)
		assert_int_equal(encmap_set_private(&m, p, 1), 0);
	assert_int_equal(encmap_count_shared(&m), n - holes);
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	assert_true(mem.bitmap_rss >= n / 8);

	encmap_reset(&m); /* most words marked: pages handed back */
	assert_int_equal(encmap_mem_usage(&m, &mem), 0);
	assert_true(mem.bitmap_rss < n / 16);
	for (uint64_t w = 0; w < m.nwords; w++)
		assert_true(m.bits[w] == 0);
	for (uint64_t s = 0; s < (m.nwords + 63) / 64; s++)
		assert_true(m.summary[s] == 0);
	assert_false(encmap_next_run(&m, 0, &r));
	assert_int_equal(encmap_count_shared(&m), 0);

	/* Usable again afterwards. */
	assert_int_equal(encmap_set_shared(&m, n - 70, 70, &provs[1]), 0);
	assert_true(encmap_next_run(&m, 0, &r));
	assert_true(r.start == n - 70 && r.end == n);
	encmap_destroy(&m);
}

static void test_encmap_alternating_shares(void **state)
{
	const uint64_t k = 1000000;
	struct encmap m;
	struct encmap_prov p = provs[0];
	struct encmap_prov_run r;
	double t0;

	(void)state;
	assert_int_equal(encmap_init(&m, 2 * k), 0);
	t0 = now_ms();
	for (uint64_t i = 0; i < k; i++)
		assert_int_equal(encmap_set_shared(&m, 2 * i, 1, &p), 0);
	print_message("1M alternating shares: %.1f ms\n", now_ms() - t0);
	assert_int_equal(encmap_prov_count(&m), k);
	assert_int_equal(encmap_count_shared(&m), k);
	assert_true(encmap_next_prov_run(&m, 2 * k - 3, &r));
	assert_true(r.start == 2 * k - 2 && r.end == 2 * k - 1);
	/* Filling the holes merges everything into one interval. */
	for (uint64_t i = 0; i < k; i++)
		assert_int_equal(encmap_set_shared(&m, 2 * i + 1, 1, &p), 0);
	assert_int_equal(encmap_prov_count(&m), 1);
	assert_int_equal(encmap_count_shared(&m), 2 * k);
	encmap_destroy(&m);
}

/* Allocation failure: a seeded coin decides, so runs are reproducible. */
static unsigned int alloc_fail_percent;
static uint64_t alloc_calls, alloc_failures;

static void *flaky_alloc(size_t size)
{
	alloc_calls++;
	if (rnd_below(100) < alloc_fail_percent) {
		alloc_failures++;
		return NULL;
	}
	return malloc(size);
}

static int restore_alloc(void **state)
{
	(void)state;
	encmap_alloc_hook = NULL;
	return 0;
}

static void test_encmap_enomem_leaves_map_unchanged(void **state)
{
	const uint64_t n = 300;
	struct encmap m;
	struct model md;
	uint64_t enomem = 0;

	(void)state;
	rnd_seed(77);
	encmap_alloc_hook = flaky_alloc;
	alloc_fail_percent = 100;
	assert_int_equal(encmap_init(&m, n), -ENOMEM);
	encmap_destroy(&m);

	alloc_fail_percent = 0;
	assert_int_equal(encmap_init(&m, n), 0);
	model_init(&md, n);
	alloc_fail_percent = 30;
	for (test_step = 0; test_step < 200000; test_step++) {
		uint64_t a, b;
		bool share = rnd_below(100) < 60;
		const struct encmap_prov *p = &provs[rnd_below(3)];
		int ret;

		rnd_range(n, 40, &a, &b);
		ret = share ? encmap_set_shared(&m, a, b - a, p) : encmap_set_private(&m, a, b - a);
		CHECK(ret == 0 || ret == -ENOMEM, "ret %d\n", ret);
		if (ret == 0)
			model_set(&md, a, b, share ? p : NULL);
		else
			enomem++;
		if (ret || test_step % 64 == 0)
			check_full(&m, &md);
		else
			check_local(&m, &md, a, b);
	}
	print_message("%" PRIu64 " allocations, %" PRIu64 " failed, %" PRIu64 " -ENOMEM\n",
		      alloc_calls, alloc_failures, enomem);
	assert_true(enomem > 100);
	encmap_alloc_hook = NULL;
	encmap_destroy(&m);
	model_destroy(&md);
}

int main(void)
{
	const char *seed = getenv("ENCMAP_TEST_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encmap_init_rejects_zero_pages),
		cmocka_unit_test(test_encmap_rejects_out_of_range),
		cmocka_unit_test(test_encmap_merges_and_splits_provenance),
		cmocka_unit_test(test_encmap_next_run_returns_whole_run),
		cmocka_unit_test(test_encmap_random_tiny_maps),
		cmocka_unit_test(test_encmap_random_medium_maps),
		cmocka_unit_test(test_encmap_random_big_map),
		cmocka_unit_test(test_encmap_random_chunk_maps),
		cmocka_unit_test(test_encmap_terabyte_random_chunks),
		cmocka_unit_test(test_encmap_terabyte_sparse_chunks),
		cmocka_unit_test(test_encmap_terabyte_set_reset),
		cmocka_unit_test(test_encmap_reset_mostly_dirty),
		cmocka_unit_test(test_encmap_alternating_shares),
		cmocka_unit_test_teardown(test_encmap_enomem_leaves_map_unchanged, restore_alloc),
	};

	if (seed)
		test_seed = strtoull(seed, NULL, 0);
	if (getenv("ENCMAP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ENCMAP_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
