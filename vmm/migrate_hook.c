// SPDX-License-Identifier: GPL-2.0-only
/*
 * The migration's hooks in the exit handlers (migrate_hook.h): what a
 * SYNC point, a READY write or a conversion means for a planned
 * migration. They only record and request; the migration itself runs in
 * vmm/migrate.c, from the VM's loop.
 */
#include "migrate_hook.h"

#include <stdio.h>

#include "util.h"

static void request_locked(struct vm *vm, struct vcpu *by);

const char *migrate_uri_str(const struct migrate_uri *u, char *buf, size_t n)
{
	switch (u->kind) {
	case MIGRATE_URI_FILE:
		snprintf(buf, n, "file:%s", u->path);
		break;
	case MIGRATE_URI_UNIX:
		snprintf(buf, n, "unix:%s", u->path);
		break;
	case MIGRATE_URI_TCP:
		snprintf(buf, n, "tcp:%s:%u", u->path, u->port);
		break;
	default:
		snprintf(buf, n, "none");
		break;
	}
	return buf;
}

static void request_locked(struct vm *vm, struct vcpu *by)
{
	if (vm->mig_requested || vm->stopping)
		return;
	vm->mig_requested = true;
	vm->mig_t_begin_ns = now_ns();
	evlog_begin(&vm->log, "migration_start", by ? (int)by->id : -1,
		    by ? by->generation : vm->generation);
	{
		char uri[160];

		evlog_str(&vm->log, "to", migrate_uri_str(&vm->opts.migrate_to, uri, sizeof(uri)));
	}
	evlog_end(&vm->log);
	if (vm->opts.migrate_to.kind != MIGRATE_URI_FILE) {
		/* Sockets: pre-copy rounds first, the guest running (vm_run). */
		vm->mig_precopy = true;
		pthread_cond_broadcast(&vm->cond);
		/* --migrate-rounds 0: stopped here, as for a snapshot. */
		if (vm->opts.migrate_rounds)
			return;
	}
	__atomic_store_n(&vm->mig_pause, true, __ATOMIC_RELEASE);
	/* Out of KVM_RUN: a spinning guest makes no exit of its own. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_cond_broadcast(&vm->cond);
}

#define MIG_WAIT_STEPS_PER_S 1000u /* --migrate-wait under --sched=serial */

/*
 * The --migrate-at point came. Under SEV the guest vetoes a migration
 * until it wrote READY (msr.rst MSR_KVM_MIGRATION_CONTROL; QEMU's SEV
 * series blocks the same way): wait for it, bounded by --migrate-wait,
 * unless --migrate-force overrides the veto, which is logged.
 */
void migrate_point_reached_locked(struct vm *vm, struct vcpu *by)
{
	int id = by ? (int)by->id : -1;
	uint32_t gen = by ? by->generation : vm->generation;

	if (vm->mig_requested || vm->mig_waiting || vm->stopping)
		return;
	if (vm->opts.sev && !vm->mig.ready) {
		if (vm->opts.migrate_force) {
			evlog_begin(&vm->log, "migration_forced", id, gen);
			evlog_bool(&vm->log, "ready", false);
			evlog_end(&vm->log);
			fprintf(stderr, "mini-vmm: --migrate-force: migrating although the guest "
					"has not written READY to MSR_KVM_MIGRATION_CONTROL\n");
		} else {
			vm->mig_waiting = true;
			vm->mig_wait_until =
				vm->opts.sched == SCHED_SERIAL
					? vm->sched_steps +
						  vm->opts.migrate_wait_s * MIG_WAIT_STEPS_PER_S
					: now_ns() + vm->opts.migrate_wait_s * 1000000000ull;
			evlog_begin(&vm->log, "migration_wait_ready", id, gen);
			evlog_u64(&vm->log, "wait_s", vm->opts.migrate_wait_s);
			evlog_str(&vm->log, "unit",
				  vm->opts.sched == SCHED_SERIAL ? "1000 scheduler steps" : "s");
			evlog_end(&vm->log);
			return;
		}
	}
	request_locked(vm, by);
}

void migrate_on_ready_locked(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (!vm->mig_waiting)
		return;
	vm->mig_waiting = false;
	request_locked(vm, vcpu);
}

void migrate_check_wait_locked(struct vm *vm)
{
	uint64_t now = vm->opts.sched == SCHED_SERIAL ? vm->sched_steps : now_ns();

	if (!vm->mig_waiting)
		return;
	if (vm->stopping) {
		vm->mig_waiting = false;
		migrate_log_failed_locked(vm, "the guest ended before it wrote READY");
		return;
	}
	if (now < vm->mig_wait_until)
		return;
	vm->mig_waiting = false;
	vm->mig_requested = true; /* no second try */
	migrate_log_failed_locked(vm, "the guest did not write READY within --migrate-wait "
				      "(--migrate-force overrides its veto)");
}

void migrate_on_sync_locked(struct vcpu *vcpu, uint64_t tag)
{
	struct vm *vm = vcpu->vm;
	const struct migrate_at *at = &vm->opts.migrate_at;

	if (vm->opts.migrate_to.kind == MIGRATE_URI_NONE || at->by_seq || at->tag != tag ||
	    vm->mig_requested)
		return;
	if (++vm->mig_sync_hits == at->nth)
		migrate_point_reached_locked(vm, vcpu);
}

void migrate_log_failed_locked(struct vm *vm, const char *reason)
{
	evlog_begin(&vm->log, "migration_failed", -1, vm->generation);
	evlog_str(&vm->log, "reason", reason);
	evlog_end(&vm->log);
	fprintf(stderr, "mini-vmm: migration failed: %s; the guest goes on here\n", reason);
}

void migrate_bits_or_range(uint64_t *v, uint64_t first, uint64_t end)
{
	while (first < end && first % 64)
		v[first / 64] |= 1ull << (first % 64), first++;
	for (; first + 64 <= end; first += 64)
		v[first / 64] = ~0ull;
	for (; first < end; first++)
		v[first / 64] |= 1ull << (first % 64);
}

void migrate_mark_conversion_locked(struct vm *vm, uint64_t first, uint64_t count, bool to_shared)
{
	uint64_t end = first + count, at = first;
	struct encmap_run run;

	/* The pages whose bit changes: shared ones going private, or the gaps between them. */
	while (at < end) {
		bool found = encmap_next_run(&vm->encmap, at, &run);
		uint64_t s = found && run.start > at ? run.start : at;
		uint64_t e = found && run.end < end ? run.end : end;

		if (!found || run.start >= end) {
			if (to_shared)
				migrate_bits_or_range(vm->mig_dirty, at, end);
			return;
		}
		if (to_shared && run.start > at)
			migrate_bits_or_range(vm->mig_dirty, at, run.start);
		if (!to_shared)
			migrate_bits_or_range(vm->mig_dirty, s, e);
		at = run.end;
	}
}

void migrate_after_exit(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.migrate_to.kind == MIGRATE_URI_NONE)
		return;
	if (__atomic_load_n(&vm->mig_waiting, __ATOMIC_RELAXED) && vm->opts.sched == SCHED_SERIAL) {
		/* Serial: the wait counts scheduler steps, checked where they advance. */
		pthread_mutex_lock(&vm->lock);
		migrate_check_wait_locked(vm);
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	if (!vm->opts.migrate_at.by_seq || __atomic_load_n(&vm->mig_requested, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&vm->mig_waiting, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&vm->log.seq, __ATOMIC_RELAXED) < vm->opts.migrate_at.seq)
		return;
	pthread_mutex_lock(&vm->lock);
	migrate_point_reached_locked(vm, vcpu);
	pthread_mutex_unlock(&vm->lock);
}

void migrate_pause_point_slow(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->lock);
	if (vm->mig_pause) {
		vcpu->active = false;
		pthread_cond_broadcast(&vm->cond);
		while (vm->mig_pause && !vm->stopping)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vcpu->active = true;
	}
	pthread_mutex_unlock(&vm->lock);
}

