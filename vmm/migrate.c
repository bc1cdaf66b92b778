// SPDX-License-Identifier: GPL-2.0-only
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "crc32c.h"
#include "psp.h"
#include "stream.h"
#include "sync.h"
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
	if (vm->opts.pct || vm->opts.schedule_in || vm->opts.schedule_out) {
		fprintf(stderr,
			"mini-vmm: --migrate-to with --sched=pct, --schedule or --schedule-out: "
			"their state (priorities, the schedule's position, the record) is not in "
			"the stream yet; plain --sched=serial migrates\n");
		return EXIT_USAGE;
	}
	if (vm->opts.sev && !vm->psp) {
		fprintf(stderr,
			"mini-vmm: --migrate-to %s with --sev: private pages go through the "
			"PSP's SEND_UPDATE_DATA, and this VM has no PSP\n",
			uri);
		return EXIT_USAGE;
	}
	if (vm->opts.migrate_to.kind == MIGRATE_URI_TCP) {
		struct in_addr ia;

		if (inet_pton(AF_INET, vm->opts.migrate_to.path, &ia) != 1) {
			fprintf(stderr, "mini-vmm: --migrate-to %s: want a numeric IPv4 address\n",
				uri);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* ---- stopping the source ---- */

static void finish_locked(struct vm *vm, int r, bool sent, const char *why, uint64_t t_stop,
			  uint64_t t_end);

/* ---- byte sinks and sources over a file descriptor ---- */

struct fd_chan {
	int fd;
	uint64_t bytes;
	bool sock; /* send(MSG_NOSIGNAL): a vanished peer is EPIPE, not SIGPIPE */
};

static int fd_write(void *ctx, const void *buf, size_t len)
{
	struct fd_chan *c = ctx;
	int r = write_all(c->fd, buf, len, c->sock);

	if (r == 0)
		c->bytes += len;
	return r;
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
	/*
	 * Migrations of this guest, this one included: the destination
	 * writes it where the guest looks (MINIVMM_MIGRATION_INFO). Kept by
	 * the VMM, as a real VMM keeps what it tells a guest through a shared
	 * page, instead of read back from guest memory.
	 */
	uint32_t migrations;
	uint64_t raised;
	uint64_t stop_real_ns; /* CLOCK_REALTIME when the last vCPU stopped */
	/* Userspace exits per vCPU: the serial scheduler logs them (sched events). */
	uint64_t exits[VM_MAX_VCPUS];
};
_Static_assert(sizeof(struct mig_blob) == 72 + 8 * VM_MAX_VCPUS, "mig_blob size");

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
	struct kvm_msrs *buf = malloc(sizeof(*buf) + (size_t)n * sizeof(*e));
	uint32_t done = 0, kept = 0;
	int r = 0;

	*refused = 0;
	if (!buf)
		return -ENOMEM;
	while (done < n) {
		memset(buf, 0, sizeof(*buf));
		buf->nmsrs = n - done;
		memcpy(buf->entries, e + done, (n - done) * sizeof(*e));
		r = kvm_ioctl_raw(fd, req, buf);
		if (r < 0)
			break;
		if (req == KVM_GET_MSRS)
			memmove(e + kept, buf->entries, (size_t)r * sizeof(*e));
		kept += (uint32_t)r;
		done += (uint32_t)r;
		if (done < n) {
			done++; /* the refused one */
			(*refused)++;
		}
	}
	free(buf);
	return r < 0 ? r : (int)kept;
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
	sv->mv.inject_hold = v->inject_hold; /* 0: the stop ended every hold */
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

/* A page's host view as last sent (pre-copy): never 0, which is "not sent". */
static uint32_t page_crc(const uint8_t *p)
{
	uint32_t c = crc32c(0, p, MVS_PAGE_SIZE);

	return c ? c : 1;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[MVS_PAGE_SIZE];

	return !memcmp(p, zero, sizeof(zero));
}

/*
 * One page whose host view the caller read (page, its page_crc if
 * mig_sent_crc is kept): as the bitmap says (see send_round). live: the
 * vCPUs run, so the bitmap is read under the VM lock.
 */
static int send_page_view(struct vm *vm, struct stream_writer *w, uint64_t gpa, const uint8_t *page,
			  uint32_t crc, bool first_round, bool live)
{
	uint8_t *hdr, *data;
	bool shared = !vm->opts.sev;
	int r;

	if (vm->mig_sent_crc) {
		vm->mig_sent_crc[gpa >> PAGE_SHIFT] = crc;
		vm->mig_sent_map[gpa >> (PAGE_SHIFT + 6)] |= 1ull << ((gpa >> PAGE_SHIFT) % 64);
		vm->mig_sent_sum[gpa >> (PAGE_SHIFT + 12)] |= 1ull
							      << ((gpa >> (PAGE_SHIFT + 6)) % 64);
	}
	if (!shared) {
		if (live)
			pthread_mutex_lock(&vm->lock);
		shared = encmap_is_shared(&vm->encmap, gpa >> PAGE_SHIFT);
		if (live)
			pthread_mutex_unlock(&vm->lock);
	}
	if (shared) {
		bool zero = page_is_zero(page);

		/* Round 0: the destination starts zeroed. Later: it may hold an older copy. */
		if (zero && first_round)
			return 0;
		vm->mig_pages_shared++;
		return stream_write_page(w, gpa, zero ? MVS_PAGE_ZERO : MVS_PAGE_SHARED_PLAIN, NULL,
					 zero ? NULL : page);
	}
	r = stream_reserve_page(w, gpa, MVS_PAGE_PRIVATE_PSP, &hdr, &data);
	if (r == 0)
		r = psp_send_update_data(vm->psp, gpa, page, (struct psp_packet_hdr *)hdr, data);
	if (r > 0) {
		snprintf(w->st.err.msg, sizeof(w->st.err.msg),
			 "SEND_UPDATE_DATA of page %#" PRIx64 ": %s", gpa, psp_status_name(r));
		r = -EPROTO;
	}
	vm->mig_pages_private++;
	return r;
}

/* Whether the view of pfn last sent was ciphertext (final_round_check). */
static void mark_sent_kind(struct vm *vm, uint64_t pfn, bool ciphertext)
{
	uint64_t bit = 1ull << (pfn % 64);

	if (ciphertext)
		vm->mig_sent_ct[pfn / 64] |= bit;
	else
		vm->mig_sent_ct[pfn / 64] &= ~bit;
}

/* One page: its host view read (hostmem_read_page), then send_page_view. */
static int send_page(struct vm *vm, struct stream_writer *w, uint64_t cr3, uint64_t gpa,
		     bool first_round, bool live)
{
	uint8_t page[MVS_PAGE_SIZE];
	int r = hostmem_read_page(&vm->hostmem, cr3, gpa, -1, page);

	if (r < 0)
		return r;
	if (vm->mig_sent_ct)
		mark_sent_kind(vm, gpa >> PAGE_SHIFT, r == HOSTMEM_CIPHERTEXT);
	return send_page_view(vm, w, gpa, page, vm->mig_sent_crc ? page_crc(page) : 0, first_round,
			      live);
}

/*
 * The VM stopped, pfn resident and not dirty by any log: send it if its
 * host view differs from what was last sent (CRC32C). KVM's dirty log
 * names the pages the guest wrote; the emulated memory controller also
 * changes a page's host view without a write when the guest flips its
 * C-bit (hostmem computes DRAM from the mapping; on hardware DRAM changes
 * only by writes), and a kexec'd kernel mapping all RAM C=1 does that to
 * every page the old one shared. So the stopped round checks instead of
 * trusting the log alone; *unlogged counts the pages found so.
 *
 * A page sent before and written by nobody since (no log has it) changed
 * its view only if the kind of bytes DRAM holds did (a C-bit flip):
 * hostmem_read_page looks at that and reads the view only if it changed,
 * one walk of the mapping, no encryption of an unchanged page. The view
 * read for the check is the one sent: one read and one CRC a page.
 */
static int final_round_check(struct vm *vm, struct stream_writer *w, uint64_t cr3, uint64_t pfn,
			     bool first_round, uint64_t *unlogged)
{
	uint8_t page[MVS_PAGE_SIZE];
	int last = -1; /* never sent: read it whatever it holds */
	uint32_t crc;
	int r;

	if (vm->mig_sent_crc[pfn])
		last = vm->mig_sent_ct[pfn / 64] & (1ull << (pfn % 64)) ? HOSTMEM_CIPHERTEXT
									: HOSTMEM_PLAIN;
	r = hostmem_read_page(&vm->hostmem, cr3, pfn << PAGE_SHIFT, last, page);
	if (r < 0 || r == last)
		return r < 0 ? r : 0;
	mark_sent_kind(vm, pfn, r == HOSTMEM_CIPHERTEXT);
	crc = page_crc(page);
	if (vm->mig_sent_crc[pfn] == crc || (!vm->mig_sent_crc[pfn] && page_is_zero(page)))
		return 0;
	(*unlogged)++;
	return send_page_view(vm, w, pfn << PAGE_SHIFT, page, crc, first_round, false);
}

/*
 * Of n <= 64 bytes of a mincore vector, the resident pages as bits (bit k:
 * vec[k]), eight bytes at a time where none is resident.
 */
static uint64_t resident_bits(const unsigned char *vec, uint64_t n)
{
	uint64_t bits = 0;

	for (uint64_t k = 0; k < n; k++) {
		uint64_t eight;

		if (k % 8 == 0 && n - k >= 8) {
			memcpy(&eight, vec + k, sizeof(eight));
			if (!(eight & 0x0101010101010101ull)) {
				k += 7;
				continue;
			}
		}
		bits |= (uint64_t)(vec[k] & 1) << k;
	}
	return bits;
}

/*
 * mig_sent_map's word, read only where mig_sent_sum says it holds a bit:
 * the pages of the map that no page was ever sent in are never touched.
 */
static uint64_t sent_before(const struct vm *vm, uint64_t word)
{
	return vm->mig_sent_sum[word / 64] & (1ull << (word % 64)) ? vm->mig_sent_map[word] : 0;
}

/*
 * The page frames a round sends (pre-copy): a bit a page frame, and a bit
 * a word of bits that holds one (collect_dirty keeps both), so that a round
 * visits only the words with a page in them.
 */
struct page_sel {
	uint64_t *bits;
	uint64_t *sum;
};

/*
 * From *word on, below end, the next word with a bit in sum or also (also
 * may be NULL); sum NULL: every word. False when there is none.
 */
static bool next_word(const uint64_t *sum, const uint64_t *also, uint64_t *word, uint64_t end)
{
	while (*word < end) {
		uint64_t bits;

		if (!sum)
			return true;
		bits = (sum[*word / 64] | (also ? also[*word / 64] : 0)) >> (*word % 64);
		if (bits) {
			*word += (uint64_t)__builtin_ctzll(bits);
			return *word < end;
		}
		*word = ALIGN_UP(*word + 1, 64);
	}
	return false;
}

/*
 * One round of pages, in GPA order: sel NULL, every page the guest may
 * have touched (pages never faulted in, by mincore on the guest mapping,
 * are skipped); else the pages whose bit is set in sel. Per page the
 * bitmap decides, as a real VMM can only do: shared pages go as the host
 * view (hostmem_read_page), private pages through SEND_UPDATE_DATA of the
 * host view, i.e. of the ciphertext DRAM holds (no zero check: the host
 * cannot tell a private zero page). A wrong bitmap entry so sends a page
 * the wrong way, as it would on hardware.
 *
 * unlogged (the stopped round over a socket, with sel): also every touched
 * page not in sel whose host view differs from what was last sent (see
 * final_round_check), counted there; such a page goes from the host view
 * read for the check, in its place in GPA order. Touched: after a live
 * round, the pages sent before (mig_sent_map: every page resident at round
 * 0, every page a dirty set named since), with no look at the rest of RAM,
 * since a page first faulted in after round 0 by a read alone holds the
 * zeros the destination starts with; with no live round (--migrate-rounds
 * 0), every resident page, by mincore. Both sets go 64 pages a word, and
 * only the words their summaries (sel->sum, mig_sent_sum) name, so an idle
 * guest's round costs its few touched pages, not its size.
 */
static int send_round(struct vm *vm, struct stream_writer *w, uint64_t cr3,
		      const struct page_sel *sel, uint32_t flags, bool live, uint64_t *unlogged)
{
	const struct {
		uint64_t gpa, size, off;
	} slots[2] = {{0, vm->mem.low_size, 0}, {MEM_4G, vm->mem.high_size, vm->mem.low_size}};
	bool first = vm->mig_rounds == 0;
	bool scan = !sel || (unlogged && first); /* resident pages by mincore */
	int r = stream_begin_pages(w);

	for (unsigned s = 0; r == 0 && s < 2 && slots[s].size; s++) {
		uint64_t npages = slots[s].size >> PAGE_SHIFT, pfn0 = slots[s].gpa >> PAGE_SHIFT;
		unsigned char *vec = NULL;

		if (scan) {
			vec = malloc(npages);
			if (!vec)
				return -ENOMEM;
			if (mincore(vm->mem.host + slots[s].off, slots[s].size, vec) < 0) {
				r = -errno;
				free(vec);
				return r;
			}
		}
		/* pfn0 is a multiple of 64 (slots start at 0 and 4 GiB). */
		for (uint64_t word = pfn0 / 64;
		     r == 0 && next_word(scan ? NULL : sel->sum, unlogged ? vm->mig_sent_sum : NULL,
					 &word, (pfn0 + npages + 63) / 64);
		     word++) {
			uint64_t i = word * 64 - pfn0, n = npages - i < 64 ? npages - i : 64;
			uint64_t in_slot = n == 64 ? ~0ull : (1ull << n) - 1;
			uint64_t resident = vec ? resident_bits(vec + i, n) : 0;
			uint64_t send = (sel ? sel->bits[word] : resident) & in_slot, check = 0;

			if (sel && unlogged)
				check = (first ? resident : sent_before(vm, word)) & in_slot &
					~send;
			for (uint64_t bits = send | check; r == 0 && bits; bits &= bits - 1) {
				unsigned b = (unsigned)__builtin_ctzll(bits);
				uint64_t pfn = pfn0 + i + b;

				r = send & (1ull << b)
					    ? send_page(vm, w, cr3, pfn << PAGE_SHIFT, first, live)
					    : final_round_check(vm, w, cr3, pfn, first, unlogged);
			}
		}
		free(vec);
	}
	if (r == 0)
		r = stream_end_pages(w);
	if (r == 0)
		r = stream_write_round(w, flags);
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
	blob.migrations = vm->mig_count + 1;
	blob.stop_real_ns = stop_real_ns;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		blob.exits[i] = vm->vcpus[i].exits;
	vs.s.device_len = sizeof(blob);
	vs.device = &blob;
	return stream_write_vmstate(w, &vs);
}

/* Header, CONFIG and (SEV) SESSION. */
static int write_head(struct vm *vm, struct stream_writer *w, const struct mvs_session *session)
{
	struct mvs_config cfg;
	int r;

	config_from_vm(vm, &cfg);
	r = stream_write_header(w);
	if (r == 0)
		r = stream_write_config(w, &cfg);
	if (r == 0 && session)
		r = stream_write_session(w, session);
	return r;
}

/*
 * The VM stopped: the final round (sel NULL: every touched page, a
 * snapshot's only round; else the pages dirtied since the last round),
 * BITMAP, VCPU per vCPU, VMSTATE, END.
 */
static int write_tail(struct vm *vm, struct stream_writer *w, const struct host_caps *hc,
		      uint64_t cr3, const struct page_sel *sel, uint64_t *unlogged,
		      uint64_t stop_real_ns)
{
	struct stream_vcpu *sv = malloc(sizeof(*sv));
	void *xsave = calloc(1, hc->xsave_size);
	int r = -ENOMEM;

	if (!sv || !xsave)
		goto out;
	r = send_round(vm, w, cr3, sel, MVS_ROUND_FINAL, false, unlogged);
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

/*
 * A snapshot's target key (an emulation convenience, README "Migration"):
 * no destination exists yet to send its PDH public key, so the source
 * picks the seed of the destination's software PSP (psp_soft seeded,
 * instance 1: its VEK and PDH key pair), stores it beside the snapshot
 * as PATH.key (mode 0600: whoever reads it can decrypt the snapshot's
 * private pages) and seals the session to that PDH key. Under
 * --sched=serial the seed is --seed, so a seeded run repeats byte for
 * byte. On hardware the target's PDH would come from its platform.
 */
#define MIG_KEY_MAGIC "MVMKEY01"
struct mig_key_file {
	char magic[8];
	uint64_t seed;
};

static int key_path(const struct migrate_uri *u, char *buf, size_t n)
{
	return (size_t)snprintf(buf, n, "%s.key", u->path) < n ? 0 : -ENAMETOOLONG;
}

static int write_key_file(const struct vm *vm, uint64_t seed, char *why, size_t n)
{
	struct mig_key_file k = {.seed = seed};
	char path[sizeof(vm->opts.migrate_to.path) + 8];
	int fd, r = key_path(&vm->opts.migrate_to, path, sizeof(path));

	memcpy(k.magic, MIG_KEY_MAGIC, sizeof(k.magic));
	if (r < 0) {
		snprintf(why, n, "%s.key: name too long", vm->opts.migrate_to.path);
		return r;
	}
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(why, n, "%s: %s", path, strerror(-r));
		return r;
	}
	{
		struct fd_chan c = {fd, 0, false};

		r = fd_write(&c, &k, sizeof(k));
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		snprintf(why, n, "%s: %s", path, strerror(-r));
	return r;
}

/* 0 and the seed, -ENOENT (no key file), or -errno / -EINVAL (malformed). */
static int read_key_file(const struct migrate_uri *u, uint64_t *seed)
{
	char path[sizeof(u->path) + 8];
	struct mig_key_file k;
	struct fd_chan c = {-1, 0, false};
	int r = key_path(u, path, sizeof(path));

	if (r < 0)
		return r;
	c.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0)
		return -errno;
	r = fd_read(&c, &k, sizeof(k));
	close(c.fd);
	if (r < 0 || memcmp(k.magic, MIG_KEY_MAGIC, sizeof(k.magic)))
		return -EINVAL;
	*seed = k.seed;
	return 0;
}

/* The PDH public key of the software PSP a target key seed makes. */
static int pdh_of_key(uint64_t seed, struct psp_pdh_pub *pdh)
{
	struct psp_soft_opts topts = {.seeded = 1, .seed = seed, .instance = 1};
	struct psp *t = NULL;
	int r = psp_soft_create(&topts, &t);

	if (r == 0)
		r = psp_pdh_export(t, pdh);
	psp_destroy(t);
	return r;
}

/* SEND_START towards the target's PDH key: the SESSION section. */
static int send_start_to(struct vm *vm, const struct psp_pdh_pub *target, struct mvs_session *sess,
			 char *why, size_t n)
{
	struct psp_pdh_pub source;
	struct psp_session session;
	int r = psp_send_start(vm->psp, target, &session, &source);

	if (r) {
		snprintf(why, n, "SEND_START: %s", r > 0 ? psp_status_name(r) : strerror(-r));
		return r > 0 ? -EPROTO : r;
	}
	memset(sess, 0, sizeof(*sess));
	sess->policy = vm->psp->policy;
	memcpy(sess->session, &session, sizeof(sess->session));
	memcpy(sess->pdh, source.point, sizeof(sess->pdh));
	return 0;
}

static int random_key(uint64_t *seed)
{
	return getentropy(seed, sizeof(*seed)) < 0 ? -errno : 0;
}

/* A snapshot's target key: a seed stored beside it, SEND_START towards it. */
static int file_send_start(struct vm *vm, struct mvs_session *sess, char *why, size_t n)
{
	struct psp_pdh_pub target;
	uint64_t seed = vm->opts.seed;
	int r = vm->opts.sched == SCHED_SERIAL ? 0 : random_key(&seed);

	if (r < 0) {
		snprintf(why, n, "no entropy for the target key: %s", strerror(-r));
		return r;
	}
	r = write_key_file(vm, seed, why, n);
	if (r < 0)
		return r;
	r = pdh_of_key(seed, &target);
	if (r) {
		snprintf(why, n, "the target key: %s", r > 0 ? psp_status_name(r) : strerror(-r));
		return r > 0 ? -EPROTO : r;
	}
	return send_start_to(vm, &target, sess, why, n);
}

/*
 * Sockets (unix:PATH, tcp:HOST:PORT): the destination listens and speaks
 * first with its PDH public key (struct mig_hello), the source runs
 * SEND_START with it and sends the stream, and the destination answers
 * with struct mig_ack once it read and applied all of it (END, RECEIVE_
 * FINISH): only then does the source run SEND_FINISH. Both little-endian,
 * fixed size.
 */
#define MIG_HELLO_MAGIC	   "MVMHELO1"
#define MIG_ACK_MAGIC	   "MVMACK01"
#define MIG_SOCK_TIMEOUT_S 30

struct mig_hello {
	char magic[8];
	uint8_t pdh[PSP_PDH_PUB_LEN];
	uint8_t pad[7];
};
_Static_assert(sizeof(struct mig_hello) == 112, "mig_hello size");

struct mig_ack {
	char magic[8];
	uint32_t status; /* 0: stream accepted, the guest runs here now */
	uint32_t reserved;
};
_Static_assert(sizeof(struct mig_ack) == 16, "mig_ack size");

union mig_addr {
	struct sockaddr sa;
	struct sockaddr_un un;
	struct sockaddr_in in;
};

static int sock_addr(const struct migrate_uri *u, union mig_addr *a, socklen_t *len)
{
	memset(a, 0, sizeof(*a));
	if (u->kind == MIGRATE_URI_UNIX) {
		if (strlen(u->path) >= sizeof(a->un.sun_path))
			return -ENAMETOOLONG;
		a->un.sun_family = AF_UNIX;
		strcpy(a->un.sun_path, u->path);
		*len = sizeof(a->un);
		return 0;
	}
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(u->port);
	*len = sizeof(a->in);
	/* Numeric IPv4 only: no resolver in the VMM. */
	return inet_pton(AF_INET, u->path, &a->in.sin_addr) == 1 ? 0 : -EINVAL;
}

static void sock_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = MIG_SOCK_TIMEOUT_S};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Source: a connected socket, or -errno with why. */
static int sock_connect(const struct migrate_uri *u, char *why, size_t n)
{
	union mig_addr a;
	socklen_t len;
	int fd, r = sock_addr(u, &a, &len);

	if (r < 0) {
		snprintf(why, n, "bad address %s", u->path);
		return r;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, &a.sa, len) < 0) {
		r = -errno;
		snprintf(why, n, "connect: %s", strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	sock_timeouts(fd);
	return fd;
}

/* Destination: listen, accept one source. */
static int sock_accept(const struct migrate_uri *u, const char *uri, bool verbose)
{
	union mig_addr a;
	socklen_t len;
	int one = 1, lfd, fd, r = sock_addr(u, &a, &len);

	if (r < 0) {
		fprintf(stderr, "mini-vmm: --incoming %s: bad address%s\n", uri,
			u->kind == MIGRATE_URI_TCP ? " (want a numeric IPv4 address)" : "");
		return r;
	}
	lfd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (u->kind == MIGRATE_URI_TCP)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, &a.sa, len) < 0 || listen(lfd, 1) < 0) {
		r = -errno;
		fprintf(stderr, "mini-vmm: --incoming %s: %s\n", uri, strerror(-r));
		close(lfd);
		return r;
	}
	if (verbose)
		fprintf(stderr, "mini-vmm: waiting for the source on %s\n", uri);
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	r = fd < 0 ? -errno : fd;
	close(lfd);
	if (u->kind == MIGRATE_URI_UNIX)
		unlink(u->path);
	if (r < 0)
		fprintf(stderr, "mini-vmm: --incoming %s: accept: %s\n", uri, strerror(-r));
	else
		sock_timeouts(fd);
	return r;
}

