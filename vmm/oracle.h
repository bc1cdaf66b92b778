/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The oracle: the emulator's privileged view of the guest, which no real
 * host has (DESIGN.md "Architecture"): the guest's own page tables and the
 * plaintext behind every page. Only the checks and verdicts, and hostmem
 * (which stands in for the memory controller, the one part of real
 * hardware that sees the C-bit of every access), may use it; nothing a
 * real VMM does may depend on it.
 *
 * It holds the guest page-table walker (the checks' truth audit walks
 * every leaf with it) and answers the guest truth of a page: the C-bit of
 * its mapping.
 */
#ifndef MINIVMM_ORACLE_H
#define MINIVMM_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "memory.h"
#include "x86.h"

/* ---- guest page-table walks (4-level, 4K/2M/1G leaves) ---- */

struct pt_leaf {
	uint64_t va;   /* canonical virtual address of the mapping */
	uint64_t gpa;  /* physical address */
	uint64_t size; /* 4 KiB, 2 MiB or 1 GiB */
	uint64_t pte;  /* the leaf entry (flags, software bits) */
};

/*
 * Call fn for every present leaf reachable from cr3. Table pages must be
 * backed guest memory; at most max_leaves leaves and max_leaves tables are visited (a
 * hostile guest can make every entry point at the same table). Returns 0, the
 * first non-zero value fn returned, -EFAULT for a table outside memory, or
 * -E2BIG when max_leaves is exceeded.
 */
int x86_walk_page_tables(const struct guest_mem *mem, uint64_t cr3, uint64_t max_leaves,
			 int (*fn)(const struct pt_leaf *leaf, void *ctx), void *ctx);
/* Translate one virtual address. 0, -ENOENT (not mapped) or -EFAULT. */
int x86_gva_to_gpa(const struct guest_mem *mem, uint64_t cr3, uint64_t gva, uint64_t *gpa);
/* The same, also giving the leaf entry (its software bits: the C-bit). */
int x86_gva_leaf(const struct guest_mem *mem, uint64_t cr3, uint64_t gva, uint64_t *gpa,
		 uint64_t *leaf);

/*
 * Does the guest map the page at gpa private (C=1) in the page tables at
 * cr3? The guests mini-vmm runs identity-map their memory, as Linux's
 * direct map does, so the mapping of gpa is the one of virtual address
 * gpa. A page not mapped there (or mapped to another frame) counts as
 * private: an SEV guest's memory is private unless it shares it.
 */
bool oracle_gpa_private(const struct guest_mem *mem, uint64_t cr3, uint64_t cbit_mask,
			uint64_t gpa);

#endif
