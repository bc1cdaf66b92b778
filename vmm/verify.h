/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The destination's side of the guest's memory check (issue 13): the
 * guest reports the pages it found corrupted after a migration
 * (SYNC_MIGRATION_VERIFY, abi.h struct minivmm_verify_report); this logs
 * migration_verify with each corrupted run named with how the page was
 * sent and the provenance of the bitmap entry that decided it, prints it,
 * and makes the exit status 1.
 */
#ifndef MINIVMM_VERIFY_H
#define MINIVMM_VERIFY_H

#include "machine.h"

/*
 * Lock held, after the SYNC was logged: rep as read from the vCPU's ucall
 * page (read_err < 0: it could not be, and that is what is logged).
 */
void verify_report_locked(struct vcpu *vcpu, const struct minivmm_verify_report *rep, int read_err);
/*
 * Lock held, the run ends (destination): a migration the guest never
 * checked is logged as such; corrupted pages make the status 1.
 */
void verify_finish_locked(struct vm *vm);
/* The destination's arrival state goes with the VM. */
void verify_free(struct vm *vm);

#endif
