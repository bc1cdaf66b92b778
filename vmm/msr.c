// SPDX-License-Identifier: GPL-2.0-only
#include "msr.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "check.h"
#include "migrate_hook.h"
#include "minivmm/abi.h"
#include "util.h"
#include "machine.h"

enum msr_result msr_policy(bool sev, uint32_t index, bool write, uint64_t data, uint64_t vcpu_value,
			   uint64_t *read_value)
{
	*read_value = 0;
	switch (index) {
	case MSR_KVM_MIGRATION_CONTROL:
		/* Only offered with KVM_FEATURE_MIGRATION_CONTROL (--sev). */
		if (!sev)
			return MSR_RES_GP;
		if (write)
			return (data & ~KVM_MIGRATION_READY) ? MSR_RES_GP : MSR_RES_OK;
		*read_value = vcpu_value;
		return MSR_RES_OK;
	case MSR_AMD64_SEV:
		if (write)
			return MSR_RES_GP;
		*read_value = sev ? MSR_AMD64_SEV_ENABLED : 0;
		return MSR_RES_OK;
	default:
		return MSR_RES_GP;
	}
}

static void migration_update(struct vm *vm, struct vcpu *vcpu, uint64_t value)
{
	struct migration_state *m = &vm->mig;
	bool ready = value & KVM_MIGRATION_READY;
	uint64_t now = now_ns();

	vcpu->migration_ctl = value;
	if (ready == m->ready)
		return;
	if (ready) {
		m->blocked_ns += now - m->last_change_ns;
		m->blocked_events += vm->log.seq - m->blocked_since_seq;
	} else {
		m->windows++;
		m->blocked_since_seq = vm->log.seq;
	}
	m->ready = ready;
	m->last_change_ns = now;
}

void msr_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	bool write = run->exit_reason == KVM_EXIT_X86_WRMSR;
	uint64_t value;
	enum msr_result res;

	pthread_mutex_lock(&vm->lock);
	res = msr_policy(vm->opts.sev, run->msr.index, write, run->msr.data, vcpu->migration_ctl,
			 &value);
	evlog_begin(&vm->log, write ? "wrmsr" : "rdmsr", (int)vcpu->id, vcpu->generation);
	evlog_hex(&vm->log, "msr", run->msr.index);
	evlog_hex(&vm->log, "value", write ? run->msr.data : value);
	evlog_str(&vm->log, "result", res == MSR_RES_OK ? "ok" : "gp");
	if (res == MSR_RES_OK && write && run->msr.index == MSR_KVM_MIGRATION_CONTROL) {
		bool was = vm->mig.ready;

		migration_update(vm, vcpu, run->msr.data);
		evlog_bool(&vm->log, "migratable", vm->mig.ready);
		evlog_end(&vm->log);
		if (was != vm->mig.ready)
			check_snapshot_locked(vm, vcpu, vm->mig.ready ? "migratable" : "blocked");
		if (!was && vm->mig.ready)
			migrate_on_ready_locked(vcpu);
	} else {
		evlog_end(&vm->log);
	}
	if (!write)
		run->msr.data = value;
	run->msr.error = res == MSR_RES_GP;
	pthread_mutex_unlock(&vm->lock);
}

int msr_install_filter(struct vm *vm)
{
	static uint8_t deny = 0; /* bit clear = deny = exit to userspace */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args = {KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN |
			 KVM_MSR_EXIT_REASON_INVAL},
	};
	struct kvm_msr_filter filter;
	int r;

	if (!vm->sys.has_user_msr || !vm->sys.has_msr_filter) {
		fprintf(stderr, "mini-vmm: KVM lacks KVM_CAP_X86_USER_SPACE_MSR/MSR_FILTER\n");
		return -ENOTSUP;
	}
	r = kvm_ioctl(vm->fd, KVM_ENABLE_CAP, &cap);
	if (r < 0)
		return r;
	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	filter.ranges[0] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 1,
		.base = MSR_KVM_MIGRATION_CONTROL,
		.bitmap = &deny,
	};
	filter.ranges[1] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 1,
		.base = MSR_AMD64_SEV,
		.bitmap = &deny,
	};
	return kvm_ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &filter);
}
