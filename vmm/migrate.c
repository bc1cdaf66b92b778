// SPDX-License-Identifier: GPL-2.0-only
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stream.h"
#include "ucall.h"
#include "util.h"
#include "vcpu.h"
#include "x86.h"

_Static_assert(sizeof(struct vm_layout) == MVS_L_COUNT * sizeof(uint64_t), "layout in CONFIG");
_Static_assert(DEVICE_MAX_OPEN == 8, "device blob holds 8 open requests");

/* ---- options ---- */

int migrate_parse_uri(const char *s, struct migrate_uri *u)
{
	const char *rest;

	memset(u, 0, sizeof(*u));
	if (!s)
		return -EINVAL;
	if (!strncmp(s, "file:", 5)) {
		u->kind = MIGRATE_URI_FILE;
		rest = s + 5;
	} else if (!strncmp(s, "unix:", 5)) {
		u->kind = MIGRATE_URI_UNIX;
		rest = s + 5;
	} else if (!strncmp(s, "tcp:", 4)) {
		const char *colon = strrchr(s + 4, ':');
		uint64_t port;

		if (!colon || colon == s + 4 || (size_t)(colon - (s + 4)) >= sizeof(u->path) ||
		    parse_u64_range(colon + 1, 1, 65535, &port))
			goto bad;
		u->kind = MIGRATE_URI_TCP;
		memcpy(u->path, s + 4, (size_t)(colon - (s + 4)));
		u->port = (uint16_t)port;
		return 0;
	} else {
		goto bad;
	}
	if (!*rest || strlen(rest) >= sizeof(u->path))
		goto bad;
	strcpy(u->path, rest);
	return 0;
bad:
	memset(u, 0, sizeof(*u));
	return -EINVAL;
}

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

int migrate_parse_at(const char *s, struct migrate_at *a)
{
	const char *colon;
	size_t len;
	uint64_t n = 1;

	memset(a, 0, sizeof(*a));
	if (!s || !*s)
		return -EINVAL;
	colon = strchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	if (colon && parse_u64_range(colon + 1, 1, UINT64_MAX, &n))
		return -EINVAL;
	if (len == 3 && !strncmp(s, "seq", 3)) {
		if (!colon)
			return -EINVAL;
		a->by_seq = true;
		a->seq = n;
		return 0;
	}
	for (uint64_t t = 1; t < SYNC_MAX; t++) {
		const char *name = sync_tag_name(t);

		if (strlen(name) == len && !strncmp(s, name, len)) {
			a->tag = t;
			a->nth = n;
			return 0;
		}
	}
	return -EINVAL;
}

