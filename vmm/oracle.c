// SPDX-License-Identifier: GPL-2.0-only
#include "oracle.h"

#include <errno.h>

#include "util.h"
#include "x86.h"

static const uint64_t *table_at(const struct guest_mem *mem, uint64_t entry_or_cr3)
{
	return mem_gpa_to_hva(mem, entry_or_cr3 & PTE_ADDR_MASK, PAGE_SIZE);
}

static uint64_t canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16);
}

struct walk {
	const struct guest_mem *mem;
	uint64_t leaves, tables, max_leaves;
	int (*fn)(const struct pt_leaf *leaf, void *ctx);
	void *ctx;
};

/* One table at `level` (4 = PML4 ... 1 = PT) mapping from va_base. */
static int walk_table(struct walk *w, const uint64_t *t, int level, uint64_t va_base)
{
	int shift = 12 + 9 * (level - 1);

	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i], va = va_base | ((uint64_t)i << shift), size = 1ull << shift;
		const uint64_t *next;
		int r;

		if (!(e & PTE_P))
			continue;
		/* A leaf: a PT entry, or PS set in a PD (2 MiB) or PDPT (1 GiB) entry. */
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			struct pt_leaf lf = {canonical(va), e & PTE_ADDR_MASK & ~(size - 1), size,
					     e};

			if (++w->leaves > w->max_leaves)
				return -E2BIG;
			if ((r = w->fn(&lf, w->ctx)))
				return r;
			continue;
		}
		next = table_at(w->mem, e);
		if (!next)
			return -EFAULT;
		/* Tables have the same budget: aliased empty tables are work too. */
		if (++w->tables > w->max_leaves)
			return -E2BIG;
		if ((r = walk_table(w, next, level - 1, va)))
			return r;
	}
	return 0;
}

int x86_walk_page_tables(const struct guest_mem *mem, uint64_t cr3, uint64_t max_leaves,
			 int (*fn)(const struct pt_leaf *leaf, void *ctx), void *ctx)
{
	const uint64_t *l4 = table_at(mem, cr3);
	struct walk w = {mem, 0, 0, max_leaves, fn, ctx};

	if (!l4)
		return -EFAULT;
	return walk_table(&w, l4, 4, 0);
}

int x86_gva_leaf(const struct guest_mem *mem, uint64_t cr3, uint64_t gva, uint64_t *gpa,
		 uint64_t *leaf)
{
	const uint64_t *t = table_at(mem, cr3);
	int shift = 39;

	/* 4-level paging: a non-canonical address is never mapped (#GP). */
	if (canonical(gva) != gva)
		return -ENOENT;
	for (int level = 4; level >= 1; level--, shift -= 9) {
		uint64_t e;

		if (!t)
			return -EFAULT;
		e = t[(gva >> shift) & 511];
		if (!(e & PTE_P))
			return -ENOENT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t size = 1ull << shift;

			*gpa = (e & PTE_ADDR_MASK & ~(size - 1)) | (gva & (size - 1));
			*leaf = e;
			return 0;
		}
		t = table_at(mem, e);
	}
	return -ENOENT;
}

int x86_gva_to_gpa(const struct guest_mem *mem, uint64_t cr3, uint64_t gva, uint64_t *gpa)
{
	uint64_t leaf;

	return x86_gva_leaf(mem, cr3, gva, gpa, &leaf);
}

bool oracle_gpa_private(const struct guest_mem *mem, uint64_t cr3, uint64_t cbit_mask, uint64_t gpa)
{
	uint64_t to, leaf;

	gpa &= ~(uint64_t)(PAGE_SIZE - 1);
	if (x86_gva_leaf(mem, cr3, gpa, &to, &leaf) < 0 || to != gpa)
		return true;
	return leaf & cbit_mask;
}
