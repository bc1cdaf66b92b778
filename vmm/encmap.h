/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host's page-encryption bitmap: one bit per 4 KiB guest page, set =
 * shared (plaintext), clear = private (the default). Range updates work a
 * 64-bit word at a time and a summary level (one bit per bitmap word) lets
 * run export and resets skip private stretches, so a 1 TiB guest (2^28
 * pages, 32 MiB of bits) stays cheap. A chunk level (one bit per 512
 * pages: all shared) lets a range covering whole chunks change them
 * without writing their bitmap words, so even a never-touched map takes
 * a large share without page faults.
 *
 * Every shared page also carries its provenance: who made it shared (vCPU
 * or firmware), in which boot generation, at which event sequence number.
 * Provenance is kept as an ordered set of non-overlapping intervals, so
 * its memory is O(shared runs), not O(pages).
 *
 * Not thread safe: the caller serialises access.
 */
#ifndef MINIVMM_ENCMAP_H
#define MINIVMM_ENCMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENCMAP_VCPU_FIRMWARE UINT32_MAX /* shared by the VMM as firmware */
#define ENCMAP_CHUNK_PAGES   512u	/* pages per bit of encmap.full */

struct encmap_prov {
	uint32_t vcpu;	     /* vCPU index, or ENCMAP_VCPU_FIRMWARE */
	uint32_t generation; /* guest boot generation */
	uint64_t seq;	     /* event sequence number of the hypercall */
};

/* A maximal run of pages [start, end) (page frame numbers). */
struct encmap_run {
	uint64_t start;
	uint64_t end;
};

/* A provenance interval: every page in [start, end) is shared by prov. */
struct encmap_prov_run {
	uint64_t start;
	uint64_t end;
	struct encmap_prov prov;
};

struct encmap_prov_tree; /* private to encmap.c */

struct encmap {
	uint64_t npages;   /* pages covered: [0, npages) */
	uint64_t nwords;   /* bitmap words */
	uint64_t *bits;	   /* 1 = shared */
	uint64_t *summary; /* bit w set => bits[w] may be non-zero */
	uint64_t *full;	   /* bit c set => pages of chunk c all shared, its bits[] zero */
	bool full_dirty;   /* a full bit may be set (reset clears full[]) */
	uint64_t nshared;  /* number of shared pages */
	struct encmap_prov_tree *prov;
};

/* All pages private. Returns 0 or -ENOMEM/-EINVAL (npages == 0). */
int encmap_init(struct encmap *m, uint64_t npages);
void encmap_destroy(struct encmap *m);

/*
 * Make [first, first + count) shared with provenance prov / private.
 * The range must lie inside [0, npages): the caller validates (returns
 * -EINVAL and changes nothing otherwise), 0 on success, -ENOMEM if the
 * provenance set could not grow (bitmap and provenance unchanged).
 * count == 0, a range that wraps around and prov == NULL are -EINVAL too.
 */
int encmap_set_shared(struct encmap *m, uint64_t first, uint64_t count,
		      const struct encmap_prov *prov);
int encmap_set_private(struct encmap *m, uint64_t first, uint64_t count);
/* Everything private again (firmware included). */
void encmap_reset(struct encmap *m);

bool encmap_is_shared(const struct encmap *m, uint64_t pfn);
uint64_t encmap_count_shared(const struct encmap *m);
/* Provenance of a shared page; false if the page is private. */
bool encmap_provenance(const struct encmap *m, uint64_t pfn, struct encmap_prov *out);

/*
 * First maximal shared run that ends after pfn `from` (a run containing
 * `from` is returned whole, start may be < from). Returns false when none.
 */
bool encmap_next_run(const struct encmap *m, uint64_t from, struct encmap_run *run);
/*
 * Same for provenance intervals (intervals are maximal: neighbours with an
 * equal provenance are merged).
 */
bool encmap_next_prov_run(const struct encmap *m, uint64_t from, struct encmap_prov_run *run);
/* Number of provenance intervals (for tests and memory accounting). */
size_t encmap_prov_count(const struct encmap *m);

/* Memory an encmap holds, for benchmarks and tests. */
struct encmap_mem {
	uint64_t bitmap_mapped;	 /* address space reserved for bits + summary */
	uint64_t bitmap_rss;	 /* of which resident (pages written so far) */
	uint64_t prov_bytes;	 /* provenance nodes (allocated size, no malloc overhead) */
	uint64_t prov_node_size; /* bytes per provenance node */
};

/* Fills *out; bitmap_rss comes from /proc/self/smaps (-errno if unreadable). */
int encmap_mem_usage(const struct encmap *m, struct encmap_mem *out);

/*
 * Test hook: when non-NULL, encmap allocates through it instead of malloc
 * (the memory is released with free()), so tests can inject -ENOMEM.
 */
extern void *(*encmap_alloc_hook)(size_t size);

#endif