int migrate_check_plan(struct vm *vm)
{
	char uri[160];

	if (vm->opts.migrate_to.kind == MIGRATE_URI_NONE)
		return 0;
	migrate_uri_str(&vm->opts.migrate_to, uri, sizeof(uri));
	if (vm->opts.sev) {
		fprintf(stderr,
			"mini-vmm: --migrate-to %s with --sev: private pages go through the "
			"PSP's SEND_UPDATE_DATA, and this build has no PSP wired into the VM "
			"yet (vm->psp): refusing rather than sending ciphertext the destination "
			"cannot decrypt\n",
			uri);
		return EXIT_USAGE;
	}
	if (vm->opts.migrate_to.kind != MIGRATE_URI_FILE) {
		fprintf(stderr,
			"mini-vmm: --migrate-to %s: only file: snapshots are implemented so far\n",
			uri);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- stopping the source ---- */

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
	__atomic_store_n(&vm->mig_pause, true, __ATOMIC_RELEASE);
	/* Out of KVM_RUN: a spinning guest makes no exit of its own. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_cond_broadcast(&vm->cond);
}

void migrate_on_sync_locked(struct vcpu *vcpu, uint64_t tag)
{
	struct vm *vm = vcpu->vm;
	const struct migrate_at *at = &vm->opts.migrate_at;

	if (vm->opts.migrate_to.kind == MIGRATE_URI_NONE || at->by_seq || at->tag != tag ||
	    vm->mig_requested)
		return;
	if (++vm->mig_sync_hits == at->nth)
		request_locked(vm, vcpu);
}

void migrate_after_exit(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.migrate_to.kind == MIGRATE_URI_NONE || !vm->opts.migrate_at.by_seq ||
	    __atomic_load_n(&vm->mig_requested, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&vm->log.seq, __ATOMIC_RELAXED) < vm->opts.migrate_at.seq)
		return;
	pthread_mutex_lock(&vm->lock);
	request_locked(vm, vcpu);
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

bool migrate_quiet_locked(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].active)
			return false;
	return true;
}

/* ---- byte sinks and sources over a file descriptor ---- */

struct fd_chan {
	int fd;
	uint64_t bytes;
};

static int fd_write(void *ctx, const void *buf, size_t len)
{
	struct fd_chan *c = ctx;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		c->bytes += (uint64_t)n;
	}
	return 0;
}

static int fd_read(void *ctx, void *buf, size_t len)
{
	struct fd_chan *c = ctx;
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(c->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		c->bytes += (uint64_t)n;
	}
	return 0;
}

/* ---- vCPU state (docs/MIGRATION.md 5 and 10) ---- */

/*
 * The VMM's own state of the VM beyond the bitmap: device, the source's
 * stop time. VMSTATE carries it as its opaque device blob; this reader
 * checks every field.
 */
#define MIG_BLOB_MAGIC 0x31564544u /* "DEV1" */
struct mig_blob {
	uint32_t magic;
	uint32_t rate_ppm;
	uint32_t on;
	uint32_t next_id;
	uint32_t nr_open;
	uint32_t open[DEVICE_MAX_OPEN];
	uint32_t reserved;
	uint64_t raised;
	uint64_t stop_real_ns; /* CLOCK_REALTIME when the last vCPU stopped */
};
_Static_assert(sizeof(struct mig_blob) == 72, "mig_blob size");

enum {
	SW_SCHED_RNG,
	SW_SCHED_CURRENT, /* +1: 0 is "pick" (-1) */
	SW_SCHED_STEPS,
	SW_DEVICE_RNG,
	SW_COUNT
};

struct host_caps {
	bool sregs2;
	uint32_t xsave_size; /* KVM_CAP_XSAVE2, else 4096 */
	struct kvm_msr_list *msrs;
};

static int host_caps_get(const struct vm *vm, struct host_caps *hc)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	int x = kvm_check_cap(&vm->sys, KVM_CAP_XSAVE2);
	int r;

	hc->sregs2 = kvm_check_cap(&vm->sys, KVM_CAP_SREGS2) > 0;
	hc->xsave_size = x > (int)sizeof(struct kvm_xsave) ? (uint32_t)x : sizeof(struct kvm_xsave);
	if (hc->xsave_size > MVS_XSAVE_MAX)
		return -E2BIG;
	r = kvm_ioctl_raw(vm->sys.fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG)
		return r;
	if (probe.nmsrs > MVS_MSRS_MAX)
		return -E2BIG;
	hc->msrs = calloc(1, sizeof(*hc->msrs) + probe.nmsrs * sizeof(uint32_t));
	if (!hc->msrs)
		return -ENOMEM;
	hc->msrs->nmsrs = probe.nmsrs;
	r = kvm_ioctl_raw(vm->sys.fd, KVM_GET_MSR_INDEX_LIST, hc->msrs);
	return r < 0 ? r : 0;
}

/*
 * KVM_GET/SET_MSRS return how many entries they handled: the entry after
 * them is one KVM refuses (docs/MIGRATION.md 10: 0x4b564d06 on kvm_pvm).
 * Skip it and go on with the rest. Returns the entries kept at the front
 * of e (GET) or applied (SET), or -errno.
 */
static int msrs_each(int fd, unsigned long req, struct kvm_msr_entry *e, uint32_t n,
		     uint32_t *refused)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[MVS_MSRS_MAX];
	} buf;
	uint32_t done = 0, kept = 0;

	*refused = 0;
	while (done < n) {
		int r;

		memset(&buf.h, 0, sizeof(buf.h));
		buf.h.nmsrs = n - done;
		memcpy(buf.e, e + done, (n - done) * sizeof(*e));
		r = kvm_ioctl_raw(fd, req, &buf);
		if (r < 0)
			return r;
		if (req == KVM_GET_MSRS)
			memmove(e + kept, buf.e, (size_t)r * sizeof(*e));
		kept += (uint32_t)r;
		done += (uint32_t)r;
		if (done < n) {
			done++; /* the refused one */
			(*refused)++;
		}
	}
	return (int)kept;
}

