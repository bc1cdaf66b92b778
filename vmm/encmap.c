// SPDX-License-Identifier: GPL-2.0-only
/*
 * The page-encryption bitmap and its provenance intervals (see encmap.h
 * and DESIGN.md "The encryption bitmap").
 *
 * Bitmap: bits[] has one bit per page, summary[] one bit per bits[] word;
 * a summary bit is set whenever its word is non-zero (it is cleared again
 * as soon as the word is seen to be zero). full[] has one bit per chunk
 * of CHUNK_PAGES pages: set = every page of the chunk is shared, and then
 * the chunk's words are zero and unmarked (they say nothing). A range
 * that covers whole chunks sets or clears their full bits without
 * touching their words, so a cold 2 MiB-aligned share writes no bitmap
 * page; a partial update of a full chunk first turns it back into words
 * (materialise: CHUNK_WORDS words of ones). Page p is shared iff
 * full[p / CHUNK_PAGES] or bit p. All three live in one anonymous
 * MAP_NORESERVE mapping, so untouched stretches cost no memory, and a
 * reset only writes the words the summary marks.
 *
 * Provenance: a treap keyed by interval start. The intervals are disjoint,
 * so ordering by start also orders them by end. Range updates split the
 * treap into "before the range", "starting inside it" and "after it"
 * (O(log n) expected), fix up the at most two intervals that straddle the
 * range ends, drop the k intervals inside and merge the pieces back: O(log
 * n + k). Priorities come from a fixed-seed xorshift, so the tree shape is
 * reproducible run to run.
 *
 * Invariant kept by every function: a page is shared in the bitmap iff a
 * provenance interval covers it, and nshared is the covered page count.
 * nshared is computed from the intervals (an update knows exactly how many
 * pages were covered before), so setting whole words needs no popcount.
 */
#include "encmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WORD_BITS 64u
/* 2^52 pages of 4 KiB is the whole 64-bit physical address space. */
#define ENCMAP_MAX_PAGES (1ull << 52)
/* Below this many dirty words (32 KiB) a reset just clears them. */
#define RESET_MADVISE_MIN_WORDS 4096u
/*
 * Chunk: 512 pages (2 MiB of guest, 8 bitmap words, one cache line). Small
 * enough that the guest's usual shares (2 MiB hints, a few MiB of bounce
 * buffers) are whole chunks; full[] costs 1 bit per 2 MiB (64 KiB for
 * 1 TiB), itself lazily faulted.
 */
#define CHUNK_PAGES ENCMAP_CHUNK_PAGES
#define CHUNK_WORDS (CHUNK_PAGES / WORD_BITS)
#define NO_BIT	    UINT64_MAX

void *(*encmap_alloc_hook)(size_t size);

struct prov_node {
	uint64_t start;
	uint64_t end;
	struct encmap_prov prov;
	struct prov_node *left;
	struct prov_node *right;
	uint32_t prio; /* heap order: a parent's prio is >= its children's */
};

/* An update needs at most two new nodes: a split piece and the new interval. */
#define PROV_SPARES 2

struct encmap_prov_tree {
	struct prov_node *root;
	size_t count;
	/* Nodes allocated ahead of an update, so that it cannot fail midway. */
	struct prov_node *spare[PROV_SPARES];
	unsigned int nspare;
	uint64_t rng;
};

/* ---- bit helpers ---------------------------------------------------- */

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static inline uint64_t word_mask(unsigned int lo, unsigned int hi)
{
	uint64_t upper = hi == WORD_BITS ? ~0ull : (1ull << hi) - 1;

	return upper & ~((1ull << lo) - 1);
}

/* Set bits [first, end) of v: partial first/last words masked, memset between. */
static void bits_set_range(uint64_t *v, uint64_t first, uint64_t end)
{
	uint64_t w0 = first / WORD_BITS, w1 = (end - 1) / WORD_BITS;
	unsigned int lo = first % WORD_BITS, hi = (end - 1) % WORD_BITS + 1;

	if (w0 == w1) {
		v[w0] |= word_mask(lo, hi);
		return;
	}
	v[w0] |= word_mask(lo, WORD_BITS);
	if (w1 > w0 + 1)
		memset(&v[w0 + 1], 0xff, (w1 - w0 - 1) * sizeof(*v));
	v[w1] |= word_mask(0, hi);
}

