// SPDX-License-Identifier: GPL-2.0-only
#include "vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "device.h"
#include "hypercall.h"
#include "migrate_hook.h"
#include "msr.h"
#include "schedule.h"
#include "ucall.h"
#include "util.h"
#include "oracle.h"
#include "x86.h"

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *vcpu = &vm->vcpus[id];
	int r;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->rng = vm->opts.seed * 0x9e3779b97f4a7c15ull + id + 1;
	vcpu->fd = kvm_ioctl(vm->fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (vcpu->fd < 0)
		return vcpu->fd;
	vcpu->run = mmap(NULL, (size_t)vm->sys.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		r = -errno;
		vcpu->run = NULL;
		fprintf(stderr, "mini-vmm: mmap of vCPU %u run area: %s\n", id, strerror(-r));
		return r;
	}
	r = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, vm->cpuid);
	if (r < 0)
		return r;
	if (vm->pvm_msr && x86_set_msr(vcpu->fd, MSR_PVM_NATIVE, 1) != 1) {
		fprintf(stderr, "mini-vmm: vCPU %u: kvm_pvm native-mode MSR refused\n", id);
		return -EIO;
	}
	/* Required by vm_create(): every exit handler reads the sync regs. */
	vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->sys.vcpu_mmap_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

int vcpu_load_start_state(struct vcpu *vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	r = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return r;
	x86_long_mode_sregs(&sregs, vcpu->start_cr3, vcpu->vm->layout.gdt);
	r = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs);
	if (r < 0)
		return r;
	memset(&regs, 0, sizeof(regs));
	regs.rip = vcpu->start_rip;
	regs.rsp = vcpu->start_rsp;
	regs.rdi = vcpu->start_rdi;
	regs.rflags = 0x2;
	r = kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs);
	if (r < 0)
		return r;
	vcpu->run->kvm_dirty_regs = 0;
	/*
	 * Measured on kvm_pvm: a vCPU that has already run falls back to
	 * emulating every instruction after KVM_SET_SREGS/KVM_SET_REGS unless
	 * the native-mode MSR is written again (docs/pvm-notes.md).
	 */
	if (vcpu->vm->pvm_msr && x86_set_msr(vcpu->fd, MSR_PVM_NATIVE, 1) != 1)
		return -EIO;
	return 0;
}

static bool io_data(struct vcpu *vcpu, uint8_t **data)
{
	struct kvm_run *run = vcpu->run;
	uint64_t len = (uint64_t)run->io.size * run->io.count;

	/*
	 * KVM sets data_offset (one page in); a fabricated or corrupt one must
	 * neither escape the mapping nor overlap struct kvm_run itself.
	 */
	if (run->io.size == 0 || run->io.size > 8 || run->io.count == 0 ||
	    run->io.data_offset < sizeof(struct kvm_run) ||
	    !range_within(run->io.data_offset, len, 0, (uint64_t)vcpu->vm->sys.vcpu_mmap_size))
		return false;
	*data = (uint8_t *)run + run->io.data_offset;
	return true;
}

enum vcpu_action vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	uint8_t *data;

	if (!io_data(vcpu, &data)) {
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: malformed I/O exit (size %u count %u)",
			vcpu->id, run->io.size, run->io.count);
		return ACT_STOP;
	}
	if (run->io.direction == KVM_EXIT_IO_IN) {
		/* Nothing here is readable: all ones, like an empty ISA bus. */
		memset(data, 0xff, (size_t)run->io.size * run->io.count);
		return ACT_CONTINUE;
	}
	switch (run->io.port) {
	case MINIVMM_PORT_NULL:
		/* What the hypercall path does to the vCPU, minus the handler. */
		run->s.regs.regs.rax = 0;
		run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return ACT_CONTINUE;
	case MINIVMM_PORT_CONSOLE: {
		FILE *out = vm->log.f == stdout ? stderr : stdout;

		for (uint32_t i = 0; i < run->io.count; i++)
			putc(data[i * run->io.size], out);
		return ACT_CONTINUE;
	}
	case MINIVMM_PORT_UCALL:
		return ucall_handle(vcpu, run->s.regs.regs.rdi);
	case MINIVMM_PORT_HYPERCALL: {
		struct kvm_regs *regs = &run->s.regs.regs;
		struct hc_call call = {
			.nr = regs->rax,
			.args = {regs->rbx, regs->rcx, regs->rdx, regs->rsi},
			.transport = HC_TRANSPORT_PORT,
		};

		regs->rax = (uint64_t)hypercall_handle(vcpu, &call);
		run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return vm->stopping ? ACT_STOP : ACT_CONTINUE;
	}
	default:
		break;
	}
	pthread_mutex_lock(&vm->lock);
	evlog_begin(&vm->log, "io_unhandled", (int)vcpu->id, vm->generation);
	evlog_hex(&vm->log, "port", run->io.port);
	evlog_u64(&vm->log, "size", run->io.size);
	evlog_end(&vm->log);
	pthread_mutex_unlock(&vm->lock);
	return ACT_CONTINUE;
}

