// SPDX-License-Identifier: GPL-2.0-only
#include "device.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "hostmem.h"
#include "log.h"
#include "schedule.h"
#include "util.h"
#include "machine.h"

void device_init(struct device *d, uint64_t seed, uint32_t rate_ppm)
{
	memset(d, 0, sizeof(*d));
	d->rate_ppm = rate_ppm;
	/* A stream of its own: never the scheduler's or a vCPU's. */
	d->rng = seed ^ 0xd1b54a32d192ed03ull;
	d->next_id = 1;
}

void device_boot_locked(struct device *d, bool driver)
{
	d->on = driver;
	d->nr_open = 0;
}

void device_shutdown_locked(struct vcpu *vcpu, bool stop)
{
	struct vm *vm = vcpu->vm;

	if (!stop)
		return; /* a driver without .shutdown: the device goes on */
	vm->device.on = false;
	evlog_begin(&vm->log, "device_stop", (int)vcpu->id, vcpu->generation);
	evlog_u64(&vm->log, "open_requests", vm->device.nr_open);
	evlog_u64(&vm->log, "raised", vm->device.raised);
	evlog_end(&vm->log);
}

/*
 * Append one interrupt to the vCPU's queue in its ucall page, through the
 * host view: the page is shared by firmware, but a guest that maps it
 * private would make the write land as garbage, so that is refused.
 */
static int queue_irq(struct vcpu *vcpu, uint32_t kind, uint32_t id)
{
	struct vm *vm = vcpu->vm;
	uint64_t q = MEM_UCALL_GPA + (uint64_t)vcpu->id * PAGE_SIZE + MINIVMM_IRQ_QUEUE;
	struct minivmm_irq_queue head;
	struct minivmm_irq_slot slot = {kind, id};
	uint64_t cr3 = 0;
	int r;

	if (vm->hostmem.cbit_mask) {
		struct kvm_sregs sregs;

		if (kvm_ioctl_raw(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
			return -EIO;
		cr3 = sregs.cr3;
	}
	r = hostmem_read(&vm->hostmem, cr3, q, &head, 2 * sizeof(uint32_t));
	if (r != HOSTMEM_PLAIN)
		return r < 0 ? r : -EACCES;
	/* The guest owns tail: a queue it claims is over-full just holds. */
	if (head.head - head.tail >= MINIVMM_IRQ_SLOTS)
		return -ENOSPC;
	r = hostmem_write(&vm->hostmem, cr3,
			  q + offsetof(struct minivmm_irq_queue, slot) +
				  (head.head % MINIVMM_IRQ_SLOTS) * sizeof(slot),
			  &slot, sizeof(slot));
	if (r == 0) {
		head.head++;
		r = hostmem_write(&vm->hostmem, cr3, q, &head.head, sizeof(head.head));
	}
	return r;
}

/*
 * Lock held. Which interrupt to raise at this exit, if any: drawn from
 * the device's PRNG, or the recorded one when a schedule is replayed
 * (schedule.h). false: none. *slot: the open request it completes.
 */
static bool device_decide_locked(struct vcpu *vcpu, uint32_t *kind, uint32_t *id, unsigned *slot)
{
	struct device *d = &vcpu->vm->device;
	int r = sched_replay_irq_locked(vcpu, kind, id);

	if (r == 0)
		return false;
	if (r > 0) {
		for (*slot = 0; *kind == IRQ_REQ_DONE && *slot < d->nr_open; ++*slot)
			if (d->open[*slot] == *id)
				return true;
		if (*kind == IRQ_REQ_NEW && *id == d->next_id && d->nr_open < DEVICE_MAX_OPEN)
			return true;
		sched_mismatch_locked(vcpu,
				      "the recorded interrupt (%s request %u) cannot be raised on "
				      "vCPU %u at exit %" PRIu64,
				      *kind == IRQ_REQ_NEW ? "new" : "done", *id, vcpu->id,
				      vcpu->exits);
		return false;
	}
	if (sched_rand(&d->rng) % 1000000 >= d->rate_ppm)
		return false;
	/* Start a request, or complete an open one (never more than the device has). */
	if (d->nr_open && (d->nr_open == DEVICE_MAX_OPEN || (sched_rand(&d->rng) & 1))) {
		*slot = (unsigned)(sched_rand(&d->rng) % d->nr_open);
		*kind = IRQ_REQ_DONE;
		*id = d->open[*slot];
	} else {
		*kind = IRQ_REQ_NEW;
		*id = d->next_id;
	}
	return true;
}

void device_after_exit(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct device *d = &vm->device;
	uint32_t kind, id;
	unsigned slot = 0;
	int r;

	/*
	 * The exit path: no lock while no driver has the device on (the
	 * unlocked read only filters; the decision is retaken under the lock,
	 * and an off device draws nothing, so seeded runs do not change).
	 */
	if (!d->rate_ppm || vcpu->id >= vm->mem.nr_ucall_pages ||
	    !__atomic_load_n(&d->on, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&vm->lock);
	if (!d->on || vcpu->state != VCPU_RUNNING ||
	    !device_decide_locked(vcpu, &kind, &id, &slot)) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	sched_record_irq_locked(vcpu, kind, id);
	r = queue_irq(vcpu, kind, id);
	if (r == 0 && kind == IRQ_REQ_DONE) {
		d->open[slot] = d->open[--d->nr_open];
	} else if (r == 0) {
		d->next_id++;
		d->open[d->nr_open++] = id;
	}
	if (r == 0)
		d->raised++;
	evlog_begin(&vm->log, "device_irq", (int)vcpu->id, vcpu->generation);
	evlog_str(&vm->log, "kind", kind == IRQ_REQ_NEW ? "new" : "done");
	evlog_u64(&vm->log, "request", id);
	if (r)
		evlog_str(&vm->log, "lost", r == -ENOSPC ? "queue full" : "queue not writable");
	evlog_end(&vm->log);
	pthread_mutex_unlock(&vm->lock);
}