/* Clear bits [first, end) of v. */
static void bits_clear_range(uint64_t *v, uint64_t first, uint64_t end)
{
	uint64_t w0 = first / WORD_BITS, w1 = (end - 1) / WORD_BITS;
	unsigned int lo = first % WORD_BITS, hi = (end - 1) % WORD_BITS + 1;

	if (w0 == w1) {
		v[w0] &= ~word_mask(lo, hi);
		return;
	}
	v[w0] &= ~word_mask(lo, WORD_BITS);
	if (w1 > w0 + 1)
		memset(&v[w0 + 1], 0, (w1 - w0 - 1) * sizeof(*v));
	v[w1] &= ~word_mask(0, hi);
}

/* First set bit of v in [from, limit), or limit. */
static uint64_t bits_next_set(const uint64_t *v, uint64_t from, uint64_t limit)
{
	uint64_t w = from / WORD_BITS, word;

	if (from >= limit)
		return limit;
	word = v[w] & ~((1ull << (from % WORD_BITS)) - 1);
	while (!word) {
		if (++w * WORD_BITS >= limit)
			return limit;
		word = v[w];
	}
	from = w * WORD_BITS + (unsigned int)__builtin_ctzll(word);
	return from < limit ? from : limit;
}

/* First clear bit of v in [from, limit), or limit. */
static uint64_t bits_next_clear(const uint64_t *v, uint64_t from, uint64_t limit)
{
	uint64_t w = from / WORD_BITS, word;

	if (from >= limit)
		return limit;
	word = ~v[w] & ~((1ull << (from % WORD_BITS)) - 1);
	while (!word) {
		if (++w * WORD_BITS >= limit)
			return limit;
		word = ~v[w];
	}
	from = w * WORD_BITS + (unsigned int)__builtin_ctzll(word);
	return from < limit ? from : limit;
}

/* Last clear bit of v in [lower, from], or NO_BIT. */
static uint64_t bits_prev_clear(const uint64_t *v, uint64_t from, uint64_t lower)
{
	uint64_t w = from / WORD_BITS;
	unsigned int b = from % WORD_BITS;
	uint64_t word = ~v[w] & (b == WORD_BITS - 1 ? ~0ull : (1ull << (b + 1)) - 1), idx;

	while (!word) {
		if (w * WORD_BITS <= lower)
			return NO_BIT;
		word = ~v[--w];
	}
	idx = w * WORD_BITS + (WORD_BITS - 1 - (unsigned int)__builtin_clzll(word));
	return idx >= lower ? idx : NO_BIT;
}

static bool chunk_full(const struct encmap *m, uint64_t c)
{
	return m->full[c / WORD_BITS] >> (c % WORD_BITS) & 1;
}

/*
 * Clear pages [first, end) of the bitmap. Only words the summary marks are
 * read or written, so clearing a huge private stretch touches no memory.
 */
static void bitmap_clear_range(struct encmap *m, uint64_t first, uint64_t end)
{
	uint64_t w0 = first / WORD_BITS, w1 = (end - 1) / WORD_BITS;
	uint64_t s0 = w0 / WORD_BITS, s1 = w1 / WORD_BITS;

	for (uint64_t s = s0; s <= s1; s++) {
		unsigned int lo = s == s0 ? w0 % WORD_BITS : 0;
		unsigned int hi = s == s1 ? w1 % WORD_BITS + 1 : WORD_BITS;
		uint64_t marked = m->summary[s] & word_mask(lo, hi);

		while (marked) {
			uint64_t w = s * WORD_BITS + (unsigned int)__builtin_ctzll(marked);
			uint64_t wfirst = w * WORD_BITS;
			unsigned int blo = first > wfirst ? first - wfirst : 0;
			unsigned int bhi = end < wfirst + WORD_BITS ? end - wfirst : WORD_BITS;

			marked &= marked - 1;
			m->bits[w] &= ~word_mask(blo, bhi);
			if (!m->bits[w])
				m->summary[s] &= ~(1ull << (w % WORD_BITS));
		}
	}
}