static enum vcpu_action dispatch_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return vcpu_handle_io(vcpu);
	case KVM_EXIT_HYPERCALL: {
		struct hc_call call = {
			.nr = run->hypercall.nr,
			.args = {run->hypercall.args[0], run->hypercall.args[1],
				 run->hypercall.args[2],
				 /* KVM passes a0..a2 only; RSI (a3) from the sync regs */
				 run->s.regs.regs.rsi},
			.transport = vm->transport,
		};

		run->hypercall.ret = (uint64_t)hypercall_handle(vcpu, &call);
		return vm->stopping ? ACT_STOP : ACT_CONTINUE;
	}
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		msr_handle_exit(vcpu);
		return vm->stopping ? ACT_STOP : ACT_CONTINUE;
	case KVM_EXIT_MMIO:
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		pthread_mutex_lock(&vm->lock);
		evlog_begin(&vm->log, "mmio_unhandled", (int)vcpu->id, vm->generation);
		evlog_hex(&vm->log, "gpa", run->mmio.phys_addr);
		evlog_bool(&vm->log, "write", run->mmio.is_write);
		evlog_end(&vm->log);
		pthread_mutex_unlock(&vm->lock);
		return ACT_CONTINUE;
	case KVM_EXIT_HLT:
		vm_stop(vm, EXIT_GUEST_CRASH,
			"vCPU %u halted (hlt at rip %#llx) without reporting DONE", vcpu->id,
			run->s.regs.regs.rip);
		return ACT_STOP;
	case KVM_EXIT_SHUTDOWN:
		return ACT_SHUTDOWN;
	case KVM_EXIT_FAIL_ENTRY:
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: KVM_EXIT_FAIL_ENTRY, reason %#llx",
			vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return ACT_STOP;
	case KVM_EXIT_INTERNAL_ERROR: {
		char extra[128] = "";
		uint32_t n = run->internal.ndata;

		if (n > 0)
			snprintf(extra, sizeof(extra), ", data[0] %#llx",
				 (unsigned long long)run->internal.data[0]);
		vm_stop(vm, EXIT_GUEST_CRASH,
			"vCPU %u: KVM_EXIT_INTERNAL_ERROR, suberror %u%s (rip %#llx)", vcpu->id,
			run->internal.suberror, extra, run->s.regs.regs.rip);
		return ACT_STOP;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: system event %u (reset or shutdown)",
			vcpu->id, run->system_event.type);
		return ACT_STOP;
	default:
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: unexpected exit reason %u (%s)", vcpu->id,
			run->exit_reason, kvm_exit_reason_name(run->exit_reason));
		return ACT_STOP;
	}
}

enum vcpu_action vcpu_handle_exit(struct vcpu *vcpu)
{
	enum vcpu_action act = dispatch_exit(vcpu);

	/* Counted once the action is known: the memory check's exit is not one (ACT_QUIET). */
	if (act != ACT_QUIET)
		vcpu->exits++;
	return act;
}

static bool inject_holds_ucalls(const struct vm_opts *o)
{
	for (unsigned i = 0; i < o->nr_inject; i++)
		if (o->inject[i].kinds & INJ_UCALL)
			return true;
	return false;
}