static int vcpu_save(struct vcpu *v, const struct host_caps *hc, struct stream_vcpu *sv,
		     void *xsave)
{
	unsigned long xreq =
		hc->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	uint32_t refused;
	int r;

	memset(sv, 0, sizeof(*sv));
	sv->id = v->id;
	sv->mv.migration_ctl = v->migration_ctl;
	sv->mv.ap_state = v->state == VCPU_RUNNING   ? MVS_AP_RUNNING
			  : v->state == VCPU_PENDING ? MVS_AP_PENDING
						     : MVS_AP_OFF;
	sv->mv.generation = v->generation;
	if (v->state == VCPU_PENDING) {
		sv->mv.start_rip = v->start_rip;
		sv->mv.start_rsp = v->start_rsp;
		sv->mv.start_rdi = v->start_rdi;
		sv->mv.start_cr3 = v->start_cr3;
	}
	sv->mv.inject_rng = v->rng;
	sv->mv.inject_hold = v->inject_hold;
	if ((r = kvm_ioctl(v->fd, KVM_GET_REGS, &sv->regs)) < 0)
		return r;
	sv->has_sregs2 = hc->sregs2;
	if (hc->sregs2)
		r = kvm_ioctl(v->fd, KVM_GET_SREGS2, &sv->sregs2);
	else
		r = kvm_ioctl(v->fd, KVM_GET_SREGS, &sv->sregs);
	if (r < 0)
		return r;
	if ((r = kvm_ioctl_named(v->fd, xreq, xsave, "KVM_GET_XSAVE2")) < 0)
		return r;
	sv->xsave = xsave;
	sv->xsave_len = hc->xsave_size;
	if ((r = kvm_ioctl(v->fd, KVM_GET_XCRS, &sv->xcrs)) < 0)
		return r;
	if ((r = kvm_ioctl(v->fd, KVM_GET_DEBUGREGS, &sv->debugregs)) < 0)
		return r;
	for (uint32_t i = 0; i < hc->msrs->nmsrs; i++)
		sv->msrs[i] = (struct kvm_msr_entry){.index = hc->msrs->indices[i]};
	r = msrs_each(v->fd, KVM_GET_MSRS, sv->msrs, hc->msrs->nmsrs, &refused);
	if (r < 0)
		return r;
	sv->nmsrs = (uint32_t)r;
	return kvm_ioctl(v->fd, KVM_GET_VCPU_EVENTS, &sv->events);
}

/* The restore order of the stream (Firecracker's), the native-mode MSR last. */
static int vcpu_restore(struct vm *vm, struct vcpu *v, const struct host_caps *hc,
			const struct stream_vcpu *sv, char *why, size_t n)
{
	uint8_t *xsave = NULL;
	struct kvm_msr_entry msrs[MVS_MSRS_MAX];
	uint32_t refused;
	int r;

	if (sv->has_sregs2 && !hc->sregs2) {
		snprintf(why, n, "the stream has SREGS2, this host's KVM lacks KVM_CAP_SREGS2");
		return -ENOTSUP;
	}
	if (sv->xsave_len > hc->xsave_size) {
		snprintf(why, n, "XSAVE area of %u bytes, this host's KVM takes %u", sv->xsave_len,
			 hc->xsave_size);
		return -E2BIG;
	}
	snprintf(why, n, "KVM refused the state");
	if ((r = kvm_ioctl(v->fd, KVM_SET_REGS, (void *)&sv->regs)) < 0)
		return r;
	if (sv->has_sregs2)
		r = kvm_ioctl(v->fd, KVM_SET_SREGS2, (void *)&sv->sregs2);
	else
		r = kvm_ioctl(v->fd, KVM_SET_SREGS, (void *)&sv->sregs);
	if (r < 0)
		return r;
	xsave = calloc(1, hc->xsave_size);
	if (!xsave)
		return -ENOMEM;
	memcpy(xsave, sv->xsave, sv->xsave_len);
	r = kvm_ioctl(v->fd, KVM_SET_XSAVE, xsave);
	free(xsave);
	if (r < 0)
		return r;
	if ((r = kvm_ioctl(v->fd, KVM_SET_XCRS, (void *)&sv->xcrs)) < 0)
		return r;
	if ((r = kvm_ioctl(v->fd, KVM_SET_DEBUGREGS, (void *)&sv->debugregs)) < 0)
		return r;
	memcpy(msrs, sv->msrs, sv->nmsrs * sizeof(*msrs));
	r = msrs_each(v->fd, KVM_SET_MSRS, msrs, sv->nmsrs, &refused);
	if (r < 0)
		return r;
	if (vm->opts.verbose && refused)
		fprintf(stderr, "mini-vmm: vCPU %u: KVM_SET_MSRS refused %u of %u MSRs\n", v->id,
			refused, sv->nmsrs);
	if ((r = kvm_ioctl(v->fd, KVM_SET_VCPU_EVENTS, (void *)&sv->events)) < 0)
		return r;
	/* docs/MIGRATION.md 10: without it the vCPU falls back to emulation. */
	if (vm->pvm_msr && x86_set_msr(v->fd, MSR_PVM_NATIVE, 1) != 1) {
		snprintf(why, n, "kvm_pvm refused the native-mode MSR");
		return -EIO;
	}
	v->migration_ctl = sv->mv.migration_ctl;
	v->generation = sv->mv.generation;
	v->state = sv->mv.ap_state == MVS_AP_RUNNING   ? VCPU_RUNNING
		   : sv->mv.ap_state == MVS_AP_PENDING ? VCPU_PENDING
						       : VCPU_OFF;
	v->start_rip = sv->mv.start_rip;
	v->start_rsp = sv->mv.start_rsp;
	v->start_rdi = sv->mv.start_rdi;
	v->start_cr3 = sv->mv.start_cr3;
	v->rng = sv->mv.inject_rng;
	v->inject_hold = sv->mv.inject_hold;
	v->run->kvm_dirty_regs = 0;
	return 0;
}