/* Connect, read the destination's greeting, SEND_START towards its PDH key. */
static int sock_greet(struct vm *vm, struct fd_chan *chan, struct mvs_session *sess, bool *sent,
		      char *why, size_t n)
{
	struct mig_hello hello;
	int r;

	chan->fd = sock_connect(&vm->opts.migrate_to, why, n);
	if (chan->fd < 0)
		return chan->fd;
	r = fd_read(chan, &hello, sizeof(hello));
	if (r == 0 && memcmp(hello.magic, MIG_HELLO_MAGIC, sizeof(hello.magic)))
		r = -EPROTO;
	if (r < 0) {
		snprintf(why, n, "no mini-vmm destination there (its greeting: %s)",
			 r == -EPROTO ? "wrong magic" : strerror(-r));
		return r;
	}
	chan->bytes = 0;
	if (vm->opts.sev) {
		struct psp_pdh_pub target;

		memcpy(target.point, hello.pdh, sizeof(target.point));
		r = send_start_to(vm, &target, sess, why, n);
		if (r < 0)
			return r;
		*sent = true;
	}
	return 0;
}

/* Only the destination's word that it has it all allows SEND_FINISH. */
static int sock_await_ack(struct fd_chan *chan, char *why, size_t n)
{
	struct mig_ack ack;
	uint64_t bytes = chan->bytes;
	int r = fd_read(chan, &ack, sizeof(ack));

	chan->bytes = bytes;
	if (r == 0 && (memcmp(ack.magic, MIG_ACK_MAGIC, sizeof(ack.magic)) || ack.status))
		r = -EPROTO;
	if (r < 0)
		snprintf(why, n, "the destination did not acknowledge the stream (%s)",
			 r == -EPROTO ? "it refused it" : strerror(-r));
	return r;
}