/* Words only (the caller knows the chunks are not full). */
static void words_set_range(struct encmap *m, uint64_t first, uint64_t end)
{
	bits_set_range(m->bits, first, end);
	bits_set_range(m->summary, first / WORD_BITS, (end - 1) / WORD_BITS + 1);
}

/* Words of [first, end), inside chunks that are not full (full ones are already shared). */
static void words_set_partial(struct encmap *m, uint64_t first, uint64_t end)
{
	while (first < end) {
		uint64_t next = (first / CHUNK_PAGES + 1) * CHUNK_PAGES;

		next = next < end ? next : end;
		if (!chunk_full(m, first / CHUNK_PAGES))
			words_set_range(m, first, next);
		first = next;
	}
}

/* Whole chunks in [first, end): [*c0, *c1), empty when *c0 >= *c1. */
static void whole_chunks(uint64_t first, uint64_t end, uint64_t *c0, uint64_t *c1)
{
	*c0 = (first + CHUNK_PAGES - 1) / CHUNK_PAGES;
	*c1 = end / CHUNK_PAGES;
}

/* A full chunk back to words (all ones), so that part of it can change. */
static void chunk_materialise(struct encmap *m, uint64_t c)
{
	if (!chunk_full(m, c))
		return;
	memset(&m->bits[c * CHUNK_WORDS], 0xff, CHUNK_WORDS * sizeof(uint64_t));
	bits_set_range(m->summary, c * CHUNK_WORDS, (c + 1) * CHUNK_WORDS);
	m->full[c / WORD_BITS] &= ~(1ull << (c % WORD_BITS));
}

/*
 * Share [first, end). Whole chunks become full: their words are cleared
 * first (only where the summary marks them, and not at all when nothing
 * in the range was shared), then their full bits set.
 */
static void bitmap_set_range(struct encmap *m, uint64_t first, uint64_t end, bool was_private)
{
	uint64_t c0, c1;

	whole_chunks(first, end, &c0, &c1);
	if (c0 >= c1) {
		words_set_partial(m, first, end);
		return;
	}
	words_set_partial(m, first, c0 * CHUNK_PAGES);
	words_set_partial(m, c1 * CHUNK_PAGES, end);
	if (!was_private)
		bitmap_clear_range(m, c0 * CHUNK_PAGES, c1 * CHUNK_PAGES);
	bits_set_range(m->full, c0, c1);
	m->full_dirty = true;
}

/* Make [first, end) private: full chunks at the ends materialised, whole ones cleared. */
static void bitmap_set_private(struct encmap *m, uint64_t first, uint64_t end)
{
	uint64_t c0, c1;

	whole_chunks(first, end, &c0, &c1);
	/* The chunks at the ends, unless the range covers them whole (no-op unless full). */
	if (first / CHUNK_PAGES < c0 || c0 >= c1)
		chunk_materialise(m, first / CHUNK_PAGES);
	if ((end - 1) / CHUNK_PAGES >= c1)
		chunk_materialise(m, (end - 1) / CHUNK_PAGES);
	bitmap_clear_range(m, first, end);
	if (c0 < c1)
		bits_clear_range(m->full, c0, c1);
}

static uint64_t summary_words(uint64_t nwords)
{
	return (nwords + WORD_BITS - 1) / WORD_BITS;
}

static size_t map_bytes(uint64_t nwords)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (nwords * sizeof(uint64_t) + page - 1) / page * page;
}

static uint64_t full_words(uint64_t npages)
{
	return (npages / CHUNK_PAGES + WORD_BITS) / WORD_BITS;
}

/*
 * One anonymous mapping holds the bits, the summary, full[], then a
 * PROT_NONE guard page; the guard keeps the kernel from merging the
 * mapping with a neighbour, so its Rss in /proc/self/smaps is the
 * bitmap's own.
 */
static size_t bitmap_map_bytes(uint64_t npages)
{
	uint64_t nwords = (npages + WORD_BITS - 1) / WORD_BITS;

	return map_bytes(nwords) + map_bytes(summary_words(nwords)) +
	       map_bytes(full_words(npages)) + (size_t)sysconf(_SC_PAGESIZE);
}