/*
 * docs/MIGRATION.md 6: a port, MSR or hypercall exit is complete only once
 * userspace re-entered KVM_RUN; with immediate_exit set KVM finishes it
 * (RAX, RIP past the instruction) and returns EINTR without running the
 * guest.
 */
static int vcpu_complete_pending(struct vcpu *v)
{
	int r;

	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	r = kvm_ioctl_raw(v->fd, KVM_RUN, NULL);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	return r == -EINTR || r == 0 ? 0 : r;
}

/* ---- the source ---- */

static void config_from_vm(const struct vm *vm, struct mvs_config *c)
{
	const struct vm_opts *o = &vm->opts;

	memset(c, 0, sizeof(*c));
	c->ram_size = vm->mem.ram_size;
	c->nr_cpus = vm->nr_vcpus;
	c->flags = (o->sev ? MVS_CFG_SEV : 0) | (o->gen_filter ? MVS_CFG_GEN_FILTER : 0) |
		   (o->check ? MVS_CFG_CHECK : 0) | (o->story ? MVS_CFG_STORY : 0);
	c->cbit = o->cbit;
	c->transport = vm->transport;
	c->sched = o->sched == SCHED_SERIAL ? MVS_SCHED_SERIAL : MVS_SCHED_PARALLEL;
	c->nr_slots = vm->mem.high_size ? 2 : 1;
	c->seed = o->seed;
	c->timeout_s = o->timeout_s;
	c->slots[0] = (struct mvs_slot){0, vm->mem.low_size};
	if (vm->mem.high_size)
		c->slots[1] = (struct mvs_slot){MEM_4G, vm->mem.high_size};
	c->vmm_region_gpa = vm->mem.vmm_gpa;
	c->vmm_region_size = vm->mem.vmm_size;
	c->fw_shared_gpa = MEM_FW_SHARED_GPA;
	c->fw_shared_size = vm->mem.fw_shared_end - MEM_FW_SHARED_GPA;
	c->ucall_gpa = MEM_UCALL_GPA;
	memcpy(c->layout, &vm->layout, sizeof(c->layout));
	c->nr_inject = o->nr_inject;
	for (unsigned i = 0; i < o->nr_inject; i++)
		c->inject[i] = (struct mvs_inject){o->inject[i].vcpu, o->inject[i].kinds,
						   o->inject[i].prob_ppm, 0, o->inject[i].delay_us};
	x86_cpuid_fw_table(vm->cpuid, &c->cpuid);
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[MVS_PAGE_SIZE];

	return !memcmp(p, zero, sizeof(zero));
}

/*
 * Every page the guest may have touched, in GPA order. Pages never faulted
 * in (mincore: not resident in the anonymous mapping) are skipped, and so
 * are pages that read as zero: the destination's memory starts zeroed.
 * Without SEV the host view is the memory itself.
 */
static int send_ram(struct vm *vm, struct stream_writer *w, uint64_t cr3)
{
	const struct {
		uint64_t gpa, size, off;
	} slots[2] = {{0, vm->mem.low_size, 0}, {MEM_4G, vm->mem.high_size, vm->mem.low_size}};
	uint8_t page[MVS_PAGE_SIZE];
	int r = stream_begin_pages(w);

	for (unsigned s = 0; r == 0 && s < 2 && slots[s].size; s++) {
		uint64_t npages = slots[s].size >> PAGE_SHIFT;
		unsigned char *vec = malloc(npages);

		if (!vec)
			return -ENOMEM;
		if (mincore(vm->mem.host + slots[s].off, slots[s].size, vec) < 0) {
			r = -errno;
			free(vec);
			return r;
		}
		for (uint64_t i = 0; r == 0 && i < npages; i++) {
			uint64_t gpa = slots[s].gpa + (i << PAGE_SHIFT);

			if (!(vec[i] & 1))
				continue;
			r = hostmem_read(&vm->hostmem, cr3, gpa, page, sizeof(page));
			if (r != HOSTMEM_PLAIN) {
				r = r < 0 ? r : -EACCES;
				break;
			}
			if (page_is_zero(page))
				continue;
			r = stream_write_page(w, gpa, MVS_PAGE_SHARED_PLAIN, NULL, page);
			vm->mig_pages_shared++;
		}
		free(vec);
	}
	if (r == 0)
		r = stream_end_pages(w);
	if (r == 0)
		r = stream_write_round(w, MVS_ROUND_FINAL);
	vm->mig_rounds++;
	return r;
}

static int send_bitmap(struct vm *vm, struct stream_writer *w)
{
	struct encmap_prov_run run;
	uint64_t from = 0;
	int r = stream_begin_bitmap(w);

	while (r == 0 && encmap_next_prov_run(&vm->encmap, from, &run)) {
		r = stream_write_bitmap_run(w, &run);
		from = run.end;
	}
	return r ? r : stream_end_bitmap(w);
}