/* ---- pre-copy (sockets) ---- */

#define MIG_DONE_PAGES 16u /* a dirty set this small goes in the stopped round */

/*
 * The pages dirtied since the last call into sel: KVM's dirty log of every
 * memslot (KVM_GET_DIRTY_LOG returns and clears it), written by the kernel
 * straight into sel->bits (it writes a slot's words whole), and the VMM's
 * own (vm->mig_dirty), whose words are exchanged only where they hold a
 * bit; sel->sum marks the words that hold one.
 */
static int collect_dirty(struct vm *vm, const struct page_sel *sel, uint64_t nwords,
			 uint64_t *count)
{
	const struct {
		uint32_t slot;
		uint64_t gpa, size;
	} slots[2] = {{0, 0, vm->mem.low_size}, {1, MEM_4G, vm->mem.high_size}};
	uint64_t *bits = sel->bits, n = 0, done = 0; /* the words below done are this call's */

	for (unsigned s = 0; s < 2 && slots[s].size; s++) {
		uint64_t words = ALIGN_UP(slots[s].size >> PAGE_SHIFT, 64) / 64;
		uint64_t w0 = (slots[s].gpa >> PAGE_SHIFT) / 64;
		struct kvm_dirty_log log = {.slot = slots[s].slot, .dirty_bitmap = bits + w0};
		int r;

		if (w0 + words > nwords)
			return -EINVAL;
		memset(bits + done, 0, (w0 - done) * sizeof(*bits));
		r = kvm_ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log);
		if (r < 0)
			return r;
		done = w0 + words;
	}
	memset(bits + done, 0, (nwords - done) * sizeof(*bits));
	memset(sel->sum, 0, (nwords / 64 + 1) * sizeof(*sel->sum));
	for (uint64_t i = 0; i < nwords; i++) {
		if (__atomic_load_n(&vm->mig_dirty[i], __ATOMIC_RELAXED))
			bits[i] |= __atomic_exchange_n(&vm->mig_dirty[i], 0, __ATOMIC_RELAXED);
		if (bits[i]) {
			n += (uint64_t)__builtin_popcountll(bits[i]);
			sel->sum[i / 64] |= 1ull << (i % 64);
		}
	}
	*count = n;
	return 0;
}

