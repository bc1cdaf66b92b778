// SPDX-License-Identifier: GPL-2.0-only
#include "oracle.h"

#include "util.h"
#include "x86.h"

bool oracle_gpa_private(const struct guest_mem *mem, uint64_t cr3, uint64_t cbit_mask, uint64_t gpa)
{
	uint64_t to, leaf;

	gpa &= ~(uint64_t)(PAGE_SIZE - 1);
	if (x86_gva_leaf(mem, cr3, gpa, &to, &leaf) < 0 || to != gpa)
		return true;
	return leaf & cbit_mask;
}