static int send_vmstate(struct vm *vm, struct stream_writer *w, uint64_t stop_real_ns)
{
	struct stream_vmstate vs;
	struct mig_blob blob;
	const struct migration_state *m = &vm->mig;
	uint64_t t0 = vm->log.t0;

	memset(&vs, 0, sizeof(vs));
	/* One more event to come from the source: its migration_done. */
	vs.s.log_seq = vm->log.seq + 1;
	vs.s.t_ns = now_ns() - t0;
	vs.s.generation = vm->generation;
	vs.s.hc_generation = vm->hc_generation;
	vs.s.checked_generation = vm->checked_generation;
	vs.s.flags = m->ready ? MVS_VM_MIGRATION_READY : 0;
	vs.s.mig_last_change_ns = m->last_change_ns > t0 ? m->last_change_ns - t0 : 0;
	vs.s.mig_blocked_since_seq = m->blocked_since_seq;
	vs.s.mig_blocked_ns = m->blocked_ns;
	vs.s.mig_blocked_events = m->blocked_events;
	vs.s.mig_windows = m->windows;
	vs.s.mig_points = m->points;
	vs.s.mig_unsafe_points = m->unsafe_points;
	vs.s.mig_first_unsafe_seq = m->first_unsafe_seq;
	vs.s.hypercalls = vm->hypercalls;
	vs.s.hypercall_errors = vm->hypercall_errors;
	vs.s.checks_run = vm->checks_run;
	vs.s.checks_failed = vm->checks_failed;
	vs.s.nr_sched_words = SW_COUNT;
	vs.sched_words[SW_SCHED_RNG] = vm->sched_rng;
	vs.sched_words[SW_SCHED_CURRENT] = (uint64_t)(vm->sched_current + 1);
	vs.sched_words[SW_SCHED_STEPS] = vm->sched_steps;
	vs.sched_words[SW_DEVICE_RNG] = vm->device.rng;
	memset(&blob, 0, sizeof(blob));
	blob.magic = MIG_BLOB_MAGIC;
	blob.rate_ppm = vm->device.rate_ppm;
	blob.on = vm->device.on;
	blob.next_id = vm->device.next_id;
	blob.nr_open = vm->device.nr_open;
	memcpy(blob.open, vm->device.open, sizeof(blob.open));
	blob.raised = vm->device.raised;
	blob.stop_real_ns = stop_real_ns;
	vs.s.device_len = sizeof(blob);
	vs.device = &blob;
	return stream_write_vmstate(w, &vs);
}

static int write_stream(struct vm *vm, struct stream_writer *w, const struct host_caps *hc,
			uint64_t stop_real_ns)
{
	struct stream_vcpu *sv = malloc(sizeof(*sv));
	void *xsave = calloc(1, hc->xsave_size);
	struct mvs_config cfg;
	struct kvm_sregs sregs;
	int r = -ENOMEM;

	if (!sv || !xsave)
		goto out;
	r = kvm_ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		goto out;
	config_from_vm(vm, &cfg);
	r = stream_write_header(w);
	if (r == 0)
		r = stream_write_config(w, &cfg);
	if (r == 0)
		r = send_ram(vm, w, sregs.cr3);
	if (r == 0)
		r = send_bitmap(vm, w);
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++) {
		r = vcpu_save(&vm->vcpus[i], hc, sv, xsave);
		if (r == 0)
			r = stream_write_vcpu(w, sv);
	}
	if (r == 0)
		r = send_vmstate(vm, w, stop_real_ns);
	if (r == 0)
		r = stream_write_end(w);
out:
	free(sv);
	free(xsave);
	return r;
}

static void log_failed_locked(struct vm *vm, const char *reason)
{
	evlog_begin(&vm->log, "migration_failed", -1, vm->generation);
	evlog_str(&vm->log, "reason", reason);
	evlog_end(&vm->log);
	fprintf(stderr, "mini-vmm: migration failed: %s; the guest goes on here\n", reason);
}

/* A snapshot: PATH.tmp, renamed to PATH once complete, mode 0600. */
static int migrate_to_file(struct vm *vm, const struct host_caps *hc, uint64_t stop_real_ns,
			   char *why, size_t n)
{
	const char *path = vm->opts.migrate_to.path;
	char tmp[sizeof(vm->opts.migrate_to.path) + 8];
	struct fd_chan chan = {-1, 0};
	struct stream_writer w;
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	chan.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (chan.fd < 0) {
		r = -errno;
		snprintf(why, n, "%s: %s", tmp, strerror(-r));
		return r;
	}
	r = stream_writer_init(&w, fd_write, &chan);
	if (r == 0) {
		r = write_stream(vm, &w, hc, stop_real_ns);
		if (r < 0)
			snprintf(why, n, "%s", w.st.err.msg[0] ? w.st.err.msg : strerror(-r));
		stream_writer_destroy(&w);
	}
	if (close(chan.fd) < 0 && r == 0) {
		r = -errno;
		snprintf(why, n, "%s: %s", tmp, strerror(-r));
	}
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		snprintf(why, n, "rename %s: %s", tmp, strerror(-r));
	}
	if (r < 0)
		unlink(tmp);
	vm->mig_bytes = chan.bytes;
	return r;
}

