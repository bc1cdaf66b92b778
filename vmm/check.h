/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checks of the encryption bitmap (DESIGN.md "Checks"):
 *  - reset check: every E820 RAM page private unless the current boot
 *    generation shared it, the firmware window shared by the firmware;
 *  - truth audit: the guest's page tables (C-bit) against the bitmap, both
 *    directions.
 * Failures name page runs with provenance, go to stderr and the log, and
 * make the exit status 1.
 */
#ifndef MINIVMM_CHECK_H
#define MINIVMM_CHECK_H

#include <stdint.h>

#include "encmap.h"
#include "memory.h"
#include "machine.h"

enum violation_kind {
	VIOL_STALE_SHARED = 0, /* RAM page shared by an older generation */
	VIOL_FOREIGN_SHARED,   /* non-RAM page shared, not by firmware */
	VIOL_FIRMWARE_LOST,    /* firmware window page no longer shared */
	VIOL_HOST_SHARED_GUEST_PRIVATE,
	VIOL_HOST_PRIVATE_GUEST_SHARED,
	VIOL_MAX
};

struct violation {
	enum violation_kind kind;
	uint64_t start, end; /* pages */
	bool has_prov;
	struct encmap_prov prov;
};

struct check_report {
	struct violation *v;
	size_t n, cap;
	uint64_t pages[VIOL_MAX];
	int error; /* walk error (-EFAULT, -E2BIG) */
};

const char *violation_name(enum violation_kind k);
void check_report_free(struct check_report *rep);

/* Reset check of gen against the bitmap. Pure. 0 or -ENOMEM. */
int check_reset(const struct encmap *m, const struct guest_mem *mem, uint32_t gen,
		struct check_report *rep);
/*
 * Truth audit from the guest's CR3 with C-bit cbit. Pure. RAM pages mapped
 * by a leaf are compared; unmapped pages are not.
 */
int check_truth(const struct encmap *m, const struct guest_mem *mem, uint64_t cr3, unsigned cbit,
		struct check_report *rep);

/* SYNC ucall: log + snapshot; BOOT/READY run the checks (with --check). */
enum vcpu_action check_on_sync(struct vcpu *vcpu, const struct ucall *uc);
/* Log a bitmap snapshot event (lock held). */
void check_snapshot_locked(struct vm *vm, struct vcpu *vcpu, const char *why);
/* Lock held: log the "migration" summary at exit. */
void check_migration_summary(struct vm *vm);
/* Print the shared runs (--dump-bitmap at exit; the story at every reset). */
void check_dump_bitmap(struct vm *vm, FILE *f);

#endif
