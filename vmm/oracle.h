/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The oracle: the emulator's privileged view of the guest, which no real
 * host has (DESIGN.md "Architecture"): the guest's own page tables and the
 * plaintext behind every page. Only the checks and verdicts, and hostmem
 * (which stands in for the memory controller, the one part of real
 * hardware that sees the C-bit of every access), may use it; nothing a
 * real VMM does may depend on it.
 *
 * Today it answers one question, the guest truth of a page: the C-bit of
 * its mapping. The checks' page-table audit (check.c) is the other user
 * of the same walker (x86.c).
 */
#ifndef MINIVMM_ORACLE_H
#define MINIVMM_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

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