static int bitmap_map(struct encmap *m)
{
	size_t len = bitmap_map_bytes(m->npages), page = (size_t)sysconf(_SC_PAGESIZE);
	/*
	 * Lazily faulted: resident bits follow what the guest touches (a
	 * sparse 1 TiB map stays small). The price is one page fault (about
	 * 1.3 us in a VM) on the first share of each 128 MiB of guest memory.
	 */
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (mprotect(p + len - page, page, PROT_NONE)) {
		int ret = -errno;

		munmap(p, len);
		return ret;
	}
	/*
	 * 4 KiB granularity: a share in a sparse 1 TiB map should cost one
	 * page of bits, not a 2 MiB huge page. Only advice; ignore failure.
	 */
	madvise(p, len - page, MADV_NOHUGEPAGE);
	m->bits = (uint64_t *)p;
	m->summary = (uint64_t *)(p + map_bytes(m->nwords));
	m->full = (uint64_t *)((char *)m->summary + map_bytes(summary_words(m->nwords)));
	return 0;
}

/* Zero a mapping by giving its pages back: anonymous private pages read as 0. */
static void drop_pages(uint64_t *v, uint64_t nwords)
{
	if (madvise(v, map_bytes(nwords), MADV_DONTNEED))
		memset(v, 0, nwords * sizeof(*v));
}

/* First page >= pfn whose bit is set, or npages (full chunks have no bits). */
static uint64_t words_next_shared(const struct encmap *m, uint64_t pfn)
{
	uint64_t w = pfn / WORD_BITS, s, marked;
	uint64_t word;

	if (pfn >= m->npages)
		return m->npages;
	word = m->bits[w] & ~((1ull << (pfn % WORD_BITS)) - 1);
	if (word)
		return w * WORD_BITS + (unsigned int)__builtin_ctzll(word);
	/* Walk the summary from word w + 1 on. */
	w++;
	for (s = w / WORD_BITS; s < summary_words(m->nwords); s++) {
		marked = m->summary[s];
		if (s == w / WORD_BITS)
			marked &= ~((1ull << (w % WORD_BITS)) - 1);
		while (marked) {
			uint64_t cw = s * WORD_BITS + (unsigned int)__builtin_ctzll(marked);

			marked &= marked - 1;
			if (m->bits[cw])
				return cw * WORD_BITS + (unsigned int)__builtin_ctzll(m->bits[cw]);
		}
	}
	return m->npages;
}

/* First shared page >= pfn, or npages: the first set bit or full chunk. */
static uint64_t find_next_shared(const struct encmap *m, uint64_t pfn)
{
	uint64_t bit, c, limit;

	if (pfn >= m->npages)
		return m->npages;
	bit = words_next_shared(m, pfn);
	/* Full chunks only matter before the first set bit. */
	limit = bit >= m->npages ? m->npages / CHUNK_PAGES : bit / CHUNK_PAGES + 1;
	c = bits_next_set(m->full, pfn / CHUNK_PAGES, limit);
	if (c < limit) {
		uint64_t p = c * CHUNK_PAGES > pfn ? c * CHUNK_PAGES : pfn;

		return p < bit ? p : bit;
	}
	return bit;
}

/* First private page >= pfn (pfn shared), or npages: full chunks skipped whole. */
static uint64_t find_next_private(const struct encmap *m, uint64_t pfn)
{
	uint64_t nchunks = m->npages / CHUNK_PAGES;

	while (pfn < m->npages) {
		uint64_t c = pfn / CHUNK_PAGES, end, q;

		if (c < nchunks && chunk_full(m, c)) {
			pfn = bits_next_clear(m->full, c, nchunks) * CHUNK_PAGES;
			continue;
		}
		end = (c + 1) * CHUNK_PAGES < m->npages ? (c + 1) * CHUNK_PAGES : m->npages;
		q = bits_next_clear(m->bits, pfn, end);
		if (q < end)
			return q;
		pfn = end;
	}
	return m->npages;
}

