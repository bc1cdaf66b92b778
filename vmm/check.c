// SPDX-License-Identifier: GPL-2.0-only
#include "check.h"
#include "migrate_hook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "sync.h"
#include "util.h"
#include "oracle.h"
#include "x86.h"

#define CHECK_MAX_LEAVES (1ull << 26)
#define CHECK_PRINT_MAX	 16

static const char *const viol_names[VIOL_MAX] = {
	[VIOL_STALE_SHARED] = "stale_shared",
	[VIOL_FOREIGN_SHARED] = "shared_outside_ram",
	[VIOL_FIRMWARE_LOST] = "firmware_not_shared",
	[VIOL_HOST_SHARED_GUEST_PRIVATE] = "host_shared_guest_private",
	[VIOL_HOST_PRIVATE_GUEST_SHARED] = "host_private_guest_shared",
};

const char *violation_name(enum violation_kind k)
{
	return k < VIOL_MAX ? viol_names[k] : "invalid";
}

void check_report_free(struct check_report *rep)
{
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

static bool same_prov(const struct violation *v, bool has, const struct encmap_prov *p)
{
	if (v->has_prov != has)
		return false;
	return !has || (v->prov.vcpu == p->vcpu && v->prov.generation == p->generation &&
			v->prov.seq == p->seq);
}

static int add_violation(struct check_report *rep, enum violation_kind kind, uint64_t start,
			 uint64_t end, const struct encmap_prov *prov)
{
	struct violation *last = rep->n ? &rep->v[rep->n - 1] : NULL;

	if (start >= end)
		return 0;
	rep->pages[kind] += end - start;
	if (last && last->kind == kind && last->end == start &&
	    same_prov(last, prov != NULL, prov)) {
		last->end = end;
		return 0;
	}
	if (rep->n == rep->cap) {
		size_t cap = rep->cap ? rep->cap * 2 : 16;
		struct violation *v = realloc(rep->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rep->v = v;
		rep->cap = cap;
	}
	rep->v[rep->n++] = (struct violation){kind, start, end, prov != NULL,
					      prov ? *prov : (struct encmap_prov){0}};
	return 0;
}

/* Clip [s, e) to RAM and report each RAM piece as kind. */
static int add_ram_pieces(struct check_report *rep, const struct guest_mem *mem,
			  enum violation_kind kind, uint64_t s, uint64_t e,
			  const struct encmap_prov *prov, bool ram)
{
	for (unsigned i = 0; i < mem->nr_e820; i++) {
		const struct e820_entry *en = &mem->e820[i];
		uint64_t a = en->addr >> PAGE_SHIFT, b = (en->addr + en->size) >> PAGE_SHIFT;
		uint64_t lo = s > a ? s : a, hi = e < b ? e : b;
		int r;

		if ((en->type == E820_TYPE_RAM) != ram || lo >= hi)
			continue;
		r = add_violation(rep, kind, lo, hi, prov);
		if (r)
			return r;
	}
	return 0;
}

int check_reset(const struct encmap *m, const struct guest_mem *mem, uint32_t gen,
		struct check_report *rep)
{
	struct encmap_prov_run pr;
	uint64_t from = 0, fw_s = MEM_FW_SHARED_GPA >> PAGE_SHIFT;
	uint64_t fw_e = mem->fw_shared_end >> PAGE_SHIFT, fw_ok = 0;
	int r;

	while (encmap_next_prov_run(m, from, &pr)) {
		from = pr.end;
		if (pr.prov.vcpu == ENCMAP_VCPU_FIRMWARE) {
			uint64_t lo = pr.start > fw_s ? pr.start : fw_s;
			uint64_t hi = pr.end < fw_e ? pr.end : fw_e;

			if (hi > lo)
				fw_ok += hi - lo;
			continue;
		}
		if (pr.prov.generation != gen) {
			r = add_ram_pieces(rep, mem, VIOL_STALE_SHARED, pr.start, pr.end, &pr.prov,
					   true);
			if (r)
				return r;
		}
		r = add_ram_pieces(rep, mem, VIOL_FOREIGN_SHARED, pr.start, pr.end, &pr.prov,
				   false);
		if (r)
			return r;
	}
	/* Firmware pages: the window and the ucall pages, shared by the firmware. */
	if (fw_ok != fw_e - fw_s) {
		for (uint64_t p = fw_s; p < fw_e; p++) {
			struct encmap_prov prov;

			if (encmap_provenance(m, p, &prov) && prov.vcpu == ENCMAP_VCPU_FIRMWARE)
				continue;
			r = add_violation(rep, VIOL_FIRMWARE_LOST, p, p + 1, NULL);
			if (r)
				return r;
		}
	}
	return 0;
}

struct truth_ctx {
	const struct encmap *m;
	const struct guest_mem *mem;
	uint64_t cbit_mask;
	struct check_report *rep;
	/* encmap_next_run() from `cached_from` found `cached` (or nothing). */
	uint64_t cached_from;
	bool cached_found;
	struct encmap_run cached;
};

/* The bitmap does not change during a walk: reuse the last lookup if it applies. */
static bool next_run(struct truth_ctx *c, uint64_t s, struct encmap_run *run)
{
	bool valid = c->cached_from != UINT64_MAX && c->cached_from <= s &&
		     (!c->cached_found || c->cached.start >= s);

	if (!valid) {
		c->cached_from = s;
		c->cached_found = encmap_next_run(c->m, s, &c->cached);
	}
	*run = c->cached;
	return c->cached_found;
}

/* Compare one leaf's pages (clipped to RAM) with the bitmap. */
static int truth_leaf(const struct pt_leaf *lf, void *opaque)
{
	struct truth_ctx *c = opaque;
	bool guest_shared = !(lf->pte & c->cbit_mask);
	uint64_t s = lf->gpa >> PAGE_SHIFT, e = (lf->gpa + lf->size) >> PAGE_SHIFT;

	if (e > c->m->npages)
		e = c->m->npages;
	while (s < e) {
		struct encmap_run run;
		bool found = next_run(c, s, &run);
		uint64_t shared_s = found ? (run.start > s ? run.start : s) : e;
		uint64_t shared_e = found ? (run.end < e ? run.end : e) : e;
		int r;

		if (shared_s > e)
			shared_s = e;
		/* [s, shared_s) is host-private, [shared_s, shared_e) host-shared. */
		if (guest_shared && shared_s > s) {
			r = add_ram_pieces(c->rep, c->mem, VIOL_HOST_PRIVATE_GUEST_SHARED, s,
					   shared_s, NULL, true);
			if (r)
				return r;
		}
		if (!guest_shared && shared_e > shared_s) {
			for (uint64_t p = shared_s; p < shared_e;) {
				struct encmap_prov_run pr;
				uint64_t q;

				if (!encmap_next_prov_run(c->m, p, &pr) || pr.start >= shared_e)
					break;
				q = pr.end < shared_e ? pr.end : shared_e;
				r = add_ram_pieces(c->rep, c->mem, VIOL_HOST_SHARED_GUEST_PRIVATE,
						   pr.start > p ? pr.start : p, q, &pr.prov, true);
				if (r)
					return r;
				p = q;
			}
		}
		if (shared_e <= s)
			break;
		s = shared_e;
	}
	return 0;
}

int check_truth(const struct encmap *m, const struct guest_mem *mem, uint64_t cr3, unsigned cbit,
		struct check_report *rep)
{
	struct truth_ctx c = {m, mem, 1ull << cbit, rep, UINT64_MAX, false, {0, 0}};
	int r = x86_walk_page_tables(mem, cr3, CHECK_MAX_LEAVES, truth_leaf, &c);

	if (r == -EFAULT || r == -E2BIG)
		rep->error = r;
	return r == -ENOMEM ? r : 0;
}

static void log_runs(struct vm *vm)
{
	struct encmap_prov_run pr;
	uint64_t from = 0;
	bool first = true;

	if (!evlog_enabled(&vm->log))
		return;
	evlog_key(&vm->log, "runs");
	fputc('[', vm->log.f);
	while (encmap_next_prov_run(&vm->encmap, from, &pr)) {
		from = pr.end;
		fprintf(vm->log.f,
			"%s{\"start\":\"%#" PRIx64 "\",\"end\":\"%#" PRIx64 "\",\"pages\":%" PRIu64
			",\"by\":",
			first ? "" : ",", pr.start << PAGE_SHIFT, pr.end << PAGE_SHIFT,
			pr.end - pr.start);
		if (pr.prov.vcpu == ENCMAP_VCPU_FIRMWARE)
			fputs("\"firmware\"", vm->log.f);
		else
			fprintf(vm->log.f, "%u", pr.prov.vcpu);
		fprintf(vm->log.f, ",\"gen\":%u,\"seq\":%" PRIu64 "}", pr.prov.generation,
			pr.prov.seq);
		first = false;
	}
	fputc(']', vm->log.f);
}

void check_snapshot_locked(struct vm *vm, struct vcpu *vcpu, const char *why)
{
	evlog_begin(&vm->log, "bitmap", vcpu ? (int)vcpu->id : -1,
		    vcpu ? vcpu->generation : vm->generation);
	evlog_str(&vm->log, "at", why);
	evlog_u64(&vm->log, "shared_pages", encmap_count_shared(&vm->encmap));
	log_runs(vm);
	evlog_end(&vm->log);
}

/* Log a check's verdict; a failure also goes to stderr with its runs. true: passed. */
static bool report(struct vm *vm, struct vcpu *vcpu, const char *what, uint32_t gen,
		   const struct check_report *rep)
{
	bool ok = rep->n == 0 && !rep->error;

	vm->checks_run++;
	evlog_begin(&vm->log, "check", (int)vcpu->id, gen);
	evlog_str(&vm->log, "check", what);
	evlog_bool(&vm->log, "pass", ok);
	if (rep->error)
		evlog_i64(&vm->log, "walk_error", rep->error);
	if (evlog_enabled(&vm->log)) {
		evlog_key(&vm->log, "violations");
		fputc('[', vm->log.f);
		for (size_t i = 0; i < rep->n; i++) {
			const struct violation *v = &rep->v[i];

			fprintf(vm->log.f,
				"%s{\"kind\":\"%s\",\"start\":\"%#" PRIx64 "\",\"end\":\"%#" PRIx64
				"\",\"pages\":%" PRIu64,
				i ? "," : "", violation_name(v->kind), v->start << PAGE_SHIFT,
				v->end << PAGE_SHIFT, v->end - v->start);
			if (v->has_prov)
				fprintf(vm->log.f, ",\"by\":%d,\"by_gen\":%u,\"by_seq\":%" PRIu64,
					v->prov.vcpu == ENCMAP_VCPU_FIRMWARE ? -1
									     : (int)v->prov.vcpu,
					v->prov.generation, v->prov.seq);
			fputc('}', vm->log.f);
		}
		fputc(']', vm->log.f);
	}
	evlog_end(&vm->log);
	if (ok)
		return true;
	vm->checks_failed++;
	fprintf(stderr, "mini-vmm: CHECK FAILED: %s for generation %u (vCPU %u)\n", what, gen,
		vcpu->id);
	if (rep->error)
		fprintf(stderr, "  guest page tables unreadable: %s\n", strerror(-rep->error));
	for (size_t i = 0; i < rep->n && i < CHECK_PRINT_MAX; i++) {
		const struct violation *v = &rep->v[i];

		fprintf(stderr, "  %-26s [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64 " page(s)",
			violation_name(v->kind), v->start << PAGE_SHIFT, v->end << PAGE_SHIFT,
			v->end - v->start);
		if (v->has_prov && v->prov.vcpu == ENCMAP_VCPU_FIRMWARE)
			fprintf(stderr, ", shared by firmware");
		else if (v->has_prov)
			fprintf(stderr, ", shared by vCPU %u in generation %u at event #%" PRIu64,
				v->prov.vcpu, v->prov.generation, v->prov.seq);
		fputc('\n', stderr);
	}
	if (rep->n > CHECK_PRINT_MAX)
		fprintf(stderr, "  ... %zu more run(s) in the log\n", rep->n - CHECK_PRINT_MAX);
	return false;
}

/*
 * Both checks of the bitmap for generation gen, computed once per SYNC
 * point and shared by the verdicts (check events) and the migration-point
 * record. truth: also audit the guest's page tables (from this vCPU's CR3).
 */
static void evaluate(struct vm *vm, struct vcpu *vcpu, uint32_t gen, bool truth,
		     struct check_report *reset_rep, struct check_report *truth_rep)
{
	struct kvm_sregs sregs;

	memset(reset_rep, 0, sizeof(*reset_rep));
	memset(truth_rep, 0, sizeof(*truth_rep));
	if (check_reset(&vm->encmap, &vm->mem, gen, reset_rep) == -ENOMEM)
		reset_rep->error = -ENOMEM;
	if (!truth)
		return;
	if (kvm_ioctl_raw(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		truth_rep->error = -EIO;
	else if (check_truth(&vm->encmap, &vm->mem, sregs.cr3, vm->opts.cbit, truth_rep) < 0)
		truth_rep->error = -ENOMEM;
}

/*
 * The VM is migratable here: would a migration started now copy a page
 * with the wrong protection? Logged and counted; it does not fail the run
 * (the per-strategy trade-off is what the experiment shows).
 */
static void log_migration_point(struct vm *vm, struct vcpu *vcpu, const char *at,
				const struct check_report *reset, const struct check_report *truth)
{
	uint64_t stale = reset->pages[VIOL_STALE_SHARED] + reset->pages[VIOL_FOREIGN_SHARED] +
			 reset->pages[VIOL_FIRMWARE_LOST];
	uint64_t mismatched = truth->pages[VIOL_HOST_SHARED_GUEST_PRIVATE] +
			      truth->pages[VIOL_HOST_PRIVATE_GUEST_SHARED];
	bool safe = !stale && !mismatched && !truth->error;

	vm->mig.points++;
	evlog_begin(&vm->log, "migration_point", (int)vcpu->id, vcpu->generation);
	evlog_str(&vm->log, "at", at);
	evlog_bool(&vm->log, "safe", safe);
	evlog_u64(&vm->log, "stale_pages", stale);
	evlog_u64(&vm->log, "host_shared_guest_private",
		  truth->pages[VIOL_HOST_SHARED_GUEST_PRIVATE]);
	evlog_u64(&vm->log, "host_private_guest_shared",
		  truth->pages[VIOL_HOST_PRIVATE_GUEST_SHARED]);
	evlog_end(&vm->log);
	if (!safe) {
		if (!vm->mig.unsafe_points)
			vm->mig.first_unsafe_seq = vm->log.seq;
		vm->mig.unsafe_points++;
	}
}

void check_migration_summary(struct vm *vm)
{
	struct migration_state *m = &vm->mig;
	uint64_t blocked_ns = m->blocked_ns, blocked_events = m->blocked_events;

	if (!vm->opts.sev)
		return;
	if (!m->ready) { /* still blocked at exit: close the window */
		blocked_ns += now_ns() - m->last_change_ns;
		blocked_events += vm->log.seq - m->blocked_since_seq;
	}
	evlog_begin(&vm->log, "migration", -1, vm->generation);
	evlog_bool(&vm->log, "migratable_at_exit", m->ready);
	evlog_u64(&vm->log, "blocked_windows", m->windows);
	evlog_u64(&vm->log, "blocked_ns", blocked_ns);
	evlog_u64(&vm->log, "blocked_events", blocked_events);
	evlog_u64(&vm->log, "points_checked", m->points);
	evlog_u64(&vm->log, "unsafe_points", m->unsafe_points);
	evlog_u64(&vm->log, "first_unsafe_seq", m->first_unsafe_seq);
	evlog_end(&vm->log);
	if (vm->opts.verbose)
		fprintf(stderr,
			"mini-vmm: migration blocked in %" PRIu64 " window(s), %" PRIu64
			" us, %" PRIu64 " events; %" PRIu64 " of %" PRIu64
			" migratable sync points would copy a page with the wrong protection\n",
			m->windows, blocked_ns / 1000, blocked_events, m->unsafe_points, m->points);
}

/* args[2], args[3] under the names the tag gives them. */
static void log_tag_args(struct vm *vm, const struct sync_tag_info *info, const struct ucall *uc)
{
	const char *names[2] = {info->arg2, info->arg3};
	const enum sync_field kinds[2] = {info->kind2, info->kind3};

	for (unsigned i = 0; i < 2; i++) {
		uint64_t v = uc->args[2 + i];

		switch (kinds[i]) {
		case SF_NONE:
			break;
		case SF_U64:
			evlog_u64(&vm->log, names[i], v);
			break;
		case SF_HEX:
			evlog_hex(&vm->log, names[i], v);
			break;
		case SF_WHERE:
			evlog_str(&vm->log, names[i], sync_where_name(v));
			break;
		case SF_HOW:
			evlog_str(&vm->log, names[i], v == STOP_NMI ? "nmi" : "reboot_vector");
			break;
		}
	}
}

enum vcpu_action check_on_sync(struct vcpu *vcpu, const struct ucall *uc)
{
	struct vm *vm = vcpu->vm;
	uint64_t tag = uc->args[0], arg = uc->args[1], flags = uc->args[2];
	uint32_t gen = (uint32_t)arg;
	struct check_report reset, truth;
	bool verify, point, reset_ok = false, truth_ok = false;
	/* After a reset: BOOT if the strategy claims a clean bitmap, and READY. */
	bool after_reset =
		tag == SYNC_READY || (tag == SYNC_BOOT && (flags & SYNC_BOOT_EXPECT_CLEAN));

	const struct sync_tag_info *info = sync_tag_info(tag);

	pthread_mutex_lock(&vm->lock);
	if (tag == SYNC_BOOT) {
		vcpu->generation = gen;
		if (gen > vm->generation)
			vm->generation = gen;
		device_boot_locked(&vm->device, flags & SYNC_BOOT_DEVICE_DRIVER);
	} else if (tag == SYNC_DEVICE_SHUTDOWN) {
		device_shutdown_locked(vcpu, uc->args[2] != 0);
	}
	verify = vm->opts.check && vm->opts.sev && after_reset;
	/* The guest's memory check is no point of the guest's model. */
	point = vm->opts.check && vm->opts.sev && vm->mig.ready && tag != SYNC_MIGRATION_VERIFY;
	if (verify || point)
		evaluate(vm, vcpu, vcpu->generation, tag == SYNC_READY || point, &reset, &truth);
	if (point)
		log_migration_point(vm, vcpu, sync_tag_name(tag), &reset, &truth);
	evlog_begin(&vm->log, "sync", (int)vcpu->id, vcpu->generation);
	evlog_str(&vm->log, "tag", info->name);
	evlog_u64(&vm->log, "arg", arg);
	log_tag_args(vm, info, uc);
	evlog_bool(&vm->log, "migratable", vm->mig.ready);
	evlog_u64(&vm->log, "shared_pages", encmap_count_shared(&vm->encmap));
	if (info->runs)
		log_runs(vm);
	evlog_end(&vm->log);
	if (verify) {
		reset_ok = report(vm, vcpu, "reset", vcpu->generation, &reset);
		if (tag == SYNC_READY)
			truth_ok = report(vm, vcpu, "truth", vcpu->generation, &truth);
	}
	if (vm->opts.story && after_reset) {
		FILE *f = vm_console(vm);

		fprintf(f, "mini-vmm: generation %u %s: ", vcpu->generation, sync_tag_name(tag));
		if (!verify)
			fputs("not checked (--no-check); ", f);
		else if (tag == SYNC_READY)
			fprintf(f, "reset check %s, truth check %s; ", reset_ok ? "pass" : "FAIL",
				truth_ok ? "pass" : "FAIL");
		else
			fprintf(f, "reset check %s; ", reset_ok ? "pass" : "FAIL");
		check_dump_bitmap(vm, f);
	}
	if (verify || point) {
		check_report_free(&reset);
		check_report_free(&truth);
	}
	migrate_on_sync_locked(vcpu, tag);
	pthread_mutex_unlock(&vm->lock);
	return ACT_CONTINUE;
}

void check_dump_bitmap(struct vm *vm, FILE *f)
{
	struct encmap_prov_run pr;
	uint64_t from = 0;

	fprintf(f, "shared runs (%" PRIu64 " pages):\n", encmap_count_shared(&vm->encmap));
	while (encmap_next_prov_run(&vm->encmap, from, &pr)) {
		from = pr.end;
		fprintf(f, "  [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64 " page(s) ",
			pr.start << PAGE_SHIFT, pr.end << PAGE_SHIFT, pr.end - pr.start);
		if (pr.prov.vcpu == ENCMAP_VCPU_FIRMWARE)
			fprintf(f, "firmware\n");
		else
			fprintf(f, "vcpu %u gen %u seq %" PRIu64 "\n", pr.prov.vcpu,
				pr.prov.generation, pr.prov.seq);
	}
}
