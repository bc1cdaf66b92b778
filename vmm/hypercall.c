// SPDX-License-Identifier: GPL-2.0-only
#include "hypercall.h"

#include <errno.h>

#include "migrate_hook.h"
#include "util.h"
#include "machine.h"

static const char *const verdict_names[HC_VERDICT_MAX] = {
	[HC_OK] = "ok",
	[HC_UNKNOWN_NR] = "unknown_nr",
	[HC_NOT_ENABLED] = "not_enabled",
	[HC_GPA_UNALIGNED] = "gpa_unaligned",
	[HC_ZERO_PAGES] = "zero_pages",
	[HC_WRAP] = "wrap",
	[HC_OUTSIDE_MEMORY] = "outside_memory",
	[HC_RESERVED_ATTR] = "reserved_attr",
	[HC_BAD_PAGE_SIZE] = "bad_page_size",
	[HC_SIZE_MISALIGNED] = "size_misaligned",
	[HC_STALE_GEN] = "stale_generation",
	[HC_NOMEM] = "no_memory",
};

const char *hc_verdict_name(enum hc_verdict v)
{
	return v < HC_VERDICT_MAX ? verdict_names[v] : "invalid";
}

int64_t hc_verdict_ret(enum hc_verdict v)
{
	switch (v) {
	case HC_OK:
		return 0;
	case HC_UNKNOWN_NR:
	case HC_NOT_ENABLED:
		return -KVM_ENOSYS;
	case HC_STALE_GEN:
		return -KVM_EPERM;
	case HC_NOMEM:
		return -KVM_EFAULT;
	default:
		return -KVM_EINVAL;
	}
}

enum hc_verdict hc_validate(const struct guest_mem *mem, bool sev, const struct hc_call *c)
{
	uint64_t gpa = c->args[0], npages = c->args[1], attrs = c->args[2];
	uint64_t gfn = gpa >> PAGE_SHIFT, size, pages_per;

	if (c->nr != KVM_HC_MAP_GPA_RANGE)
		return HC_UNKNOWN_NR;
	if (!sev)
		return HC_NOT_ENABLED;
	/* arch/x86/kvm/x86.c: !PAGE_ALIGNED(gpa) || !npages || gfn + npages <= gfn */
	if (!IS_ALIGNED(gpa, PAGE_SIZE))
		return HC_GPA_UNALIGNED;
	if (!npages)
		return HC_ZERO_PAGES;
	if (gfn + npages <= gfn)
		return HC_WRAP;
	/* Our own: one memslot, no reserved attribute bits, coherent hints. */
	if (npages > (UINT64_MAX >> PAGE_SHIFT) || !mem_is_backed(mem, gpa, npages << PAGE_SHIFT))
		return HC_OUTSIDE_MEMORY;
	if (attrs & ~(KVM_MAP_GPA_RANGE_PAGE_SZ_MASK | KVM_MAP_GPA_RANGE_ENCRYPTED))
		return HC_RESERVED_ATTR;
	size = attrs & KVM_MAP_GPA_RANGE_PAGE_SZ_MASK;
	if (size > KVM_MAP_GPA_RANGE_PAGE_SZ_1G)
		return HC_BAD_PAGE_SIZE;
	pages_per = size == KVM_MAP_GPA_RANGE_PAGE_SZ_1G   ? 512ull * 512
		    : size == KVM_MAP_GPA_RANGE_PAGE_SZ_2M ? 512ull
							   : 1ull;
	if (!IS_ALIGNED(gfn, pages_per) || !IS_ALIGNED(npages, pages_per))
		return HC_SIZE_MISALIGNED;
	return HC_OK;
}

/*
 * Strategy "generation" (DESIGN.md): when a newer generation first calls,
 * every page an older generation shared goes back to private (firmware
 * pages stay), and later calls from older generations are refused.
 */
static void drop_older_generations(struct vm *vm, uint32_t gen)
{
	struct encmap_prov_run pr;
	uint64_t from = 0, dropped = 0;

	while (encmap_next_prov_run(&vm->encmap, from, &pr)) {
		from = pr.end;
		if (pr.prov.vcpu == ENCMAP_VCPU_FIRMWARE || pr.prov.generation >= gen)
			continue;
		if (vm->mig_dirty)
			migrate_mark_conversion_locked(vm, pr.start, pr.end - pr.start, false);
		encmap_set_private(&vm->encmap, pr.start, pr.end - pr.start);
		dropped += pr.end - pr.start;
	}
	evlog_begin(&vm->log, "generation_switch", -1, gen);
	evlog_u64(&vm->log, "from", vm->hc_generation);
	evlog_u64(&vm->log, "to", gen);
	evlog_u64(&vm->log, "pages_dropped", dropped);
	evlog_end(&vm->log);
	vm->hc_generation = gen;
}

