/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The migration's hooks that exit handlers call (SYNC, READY, MAP_GPA_RANGE):
 * they record and request, the migration itself is vmm/migrate.h's. A
 * module of its own so that the handlers depend on the machine's state
 * only, not on the VM and vCPU code that migrate.c drives.
 */
#ifndef MINIVMM_MIGRATE_HOOK_H
#define MINIVMM_MIGRATE_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine.h"

/* The URI as given, for messages. */
const char *migrate_uri_str(const struct migrate_uri *u, char *buf, size_t n);
/* Source hooks. Lock held: a SYNC with this tag was handled and logged. */
void migrate_on_sync_locked(struct vcpu *vcpu, uint64_t tag);
/* Lock held: the VM just became migratable (MSR_KVM_MIGRATION_CONTROL READY). */
void migrate_on_ready_locked(struct vcpu *vcpu);
/*
 * Lock held: a READY wait that ran out (parallel: wall clock, from the
 * main thread; serial: steps) or whose guest ended (vm->stopping).
 */
void migrate_check_wait_locked(struct vm *vm);
/*
 * Lock held, vm->mig_dirty set (pre-copy): MAP_GPA_RANGE is about to make
 * [first, first + count) shared (to_shared) or private; mark dirty the
 * pages whose bit changes, so they go again in their new form.
 */
void migrate_mark_conversion_locked(struct vm *vm, uint64_t first, uint64_t count, bool to_shared);
/*
 * Lock held: the --migrate-at point came (a SYNC tag, or seq:N from
 * migrate_after_exit): wait for READY or request the migration.
 */
void migrate_point_reached_locked(struct vm *vm, struct vcpu *by);
/* Log migration_failed with its reason and tell the console (lock held). */
void migrate_log_failed_locked(struct vm *vm, const char *reason);
/* Set bits [first, end) of a bitmap of uint64_t words. */
void migrate_bits_or_range(uint64_t *v, uint64_t first, uint64_t end);

/* After an exit was handled: the seq:N point. */
void migrate_after_exit(struct vcpu *vcpu);
/* Top of the vCPU loop: wait while a migration holds the VM. */
void migrate_pause_point_slow(struct vcpu *vcpu);
static inline void migrate_pause_point(struct vcpu *vcpu)
{
	if (__atomic_load_n(&vcpu->vm->mig_pause, __ATOMIC_ACQUIRE))
		migrate_pause_point_slow(vcpu);
}
/*
 * Lock held: no vCPU thread is outside a wait, and none holds an exit it
 * has not handled. When only held ones are left, lets the lowest one
 * handle its exit (vm->mig_finish) and answers false.
 */
bool migrate_quiet_locked(struct vm *vm);
/* Lock held, destination: log migration_done once the guest ran. */
void migrate_log_arrival_locked(struct vm *vm);

#endif