void migrate_source_locked(struct vm *vm)
{
	uint64_t t_stop = now_ns(), stop_real = now_real_ns(), t_end;
	struct host_caps hc = {0};
	char why[320] = "", uri[160];
	int r;

	r = host_caps_get(vm, &hc);
	if (r < 0)
		snprintf(why, sizeof(why), "cannot read this host's vCPU state limits: %s",
			 strerror(-r));
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++) {
		r = vcpu_complete_pending(&vm->vcpus[i]);
		if (r < 0)
			snprintf(why, sizeof(why), "vCPU %u: completing its pending exit: %s", i,
				 strerror(-r));
	}
	if (r == 0)
		r = migrate_to_file(vm, &hc, stop_real, why, sizeof(why));
	free(hc.msrs);
	t_end = now_ns();
	if (r < 0) {
		log_failed_locked(vm, why);
		__atomic_store_n(&vm->mig_pause, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
		return;
	}
	evlog_begin(&vm->log, "migration_done", -1, vm->generation);
	evlog_str(&vm->log, "side", "source");
	evlog_str(&vm->log, "to", migrate_uri_str(&vm->opts.migrate_to, uri, sizeof(uri)));
	evlog_u64(&vm->log, "total_ms", (t_end - vm->mig_t_begin_ns) / 1000000);
	evlog_u64(&vm->log, "downtime_us", (t_end - t_stop) / 1000);
	evlog_u64(&vm->log, "bytes", vm->mig_bytes);
	evlog_u64(&vm->log, "rounds", vm->mig_rounds);
	evlog_u64(&vm->log, "pages_shared", vm->mig_pages_shared);
	evlog_u64(&vm->log, "pages_private", vm->mig_pages_private);
	evlog_end(&vm->log);
	fprintf(stderr,
		"mini-vmm: migrated to %s: %" PRIu64 " pages (%" PRIu64 " shared, %" PRIu64
		" private), %" PRIu64 " bytes, stopped for %" PRIu64 " us\n",
		uri, vm->mig_pages_shared + vm->mig_pages_private, vm->mig_pages_shared,
		vm->mig_pages_private, vm->mig_bytes, (t_end - t_stop) / 1000);
	vm->mig_done = true;
	vm_stop_locked(vm, EXIT_OK, "migrated to %s", uri);
}

/* ---- the destination ---- */

struct incoming {
	struct vm *vm;
	struct host_caps hc;
	const char *uri;
	bool have_vmstate;
};

/* Refuse with the reader's position: "CONFIG at offset N: ...". */
__attribute__((format(printf, 3, 4))) static int
refuse(const struct incoming *in, const struct stream_section *sec, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mini-vmm: --incoming %s: section %s at offset %" PRIu64 ": %s\n", in->uri,
		stream_section_name(sec->type), sec->offset, msg);
	return EXIT_USAGE;
}