bool migrate_quiet_locked(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].active)
			return false;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].held) {
			if (vm->mig_finish != i + 1) {
				vm->mig_finish = i + 1;
				pthread_cond_broadcast(&vm->cond);
			}
			return false;
		}
	vm->mig_finish = 0;
	return true;
}

void migrate_log_arrival_locked(struct vm *vm)
{
	uint64_t first = vm->t_first_run_real_ns;
	char uri[160];

	if (vm->opts.incoming.kind == MIGRATE_URI_NONE || vm->mig_arrival_logged || !first)
		return;
	vm->mig_arrival_logged = true;
	evlog_begin(&vm->log, "migration_done", -1, vm->generation);
	evlog_str(&vm->log, "side", "destination");
	evlog_str(&vm->log, "from", migrate_uri_str(&vm->opts.incoming, uri, sizeof(uri)));
	evlog_u64(&vm->log, "total_ms", (vm->t_first_run_ns - vm->mig_t_begin_ns) / 1000000);
	/* From the source's stop of its last vCPU to this side's first KVM_RUN. */
	evlog_u64(&vm->log, "downtime_us",
		  first > vm->mig_stop_real_ns ? (first - vm->mig_stop_real_ns) / 1000 : 0);
	evlog_u64(&vm->log, "bytes", vm->mig_bytes);
	evlog_u64(&vm->log, "rounds", vm->mig_rounds);
	evlog_u64(&vm->log, "pages_shared", vm->mig_pages_shared);
	evlog_u64(&vm->log, "pages_private", vm->mig_pages_private);
	evlog_end(&vm->log);
}