/* First page of the shared run that contains the shared page pfn. */
static uint64_t find_run_start(const struct encmap *m, uint64_t pfn)
{
	for (;;) {
		uint64_t c = pfn / CHUNK_PAGES, q;

		if (chunk_full(m, c)) {
			/* The last chunk before it that is not full. */
			c = bits_prev_clear(m->full, c, 0);
			if (c == NO_BIT)
				return 0;
			pfn = (c + 1) * CHUNK_PAGES - 1;
		}
		q = bits_prev_clear(m->bits, pfn, c * CHUNK_PAGES);
		if (q != NO_BIT)
			return q + 1;
		if (c == 0)
			return 0;
		pfn = c * CHUNK_PAGES - 1;
	}
}

/* ---- provenance treap ------------------------------------------------ */

static bool prov_equal(const struct encmap_prov *a, const struct encmap_prov *b)
{
	return a->vcpu == b->vcpu && a->generation == b->generation && a->seq == b->seq;
}

static void *encmap_alloc(size_t size)
{
	return encmap_alloc_hook ? encmap_alloc_hook(size) : malloc(size);
}

static uint32_t prov_next_prio(struct encmap_prov_tree *t)
{
	/* xorshift64 (Marsaglia 2003), fixed seed: reproducible shapes. */
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (uint32_t)(t->rng >> 32);
}

/* Make sure `need` spare nodes exist; nothing else changes on failure. */
static int prov_reserve(struct encmap_prov_tree *t, unsigned int need)
{
	while (t->nspare < need) {
		struct prov_node *n = encmap_alloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->spare[t->nspare++] = n;
	}
	return 0;
}

static struct prov_node *prov_take(struct encmap_prov_tree *t, uint64_t start, uint64_t end,
				   const struct encmap_prov *prov)
{
	struct prov_node *n = t->spare[--t->nspare];

	n->start = start;
	n->end = end;
	n->prov = *prov;
	n->left = n->right = NULL;
	n->prio = prov_next_prio(t);
	t->count++;
	return n;
}

static void prov_release(struct encmap_prov_tree *t, struct prov_node *n)
{
	t->count--;
	if (t->nspare < PROV_SPARES)
		t->spare[t->nspare++] = n;
	else
		free(n);
}

/* Split n into *l (start < key) and *r (start >= key). */
static void prov_split(struct prov_node *n, uint64_t key, struct prov_node **l,
		       struct prov_node **r)
{
	while (n) {
		if (n->start < key) {
			*l = n;
			l = &n->right;
			n = n->right;
		} else {
			*r = n;
			r = &n->left;
			n = n->left;
		}
	}
	*l = NULL;
	*r = NULL;
}

/* Join two treaps where every start in l is below every start in r. */
static struct prov_node *prov_merge(struct prov_node *l, struct prov_node *r)
{
	struct prov_node *root = NULL, **link = &root;

	while (l && r) {
		if (l->prio >= r->prio) {
			*link = l;
			link = &l->right;
			l = l->right;
		} else {
			*link = r;
			link = &r->left;
			r = r->left;
		}
	}
	*link = l ? l : r;
	return root;
}

static struct prov_node *prov_last(struct prov_node *n)
{
	while (n && n->right)
		n = n->right;
	return n;
}

static struct prov_node *prov_first(struct prov_node *n)
{
	while (n && n->left)
		n = n->left;
	return n;
}

/* Unlink the minimum of *root and return it. */
static struct prov_node *prov_pop_first(struct prov_node **root)
{
	struct prov_node *n;

	while ((*root)->left)
		root = &(*root)->left;
	n = *root;
	*root = n->right;
	n->right = NULL;
	return n;
}

/* Unlink the maximum of *root and return it. */
static struct prov_node *prov_pop_last(struct prov_node **root)
{
	struct prov_node *n;

	while ((*root)->right)
		root = &(*root)->right;
	n = *root;
	*root = n->left;
	n->left = NULL;
	return n;
}

/*
 * Release every node of n, adding the pages they cover to *covered.
 * Rotating left children up flattens the tree without a stack.
 */
static void prov_release_all(struct encmap_prov_tree *t, struct prov_node *n, uint64_t *covered)
{
	while (n) {
		if (n->left) {
			struct prov_node *l = n->left;

			n->left = l->right;
			l->right = n;
			n = l;
		} else {
			struct prov_node *next = n->right;

			*covered += n->end - n->start;
			prov_release(t, n);
			n = next;
		}
	}
}