static void report_shutdown(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;
	char buf[160] = "no exception recorded";
	uint64_t rip = vcpu->run->s.regs.regs.rip;

	/* docs/PVM.md: no exception delivery natively; the last vector is here. */
	if (kvm_ioctl_raw(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0 &&
	    (ev.exception.injected || ev.exception.pending || ev.exception.nr)) {
		snprintf(buf, sizeof(buf), "last exception vector %u, error code %#x%s",
			 ev.exception.nr, ev.exception.has_error_code ? ev.exception.error_code : 0,
			 ev.exception.has_error_code ? "" : " (none)");
	}
	vm_stop(vcpu->vm, EXIT_GUEST_CRASH,
		"vCPU %u: triple fault (KVM_EXIT_SHUTDOWN) at rip %#" PRIx64 ", %s", vcpu->id, rip,
		buf);
}

/*
 * A signal (watchdog kick) interrupted KVM_RUN. If the vCPU sits on a
 * vmcall/vmmcall that this hypervisor re-executes forever (kvm_pvm, see
 * docs/PVM.md), stop instead of waiting for the timeout. A verdict, so it
 * may look with the oracle's eyes (guest page tables, plaintext): a real
 * SEV host could not read the instruction.
 */
static bool spinning_on_hypercall(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	uint64_t rip = vcpu->run->s.regs.regs.rip;
	struct kvm_sregs sregs;
	uint64_t gpa;
	const uint8_t *insn;

	if (kvm_ioctl_raw(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return false;
	if (x86_gva_to_gpa(&vm->mem, sregs.cr3, rip, &gpa) < 0)
		return false;
	insn = mem_gpa_to_hva(&vm->mem, gpa, 3);
	if (!insn || insn[0] != 0x0f || insn[1] != 0x01 || (insn[2] != 0xc1 && insn[2] != 0xd9)) {
		vcpu->vmcall_spins = 0;
		return false;
	}
	if (vcpu->last_intr_rip == rip)
		vcpu->vmcall_spins++;
	else
		vcpu->vmcall_spins = 1;
	vcpu->last_intr_rip = rip;
	if (vcpu->vmcall_spins < 2)
		return false;
	vm_stop(vm, EXIT_GUEST_CRASH,
		"vCPU %u: guest executes %s at rip %#" PRIx64
		" and the hypervisor (%s) re-executes it "
		"without an exit: hypercalls need the port transport here",
		vcpu->id, insn[2] == 0xc1 ? "vmcall" : "vmmcall", rip, vm->sys.hv_name);
	return true;
}

static bool wait_until_started(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go;

	pthread_mutex_lock(&vm->lock);
	vcpu->active = false;
	pthread_cond_broadcast(&vm->cond); /* a migration may wait for it */
	while (!vm->stopping && (vcpu->state != VCPU_PENDING || vm->mig_pause))
		pthread_cond_wait(&vm->cond, &vm->lock);
	go = !vm->stopping;
	vcpu->active = go;
	pthread_mutex_unlock(&vm->lock);
	if (!go)
		return false;
	if (vcpu_load_start_state(vcpu) < 0) {
		vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: cannot load start state", vcpu->id);
		return false;
	}
	pthread_mutex_lock(&vm->lock);
	vcpu->state = VCPU_RUNNING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;

	if (vcpu->state == VCPU_RUNNING) {
		/* Restored by a migration: it goes on where it stopped. */
		pthread_mutex_lock(&vm->lock);
		vcpu->active = true;
		pthread_mutex_unlock(&vm->lock);
	} else if (!wait_until_started(vcpu)) {
		goto out;
	}
	for (;;) {
		enum vcpu_action act;
		int r;

		if (!sched_wait_turn(vcpu))
			break;
		migrate_pause_point(vcpu);
		if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
			break;
		if (!vm->t_first_run_ns) {
			vm->t_first_run_real_ns = now_real_ns();
			vm->t_first_run_ns = now_ns();
			if (vm->opts.incoming.kind != MIGRATE_URI_NONE) {
				pthread_mutex_lock(&vm->lock);
				migrate_log_arrival_locked(vm);
				pthread_mutex_unlock(&vm->lock);
			}
		}
		r = kvm_ioctl_raw(vcpu->fd, KVM_RUN, NULL);
		if (r < 0) {
			if (r != -EINTR && r != -EAGAIN) {
				vm_stop(vm, EXIT_GUEST_CRASH, "vCPU %u: KVM_RUN failed: %s",
					vcpu->id, strerror(-r));
				break;
			}
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
				break;
			if (spinning_on_hypercall(vcpu))
				break;
			/* A kick is wall-clock driven: never a scheduling point. */
			continue;
		}
		/*
		 * The guest's memory check (ACT_QUIET) is no exit of the model:
		 * never held. Peeked at only when a rule could hold a ucall.
		 */
		if (!inject_holds_ucalls(&vm->opts) || !ucall_exit_is_quiet(vcpu))
			sched_inject(vcpu);
		act = vcpu_handle_exit(vcpu);
		if (act == ACT_QUIET)
			continue;
		if (act == ACT_SHUTDOWN) {
			report_shutdown(vcpu);
			act = ACT_STOP;
		}
		if (act == ACT_STOP || vm->stopping)
			break;
		migrate_after_exit(vcpu);
		if (vcpu->finish_at_stop) {
			/* Handled as part of a migration's stop (wait_held_locked). */
			vcpu->finish_at_stop = false;
			if (act == ACT_PARK && !wait_until_started(vcpu))
				break;
			continue;
		}
		if (act == ACT_PARK) {
			sched_after_exit(vcpu, act);
			if (!wait_until_started(vcpu))
				break;
			continue;
		}
		device_after_exit(vcpu);
		sched_after_exit(vcpu, act);
	}
out:
	pthread_mutex_lock(&vm->lock);
	vcpu->active = false;
	vcpu->state = VCPU_DEAD;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	sched_vcpu_gone(vcpu);
	return NULL;
}

int vcpu_start_thread(struct vcpu *vcpu)
{
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (r) {
		fprintf(stderr, "mini-vmm: cannot start vCPU %u thread: %s\n", vcpu->id,
			strerror(r));
		return -r;
	}
	vcpu->thread_started = true;
	return 0;
}
