// SPDX-License-Identifier: GPL-2.0-only
#include "ucall.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sync.h"
#include "hostmem.h"
#include "util.h"
#include "verify.h"

static const char *const cmd_names[UCALL_MAX] = {
	[UCALL_NONE] = "none",	 [UCALL_DONE] = "done",	    [UCALL_ABORT] = "abort",
	[UCALL_SYNC] = "sync",	 [UCALL_CPU_ON] = "cpu_on", [UCALL_PARK] = "park",
	[UCALL_YIELD] = "yield", [UCALL_PRINT] = "print",
};

const char *ucall_cmd_name(uint32_t cmd)
{
	return cmd < UCALL_MAX && cmd_names[cmd] ? cmd_names[cmd] : "invalid";
}

int ucall_fetch(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, struct ucall *out)
{
	int r;

	if (!IS_ALIGNED(gpa, 8))
		return -EINVAL;
	if (!mem_ucall_visible(hm->mem, gpa, sizeof(*out)))
		return -EFAULT;
	/* One copy: the guest may change it under our feet (TOCTOU). */
	r = hostmem_read(hm, cr3, gpa, out, sizeof(*out));
	if (r == -EFAULT)
		return r;
	if (r != HOSTMEM_PLAIN)
		return -EACCES;
	if (out->cmd == UCALL_NONE || out->cmd >= UCALL_MAX || out->nargs > UCALL_MAX_ARGS)
		return -EINVAL;
	return 0;
}

int guest_read_string(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, char *buf, size_t size)
{
	size_t i = 0;

	if (!size)
		return -EINVAL;
	/* Page by page: a string may run into a page the guest keeps private. */
	while (i + 1 < size) {
		uint64_t at = gpa + i, left = PAGE_SIZE - (at & (PAGE_SIZE - 1));
		size_t n = size - 1 - i < left ? size - 1 - i : left;
		char *nul;
		int r;

		if (at < gpa)
			break;
		/* Visible bytes only: RAM ends at a page boundary, as do ucall pages. */
		if (!mem_ucall_visible(hm->mem, at, n)) {
			if (!i && !mem_ucall_visible(hm->mem, at, 1))
				return -EFAULT;
			break;
		}
		r = hostmem_read(hm, cr3, at, buf + i, n);
		if (r < 0 && r != -ENOTSUP)
			return r;
		if (r != HOSTMEM_PLAIN)
			return -EACCES;
		nul = memchr(buf + i, '\0', n);
		if (nul)
			return 0;
		i += n;
	}
	buf[i] = '\0';
	return 0;
}

