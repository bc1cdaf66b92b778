/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Baseline for bench_encmap: the shared-regions structure of QEMU's
 * unmerged SEV live-migration series (target/i386/sev.c,
 * sev_add_shared_regions_list / sev_remove_shared_regions_list): a sorted
 * doubly linked list of shared page ranges, searched linearly from the
 * head, neighbours merged on insert, a range split on removal. Unlike the
 * original it also keeps a provenance per range (merging only equal ones),
 * so that it does the same job as encmap, and handles overlaps that span
 * several ranges.
 */
#ifndef MINIVMM_BENCH_INTERVAL_LIST_H
#define MINIVMM_BENCH_INTERVAL_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encmap.h"

struct ilist_node {
	uint64_t start;
	uint64_t end;
	struct encmap_prov prov;
	struct ilist_node *prev;
	struct ilist_node *next;
};

struct ilist {
	struct ilist_node *head;
	size_t count;
	size_t bytes; /* allocated node bytes (no malloc overhead) */
};

void ilist_init(struct ilist *l);
/* All ranges freed. */
void ilist_clear(struct ilist *l);
/* [start, end) shared with prov, or private when prov is NULL. 0 or -ENOMEM. */
int ilist_set(struct ilist *l, uint64_t start, uint64_t end, const struct encmap_prov *prov);
/* Provenance of pfn; false when it is private. */
bool ilist_lookup(const struct ilist *l, uint64_t pfn, struct encmap_prov *out);

#endif
