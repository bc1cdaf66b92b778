/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live migration and snapshots (DESIGN.md "Live migration", issue 13):
 * the source side (stop every vCPU at --migrate-at, complete pending exits,
 * save state, write the stream of vmm/stream.h) and the destination side
 * (read and validate the whole stream, build the VM from its CONFIG, restore
 * memory, bitmap and state, resume).
 *
 * Stopping: vm->mig_pause makes every vCPU thread wait outside KVM_RUN (at
 * the top of its loop, or in the waits it already has: its serial turn, a
 * CPU_ON); vcpu->active says a thread is outside every wait. When no vCPU
 * is active the main thread (vm_run) owns every vCPU fd: it re-enters
 * KVM_RUN once per vCPU with immediate_exit set, so a pending port, MSR or
 * hypercall exit completes exactly once (docs/MIGRATION.md 6), then reads
 * the state. The re-entries are no scheduling points: the serial schedule
 * of a migrated run is the one it would have had without the migration.
 */
#ifndef MINIVMM_MIGRATE_H
#define MINIVMM_MIGRATE_H

#include <stddef.h>

#include "migrate_hook.h"
#include "vm.h"

/* "file:PATH", "unix:PATH", "tcp:HOST:PORT". 0 or -EINVAL. */
int migrate_parse_uri(const char *s, struct migrate_uri *u);
/*
 * "TAG" or "TAG:N" (the N-th SYNC with that tag, N >= 1; TAG a SYNC tag
 * name as the log spells it: ready, kexec_begin, ...) or "seq:N" (the first
 * exit at or after log sequence number N). 0 or -EINVAL.
 */
int migrate_parse_at(const char *s, struct migrate_at *a);

/* End of vm_create: refuse what a planned migration cannot do. 0 or EXIT_USAGE. */
int migrate_check_plan(struct vm *vm);

/* Lock held, main thread: vm->mig_precopy was set (sockets). */
void migrate_precopy_locked(struct vm *vm);
/*
 * Lock held, every vCPU quiet: migrate. On success the VM stops with
 * status 0 (vm->mig_done); on failure migration_failed is logged and the
 * guest resumes.
 */
void migrate_source_locked(struct vm *vm);
/* The two above, for vm_run (vm->mig_ops): main.c sets them. */
extern const struct vm_migrate_ops migrate_ops;

/*
 * Destination: build vm from the stream at opts->incoming (vm_create's
 * counterpart). 0 (vm_run resumes the guest) or an exit status: 2 for a
 * refused stream, with a message naming section and offset.
 */
int migrate_incoming(struct vm *vm, const struct vm_opts *opts);
#endif