static int apply_config(struct incoming *in, const struct stream_section *sec)
{
	const struct mvs_config *c = &sec->u.config;
	struct vm *vm = in->vm;
	struct vm_opts *o = &vm->opts;
	struct minivmm_cpuid_table here;
	int r;

	if (c->flags & MVS_CFG_SEV)
		return refuse(in, sec,
			      "an SEV guest: its private pages need the PSP's RECEIVE_UPDATE_DATA, "
			      "and this build has no PSP wired into the VM yet (vm->psp)");
	o->ram_size = c->ram_size;
	o->nr_cpus = c->nr_cpus;
	o->sev = false;
	o->gen_filter = c->flags & MVS_CFG_GEN_FILTER;
	o->check = c->flags & MVS_CFG_CHECK;
	o->story = c->flags & MVS_CFG_STORY;
	o->cbit = c->cbit;
	o->sched = c->sched == MVS_SCHED_SERIAL ? SCHED_SERIAL : SCHED_PARALLEL;
	o->seed = c->seed;
	o->timeout_s = c->timeout_s;
	o->nr_inject = c->nr_inject;
	for (unsigned i = 0; i < c->nr_inject; i++)
		o->inject[i] = (struct inject_rule){c->inject[i].vcpu, c->inject[i].kinds,
						    c->inject[i].prob_ppm, c->inject[i].delay_us};
	if (c->nr_cpus > VM_MAX_VCPUS)
		return refuse(in, sec, "%u vCPUs, this mini-vmm runs at most %d", c->nr_cpus,
			      VM_MAX_VCPUS);
	/* The same layout code as vm_create: the stream must agree with it. */
	if (mem_layout(&vm->mem, c->ram_size, c->vmm_region_size) < 0 ||
	    vm->mem.vmm_gpa != c->vmm_region_gpa || c->slots[0].size != vm->mem.low_size ||
	    c->nr_slots != (vm->mem.high_size ? 2u : 1u) ||
	    (vm->mem.high_size &&
	     (c->slots[1].gpa != MEM_4G || c->slots[1].size != vm->mem.high_size)) ||
	    c->fw_shared_gpa != MEM_FW_SHARED_GPA || c->ucall_gpa != MEM_UCALL_GPA)
		return refuse(in, sec, "memory layout differs from this mini-vmm's for -m %" PRIu64,
			      c->ram_size);
	memcpy(&vm->layout, c->layout, sizeof(vm->layout));
	r = vm_setup_kvm(vm);
	if (r)
		return r;
	if (vm->mem.fw_shared_end - MEM_FW_SHARED_GPA != c->fw_shared_size)
		return refuse(in, sec, "firmware-shared range differs from this mini-vmm's");
	if ((c->transport == HC_TRANSPORT_VMMCALL || c->transport == HC_TRANSPORT_VMCALL) &&
	    !vm->sys.has_exit_hypercall)
		return refuse(in, sec,
			      "the guest uses the %s transport; this hypervisor (%s) does not "
			      "deliver KVM_EXIT_HYPERCALL",
			      c->transport == HC_TRANSPORT_VMMCALL ? "vmmcall" : "vmcall",
			      vm->sys.hv_name);
	vm->transport = c->transport;
	x86_cpuid_fw_table(vm->cpuid, &here);
	if (memcmp(&here, &c->cpuid, sizeof(here)))
		return refuse(in, sec,
			      "the guest's firmware CPUID table differs from what this host "
			      "gives it");
	vm->native = vm->pvm_msr;
	vm->cpuid_agrees = true;
	r = vm_setup_runtime(vm);
	if (r)
		return r;
	r = host_caps_get(vm, &in->hc);
	if (r < 0) {
		fprintf(stderr, "mini-vmm: cannot read this host's vCPU state limits: %s\n",
			strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

static int apply_ram(struct incoming *in, struct stream_section *sec)
{
	struct vm *vm = in->vm;
	struct stream_page pg;
	static const uint8_t zero[MVS_PAGE_SIZE];

	while (stream_next_page(sec, &pg)) {
		const void *data = pg.kind == MVS_PAGE_ZERO ? zero : pg.data;
		int r;

		if (pg.kind == MVS_PAGE_PRIVATE_PSP)
			return refuse(in, sec,
				      "page %#" PRIx64 " came through the PSP, "
				      "and this build has none",
				      pg.gpa);
		r = hostmem_write(&vm->hostmem, 0, pg.gpa, data, MVS_PAGE_SIZE);
		if (r < 0)
			return refuse(in, sec, "page %#" PRIx64 ": %s", pg.gpa, strerror(-r));
		vm->mig_pages_shared++;
	}
	return 0;
}

static int apply_bitmap(struct incoming *in, const struct stream_section *sec)
{
	struct vm *vm = in->vm;

	for (uint32_t i = 0; i < sec->u.bitmap.nruns; i++) {
		const struct mvs_run *run = &sec->u.bitmap.runs[i];
		struct encmap_prov prov = {run->vcpu, run->generation, run->seq};
		int r = encmap_set_shared(&vm->encmap, run->start_page,
					  run->end_page - run->start_page, &prov);

		if (r < 0)
			return refuse(in, sec, "run [%#" PRIx64 ", %#" PRIx64 "): %s",
				      run->start_page, run->end_page, strerror(-r));
	}
	return 0;
}

static int apply_vmstate(struct incoming *in, const struct stream_section *sec)
{
	const struct stream_vmstate *vs = sec->u.vmstate;
	struct vm *vm = in->vm;
	struct migration_state *m = &vm->mig;
	struct mig_blob blob;
	uint64_t now = now_ns(), cur;

	if (vs->s.nr_sched_words != SW_COUNT || vs->s.device_len != sizeof(blob))
		return refuse(in, sec, "%u scheduler words and %u device bytes, want %u and %zu",
			      vs->s.nr_sched_words, vs->s.device_len, SW_COUNT, sizeof(blob));
	memcpy(&blob, vs->device, sizeof(blob));
	cur = vs->sched_words[SW_SCHED_CURRENT];
	if (blob.magic != MIG_BLOB_MAGIC || blob.rate_ppm > MVS_PPM_MAX || blob.on > 1 ||
	    blob.nr_open > DEVICE_MAX_OPEN || blob.reserved || cur > vm->nr_vcpus)
		return refuse(in, sec, "device or scheduler state out of range");
	if (vs->s.t_ns > now)
		return refuse(in, sec, "source time %" PRIu64 " ns is beyond this host's clock",
			      vs->s.t_ns);
	/* The log and every time base continue where the source stopped. */
	vm->log.seq = vs->s.log_seq;
	vm->log.t0 = now - vs->s.t_ns;
	vm->t_start_ns = vm->log.t0;
	vm->generation = vs->s.generation;
	vm->hc_generation = vs->s.hc_generation;
	vm->checked_generation = vs->s.checked_generation;
	m->ready = vs->s.flags & MVS_VM_MIGRATION_READY;
	m->last_change_ns =
		vm->log.t0 +
		(vs->s.mig_last_change_ns < vs->s.t_ns ? vs->s.mig_last_change_ns : vs->s.t_ns);
	m->blocked_since_seq = vs->s.mig_blocked_since_seq;
	m->blocked_ns = vs->s.mig_blocked_ns;
	m->blocked_events = vs->s.mig_blocked_events;
	m->windows = vs->s.mig_windows;
	m->points = vs->s.mig_points;
	m->unsafe_points = vs->s.mig_unsafe_points;
	m->first_unsafe_seq = vs->s.mig_first_unsafe_seq;
	vm->hypercalls = vs->s.hypercalls;
	vm->hypercall_errors = vs->s.hypercall_errors;
	vm->checks_run = vs->s.checks_run;
	vm->checks_failed = vs->s.checks_failed;
	vm->sched_rng = vs->sched_words[SW_SCHED_RNG];
	vm->sched_current = (int)cur - 1;
	vm->sched_steps = vs->sched_words[SW_SCHED_STEPS];
	vm->device = (struct device){
		.rate_ppm = blob.rate_ppm,
		.on = blob.on,
		.rng = vs->sched_words[SW_DEVICE_RNG],
		.next_id = blob.next_id,
		.nr_open = blob.nr_open,
		.raised = blob.raised,
	};
	memcpy(vm->device.open, blob.open, sizeof(blob.open));
	vm->mig_stop_real_ns = blob.stop_real_ns;
	in->have_vmstate = true;
	return 0;
}

static int read_stream(struct incoming *in, struct stream_reader *rd, bool snapshot)
{
	struct stream_section sec;
	char why[160];
	int r = stream_read_header(rd);

	while (r == 0 && !stream_reader_done(rd)) {
		r = stream_read_section(rd, &sec);
		if (r < 0)
			break;
		switch (sec.type) {
		case MVS_SEC_CONFIG:
			r = apply_config(in, &sec);
			break;
		case MVS_SEC_SESSION: /* CONFIG without SEV never gets here */
			r = refuse(in, &sec, "SEV session, and this build has no PSP");
			break;
		case MVS_SEC_RAM:
			r = apply_ram(in, &sec);
			break;
		case MVS_SEC_ROUND:
			in->vm->mig_rounds++;
			break;
		case MVS_SEC_BITMAP:
			r = apply_bitmap(in, &sec);
			break;
		case MVS_SEC_VCPU:
			r = vcpu_restore(in->vm, &in->vm->vcpus[sec.u.vcpu->id], &in->hc,
					 sec.u.vcpu, why, sizeof(why));
			if (r < 0)
				r = refuse(in, &sec, "vCPU %u: %s (%s)", sec.u.vcpu->id, why,
					   strerror(-r));
			break;
		case MVS_SEC_VMSTATE:
			r = apply_vmstate(in, &sec);
			break;
		default:
			break;
		}
		if (r > 0)
			return r;
	}
	if (r == 0 && snapshot)
		r = stream_read_trailing(rd);
	if (r < 0) {
		const struct stream_error *e = stream_reader_error(rd);

		if (e->msg[0])
			fprintf(stderr, "mini-vmm: --incoming %s: %s\n", in->uri, e->msg);
		else
			fprintf(stderr, "mini-vmm: --incoming %s: at offset %" PRIu64 ": %s\n",
				in->uri, rd->st.offset, strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

int migrate_incoming(struct vm *vm, const struct vm_opts *opts)
{
	struct incoming in = {.vm = vm};
	struct fd_chan chan = {-1, 0};
	struct stream_reader rd;
	char uri[160];
	int status;

	vm_init_empty(vm, opts);
	in.uri = migrate_uri_str(&opts->incoming, uri, sizeof(uri));
	if (opts->incoming.kind != MIGRATE_URI_FILE) {
		fprintf(stderr,
			"mini-vmm: --incoming %s: only file: snapshots are implemented "
			"so far\n",
			uri);
		return EXIT_USAGE;
	}
	vm->mig_t_begin_ns = now_ns();
	chan.fd = open(opts->incoming.path, O_RDONLY | O_CLOEXEC);
	if (chan.fd < 0) {
		fprintf(stderr, "mini-vmm: --incoming %s: %s\n", uri, strerror(errno));
		return EXIT_USAGE;
	}
	if (stream_reader_init(&rd, fd_read, &chan) < 0) {
		close(chan.fd);
		fprintf(stderr, "mini-vmm: out of memory\n");
		return EXIT_USAGE;
	}
	status = read_stream(&in, &rd, true);
	stream_reader_destroy(&rd);
	close(chan.fd);
	free(in.hc.msrs);
	vm->mig_bytes = chan.bytes;
	return status;
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