static void log_round_locked(struct vm *vm, uint64_t round, uint64_t pages, uint64_t bytes)
{
	evlog_begin(&vm->log, "migration_round", -1, vm->generation);
	evlog_u64(&vm->log, "round", round);
	evlog_u64(&vm->log, "pages", pages);
	evlog_u64(&vm->log, "bytes", bytes);
	evlog_end(&vm->log);
}

static uint64_t vcpu0_cr3(struct vm *vm)
{
	struct kvm_sregs sregs;

	return kvm_ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs) < 0 ? 0 : sregs.cr3;
}

/* One live round: pages and bytes logged. */
static int live_round(struct vm *vm, struct stream_writer *w, const struct fd_chan *chan,
		      const struct page_sel *sel)
{
	uint64_t pages = vm->mig_pages_shared + vm->mig_pages_private, bytes = chan->bytes;
	uint64_t round = vm->mig_rounds;
	int r = send_round(vm, w, vcpu0_cr3(vm), sel, 0, true, NULL);

	pthread_mutex_lock(&vm->lock);
	log_round_locked(vm, round, vm->mig_pages_shared + vm->mig_pages_private - pages,
			 chan->bytes - bytes);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/*
 * Pre-copy over a socket, from the main thread (vm_run): greeting and
 * SEND_START, then rounds while the guest runs (round 0 every touched
 * page, then what was dirtied meanwhile) until the dirty set is small or
 * --migrate-rounds, then every vCPU stops for the final round and the state.
 * Called and returns with the lock held; drops it while the guest runs.
 */
static void migrate_socket_locked(struct vm *vm)
{
	uint64_t nwords = mem_nr_pages(&vm->mem) / 64 + 1, ndirty = 0, t_stop = 0, stop_real = 0;
	uint64_t t_end = 0, ready_deadline = 0;
	uint64_t *vmm_dirty = calloc(nwords, sizeof(uint64_t));
	struct page_sel sel = {calloc(nwords, sizeof(uint64_t)),
			       calloc(nwords / 64 + 1, sizeof(uint64_t))};
	struct fd_chan chan = {-1, 0, true};
	struct host_caps hc = {0};
	struct stream_writer w;
	struct mvs_session sess;
	char why[320] = "";
	bool sent = false, winit = false, logging = false;
	int r = sel.bits && sel.sum && vmm_dirty ? 0 : -ENOMEM;

	pthread_mutex_unlock(&vm->lock);
	if (r == 0 && (r = host_caps_get(vm, &hc)) < 0)
		snprintf(why, sizeof(why), "cannot read this host's vCPU state limits: %s",
			 strerror(-r));
	if (r == 0)
		r = sock_greet(vm, &chan, &sess, &sent, why, sizeof(why));
	if (r == 0) {
		r = stream_writer_init(&w, fd_write, &chan);
		winit = r == 0;
	}
	if (r == 0)
		r = write_head(vm, &w, sent ? &sess : NULL);
	if (r == 0 && !(vm->mig_sent_crc = calloc(mem_nr_pages(&vm->mem), sizeof(uint32_t))))
		r = -ENOMEM;
	if (r == 0 && (!(vm->mig_sent_ct = calloc(nwords, sizeof(uint64_t))) ||
		       !(vm->mig_sent_map = calloc(nwords, sizeof(uint64_t))) ||
		       !(vm->mig_sent_sum = calloc(nwords / 64 + 1, sizeof(uint64_t)))))
		r = -ENOMEM;
	if (r == 0) {
		pthread_mutex_lock(&vm->lock);
		vm->mig_dirty = vmm_dirty;
		vm->hostmem.dirty = vmm_dirty;
		pthread_mutex_unlock(&vm->lock);
		r = vm_set_dirty_log(vm, true);
		logging = r == 0;
	}
	/* --migrate-rounds 0: the vCPUs stopped at the point (request_locked). */
	if (r == 0 && vm->opts.migrate_rounds)
		r = live_round(vm, &w, &chan, NULL);
	for (;;) {
		while (r == 0 && vm->mig_rounds < vm->opts.migrate_rounds) {
			r = collect_dirty(vm, &sel, nwords, &ndirty);
			if (r < 0 || ndirty <= MIG_DONE_PAGES)
				break;
			if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE)) {
				r = -ECANCELED;
				break;
			}
			r = live_round(vm, &w, &chan, &sel);
		}
		if (r < 0 && !why[0])
			snprintf(why, sizeof(why), "pre-copy: %s",
				 w.st.err.msg[0] ? w.st.err.msg : strerror(-r));
		pthread_mutex_lock(&vm->lock);
		if (r < 0)
			break;
		/* Stop-and-copy: every vCPU out of KVM_RUN, as for a snapshot. */
		__atomic_store_n(&vm->mig_pause, true, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		pthread_cond_broadcast(&vm->cond);
		while (!vm->stopping && !migrate_quiet_locked(vm))
			pthread_cond_wait(&vm->cond, &vm->lock);
		if (vm->stopping) {
			r = -ECANCELED;
			snprintf(why, sizeof(why), "the guest ended during pre-copy");
			break;
		}
		/*
		 * The guest may have withdrawn READY while the rounds ran (a
		 * kexec, a CPU going offline): its bitmap is then no basis for
		 * the final round. Let it run on until it is READY again,
		 * within --migrate-wait of the stop.
		 */
		if (!vm->opts.sev || vm->mig.ready || vm->opts.migrate_force)
			break;
		if (!ready_deadline)
			ready_deadline = now_ns() + vm->opts.migrate_wait_s * 1000000000ull;
		if (now_ns() >= ready_deadline) {
			r = -ETIMEDOUT;
			snprintf(why, sizeof(why),
				 "the guest withdrew READY during pre-copy and did not write it "
				 "again within --migrate-wait");
			break;
		}
		__atomic_store_n(&vm->mig_pause, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		r = collect_dirty(vm, &sel, nwords, &ndirty);
		if (r == 0)
			r = live_round(vm, &w, &chan, &sel);
	}
	if (r == 0) {
		t_stop = now_ns();
		stop_real = now_real_ns();
		for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++)
			r = vcpu_complete_pending(&vm->vcpus[i]);
		if (r == 0)
			r = collect_dirty(vm, &sel, nwords, &ndirty);
		vm->mig_unlogged = 0;
		if (r == 0)
			r = write_tail(vm, &w, &hc, vcpu0_cr3(vm), &sel, &vm->mig_unlogged,
				       stop_real);
		if (r < 0)
			snprintf(why, sizeof(why), "stop-and-copy: %s",
				 w.st.err.msg[0] ? w.st.err.msg : strerror(-r));
		vm->mig_bytes = chan.bytes;
		if (r == 0)
			r = sock_await_ack(&chan, why, sizeof(why));
		t_end = now_ns(); /* the destination runs the guest from here */
	}
	if (r == 0 && sent && (r = psp_send_finish(vm->psp)) != 0) {
		snprintf(why, sizeof(why), "SEND_FINISH: %s",
			 r > 0 ? psp_status_name(r) : strerror(-r));
		r = -EPROTO;
	}
	if (logging)
		vm_set_dirty_log(vm, false);
	vm->mig_dirty = NULL;
	vm->hostmem.dirty = NULL;
	free(vm->mig_sent_crc);
	vm->mig_sent_crc = NULL;
	free(vm->mig_sent_ct);
	vm->mig_sent_ct = NULL;
	free(vm->mig_sent_map);
	vm->mig_sent_map = NULL;
	free(vm->mig_sent_sum);
	vm->mig_sent_sum = NULL;
	if (winit)
		stream_writer_destroy(&w);
	if (chan.fd >= 0)
		close(chan.fd);
	free(hc.msrs);
	free(sel.bits);
	free(sel.sum);
	free(vmm_dirty);
	finish_locked(vm, r, sent, why, t_stop, t_end);
}