/*
 * Make [a, b) covered by prov (or by nothing when prov is NULL). Returns
 * the number of pages in [a, b) that were covered before, or -ENOMEM with
 * the tree unchanged.
 */
static int64_t prov_assign(struct encmap_prov_tree *t, uint64_t a, uint64_t b,
			   const struct encmap_prov *prov)
{
	struct prov_node *left, *mid, *right, *last, *first;
	uint64_t covered = 0;
	int ret = prov_reserve(t, prov ? 2 : 1);

	if (ret)
		return ret;

	prov_split(t->root, a, &left, &mid);
	prov_split(mid, b, &mid, &right);

	/* An interval that starts before a and reaches into the range. */
	last = prov_last(left);
	if (last && last->end > a) {
		if (last->end > b) {
			if (prov && prov_equal(&last->prov, prov)) {
				/* Already covered by the same provenance: no change. */
				t->root = prov_merge(left, right);
				return (int64_t)(b - a);
			}
			right = prov_merge(prov_take(t, b, last->end, &last->prov), right);
			covered += b - a;
		} else {
			covered += last->end - a;
		}
		last->end = a;
	}
	/* An interval that starts inside the range and ends after it. */
	if (mid) {
		struct prov_node *tail = prov_last(mid);

		if (tail->end > b) {
			tail = prov_pop_last(&mid);
			covered += b - tail->start;
			tail->start = b;
			right = prov_merge(tail, right);
		}
		prov_release_all(t, mid, &covered);
	}

	if (prov) {
		bool join_left = last && last->end == a && prov_equal(&last->prov, prov);

		first = prov_first(right);
		if (first && first->start == b && prov_equal(&first->prov, prov)) {
			if (join_left) {
				last->end = first->end;
				prov_release(t, prov_pop_first(&right));
			} else {
				first->start = a;
			}
		} else if (join_left) {
			last->end = b;
		} else {
			left = prov_merge(left, prov_take(t, a, b, prov));
		}
	}
	t->root = prov_merge(left, right);
	return (int64_t)covered;
}

static const struct prov_node *prov_find(const struct encmap_prov_tree *t, uint64_t pfn)
{
	const struct prov_node *n = t->root;

	while (n) {
		if (pfn < n->start)
			n = n->left;
		else if (pfn >= n->end)
			n = n->right;
		else
			return n;
	}
	return NULL;
}

/* ---- public API ------------------------------------------------------ */

int encmap_init(struct encmap *m, uint64_t npages)
{
	int ret;

	memset(m, 0, sizeof(*m));
	if (npages == 0 || npages > ENCMAP_MAX_PAGES)
		return -EINVAL;

	m->prov = encmap_alloc(sizeof(*m->prov));
	if (!m->prov)
		return -ENOMEM;
	memset(m->prov, 0, sizeof(*m->prov));
	m->prov->rng = 0x9e3779b97f4a7c15ull;

	m->npages = npages;
	m->nwords = (npages + WORD_BITS - 1) / WORD_BITS;
	ret = bitmap_map(m);
	if (ret) {
		encmap_destroy(m);
		return ret;
	}
	return 0;
}

void encmap_destroy(struct encmap *m)
{
	if (m->prov) {
		uint64_t covered = 0;

		prov_release_all(m->prov, m->prov->root, &covered);
		while (m->prov->nspare)
			free(m->prov->spare[--m->prov->nspare]);
		free(m->prov);
	}
	if (m->bits)
		munmap(m->bits, bitmap_map_bytes(m->npages));
	memset(m, 0, sizeof(*m));
}

static bool range_valid(const struct encmap *m, uint64_t first, uint64_t count)
{
	return count && first < m->npages && count <= m->npages - first;
}

int encmap_set_shared(struct encmap *m, uint64_t first, uint64_t count,
		      const struct encmap_prov *prov)
{
	int64_t covered;

	if (!prov || !range_valid(m, first, count))
		return -EINVAL;
	covered = prov_assign(m->prov, first, first + count, prov);
	if (covered < 0)
		return (int)covered;
	m->nshared += count - (uint64_t)covered;
	bitmap_set_range(m, first, first + count, covered == 0);
	return 0;
}

