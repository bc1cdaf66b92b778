// SPDX-License-Identifier: GPL-2.0-only
#include "schedule.h"

#include <sched.h>
#include <unistd.h>

#include "minivmm/abi.h"

/* splitmix64: tiny, good enough, and the same on every host. */
uint64_t sched_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sched_init(struct vm *vm)
{
	vm->sched_rng = vm->opts.seed;
	vm->sched_current = 0;
}

static bool runnable(const struct vcpu *v)
{
	return v->state == VCPU_RUNNING || v->state == VCPU_PENDING;
}

/* Lock held. Pick the next vCPU; held ones only if nothing else can run. */
static void pick_next_locked(struct vm *vm)
{
	unsigned cand[VM_MAX_VCPUS], n = 0, held[VM_MAX_VCPUS], nh = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!runnable(v))
			continue;
		if (v->inject_hold) {
			v->inject_hold--;
			held[nh++] = i;
		} else {
			cand[n++] = i;
		}
	}
	vm->sched_steps++;
	if (!n && nh) {
		for (unsigned i = 0; i < nh; i++)
			vm->vcpus[held[i]].inject_hold = 0;
		for (unsigned i = 0; i < nh; i++)
			cand[n++] = held[i];
	}
	vm->sched_current = n ? (int)cand[sched_rand(&vm->sched_rng) % n] : -1;
	pthread_cond_broadcast(&vm->cond);
}

bool sched_wait_turn(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go;

	if (vm->opts.sched != SCHED_SERIAL)
		return !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&vm->lock);
	/*
	 * Only the vCPU holding the turn picks the next one (after an exit, a
	 * park or its end): a waiter that picked would draw from the PRNG at
	 * a time that depends on thread timing. A waiting vCPU is quiet for a
	 * migration (vmm/migrate.h), which holds every turn while it runs.
	 */
	if (vm->sched_current != (int)vcpu->id || vm->mig_pause) {
		vcpu->active = false;
		pthread_cond_broadcast(&vm->cond);
		while (!vm->stopping && (vm->sched_current != (int)vcpu->id || vm->mig_pause))
			pthread_cond_wait(&vm->cond, &vm->lock);
	}
	go = !vm->stopping;
	vcpu->active = go;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

void sched_after_exit(struct vcpu *vcpu, enum vcpu_action act)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.sched != SCHED_SERIAL) {
		if (act == ACT_YIELD)
			sched_yield();
		return;
	}
	pthread_mutex_lock(&vm->lock);
	pick_next_locked(vm);
	pthread_mutex_unlock(&vm->lock);
}

static bool rule_matches(const struct vcpu *vcpu, const struct inject_rule *r)
{
	const struct kvm_run *run = vcpu->run;
	unsigned kind = 0;

	if (r->vcpu >= 0 && (unsigned)r->vcpu != vcpu->id)
		return false;
	switch (run->exit_reason) {
	case KVM_EXIT_HYPERCALL:
		kind = INJ_HYPERCALL;
		break;
	case KVM_EXIT_IO:
		if (run->io.port == MINIVMM_PORT_HYPERCALL)
			kind = INJ_HYPERCALL;
		else if (run->io.port == MINIVMM_PORT_UCALL)
			kind = INJ_UCALL;
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		kind = INJ_MSR;
		break;
	default:
		break;
	}
	return (kind & r->kinds) != 0;
}

void sched_inject(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	for (unsigned i = 0; i < vm->opts.nr_inject; i++) {
		const struct inject_rule *r = &vm->opts.inject[i];

		if (!rule_matches(vcpu, r))
			continue;
		if (sched_rand(&vcpu->rng) % 1000000 >= r->prob_ppm)
			continue;
		pthread_mutex_lock(&vm->lock);
		evlog_begin(&vm->log, "inject", (int)vcpu->id, vcpu->generation);
		evlog_u64(&vm->log, "rule", i);
		evlog_u64(&vm->log, "exit_reason", vcpu->run->exit_reason);
		evlog_u64(&vm->log, "delay", r->delay_us);
		evlog_end(&vm->log);
		if (vm->opts.sched == SCHED_SERIAL) {
			vcpu->inject_hold = r->delay_us;
			pick_next_locked(vm);
			pthread_mutex_unlock(&vm->lock);
			sched_wait_turn(vcpu);
		} else {
			pthread_mutex_unlock(&vm->lock);
			usleep((useconds_t)r->delay_us);
		}
		return;
	}
}

void sched_vcpu_gone(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.sched != SCHED_SERIAL)
		return;
	pthread_mutex_lock(&vm->lock);
	if (vm->sched_current == (int)vcpu->id)
		pick_next_locked(vm);
	pthread_mutex_unlock(&vm->lock);
}