void migrate_precopy_locked(struct vm *vm)
{
	vm->mig_precopy = false;
	migrate_socket_locked(vm);
}

/* A snapshot: PATH.tmp, renamed to PATH once complete, mode 0600. */
static int migrate_to_file(struct vm *vm, const struct host_caps *hc,
			   const struct mvs_session *session, uint64_t stop_real_ns, char *why,
			   size_t n)
{
	const char *path = vm->opts.migrate_to.path;
	char tmp[sizeof(vm->opts.migrate_to.path) + 8];
	struct fd_chan chan = {-1, 0, false};
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
		r = write_head(vm, &w, session);
		if (r == 0)
			r = write_tail(vm, &w, hc, vcpu0_cr3(vm), NULL, NULL, stop_real_ns);
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

/*
 * The end of a migration on the source, lock held: on failure SEND_CANCEL
 * (the guest goes on here), migration_failed, the vCPUs resume; on
 * success migration_done and the VM stops with status 0.
 */
static void finish_locked(struct vm *vm, int r, bool sent, const char *why, uint64_t t_stop,
			  uint64_t t_end)
{
	char uri[160];

	if (r < 0) {
		if (sent && psp_state(vm->psp) == PSP_GSTATE_SUPDATE)
			psp_send_cancel(vm->psp);
		migrate_log_failed_locked(vm, why[0] ? why : strerror(-r));
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
	if (vm->opts.migrate_to.kind != MIGRATE_URI_FILE)
		evlog_u64(&vm->log, "unlogged_changes", vm->mig_unlogged);
	evlog_end(&vm->log);
	fprintf(stderr,
		"mini-vmm: migrated to %s: %" PRIu64 " rounds, %" PRIu64 " pages (%" PRIu64
		" shared, %" PRIu64 " private), %" PRIu64 " bytes, stopped for %" PRIu64 " us\n",
		uri, vm->mig_rounds, vm->mig_pages_shared + vm->mig_pages_private,
		vm->mig_pages_shared, vm->mig_pages_private, vm->mig_bytes,
		(t_end - t_stop) / 1000);
	vm->mig_done = true;
	vm_stop_locked(vm, EXIT_OK, "migrated to %s", uri);
}

void migrate_source_locked(struct vm *vm)
{
	uint64_t t_stop = now_ns(), stop_real = now_real_ns();
	struct host_caps hc = {0};
	char why[320] = "";
	struct mvs_session sess;
	bool sent = false;
	int r;

	if (vm->opts.migrate_to.kind != MIGRATE_URI_FILE) {
		migrate_socket_locked(vm);
		return;
	}
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
	if (r == 0 && vm->opts.sev) {
		r = file_send_start(vm, &sess, why, sizeof(why));
		sent = r == 0;
	}
	if (r == 0)
		r = migrate_to_file(vm, &hc, vm->opts.sev ? &sess : NULL, stop_real, why,
				    sizeof(why));
	/* The stream is complete: now the source guest may never run again. */
	if (r == 0 && sent && (r = psp_send_finish(vm->psp)) != 0) {
		snprintf(why, sizeof(why), "SEND_FINISH: %s",
			 r > 0 ? psp_status_name(r) : strerror(-r));
		r = -EPROTO;
	}
	free(hc.msrs);
	finish_locked(vm, r, sent, why, t_stop, now_ns());
}

/* ---- the destination ---- */

struct incoming {
	struct vm *vm;
	struct host_caps hc;
	const char *uri;
	bool have_vmstate;
	/*
	 * SEV: the pages received, [0] as plain records, [1] through the PSP.
	 * Each is stored as the guest reads it if the bitmap that sent it was
	 * right; once the guest's page tables are in, hostmem corrects the
	 * pages the bitmap sent the wrong way (settle_pages).
	 */
	uint64_t *got[2];
	uint64_t *got_words; /* a bit a word of got[0] and got[1] ever written */
};

/* Refuse with the reader's position: "CONFIG at offset N: ...". */
__attribute__((format(printf, 3, 4))) static int
refuse(const struct incoming *in, const struct stream_section *sec, const char *fmt, ...)
{
	struct vm *vm = in->vm;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mini-vmm: --incoming %s: section %s at offset %" PRIu64 ": %s\n", in->uri,
		stream_section_name(sec->type), sec->offset, msg);
	pthread_mutex_lock(&vm->lock);
	evlog_begin(&vm->log, "migration_refused", -1, vm->generation);
	evlog_str(&vm->log, "section", stream_section_name(sec->type));
	evlog_u64(&vm->log, "offset", sec->offset);
	evlog_str(&vm->log, "reason", msg);
	evlog_end(&vm->log);
	pthread_mutex_unlock(&vm->lock);
	return EXIT_USAGE;
}

static int apply_config(struct incoming *in, const struct stream_section *sec)
{
	const struct mvs_config *c = &sec->u.config;
	struct vm *vm = in->vm;
	struct vm_opts *o = &vm->opts;
	struct minivmm_cpuid_table here;
	int r;

	if ((c->flags & MVS_CFG_SEV) && !o->psp_keyed)
		return refuse(in, sec,
			      "an SEV guest, and no target key: RECEIVE_START needs the PDH key "
			      "the session was sealed to (%s.key beside a snapshot)",
			      o->incoming.path);
	o->ram_size = c->ram_size;
	o->nr_cpus = c->nr_cpus;
	o->sev = c->flags & MVS_CFG_SEV;
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
	if (o->sev) {
		uint64_t nwords = mem_nr_pages(&vm->mem) / 64 + 1;

		in->got[0] = calloc(nwords, sizeof(uint64_t));
		in->got[1] = calloc(nwords, sizeof(uint64_t));
		in->got_words = calloc(nwords / 64 + 1, sizeof(uint64_t));
		if (!in->got[0] || !in->got[1] || !in->got_words) {
			fprintf(stderr, "mini-vmm: out of memory\n");
			return EXIT_USAGE;
		}
	}
	r = host_caps_get(vm, &in->hc);
	if (r < 0) {
		fprintf(stderr, "mini-vmm: cannot read this host's vCPU state limits: %s\n",
			strerror(-r));
		return EXIT_USAGE;
	}
	return 0;
}

static int apply_session(struct incoming *in, const struct stream_section *sec)
{
	const struct mvs_session *ss = &sec->u.session;
	struct psp_pdh_pub source;
	struct psp_session session;
	int r;

	memcpy(source.point, ss->pdh, sizeof(source.point));
	memcpy(&session, ss->session, sizeof(session));
	r = psp_receive_start(in->vm->psp, ss->policy, &source, &session);
	if (r)
		return refuse(in, sec, "RECEIVE_START: %s",
			      r > 0 ? psp_status_name(r) : strerror(-r));
	return 0;
}

/* A page seen again in a later round: only its last form counts. */
static void mark_got(struct incoming *in, uint64_t gpa, bool psp)
{
	uint64_t w = gpa >> (PAGE_SHIFT + 6), bit = 1ull << ((gpa >> PAGE_SHIFT) & 63);

	in->got[psp][w] |= bit;
	in->got[!psp][w] &= ~bit;
	in->got_words[w / 64] |= 1ull << (w % 64);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Fault in the guest memory a RAM section is about to write, a contiguous
 * run of GPAs with one madvise instead of a fault a page (the first write
 * to a page is what costs here). Only a hint: errors are ignored (an older
 * kernel), the writes fault in whatever is left.
 */
static void prefault_ram(struct vm *vm, struct stream_section *sec)
{
	uint64_t cursor = sec->u.ram.cursor, start = 0, end = 0;
	struct stream_page pg;
	bool more;

	do {
		more = stream_next_page(sec, &pg);
		if (more && end && pg.gpa == end) {
			end += MVS_PAGE_SIZE;
			continue;
		}
		if (end) {
			uint8_t *hva = mem_gpa_to_hva(&vm->mem, start, end - start);

			if (hva)
				(void)madvise(hva, end - start, MADV_POPULATE_WRITE);
		}
		start = pg.gpa;
		end = more ? pg.gpa + MVS_PAGE_SIZE : 0;
	} while (more);
	sec->u.ram.cursor = cursor;
}

static int apply_ram(struct incoming *in, struct stream_section *sec)
{
	struct vm *vm = in->vm;
	struct stream_page pg;
	static const uint8_t zero[MVS_PAGE_SIZE];

	prefault_ram(vm, sec);
	while (stream_next_page(sec, &pg)) {
		const void *data = pg.kind == MVS_PAGE_ZERO ? zero : pg.data;
		uint8_t *dst = mem_gpa_to_hva(&vm->mem, pg.gpa, MVS_PAGE_SIZE);
		int r;

		if (!dst)
			return refuse(in, sec, "page %#" PRIx64 " is not guest memory here",
				      pg.gpa);
		if (!vm->opts.sev) {
			memcpy(dst, data, MVS_PAGE_SIZE);
			vm->mig_pages_shared++;
			continue;
		}
		mark_got(in, pg.gpa, pg.kind == MVS_PAGE_PRIVATE_PSP);
		if (pg.kind != MVS_PAGE_PRIVATE_PSP) {
			memcpy(dst, data, MVS_PAGE_SIZE);
			vm->mig_pages_shared++;
			continue;
		}
		r = psp_receive_update_data(vm->psp, pg.gpa, (const struct psp_packet_hdr *)pg.hdr,
					    pg.data, MVS_PAGE_SIZE, dst);
		if (r) {
			/* The PSP refused a packet (its MAC, its GPA, its order). */
			pthread_mutex_lock(&vm->lock);
			evlog_begin(&vm->log, "migration_packet_refused", -1, vm->generation);
			evlog_hex(&vm->log, "gpa", pg.gpa);
			evlog_str(&vm->log, "status", r > 0 ? psp_status_name(r) : strerror(-r));
			evlog_end(&vm->log);
			pthread_mutex_unlock(&vm->lock);
		}
		if (r)
			return refuse(in, sec, "RECEIVE_UPDATE_DATA of page %#" PRIx64 ": %s",
				      pg.gpa, r > 0 ? psp_status_name(r) : strerror(-r));
		vm->mig_pages_private++;
	}
	return 0;
}

/*
 * After RECEIVE_FINISH, with the guest's page tables in: the pages the
 * source's bitmap sent the wrong way read as they would on hardware
 * (hostmem_settle_received, at the boot vCPU's CR3). A page table sent the
 * wrong way would change the walk for the pages after it: such a guest is
 * corrupted either way.
 */
static int settle_pages(struct incoming *in)
{
	struct vm *vm = in->vm;
	uint64_t nsum = (mem_nr_pages(&vm->mem) / 64 + 1) / 64 + 1;
	struct kvm_sregs sregs;
	int r = kvm_ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs);

	/* Only the words a page arrived in (got_words): a few, in a large idle guest. */
	for (int psp = 0; psp < 2; psp++)
		for (uint64_t sw = 0; r == 0 && sw < nsum; sw++)
			for (uint64_t ws = in->got_words[sw]; r == 0 && ws; ws &= ws - 1) {
				uint64_t w = sw * 64 + (uint64_t)__builtin_ctzll(ws);

				for (uint64_t bits = in->got[psp][w]; r == 0 && bits;
				     bits &= bits - 1) {
					uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(bits);

					r = hostmem_settle_received(&vm->hostmem, sregs.cr3,
								    pfn << PAGE_SHIFT, psp);
				}
			}
	return r;
}

static int apply_bitmap(struct incoming *in, const struct stream_section *sec)
{
	struct vm *vm = in->vm;

	free(vm->mig_arrival_runs);
	vm->mig_arrival_nruns = 0;
	vm->mig_arrival_runs = calloc(sec->u.bitmap.nruns ? sec->u.bitmap.nruns : 1,
				      sizeof(*vm->mig_arrival_runs));
	if (!vm->mig_arrival_runs)
		return refuse(in, sec, "out of memory");
	for (uint32_t i = 0; i < sec->u.bitmap.nruns; i++) {
		const struct mvs_run *run = &sec->u.bitmap.runs[i];
		struct encmap_prov prov = {run->vcpu, run->generation, run->seq};
		int r = encmap_set_shared(&vm->encmap, run->start_page,
					  run->end_page - run->start_page, &prov);

		if (r < 0)
			return refuse(in, sec, "run [%#" PRIx64 ", %#" PRIx64 "): %s",
				      run->start_page, run->end_page, strerror(-r));
		vm->mig_arrival_runs[vm->mig_arrival_nruns++] = *run;
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
	vm->mig_count = blob.migrations;
	cur = vs->sched_words[SW_SCHED_CURRENT];
	if (blob.magic != MIG_BLOB_MAGIC || blob.rate_ppm > MVS_PPM_MAX || blob.on > 1 ||
	    blob.nr_open > DEVICE_MAX_OPEN || !blob.migrations || cur > vm->nr_vcpus)
		return refuse(in, sec, "device or scheduler state out of range");
	if (vs->s.t_ns > now)
		return refuse(in, sec, "source time %" PRIu64 " ns is beyond this host's clock",
			      vs->s.t_ns);
	/* The log and every time base continue where the source stopped. */
	evlog_continue(&vm->log, vs->s.log_seq, now - vs->s.t_ns);
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
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		if (i >= vm->nr_vcpus && blob.exits[i])
			return refuse(in, sec, "exit count for vCPU %u, CONFIG has %u", i,
				      vm->nr_vcpus);
		vm->vcpus[i].exits = blob.exits[i];
	}
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
		case MVS_SEC_SESSION: /* the reader: only after CONFIG with SEV */
			r = apply_session(in, &sec);
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
	if (r == 0 && in->vm->opts.sev) {
		int st = psp_receive_finish(in->vm->psp);

		if (st) {
			fprintf(stderr, "mini-vmm: --incoming %s: RECEIVE_FINISH: %s\n", in->uri,
				st > 0 ? psp_status_name(st) : strerror(-st));
			return EXIT_USAGE;
		}
		st = settle_pages(in);
		if (st < 0) {
			fprintf(stderr, "mini-vmm: --incoming %s: storing the pages: %s\n", in->uri,
				strerror(-st));
			return EXIT_USAGE;
		}
	}
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

/*
 * The guest was migrated: one more in the counter of vCPU 0's ucall page
 * (abi.h MINIVMM_MIGRATION_INFO), written as the host writes a shared page.
 */
static int tell_guest_migrated(struct vm *vm, const char *uri)
{
	const uint64_t gpa = MEM_UCALL_GPA + MINIVMM_MIGRATION_INFO;
	struct minivmm_migration_info info = {.migrations = vm->mig_count};
	struct kvm_sregs sregs;
	int r = kvm_ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs);

	/*
	 * Written as the host writes a shared page: the bytes land in DRAM
	 * as they are, whatever the guest's mapping is right now (a guest
	 * that maps its ucall page private reads them as garbage).
	 */
	if (r == 0)
		r = hostmem_write(&vm->hostmem, sregs.cr3, gpa, &info, sizeof(info));
	if (r < 0) {
		fprintf(stderr, "mini-vmm: --incoming %s: cannot tell the guest it moved: %s\n",
			uri, strerror(-r));
		return EXIT_GUEST_CRASH;
	}
	return 0;
}

int migrate_incoming(struct vm *vm, const struct vm_opts *opts)
{
	struct incoming in = {.vm = vm};
	struct fd_chan chan = {-1, 0, false};
	struct stream_reader rd;
	char uri[160];
	int status;

	vm_init_empty(vm, opts);
	in.uri = migrate_uri_str(&opts->incoming, uri, sizeof(uri));
	if (opts->incoming.kind == MIGRATE_URI_FILE) {
		int k = read_key_file(&opts->incoming, &vm->opts.psp_key);

		if (k < 0 && k != -ENOENT) {
			fprintf(stderr, "mini-vmm: --incoming %s: %s.key: %s\n", uri,
				opts->incoming.path,
				k == -EINVAL ? "not a target key" : strerror(-k));
			return EXIT_USAGE;
		}
		vm->opts.psp_keyed = k == 0;
	}
	if (opts->incoming.kind != MIGRATE_URI_FILE) {
		/*
		 * Our PSP's keys from a fresh seed, so that its PDH key can be
		 * sent before CONFIG says whether the guest has SEV at all.
		 */
		struct mig_hello hello = {.magic = MIG_HELLO_MAGIC};
		struct psp_pdh_pub pdh;

		if (random_key(&vm->opts.psp_key) < 0 || pdh_of_key(vm->opts.psp_key, &pdh)) {
			fprintf(stderr, "mini-vmm: --incoming %s: cannot make a PDH key\n", uri);
			return EXIT_USAGE;
		}
		vm->opts.psp_keyed = true;
		memcpy(hello.pdh, pdh.point, sizeof(hello.pdh));
		chan.sock = true;
		chan.fd = sock_accept(&opts->incoming, uri, opts->verbose);
		if (chan.fd < 0)
			return EXIT_USAGE;
		vm->mig_t_begin_ns = now_ns();
		if (fd_write(&chan, &hello, sizeof(hello)) < 0) {
			fprintf(stderr, "mini-vmm: --incoming %s: the source went away\n", uri);
			close(chan.fd);
			return EXIT_USAGE;
		}
		chan.bytes = 0;
	} else {
		vm->mig_t_begin_ns = now_ns();
		chan.fd = open(opts->incoming.path, O_RDONLY | O_CLOEXEC);
		if (chan.fd < 0) {
			fprintf(stderr, "mini-vmm: --incoming %s: %s\n", uri, strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (stream_reader_init(&rd, fd_read, &chan) < 0) {
		close(chan.fd);
		fprintf(stderr, "mini-vmm: out of memory\n");
		return EXIT_USAGE;
	}
	status = read_stream(&in, &rd, opts->incoming.kind == MIGRATE_URI_FILE);
	stream_reader_destroy(&rd);
	if (chan.sock) {
		struct mig_ack ack = {.magic = MIG_ACK_MAGIC, .status = status != 0};
		uint64_t got = chan.bytes;

		if (fd_write(&chan, &ack, sizeof(ack)) < 0 && status == 0) {
			fprintf(stderr,
				"mini-vmm: --incoming %s: the source went away before "
				"it heard the stream was complete\n",
				uri);
			status = EXIT_USAGE;
		}
		chan.bytes = got;
	}
	close(chan.fd);
	free(in.hc.msrs);
	/* How each page came, for the guest's memory check (vmm/verify.c). */
	vm->mig_got[0] = in.got[0];
	vm->mig_got[1] = in.got[1];
	free(in.got_words);
	vm->mig_bytes = chan.bytes;
	if (status == 0)
		status = tell_guest_migrated(vm, uri);
	return status;
}

const struct vm_migrate_ops migrate_ops = {
	.precopy_locked = migrate_precopy_locked,
	.source_locked = migrate_source_locked,
};