static void set_ret(struct vcpu *vcpu, int64_t ret)
{
	vcpu->run->s.regs.regs.rax = (uint64_t)ret;
	vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

/* A string argument as the host sees it, or a note saying why it cannot. */
static void read_arg_string(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, char *buf,
			    size_t size)
{
	int r = guest_read_string(hm, cr3, gpa, buf, size);

	if (r == -EACCES)
		snprintf(buf, size,
			 "<string at %#" PRIx64 " is in a private page: the host sees only "
			 "ciphertext there>",
			 gpa);
	else if (r < 0)
		snprintf(buf, size, "<bad pointer %#" PRIx64 ">", gpa);
}

static enum vcpu_action do_abort(struct vcpu *vcpu, const struct ucall *uc, uint64_t cr3)
{
	struct vm *vm = vcpu->vm;
	char expr[UCALL_STR_MAX], file[UCALL_STR_MAX];

	read_arg_string(&vm->hostmem, cr3, uc->args[0], expr, sizeof(expr));
	read_arg_string(&vm->hostmem, cr3, uc->args[1], file, sizeof(file));
	pthread_mutex_lock(&vm->lock);
	evlog_begin(&vm->log, "guest_abort", (int)vcpu->id, vcpu->generation);
	evlog_str(&vm->log, "expr", expr);
	evlog_str(&vm->log, "file", file);
	evlog_u64(&vm->log, "line", uc->args[2]);
	evlog_hex(&vm->log, "value", uc->args[3]);
	evlog_end(&vm->log);
	vm_stop_locked(vm, EXIT_GUEST_CRASH,
		       "vCPU %u: guest assertion failed: %s:%" PRIu64 ": %s (value %#" PRIx64 ")",
		       vcpu->id, file, uc->args[2], expr, uc->args[3]);
	pthread_mutex_unlock(&vm->lock);
	return ACT_STOP;
}

static enum vcpu_action do_print(struct vcpu *vcpu, const struct ucall *uc, uint64_t cr3)
{
	struct vm *vm = vcpu->vm;
	uint64_t len = uc->args[1] > UCALL_PRINT_MAX ? UCALL_PRINT_MAX : uc->args[1];
	char buf[UCALL_PRINT_MAX];
	int r = -EFAULT;

	if (mem_ucall_visible(&vm->mem, uc->args[0], len))
		r = hostmem_read(&vm->hostmem, cr3, uc->args[0], buf, len);
	if (r != HOSTMEM_PLAIN) {
		vm_stop(vm, EXIT_GUEST_CRASH,
			r == -EFAULT ? "vCPU %u: PRINT buffer %#" PRIx64 " outside RAM"
				     : "vCPU %u: PRINT buffer %#" PRIx64 " is in a private page: "
				       "the host sees only ciphertext there",
			vcpu->id, uc->args[0]);
		return ACT_STOP;
	}
	fwrite(buf, 1, len, vm_console(vm));
	return ACT_CONTINUE;
}

static enum vcpu_action do_cpu_on(struct vcpu *vcpu, const struct ucall *uc)
{
	struct vm *vm = vcpu->vm;
	uint64_t cpu = uc->args[0], cr3 = uc->args[4];
	int64_t ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (cpu >= vm->nr_vcpus || cpu == vcpu->id)
		ret = -EINVAL;
	else if (vm->vcpus[cpu].state != VCPU_OFF)
		ret = -EBUSY;
	else if (!IS_ALIGNED(cr3, PAGE_SIZE) || !mem_is_backed(&vm->mem, cr3, PAGE_SIZE))
		ret = -EFAULT;
	evlog_begin(&vm->log, "cpu_on", (int)vcpu->id, vcpu->generation);
	evlog_u64(&vm->log, "cpu", cpu);
	evlog_hex(&vm->log, "rip", uc->args[1]);
	evlog_hex(&vm->log, "cr3", cr3);
	evlog_i64(&vm->log, "ret", ret);
	evlog_end(&vm->log);
	if (!ret) {
		struct vcpu *t = &vm->vcpus[cpu];

		t->start_rip = uc->args[1];
		t->start_rsp = uc->args[2];
		t->start_rdi = uc->args[3];
		t->start_cr3 = cr3;
		t->generation = vcpu->generation;
		t->state = VCPU_PENDING;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	set_ret(vcpu, ret);
	return ACT_CONTINUE;
}

/* The guest's memory check: its report is in this vCPU's ucall page. */
static enum vcpu_action verify_sync(struct vcpu *vcpu, const struct ucall *uc, uint64_t gpa,
				    uint64_t cr3)
{
	struct minivmm_verify_report rep;
	/* In the page of the struct ucall (ucall_fetch found it in RAM). */
	int r = hostmem_read(&vcpu->vm->hostmem, cr3,
			     (gpa & ~(uint64_t)(PAGE_SIZE - 1)) + MINIVMM_UCALL_DATA, &rep,
			     sizeof(rep));
	enum vcpu_action act;

	/* Private there: the host read ciphertext, not a report. */
	if (r == HOSTMEM_CIPHERTEXT)
		r = -EACCES;
	act = check_on_sync(vcpu, uc);
	pthread_mutex_lock(&vcpu->vm->lock);
	verify_report_locked(vcpu, &rep, r);
	pthread_mutex_unlock(&vcpu->vm->lock);
	return act == ACT_CONTINUE ? ACT_QUIET : act;
}

/* Under SEV the host view of a page depends on the caller's mapping: its CR3 (else 0). */
static int caller_cr3(const struct vcpu *vcpu, uint64_t *cr3)
{
	struct kvm_sregs sregs;

	*cr3 = 0;
	if (!vcpu->vm->hostmem.cbit_mask)
		return 0;
	if (kvm_ioctl_raw(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	*cr3 = sregs.cr3;
	return 0;
}

bool ucall_exit_is_quiet(const struct vcpu *vcpu)
{
	const struct kvm_run *run = vcpu->run;
	struct ucall uc;
	uint64_t cr3;

	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != MINIVMM_PORT_UCALL || caller_cr3(vcpu, &cr3) < 0)
		return false;
	return ucall_fetch(&vcpu->vm->hostmem, cr3, run->s.regs.regs.rdi, &uc) == 0 &&
	       uc.cmd == UCALL_SYNC && uc.args[0] == SYNC_MIGRATION_VERIFY;
}

enum vcpu_action ucall_handle(struct vcpu *vcpu, uint64_t gpa)
{
	struct vm *vm = vcpu->vm;
	struct ucall uc;
	uint64_t cr3 = 0;
	int r;

	if (caller_cr3(vcpu, &cr3) < 0) {
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: cannot read CR3 for a ucall", vcpu->id);
		return ACT_STOP;
	}
	r = ucall_fetch(&vm->hostmem, cr3, gpa, &uc);
	if (r < 0) {
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: bad ucall pointer %#" PRIx64 ": %s",
			vcpu->id, gpa,
			r == -EFAULT   ? "not inside guest RAM or a ucall page (or in a reserved "
					 "region)"
			: r == -EACCES ? "the struct is in a page the guest maps private: the host "
					 "sees only ciphertext there"
				       : "misaligned or malformed struct ucall");
		return ACT_STOP;
	}
	switch (uc.cmd) {
	case UCALL_DONE:
		pthread_mutex_lock(&vm->lock);
		evlog_begin(&vm->log, "ucall", (int)vcpu->id, vcpu->generation);
		evlog_str(&vm->log, "cmd", "done");
		evlog_u64(&vm->log, "status", uc.args[0]);
		evlog_end(&vm->log);
		if (uc.args[0] == 0)
			vm_stop_locked(vm, EXIT_OK, "guest finished");
		else
			vm_stop_locked(vm, EXIT_GUEST_CRASH,
				       "guest reported failure, status %" PRIu64, uc.args[0]);
		pthread_mutex_unlock(&vm->lock);
		return ACT_STOP;
	case UCALL_ABORT:
		return do_abort(vcpu, &uc, cr3);
	case UCALL_SYNC:
		if (uc.args[0] == SYNC_MIGRATION_VERIFY)
			return verify_sync(vcpu, &uc, gpa, cr3);
		return check_on_sync(vcpu, &uc);
	case UCALL_CPU_ON:
		return do_cpu_on(vcpu, &uc);
	case UCALL_PARK:
		pthread_mutex_lock(&vm->lock);
		evlog_begin(&vm->log, "ucall", (int)vcpu->id, vcpu->generation);
		evlog_str(&vm->log, "cmd", "park");
		evlog_end(&vm->log);
		vcpu->state = VCPU_OFF;
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		return ACT_PARK;
	case UCALL_YIELD:
		return ACT_YIELD;
	case UCALL_PRINT:
		return do_print(vcpu, &uc, cr3);
	default:
		break;
	}
	vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: unknown ucall %u", vcpu->id, uc.cmd);
	return ACT_STOP;
}