int encmap_set_private(struct encmap *m, uint64_t first, uint64_t count)
{
	int64_t covered;

	if (!range_valid(m, first, count))
		return -EINVAL;
	covered = prov_assign(m->prov, first, first + count, NULL);
	if (covered < 0)
		return (int)covered;
	m->nshared -= (uint64_t)covered;
	/* Nothing was shared in the range: no bitmap word or chunk to change. */
	if (covered)
		bitmap_set_private(m, first, first + count);
	return 0;
}

void encmap_reset(struct encmap *m)
{
	uint64_t nsum = summary_words(m->nwords), marked = 0, covered = 0;

	prov_release_all(m->prov, m->prov->root, &covered);
	m->prov->root = NULL;
	m->nshared = 0;

	for (uint64_t s = 0; s < nsum; s++)
		marked += (uint64_t)__builtin_popcountll(m->summary[s]);
	/*
	 * Over 1/8 dirty and big: hand the pages back (cheaper than writing
	 * them, and the memory a big share used is returned; the next shares
	 * fault them in again). Otherwise clear only the marked words.
	 */
	if (marked > m->nwords / 8 && marked > RESET_MADVISE_MIN_WORDS) {
		drop_pages(m->bits, m->nwords);
		drop_pages(m->summary, nsum);
	} else if (marked) {
		bitmap_clear_range(m, 0, m->npages);
	}
	/* 64 KiB for 1 TiB: handing it back is cheaper than finding the set bits. */
	if (m->full_dirty)
		drop_pages(m->full, full_words(m->npages));
	m->full_dirty = false;
}

bool encmap_is_shared(const struct encmap *m, uint64_t pfn)
{
	if (pfn >= m->npages)
		return false;
	return chunk_full(m, pfn / CHUNK_PAGES) ||
	       (m->bits[pfn / WORD_BITS] >> (pfn % WORD_BITS) & 1);
}

uint64_t encmap_count_shared(const struct encmap *m)
{
	return m->nshared;
}

bool encmap_provenance(const struct encmap *m, uint64_t pfn, struct encmap_prov *out)
{
	const struct prov_node *n;

	if (!encmap_is_shared(m, pfn))
		return false;
	n = prov_find(m->prov, pfn);
	if (!n)
		return false;
	*out = n->prov;
	return true;
}

bool encmap_next_run(const struct encmap *m, uint64_t from, struct encmap_run *run)
{
	uint64_t start;

	if (from >= m->npages)
		return false;
	if (encmap_is_shared(m, from)) {
		start = find_run_start(m, from);
	} else {
		start = find_next_shared(m, from);
		if (start >= m->npages)
			return false;
	}
	run->start = start;
	run->end = find_next_private(m, start);
	return true;
}

bool encmap_next_prov_run(const struct encmap *m, uint64_t from, struct encmap_prov_run *run)
{
	const struct prov_node *n = m->prov->root, *best = NULL;

	/* Ends grow with starts, so the leftmost interval ending after from. */
	while (n) {
		if (n->end > from) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	if (!best)
		return false;
	run->start = best->start;
	run->end = best->end;
	run->prov = best->prov;
	return true;
}

size_t encmap_prov_count(const struct encmap *m)
{
	return m->prov->count;
}

/* Rss of the mapping that contains addr, from /proc/self/smaps. */
static int mapping_rss(const void *addr, uint64_t *rss)
{
	char line[256];
	bool inside = false;
	unsigned long lo, hi, kb;
	int ret = -ENOENT;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			inside = lo <= (uintptr_t)addr && (uintptr_t)addr < hi;
		} else if (inside && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			*rss += (uint64_t)kb * 1024;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int encmap_mem_usage(const struct encmap *m, struct encmap_mem *out)
{
	memset(out, 0, sizeof(*out));
	out->bitmap_mapped = bitmap_map_bytes(m->npages);
	out->prov_node_size = sizeof(struct prov_node);
	out->prov_bytes = (m->prov->count + m->prov->nspare) * sizeof(struct prov_node);
	return mapping_rss(m->bits, &out->bitmap_rss);
}