/* The event's line, formatted without the VM lock (log.h, hot path). */
static size_t format_event(struct evlog_line *l, const struct hc_call *call, uint64_t seq,
			   uint64_t t_ns, unsigned int vcpu, uint32_t gen, bool gen_filter,
			   enum hc_verdict v, int64_t ret)
{
	uint64_t attrs = call->args[2];

	evlog_line_begin(l, seq, t_ns, "hypercall", (int)vcpu, gen);
	evlog_line_u64(l, "nr", call->nr);
	evlog_line_hex(l, "gpa", call->args[0]);
	evlog_line_u64(l, "npages", call->args[1]);
	evlog_line_hex(l, "attrs", attrs);
	if (call->nr == KVM_HC_MAP_GPA_RANGE) {
		static const char *const sizes[] = {"4K", "2M", "1G"};
		uint64_t sz = attrs & KVM_MAP_GPA_RANGE_PAGE_SZ_MASK;

		evlog_line_str(l, "page_size", sz < 3 ? sizes[sz] : "invalid");
		evlog_line_bool(l, "encrypted", attrs & KVM_MAP_GPA_RANGE_ENCRYPTED);
	}
	if (gen_filter)
		evlog_line_u64(l, "hc_gen", call->args[3]);
	evlog_line_str(l, "transport", call->transport == HC_TRANSPORT_PORT ? "port" : "exit");
	evlog_line_str(l, "verdict", hc_verdict_name(v));
	evlog_line_i64(l, "ret", ret);
	return evlog_line_end(l);
}

/*
 * The VM lock covers the generation filter, the sequence number and time
 * stamp, the bitmap and the counters; the log line is formatted and
 * written after it is released, in seq order (evlog_commit).
 */
int64_t hypercall_handle(struct vcpu *vcpu, const struct hc_call *call)
{
	struct vm *vm = vcpu->vm;
	enum hc_verdict v = hc_validate(&vm->mem, vm->opts.sev, call);
	uint64_t gpa = call->args[0], npages = call->args[1], attrs = call->args[2];
	uint32_t gen = vcpu->generation;
	uint64_t seq, t_ns;
	struct evlog_line line;
	size_t len = 0;
	int64_t ret;

	pthread_mutex_lock(&vm->lock);
	if (v == HC_OK && vm->opts.gen_filter) {
		gen = (uint32_t)call->args[3];
		if (call->args[3] > UINT32_MAX || gen < vm->hc_generation)
			v = HC_STALE_GEN;
		else if (gen > vm->hc_generation)
			drop_older_generations(vm, gen);
	}
	seq = evlog_reserve(&vm->log, &t_ns);
	if (v == HC_OK) {
		uint64_t first = gpa >> PAGE_SHIFT;
		int r;

		/* Pre-copy: a page converted after it was sent goes again, in its new form. */
		if (vm->mig_dirty)
			migrate_mark_conversion_locked(vm, first, npages,
						       !(attrs & KVM_MAP_GPA_RANGE_ENCRYPTED));
		if (attrs & KVM_MAP_GPA_RANGE_ENCRYPTED) {
			r = encmap_set_private(&vm->encmap, first, npages);
		} else {
			struct encmap_prov prov = {vcpu->id, gen, seq};

			r = encmap_set_shared(&vm->encmap, first, npages, &prov);
		}
		if (r == -ENOMEM)
			v = HC_NOMEM;
	}
	ret = hc_verdict_ret(v);
	vm->hypercalls++;
	if (v != HC_OK)
		vm->hypercall_errors++;
	pthread_mutex_unlock(&vm->lock);

	if (evlog_enabled(&vm->log))
		len = format_event(&line, call, seq, t_ns, vcpu->id, gen, vm->opts.gen_filter, v,
				   ret);
	evlog_commit(&vm->log, seq, line.buf, len);
	return ret;
}
