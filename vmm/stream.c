// SPDX-License-Identifier: GPL-2.0-only
/*
 * The migration stream: encode, decode, validate (docs/stream.md).
 *
 * The destination treats the stream as hostile (QEMU
 * docs/devel/migration/main.rst): the reader trusts a section header only
 * after its own CRC matched, reads no more than the declared length,
 * allocates no more than the type's bound, and interprets no payload byte
 * before the section's CRC matched (Firecracker checks its snapshot's CRC
 * before deserializing). The order of sections is a state machine, as
 * Cloud Hypervisor's migration protocol is; the writer runs the same one
 * and the same validators over what it is about to send.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "encmap.h"
#include "memory.h"
#include "psp.h"
#include "stream.h"

/* The stream carries the secure processor's blobs as they are. */
_Static_assert(MVS_PSP_PACKET_HDR_SIZE == sizeof(struct psp_packet_hdr), "packet header");
_Static_assert(MVS_PSP_SESSION_SIZE == sizeof(struct psp_session), "session blob");
_Static_assert(MVS_PSP_PDH_SIZE == PSP_PDH_PUB_LEN, "PDH point");
#include "util.h"
#include "machine.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the stream is little-endian and decoded by memcpy: x86-64 only"
#endif

/* The format's limits are mini-vmm's own. */
_Static_assert(MVS_MEM_MIN == MEM_MIN_SIZE && MVS_MEM_MAX == MEM_MAX_SIZE, "RAM limits");
_Static_assert(MVS_CPUS_MAX == VM_MAX_VCPUS, "vCPU limit");
_Static_assert(MVS_SCRIPT_MAX == VM_SCRIPT_MAX, "script limit");
_Static_assert(MVS_PAGE_SIZE == PAGE_SIZE, "page size");
_Static_assert(MVS_VCPU_FIRMWARE == ENCMAP_VCPU_FIRMWARE, "firmware provenance");
_Static_assert(sizeof(struct mvs_run) == sizeof(struct encmap_prov_run), "run = encmap run");
_Static_assert(MVS_INJECT_MAX == ARRAY_SIZE(((struct vm_opts *)0)->inject), "inject rules");
_Static_assert((INJ_HYPERCALL | INJ_UCALL | INJ_MSR) == 7, "inject kinds");
_Static_assert(MVS_L_COUNT * sizeof(uint64_t) == sizeof(struct vm_layout), "layout fields");
/* The KVM structs as docs/stream.md gives their sizes. */
_Static_assert(sizeof(struct kvm_regs) == 144 && sizeof(struct kvm_sregs) == 312 &&
		       sizeof(struct kvm_sregs2) == 320 &&
		       sizeof(struct kvm_xsave) == MVS_XSAVE_MIN &&
		       sizeof(struct kvm_xcrs) == 392 && sizeof(struct kvm_debugregs) == 128 &&
		       sizeof(struct kvm_vcpu_events) == 64 && sizeof(struct kvm_msrs) == 8 &&
		       sizeof(struct kvm_msr_entry) == 16,
	       "KVM state sizes");
#define ITEM(n) (sizeof(struct mvs_item) + ALIGN_UP(n, 8))
_Static_assert(sizeof(struct mvs_vcpu_state) + ITEM(sizeof(struct kvm_regs)) +
			       ITEM(sizeof(struct kvm_sregs2)) + ITEM(MVS_XSAVE_MAX) +
			       ITEM(sizeof(struct kvm_xcrs)) + ITEM(sizeof(struct kvm_debugregs)) +
			       ITEM(8 + MVS_MSRS_MAX * sizeof(struct kvm_msr_entry)) +
			       ITEM(sizeof(struct kvm_vcpu_events)) <=
		       MVS_VCPU_MAX,
	       "MVS_VCPU_MAX holds the largest VCPU section");

#define SEC_HDR	      sizeof(struct mvs_section)
#define POLICY_NOSEND (1u << 3) /* sev-tool sevapi.h SEV_POLICY_NOSEND */

const char *stream_section_name(uint32_t type)
{
	switch (type) {
	case MVS_SEC_CONFIG:
		return "CONFIG";
	case MVS_SEC_SESSION:
		return "SESSION";
	case MVS_SEC_RAM:
		return "RAM";
	case MVS_SEC_ROUND:
		return "ROUND";
	case MVS_SEC_BITMAP:
		return "BITMAP";
	case MVS_SEC_VCPU:
		return "VCPU";
	case MVS_SEC_VMSTATE:
		return "VMSTATE";
	case MVS_SEC_END:
		return "END";
	}
	return "unknown";
}

/* Types with several instances are named with their id: "VCPU #1". */
static bool multi_instance(uint32_t type)
{
	return type == MVS_SEC_RAM || type == MVS_SEC_ROUND || type == MVS_SEC_BITMAP ||
	       type == MVS_SEC_VCPU;
}

static const char *label(char *buf, size_t n, uint32_t type, uint32_t id)
{
	if (multi_instance(type))
		snprintf(buf, n, "%s #%" PRIu32, stream_section_name(type), id);
	else if (!strcmp(stream_section_name(type), "unknown"))
		snprintf(buf, n, "of unknown type 0x%08" PRIx32, type);
	else
		snprintf(buf, n, "%s", stream_section_name(type));
	return buf;
}

/* ---- errors ---- */

__attribute__((format(printf, 5, 6))) static int
fail(struct stream_state *st, int e, const char *section, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err.msg, sizeof(st->err.msg), fmt, ap);
	va_end(ap);
	st->err.section = section;
	st->err.offset = off;
	return e;
}

/* "section VCPU #1 at offset 123: ..." */
__attribute__((format(printf, 6, 7))) static int sec_fail(struct stream_state *st, int e,
							  const struct mvs_section *h, uint64_t off,
							  const char *what, const char *fmt, ...)
{
	char lab[48], detail[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return fail(st, e, stream_section_name(h->type), off, "%s%s at offset %" PRIu64 ": %s",
		    what, label(lab, sizeof(lab), h->type, h->id), off, detail);
}
#define BAD(e, off, ...) sec_fail(st, e, h, off, "section ", __VA_ARGS__)

/* ---- per-type validators: payload p of h->length bytes at stream offset po ---- */

static bool in_slot(const struct mvs_config *c, uint64_t gpa, uint64_t len)
{
	for (uint32_t i = 0; i < c->nr_slots; i++)
		if (range_within(gpa, len, c->slots[i].gpa, c->slots[i].size))
			return true;
	return false;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#define CFG_OFF(field) (po + offsetof(struct mvs_config, field))

static int check_config(struct stream_state *st, const struct mvs_section *h, uint64_t po,
			const struct mvs_config *c)
{
	uint64_t total = 0, prev_end = 0;

	if (c->ram_size < MVS_MEM_MIN || c->ram_size > MVS_MEM_MAX ||
	    !IS_ALIGNED(c->ram_size, MVS_MEM_ALIGN))
		return BAD(-EINVAL, CFG_OFF(ram_size),
			   "ram_size %" PRIu64 " not in 16 MiB..1 TiB in whole MiB", c->ram_size);
	if (c->nr_cpus < 1 || c->nr_cpus > MVS_CPUS_MAX)
		return BAD(-EINVAL, CFG_OFF(nr_cpus), "nr_cpus %" PRIu32 " not in 1..%u",
			   c->nr_cpus, MVS_CPUS_MAX);
	if (c->flags & ~MVS_CFG_ALL)
		return BAD(-EINVAL, CFG_OFF(flags), "unknown flags 0x%" PRIx32, c->flags);
	if (c->cbit < MVS_CBIT_MIN || c->cbit > MVS_CBIT_MAX)
		return BAD(-EINVAL, CFG_OFF(cbit), "cbit %" PRIu32 " not in %u..%u", c->cbit,
			   MVS_CBIT_MIN, MVS_CBIT_MAX);
	if (c->transport > HC_TRANSPORT_PORT)
		return BAD(-EINVAL, CFG_OFF(transport), "unknown transport %" PRIu32, c->transport);
	if (c->sched > MVS_SCHED_SERIAL)
		return BAD(-EINVAL, CFG_OFF(sched), "unknown sched mode %" PRIu32, c->sched);
	if (c->timeout_s < 1 || c->timeout_s > MVS_TIMEOUT_MAX)
		return BAD(-EINVAL, CFG_OFF(timeout_s), "timeout %" PRIu64 " s not in 1..%llu",
			   c->timeout_s, MVS_TIMEOUT_MAX);
	if (c->nr_slots < 1 || c->nr_slots > MVS_SLOTS_MAX)
		return BAD(-EINVAL, CFG_OFF(nr_slots), "nr_slots %" PRIu32 " not in 1..%u",
			   c->nr_slots, MVS_SLOTS_MAX);
	for (uint32_t i = 0; i < MVS_SLOTS_MAX; i++) {
		const struct mvs_slot *s = &c->slots[i];
		uint64_t so = CFG_OFF(slots) + i * sizeof(*s);

		if (i >= c->nr_slots) {
			if (s->gpa || s->size)
				return BAD(-EINVAL, so, "unused slot %" PRIu32 " not zero", i);
			continue;
		}
		/* Slots ascend from 0, whole pages, and end below 2^52 (MAXPHYADDR). */
		if (!s->size || !IS_ALIGNED(s->gpa | s->size, PAGE_SIZE) ||
		    (i == 0 ? s->gpa != 0 : s->gpa < prev_end) ||
		    !range_within(s->gpa, s->size, 0, 1ull << 52))
			return BAD(-EINVAL, so,
				   "slot %" PRIu32 " [0x%" PRIx64 ", +0x%" PRIx64
				   ") not page aligned, ascending from 0 and below 2^52",
				   i, s->gpa, s->size);
		prev_end = s->gpa + s->size;
		total += s->size;
	}
	if (total != c->ram_size)
		return BAD(-EINVAL, CFG_OFF(slots),
			   "slots hold %" PRIu64 " bytes, ram_size %" PRIu64, total, c->ram_size);
	if (!c->vmm_region_size || !IS_ALIGNED(c->vmm_region_gpa | c->vmm_region_size, PAGE_SIZE) ||
	    !range_within(c->vmm_region_gpa, c->vmm_region_size, 0, c->slots[0].size))
		return BAD(-EINVAL, CFG_OFF(vmm_region_gpa),
			   "VMM region not whole pages in slot 0");
	if (!c->fw_shared_size || !IS_ALIGNED(c->fw_shared_gpa | c->fw_shared_size, PAGE_SIZE) ||
	    !range_within(c->fw_shared_gpa, c->fw_shared_size, 0, c->slots[0].size))
		return BAD(-EINVAL, CFG_OFF(fw_shared_gpa),
			   "firmware-shared range not whole pages in slot 0");
	if (!IS_ALIGNED(c->ucall_gpa, PAGE_SIZE) ||
	    !range_within(c->ucall_gpa, (uint64_t)c->nr_cpus * PAGE_SIZE, c->fw_shared_gpa,
			  c->fw_shared_size))
		return BAD(-EINVAL, CFG_OFF(ucall_gpa),
			   "ucall pages 0x%" PRIx64 " (%" PRIu32
			   " of them) not inside the firmware-shared range",
			   c->ucall_gpa, c->nr_cpus);
	for (unsigned i = 0; i < MVS_L_COUNT; i++) {
		uint64_t v = c->layout[i], lo = CFG_OFF(layout) + i * 8;
		bool ok = i == MVS_L_SCRIPT_SIZE
				  ? v <= MVS_SCRIPT_MAX
				  : range_within(v, 0, c->vmm_region_gpa, c->vmm_region_size);

		if (!ok)
			return BAD(-EINVAL, lo,
				   "layout[%u] 0x%" PRIx64 " not inside the VMM region", i, v);
	}
	if (c->nr_inject > MVS_INJECT_MAX || c->reserved)
		return BAD(-EINVAL, CFG_OFF(nr_inject),
			   "nr_inject %" PRIu32 " > %u or reserved set", c->nr_inject,
			   MVS_INJECT_MAX);
	for (uint32_t i = 0; i < MVS_INJECT_MAX; i++) {
		const struct mvs_inject *r = &c->inject[i];
		uint64_t ro = CFG_OFF(inject) + i * sizeof(*r);

		if (i >= c->nr_inject) {
			if (!all_zero(r, sizeof(*r)))
				return BAD(-EINVAL, ro, "unused inject rule %" PRIu32 " not zero",
					   i);
			continue;
		}
		if (r->vcpu < -1 || r->vcpu >= (int32_t)c->nr_cpus || !r->kinds || r->kinds & ~7u ||
		    r->prob_ppm > MVS_PPM_MAX || r->delay_us > MVS_DELAY_MAX || r->reserved)
			return BAD(-EINVAL, ro, "inject rule %" PRIu32 " out of range", i);
	}
	if (c->cpuid.magic != MINIVMM_CPUID_MAGIC || c->cpuid.count > MINIVMM_CPUID_MAX ||
	    !all_zero(&c->cpuid.fn[c->cpuid.count],
		      (MINIVMM_CPUID_MAX - c->cpuid.count) * sizeof(c->cpuid.fn[0])))
		return BAD(-EINVAL, CFG_OFF(cpuid), "bad firmware CPUID table");
	return 0;
}

static int check_session(struct stream_state *st, const struct mvs_section *h, uint64_t po,
			 const struct mvs_session *s)
{
	if (s->reserved || !all_zero(s->pad, sizeof(s->pad)))
		return BAD(-EINVAL, po + offsetof(struct mvs_session, reserved),
			   "reserved bytes not zero");
	/* The PSP refuses SEND_START for such a guest: nobody could have sent it. */
	if (s->policy & POLICY_NOSEND)
		return BAD(-EINVAL, po, "guest policy 0x%" PRIx32 " has NOSEND", s->policy);
	return 0;
}

static uint64_t page_data_len(uint32_t kind)
{
	switch (kind) {
	case MVS_PAGE_SHARED_PLAIN:
		return MVS_PAGE_SIZE;
	case MVS_PAGE_PRIVATE_PSP:
		return MVS_PAGE_DATA_PSP;
	default:
		return 0;
	}
}

/* Walk and check every record; *npages = their number. */
static int check_ram(struct stream_state *st, const struct mvs_section *h, uint64_t po,
		     const uint8_t *p, uint32_t *npages)
{
	uint64_t pos = 0, prev = 0;
	uint32_t n = 0;

	while (pos < h->length) {
		struct mvs_page rec;
		uint64_t ro = po + pos, dlen;

		if (h->length - pos < sizeof(rec))
			return BAD(-EMSGSIZE, ro, "%" PRIu64 " bytes left, a page record needs %zu",
				   h->length - pos, sizeof(rec));
		if (n == MVS_RAM_BATCH_PAGES)
			return BAD(-EMSGSIZE, ro, "more than %u pages", MVS_RAM_BATCH_PAGES);
		memcpy(&rec, p + pos, sizeof(rec));
		if (rec.kind < MVS_PAGE_SHARED_PLAIN || rec.kind > MVS_PAGE_ZERO)
			return BAD(-EINVAL, ro, "page 0x%" PRIx64 ": unknown page kind %" PRIu32,
				   rec.gpa, rec.kind);
		if (rec.reserved)
			return BAD(-EINVAL, ro, "page 0x%" PRIx64 ": reserved field not zero",
				   rec.gpa);
		if (rec.kind == MVS_PAGE_PRIVATE_PSP && !(st->cfg.flags & MVS_CFG_SEV))
			return BAD(-EINVAL, ro, "page 0x%" PRIx64 ": private page without SEV",
				   rec.gpa);
		if (!IS_ALIGNED(rec.gpa, PAGE_SIZE))
			return BAD(-EINVAL, ro, "page 0x%" PRIx64 " not page aligned", rec.gpa);
		if (n && rec.gpa <= prev)
			return BAD(-EINVAL, ro,
				   "page 0x%" PRIx64 " not above the page before it (0x%" PRIx64
				   ")",
				   rec.gpa, prev);
		if (!in_slot(&st->cfg, rec.gpa, PAGE_SIZE))
			return BAD(-EINVAL, ro, "page 0x%" PRIx64 " outside guest memory", rec.gpa);
		dlen = page_data_len(rec.kind);
		if (h->length - pos - sizeof(rec) < dlen)
			return BAD(-EMSGSIZE, ro,
				   "page 0x%" PRIx64 ": %" PRIu64
				   " bytes left, its data needs %" PRIu64,
				   rec.gpa, h->length - pos - sizeof(rec), dlen);
		pos += sizeof(rec) + dlen;
		prev = rec.gpa;
		n++;
	}
	*npages = n;
	return 0;
}

static int check_round(struct stream_state *st, const struct mvs_section *h, uint64_t po,
		       const struct mvs_round *r)
{
	if (r->flags & ~MVS_ROUND_FINAL || r->reserved)
		return BAD(-EINVAL, po + offsetof(struct mvs_round, flags),
			   "unknown flags 0x%" PRIx32 " or reserved set", r->flags);
	if (r->pages != st->round_pages)
		return BAD(-EPROTO, po,
			   "round has %" PRIu64 " pages, its RAM sections held %" PRIu64, r->pages,
			   st->round_pages);
	return 0;
}

static int check_bitmap(struct stream_state *st, const struct mvs_section *h, uint64_t po,
			const struct mvs_run *runs, uint32_t nruns, uint64_t *next)
{
	uint64_t prev_end = st->bitmap_next;

	for (uint32_t i = 0; i < nruns; i++) {
		struct mvs_run r;
		uint64_t ro = po + (uint64_t)i * sizeof(r);

		memcpy(&r, &runs[i], sizeof(r));
		if (r.start_page >= r.end_page)
			return BAD(-EINVAL, ro, "run [0x%" PRIx64 ", 0x%" PRIx64 ") is empty",
				   r.start_page, r.end_page);
		if (r.start_page < prev_end)
			return BAD(-EINVAL, ro,
				   "run [0x%" PRIx64 ", 0x%" PRIx64
				   ") overlaps or precedes the run before it (ending at 0x%" PRIx64
				   ")",
				   r.start_page, r.end_page, prev_end);
		/* Shifts cannot overflow: pages inside a slot are below 2^40. */
		if (r.end_page > (1ull << 40) ||
		    !in_slot(&st->cfg, r.start_page << PAGE_SHIFT,
			     (r.end_page - r.start_page) << PAGE_SHIFT))
			return BAD(-EINVAL, ro,
				   "run [0x%" PRIx64 ", 0x%" PRIx64 ") outside guest memory",
				   r.start_page, r.end_page);
		if (r.vcpu != MVS_VCPU_FIRMWARE && r.vcpu >= st->cfg.nr_cpus)
			return BAD(-EINVAL, ro,
				   "run [0x%" PRIx64 ", 0x%" PRIx64 ") by vCPU %" PRIu32
				   ", CONFIG has %" PRIu32,
				   r.start_page, r.end_page, r.vcpu, st->cfg.nr_cpus);
		prev_end = r.end_page;
	}
	*next = prev_end;
	return 0;
}

static const char *item_name(uint32_t tag)
{
	static const char *const names[] = {"?",    "REGS",	 "SREGS", "SREGS2",	"XSAVE",
					    "XCRS", "DEBUGREGS", "MSRS",  "VCPU_EVENTS"};

	return tag < ARRAY_SIZE(names) ? names[tag] : "?";
}

/*
 * One item: its header at p + *pos, expected tag (or tag2, 0: none). Sets
 * *tag, *len, *data and advances *pos past its padding.
 */
static int vcpu_item(struct stream_state *st, const struct mvs_section *h, uint64_t po,
		     const uint8_t *p, uint64_t *pos, uint32_t want, uint32_t want2,
		     struct mvs_item *it, const uint8_t **data)
{
	uint64_t io = po + *pos, padded;

	if (h->length - *pos < sizeof(*it))
		return BAD(-EMSGSIZE, io, "ends before item %s", item_name(want));
	memcpy(it, p + *pos, sizeof(*it));
	if (it->tag != want && (!want2 || it->tag != want2))
		return BAD(-EPROTO, io, "expected item %s%s%s, got tag %" PRIu32, item_name(want),
			   want2 ? " or " : "", want2 ? item_name(want2) : "", it->tag);
	padded = ALIGN_UP((uint64_t)it->length, 8);
	if (h->length - *pos - sizeof(*it) < padded)
		return BAD(-EMSGSIZE, io, "item %s of %" PRIu32 " bytes runs past the section",
			   item_name(it->tag), it->length);
	*data = p + *pos + sizeof(*it);
	if (!all_zero(*data + it->length, padded - it->length))
		return BAD(-EINVAL, io, "item %s: padding not zero", item_name(it->tag));
	*pos += sizeof(*it) + padded;
	return 0;
}

/* An item whose length must be exactly size; copies it to out. */
static int vcpu_fixed(struct stream_state *st, const struct mvs_section *h, uint64_t po,
		      const uint8_t *p, uint64_t *pos, uint32_t tag, void *out, size_t size)
{
	uint64_t io = po + *pos;
	const uint8_t *d = NULL;
	struct mvs_item it;
	int e = vcpu_item(st, h, po, p, pos, tag, 0, &it, &d);

	if (e)
		return e;
	if (it.length != size)
		return BAD(-EMSGSIZE, io, "item %s: length %" PRIu32 ", want %zu", item_name(tag),
			   it.length, size);
	memcpy(out, d, size);
	return 0;
}

static int check_vcpu(struct stream_state *st, const struct mvs_section *h, uint64_t po,
		      const uint8_t *p, struct stream_vcpu *v)
{
	const struct mvs_vcpu_state *mv = &v->mv;
	struct mvs_item it;
	const uint8_t *d;
	uint64_t pos = sizeof(*mv), io;
	int e;

	if (h->length < sizeof(*mv))
		return BAD(-EMSGSIZE, po, "length %" PRIu64 ", the vCPU state alone needs %zu",
			   h->length, sizeof(*mv));
	v->id = h->id;
	memcpy(&v->mv, p, sizeof(v->mv));
	if (mv->migration_ctl & ~KVM_MIGRATION_READY)
		return BAD(-EINVAL, po, "MIGRATION_CONTROL 0x%" PRIx64 " has reserved bits",
			   mv->migration_ctl);
	if (mv->ap_state > MVS_AP_RUNNING)
		return BAD(-EINVAL, po + offsetof(struct mvs_vcpu_state, ap_state),
			   "unknown AP state %" PRIu32, mv->ap_state);
	if (mv->ap_state != MVS_AP_PENDING &&
	    (mv->start_rip | mv->start_rsp | mv->start_rdi | mv->start_cr3))
		return BAD(-EINVAL, po + offsetof(struct mvs_vcpu_state, start_rip),
			   "start registers set on a vCPU that is not pending");
	/* A stop ends every hold before it saves (vmm/schedule.c wait_held_locked). */
	if (mv->inject_hold)
		return BAD(-EINVAL, po + offsetof(struct mvs_vcpu_state, inject_hold),
			   "injection hold %" PRIu64 ": a stream never carries a held exit",
			   mv->inject_hold);

	if ((e = vcpu_fixed(st, h, po, p, &pos, MVS_ITEM_REGS, &v->regs, sizeof(v->regs))))
		return e;
	io = po + pos;
	if ((e = vcpu_item(st, h, po, p, &pos, MVS_ITEM_SREGS2, MVS_ITEM_SREGS, &it, &d)))
		return e;
	v->has_sregs2 = it.tag == MVS_ITEM_SREGS2;
	if (it.length != (v->has_sregs2 ? sizeof(v->sregs2) : sizeof(v->sregs)))
		return BAD(-EMSGSIZE, io, "item %s: length %" PRIu32 ", want %zu",
			   item_name(it.tag), it.length,
			   v->has_sregs2 ? sizeof(v->sregs2) : sizeof(v->sregs));
	if (v->has_sregs2) {
		memcpy(&v->sregs2, d, sizeof(v->sregs2));
		memset(&v->sregs, 0, sizeof(v->sregs));
		if (v->sregs2.flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID)
			return BAD(-EINVAL, io, "item SREGS2: unknown flags 0x%llx",
				   (unsigned long long)v->sregs2.flags);
	} else {
		memcpy(&v->sregs, d, sizeof(v->sregs));
		memset(&v->sregs2, 0, sizeof(v->sregs2));
	}

	io = po + pos;
	if ((e = vcpu_item(st, h, po, p, &pos, MVS_ITEM_XSAVE, 0, &it, &d)))
		return e;
	/* struct kvm_xsave is u32 region[], 4 KiB or KVM_CAP_XSAVE2's size (api.rst 4.42). */
	if (it.length < MVS_XSAVE_MIN || it.length > MVS_XSAVE_MAX || it.length % 4)
		return BAD(-EMSGSIZE, io,
			   "item XSAVE: length %" PRIu32 ", want %u..%u and a multiple of 4",
			   it.length, MVS_XSAVE_MIN, MVS_XSAVE_MAX);
	v->xsave = d;
	v->xsave_len = it.length;

	io = po + pos;
	if ((e = vcpu_fixed(st, h, po, p, &pos, MVS_ITEM_XCRS, &v->xcrs, sizeof(v->xcrs))))
		return e;
	if (v->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return BAD(-EINVAL, io, "item XCRS: %" PRIu32 " XCRs, at most %d", v->xcrs.nr_xcrs,
			   KVM_MAX_XCRS);
	if ((e = vcpu_fixed(st, h, po, p, &pos, MVS_ITEM_DEBUGREGS, &v->debugregs,
			    sizeof(v->debugregs))))
		return e;

	io = po + pos;
	if ((e = vcpu_item(st, h, po, p, &pos, MVS_ITEM_MSRS, 0, &it, &d)))
		return e;
	{
		struct kvm_msrs m;

		if (it.length < sizeof(m))
			return BAD(-EMSGSIZE, io,
				   "item MSRS: length %" PRIu32 ", want at least %zu", it.length,
				   sizeof(m));
		memcpy(&m, d, sizeof(m));
		if (m.nmsrs > MVS_MSRS_MAX)
			return BAD(-EINVAL, io, "item MSRS: %" PRIu32 " MSRs, at most %u", m.nmsrs,
				   MVS_MSRS_MAX);
		if (it.length != sizeof(m) + (uint64_t)m.nmsrs * sizeof(v->msrs[0]))
			return BAD(-EMSGSIZE, io,
				   "item MSRS: length %" PRIu32 " for %" PRIu32 " MSRs", it.length,
				   m.nmsrs);
		if (m.pad)
			return BAD(-EINVAL, io, "item MSRS: padding not zero");
		v->nmsrs = m.nmsrs;
		memcpy(v->msrs, d + sizeof(m), m.nmsrs * sizeof(v->msrs[0]));
		for (uint32_t i = 0; i < m.nmsrs; i++) {
			if (v->msrs[i].reserved)
				return BAD(-EINVAL, io,
					   "item MSRS: entry %" PRIu32 " reserved not zero", i);
			/* KVM_SET_MSRS applies entries in order: a repeat is ambiguous. */
			for (uint32_t j = 0; j < i; j++)
				if (v->msrs[j].index == v->msrs[i].index)
					return BAD(-EINVAL, io,
						   "item MSRS: MSR 0x%" PRIx32 " twice",
						   v->msrs[i].index);
		}
	}
	if ((e = vcpu_fixed(st, h, po, p, &pos, MVS_ITEM_VCPU_EVENTS, &v->events,
			    sizeof(v->events))))
		return e;
	if (pos != h->length)
		return BAD(-EMSGSIZE, po + pos, "%" PRIu64 " bytes after the last item",
			   h->length - pos);
	return 0;
}

static uint64_t vmstate_len(const struct mvs_vmstate *s)
{
	return sizeof(*s) + 8ull * s->nr_sched_words + ALIGN_UP((uint64_t)s->device_len, 8);
}

static int check_vmstate(struct stream_state *st, const struct mvs_section *h, uint64_t po,
			 const uint8_t *p, struct stream_vmstate *v)
{
	struct mvs_vmstate *s = &v->s;

	memcpy(s, p, sizeof(*s));
	if (s->flags & ~MVS_VM_MIGRATION_READY)
		return BAD(-EINVAL, po + offsetof(struct mvs_vmstate, flags),
			   "unknown flags 0x%" PRIx32, s->flags);
	if (s->hypercall_errors > s->hypercalls || s->checks_failed > s->checks_run)
		return BAD(-EINVAL, po + offsetof(struct mvs_vmstate, hypercalls),
			   "more failures than events (hypercalls %" PRIu64 "/%" PRIu64
			   ", checks %" PRIu64 "/%" PRIu64 ")",
			   s->hypercall_errors, s->hypercalls, s->checks_failed, s->checks_run);
	if (s->nr_sched_words > MVS_SCHED_WORDS_MAX || s->device_len > MVS_DEVICE_MAX)
		return BAD(-EMSGSIZE, po + offsetof(struct mvs_vmstate, nr_sched_words),
			   "%" PRIu32 " scheduler words (at most %u), %" PRIu32
			   " device bytes (at most %u)",
			   s->nr_sched_words, MVS_SCHED_WORDS_MAX, s->device_len, MVS_DEVICE_MAX);
	if (vmstate_len(s) != h->length)
		return BAD(-EMSGSIZE, po, "length %" PRIu64 ", its counts make %" PRIu64, h->length,
			   vmstate_len(s));
	memcpy(v->sched_words, p + sizeof(*s), 8ull * s->nr_sched_words);
	v->device = p + sizeof(*s) + 8ull * s->nr_sched_words;
	if (!all_zero((const uint8_t *)v->device + s->device_len,
		      ALIGN_UP((uint64_t)s->device_len, 8) - s->device_len))
		return BAD(-EINVAL, po + h->length - 1, "device padding not zero");
	return 0;
}

/* ---- the state machine ---- */

static const char *expectation(const struct stream_state *st, char *buf, size_t n)
{
	switch (st->phase) {
	case STREAM_PH_HEADER:
		return "the stream header";
	case STREAM_PH_CONFIG:
		return "CONFIG";
	case STREAM_PH_SESSION:
		return "SESSION";
	case STREAM_PH_PAGES:
		snprintf(buf, n, "RAM #%" PRIu64 " or ROUND #%" PRIu64, st->round, st->round);
		return buf;
	case STREAM_PH_BITMAP:
		snprintf(buf, n, "BITMAP #%" PRIu32 " or VCPU #0", st->bitmap_chunks);
		return buf;
	case STREAM_PH_VCPU:
		if (st->next_vcpu == st->cfg.nr_cpus)
			return "VMSTATE";
		snprintf(buf, n, "VCPU #%" PRIu32, st->next_vcpu);
		return buf;
	case STREAM_PH_END:
		return "END";
	case STREAM_PH_DONE:
		break;
	}
	return "nothing";
}

/* Did a singleton of this type already pass? */
static bool seen(const struct stream_state *st, uint32_t type)
{
	switch (type) {
	case MVS_SEC_CONFIG:
		return st->phase > STREAM_PH_CONFIG;
	case MVS_SEC_SESSION:
		return st->phase > STREAM_PH_SESSION && (st->cfg.flags & MVS_CFG_SEV);
	case MVS_SEC_VMSTATE:
		return st->phase > STREAM_PH_VCPU;
	case MVS_SEC_END:
		return st->phase == STREAM_PH_DONE;
	}
	return false;
}

/* Is this (type, id) the one the order allows here? */
static bool allowed(const struct stream_state *st, uint32_t type, uint32_t id)
{
	switch (st->phase) {
	case STREAM_PH_CONFIG:
		return type == MVS_SEC_CONFIG && id == 0;
	case STREAM_PH_SESSION:
		return type == MVS_SEC_SESSION && id == 0;
	case STREAM_PH_PAGES:
		return (type == MVS_SEC_RAM || type == MVS_SEC_ROUND) && id == st->round;
	case STREAM_PH_BITMAP:
		return (type == MVS_SEC_BITMAP && id == st->bitmap_chunks) ||
		       (type == MVS_SEC_VCPU && id == 0);
	case STREAM_PH_VCPU:
		if (st->next_vcpu == st->cfg.nr_cpus)
			return type == MVS_SEC_VMSTATE && id == 0;
		return type == MVS_SEC_VCPU && id == st->next_vcpu;
	case STREAM_PH_END:
		return type == MVS_SEC_END && id == 0;
	default:
		return false;
	}
}

/* Bounds of a type's payload: [min, max], and a multiple of `unit`. */
static void length_bounds(uint32_t type, uint64_t *min, uint64_t *max, uint64_t *unit)
{
	*unit = 1;
	switch (type) {
	case MVS_SEC_CONFIG:
		*min = *max = sizeof(struct mvs_config);
		break;
	case MVS_SEC_SESSION:
		*min = *max = sizeof(struct mvs_session);
		break;
	case MVS_SEC_RAM:
		*min = sizeof(struct mvs_page);
		*max = MVS_RAM_MAX;
		break;
	case MVS_SEC_ROUND:
		*min = *max = sizeof(struct mvs_round);
		break;
	case MVS_SEC_BITMAP:
		*min = *unit = sizeof(struct mvs_run);
		*max = MVS_BITMAP_MAX;
		break;
	case MVS_SEC_VCPU:
		*min = sizeof(struct mvs_vcpu_state);
		*max = MVS_VCPU_MAX;
		break;
	case MVS_SEC_VMSTATE:
		*min = sizeof(struct mvs_vmstate);
		*max = MVS_VMSTATE_MAX;
		break;
	case MVS_SEC_END:
		*min = *max = sizeof(struct mvs_end);
		break;
	default:
		*min = *max = 0;
	}
}

/*
 * Everything the header alone decides: sequence, type, place in the order,
 * length bounds. Called before a payload byte is read (or, by the writer,
 * sent).
 */
static int admit(struct stream_state *st, const struct mvs_section *h)
{
	uint64_t off = st->offset, min, max, unit;
	char exp[48];

	if (h->seq != st->seq)
		return BAD(-EPROTO, off, "sequence number %" PRIu32 ", want %" PRIu32, h->seq,
			   st->seq);
	if (!strcmp(stream_section_name(h->type), "unknown"))
		return BAD(-EPROTO, off, "unknown section type");
	if (!allowed(st, h->type, h->id)) {
		const char *what = "unexpected section ";

		if (st->phase == STREAM_PH_DONE)
			return sec_fail(st, -EPROTO, h, off, what, "after END");
		if (seen(st, h->type))
			return sec_fail(st, -EPROTO, h, off, what, "duplicate");
		if (h->type == MVS_SEC_SESSION && st->phase > STREAM_PH_CONFIG &&
		    !(st->cfg.flags & MVS_CFG_SEV))
			return sec_fail(st, -EPROTO, h, off, what, "SESSION without SEV in CONFIG");
		if (h->type == MVS_SEC_VCPU && st->phase > STREAM_PH_CONFIG &&
		    h->id >= st->cfg.nr_cpus)
			return sec_fail(st, -EPROTO, h, off, what,
					"vCPU id %" PRIu32 " >= %" PRIu32 " vCPUs in CONFIG", h->id,
					st->cfg.nr_cpus);
		if (h->type == MVS_SEC_VCPU && st->phase == STREAM_PH_VCPU && h->id < st->next_vcpu)
			return sec_fail(st, -EPROTO, h, off, what, "duplicate");
		return sec_fail(st, -EPROTO, h, off, what, "expected %s",
				expectation(st, exp, sizeof(exp)));
	}
	length_bounds(h->type, &min, &max, &unit);
	if (h->length < min || h->length > max || h->length % unit) {
		if (min == max)
			return BAD(-EMSGSIZE, off, "length %" PRIu64 ", want %" PRIu64, h->length,
				   min);
		return BAD(-EMSGSIZE, off, "length %" PRIu64 " not in %" PRIu64 "..%" PRIu64 "%s",
			   h->length, min, max, unit > 1 ? " in whole runs" : "");
	}
	return 0;
}

/*
 * A section whose CRC matched (reader) or that is about to be sent
 * (writer): check every field, fill *sec, and only then advance the state.
 * vcpu and vms receive the decoded VCPU / VMSTATE.
 */
static int accept(struct stream_state *st, const struct mvs_section *h, const uint8_t *p,
		  uint32_t trailer, struct stream_section *sec, struct stream_vcpu *vcpu,
		  struct stream_vmstate *vms)
{
	uint64_t po = st->offset + SEC_HDR;
	uint64_t next = 0;
	int e = 0;

	memset(sec, 0, sizeof(*sec));
	sec->type = h->type;
	sec->id = h->id;
	sec->offset = st->offset;
	sec->length = h->length;
	switch (h->type) {
	case MVS_SEC_CONFIG:
		memcpy(&sec->u.config, p, sizeof(sec->u.config));
		e = check_config(st, h, po, &sec->u.config);
		break;
	case MVS_SEC_SESSION:
		memcpy(&sec->u.session, p, sizeof(sec->u.session));
		e = check_session(st, h, po, &sec->u.session);
		break;
	case MVS_SEC_RAM:
		sec->u.ram.round = st->round;
		sec->u.ram.records = p;
		e = check_ram(st, h, po, p, &sec->u.ram.npages);
		break;
	case MVS_SEC_ROUND:
		sec->u.round.round = st->round;
		memcpy(&sec->u.round.r, p, sizeof(sec->u.round.r));
		e = check_round(st, h, po, &sec->u.round.r);
		break;
	case MVS_SEC_BITMAP:
		sec->u.bitmap.nruns = (uint32_t)(h->length / sizeof(struct mvs_run));
		sec->u.bitmap.runs = (const struct mvs_run *)p;
		e = check_bitmap(st, h, po, sec->u.bitmap.runs, sec->u.bitmap.nruns, &next);
		break;
	case MVS_SEC_VCPU:
		sec->u.vcpu = vcpu;
		e = check_vcpu(st, h, po, p, vcpu);
		break;
	case MVS_SEC_VMSTATE:
		sec->u.vmstate = vms;
		e = check_vmstate(st, h, po, p, vms);
		break;
	case MVS_SEC_END:
		memcpy(&sec->u.end, p, sizeof(sec->u.end));
		if (sec->u.end.reserved)
			e = BAD(-EINVAL, po + offsetof(struct mvs_end, reserved),
				"reserved field not zero");
		else if (sec->u.end.sections != st->seq)
			e = BAD(-EPROTO, po,
				"END counts %" PRIu64 " sections, the stream had %" PRIu32,
				sec->u.end.sections, st->seq);
		else if (sec->u.end.chain != st->chain)
			e = BAD(-EBADMSG, po + offsetof(struct mvs_end, chain),
				"chain CRC mismatch (want 0x%08" PRIx32 ", got 0x%08" PRIx32 ")",
				sec->u.end.chain, st->chain);
		break;
	}
	if (e)
		return e;

	/* Commit. */
	switch (h->type) {
	case MVS_SEC_CONFIG:
		st->cfg = sec->u.config;
		st->phase = st->cfg.flags & MVS_CFG_SEV ? STREAM_PH_SESSION : STREAM_PH_PAGES;
		break;
	case MVS_SEC_SESSION:
		st->phase = STREAM_PH_PAGES;
		break;
	case MVS_SEC_RAM:
		st->round_pages += sec->u.ram.npages;
		break;
	case MVS_SEC_ROUND:
		st->round++;
		st->round_pages = 0;
		if (sec->u.round.r.flags & MVS_ROUND_FINAL)
			st->phase = STREAM_PH_BITMAP;
		break;
	case MVS_SEC_BITMAP:
		st->bitmap_chunks++;
		st->bitmap_next = next;
		break;
	case MVS_SEC_VCPU:
		st->phase = STREAM_PH_VCPU;
		st->next_vcpu++;
		break;
	case MVS_SEC_VMSTATE:
		st->phase = STREAM_PH_END;
		break;
	case MVS_SEC_END:
		st->phase = STREAM_PH_DONE;
		break;
	}
	st->seq++;
	st->chain = crc32c(st->chain, &trailer, sizeof(trailer));
	st->offset += SEC_HDR + h->length + MVS_TRAILER_SIZE;
	return 0;
}

bool stream_next_page(struct stream_section *sec, struct stream_page *pg)
{
	struct mvs_page rec;
	const uint8_t *d;

	if (sec->type != MVS_SEC_RAM || sec->u.ram.cursor >= sec->length)
		return false;
	d = sec->u.ram.records + sec->u.ram.cursor;
	memcpy(&rec, d, sizeof(rec));
	pg->gpa = rec.gpa;
	pg->kind = (enum mvs_page_kind)rec.kind;
	pg->offset = sec->offset + SEC_HDR + sec->u.ram.cursor;
	pg->hdr = rec.kind == MVS_PAGE_PRIVATE_PSP ? d + sizeof(rec) : NULL;
	pg->data =
		rec.kind == MVS_PAGE_ZERO
			? NULL
			: d + sizeof(rec) +
				  (rec.kind == MVS_PAGE_PRIVATE_PSP ? MVS_PSP_PACKET_HDR_SIZE : 0);
	sec->u.ram.cursor += sizeof(rec) + page_data_len(rec.kind);
	return true;
}

static void section_header(struct mvs_section *h, uint32_t type, uint32_t id, uint64_t len,
			   uint32_t seq)
{
	*h = (struct mvs_section){.type = type, .id = id, .length = len, .seq = seq};
	h->hcrc = crc32c(0, h, offsetof(struct mvs_section, hcrc));
}

static void stream_state_init(struct stream_state *st)
{
	memset(st, 0, sizeof(*st));
	st->err.section = "";
}

/* ---- writer ---- */

int stream_writer_init(struct stream_writer *w, stream_write_fn write, void *ctx)
{
	memset(w, 0, sizeof(*w));
	stream_state_init(&w->st);
	w->write = write;
	w->ctx = ctx;
	w->scratch = malloc(MVS_VCPU_MAX > MVS_VMSTATE_MAX ? MVS_VCPU_MAX : MVS_VMSTATE_MAX);
	return w->scratch ? 0 : -ENOMEM;
}

void stream_writer_destroy(struct stream_writer *w)
{
	free(w->batch);
	free(w->runs);
	free(w->scratch);
	w->batch = w->scratch = NULL;
	w->runs = NULL;
}

static int w_fail(struct stream_writer *w, int e)
{
	w->failed = e;
	return e;
}

static int w_sink(struct stream_writer *w, const void *buf, size_t len)
{
	int e = w->write(w->ctx, buf, len);

	if (e)
		return w_fail(w, fail(&w->st, e < 0 ? e : -EIO, "sink", w->st.offset,
				      "write of %zu bytes at offset %" PRIu64 " failed: %s", len,
				      w->st.offset, strerror(e < 0 ? -e : EIO)));
	return 0;
}

/* API misuse: the call is wrong for where the stream is. */
static int w_misuse(struct stream_writer *w, const char *what)
{
	char exp[48];

	return w_fail(w, fail(&w->st, -EPROTO, "writer", w->st.offset,
			      "%s at offset %" PRIu64 ": the stream expects %s", what, w->st.offset,
			      expectation(&w->st, exp, sizeof(exp))));
}

int stream_write_header(struct stream_writer *w)
{
	struct mvs_header hd = {.major = MVS_VERSION_MAJOR, .minor = MVS_VERSION_MINOR};

	if (w->failed)
		return w->failed;
	if (w->st.phase != STREAM_PH_HEADER)
		return w_misuse(w, "stream header");
	memcpy(hd.magic, MVS_MAGIC, MVS_MAGIC_LEN);
	hd.crc = crc32c(0, &hd, offsetof(struct mvs_header, crc));
	if (w_sink(w, &hd, sizeof(hd)))
		return w->failed;
	w->st.chain = crc32c(0, &hd.crc, sizeof(hd.crc));
	w->st.offset = sizeof(hd);
	w->st.phase = STREAM_PH_CONFIG;
	return 0;
}

/*
 * Check a typed section against the order and its validators, then send
 * header, payload, trailer. payload_crc: CRC32C of the payload.
 */
static int w_section(struct stream_writer *w, uint32_t type, uint32_t id, const void *payload,
		     uint64_t len, uint32_t payload_crc, bool send)
{
	struct mvs_section h;
	uint32_t trailer;
	uint64_t off = w->st.offset;
	int e;

	if (w->failed)
		return w->failed;
	if (w->st.phase == STREAM_PH_HEADER)
		return w_misuse(w, stream_section_name(type));
	section_header(&h, type, id, len, w->st.seq);
	trailer = crc32c(payload_crc, &h.hcrc, sizeof(h.hcrc));
	if ((e = admit(&w->st, &h)) || (e = accept(&w->st, &h, payload, trailer, &w->check,
						   &w->check_vcpu, &w->check_vmstate)))
		return w_fail(w, e);
	if (!send)
		return 0;
	/* accept advanced the offset: errors while sending name this section. */
	w->st.offset = off;
	if (w_sink(w, &h, sizeof(h)) || (len && w_sink(w, payload, len)) ||
	    w_sink(w, &trailer, sizeof(trailer)))
		return w->failed;
	w->st.offset = off + SEC_HDR + len + MVS_TRAILER_SIZE;
	return 0;
}

static int w_small(struct stream_writer *w, uint32_t type, uint32_t id, const void *p, uint64_t len)
{
	return w_section(w, type, id, p, len, crc32c(0, p, len), true);
}

int stream_write_config(struct stream_writer *w, const struct mvs_config *c)
{
	return w_small(w, MVS_SEC_CONFIG, 0, c, sizeof(*c));
}

int stream_write_session(struct stream_writer *w, const struct mvs_session *s)
{
	return w_small(w, MVS_SEC_SESSION, 0, s, sizeof(*s));
}

int stream_write_raw(struct stream_writer *w, uint32_t type, uint32_t id, const void *payload,
		     uint64_t len)
{
	struct mvs_section h;
	uint32_t trailer;

	if (w->failed)
		return w->failed;
	section_header(&h, type, id, len, w->st.seq);
	trailer = crc32c(crc32c(0, payload, len), &h.hcrc, sizeof(h.hcrc));
	if (w_sink(w, &h, sizeof(h)) || (len && w_sink(w, payload, len)) ||
	    w_sink(w, &trailer, sizeof(trailer)))
		return w->failed;
	w->st.seq++;
	w->st.chain = crc32c(w->st.chain, &trailer, sizeof(trailer));
	w->st.offset += SEC_HDR + len + MVS_TRAILER_SIZE;
	return 0;
}

/* -- pages -- */

#define BATCH_BYTES (SEC_HDR + MVS_RAM_MAX + MVS_TRAILER_SIZE)

int stream_begin_pages(struct stream_writer *w)
{
	if (w->failed)
		return w->failed;
	if (w->batch_open || w->st.phase != STREAM_PH_PAGES)
		return w_misuse(w, "stream_begin_pages");
	if (!w->batch && !(w->batch = malloc(BATCH_BYTES)))
		return w_fail(w, -ENOMEM);
	w->batch_open = true;
	w->batch_len = w->batch_pages = 0;
	w->batch_crc = 0;
	w->batch_crc_len = 0;
	return 0;
}

/* Checksum what stream_reserve_page's caller wrote since the last call. */
static void batch_crc_catch_up(struct stream_writer *w)
{
	uint8_t *payload = w->batch + SEC_HDR;

	w->batch_crc =
		crc32c(w->batch_crc, payload + w->batch_crc_len, w->batch_len - w->batch_crc_len);
	w->batch_crc_len = w->batch_len;
}

static int batch_flush(struct stream_writer *w)
{
	struct mvs_section h;
	uint32_t trailer;
	int e;

	batch_crc_catch_up(w);
	if (!w->batch_pages)
		return 0;
	/* Validate and account exactly as the reader will. */
	if ((e = w_section(w, MVS_SEC_RAM, (uint32_t)w->st.round, w->batch + SEC_HDR, w->batch_len,
			   w->batch_crc, false)))
		return e;
	section_header(&h, MVS_SEC_RAM, (uint32_t)w->check.id, w->batch_len, w->st.seq - 1);
	trailer = crc32c(w->batch_crc, &h.hcrc, sizeof(h.hcrc));
	memcpy(w->batch, &h, sizeof(h));
	memcpy(w->batch + SEC_HDR + w->batch_len, &trailer, sizeof(trailer));
	w->st.offset = w->check.offset;
	if (w_sink(w, w->batch, SEC_HDR + w->batch_len + MVS_TRAILER_SIZE))
		return w->failed;
	w->st.offset += SEC_HDR + w->batch_len + MVS_TRAILER_SIZE;
	w->batch_len = w->batch_pages = 0;
	w->batch_crc = 0;
	w->batch_crc_len = 0;
	return 0;
}

int stream_reserve_page(struct stream_writer *w, uint64_t gpa, enum mvs_page_kind kind,
			uint8_t **hdr, uint8_t **data)
{
	struct mvs_page rec = {.gpa = gpa, .kind = kind};
	uint8_t *d;

	if (w->failed)
		return w->failed;
	if (!w->batch_open)
		return w_misuse(w, "page outside stream_begin_pages/stream_end_pages");
	if (kind < MVS_PAGE_SHARED_PLAIN || kind > MVS_PAGE_ZERO)
		return w_fail(w, fail(&w->st, -EINVAL, "RAM", w->st.offset,
				      "page 0x%" PRIx64 ": unknown page kind %d", gpa, (int)kind));
	if (w->batch_pages == MVS_RAM_BATCH_PAGES && batch_flush(w))
		return w->failed;
	batch_crc_catch_up(w);
	d = w->batch + SEC_HDR + w->batch_len;
	memcpy(d, &rec, sizeof(rec));
	d += sizeof(rec);
	*hdr = kind == MVS_PAGE_PRIVATE_PSP ? d : NULL;
	*data = kind == MVS_PAGE_ZERO
			? NULL
			: d + (kind == MVS_PAGE_PRIVATE_PSP ? MVS_PSP_PACKET_HDR_SIZE : 0);
	w->batch_len += sizeof(rec) + page_data_len(kind);
	w->batch_pages++;
	return 0;
}

int stream_write_page(struct stream_writer *w, uint64_t gpa, enum mvs_page_kind kind,
		      const void *hdr, const void *data)
{
	uint8_t *h = NULL, *d = NULL;
	int e = stream_reserve_page(w, gpa, kind, &h, &d);

	if (e)
		return e;
	if (h)
		memcpy(h, hdr, MVS_PSP_PACKET_HDR_SIZE);
	if (d)
		memcpy(d, data, MVS_PAGE_SIZE);
	/* Checksum the record now, while it is in the cache. */
	batch_crc_catch_up(w);
	return 0;
}

/* End a batch or a bitmap: send what is pending, close. */
static int w_close(struct stream_writer *w, bool *open, int (*flush)(struct stream_writer *),
		   const char *misuse)
{
	if (w->failed)
		return w->failed;
	if (!*open)
		return w_misuse(w, misuse);
	if (flush(w))
		return w->failed;
	*open = false;
	return 0;
}

int stream_end_pages(struct stream_writer *w)
{
	return w_close(w, &w->batch_open, batch_flush,
		       "stream_end_pages without stream_begin_pages");
}

int stream_write_round(struct stream_writer *w, uint32_t flags)
{
	struct mvs_round r = {.pages = w->st.round_pages, .flags = flags};

	if (w->failed)
		return w->failed;
	if (w->batch_open)
		return w_misuse(w, "ROUND inside stream_begin_pages/stream_end_pages");
	return w_small(w, MVS_SEC_ROUND, (uint32_t)w->st.round, &r, sizeof(r));
}

/* -- bitmap -- */

int stream_begin_bitmap(struct stream_writer *w)
{
	if (w->failed)
		return w->failed;
	if (w->bitmap_open || w->st.phase != STREAM_PH_BITMAP)
		return w_misuse(w, "stream_begin_bitmap");
	if (!w->runs && !(w->runs = malloc(MVS_BITMAP_MAX)))
		return w_fail(w, -ENOMEM);
	w->bitmap_open = true;
	w->nruns = 0;
	return 0;
}

static int bitmap_flush(struct stream_writer *w)
{
	int e;

	if (!w->nruns)
		return 0;
	e = w_small(w, MVS_SEC_BITMAP, w->st.bitmap_chunks, w->runs,
		    (uint64_t)w->nruns * sizeof(struct mvs_run));
	w->nruns = 0;
	return e;
}

int stream_write_bitmap_run(struct stream_writer *w, const struct encmap_prov_run *run)
{
	if (w->failed)
		return w->failed;
	if (!w->bitmap_open)
		return w_misuse(w, "run outside stream_begin_bitmap/stream_end_bitmap");
	if (w->nruns == MVS_BITMAP_RUNS_MAX && bitmap_flush(w))
		return w->failed;
	w->runs[w->nruns++] = (struct mvs_run){run->start, run->end, run->prov.vcpu,
					       run->prov.generation, run->prov.seq};
	return 0;
}

int stream_end_bitmap(struct stream_writer *w)
{
	return w_close(w, &w->bitmap_open, bitmap_flush,
		       "stream_end_bitmap without stream_begin_bitmap");
}

/* -- vCPU and VM state -- */

static uint8_t *put_item(uint8_t *p, uint32_t tag, const void *data, uint32_t len)
{
	struct mvs_item it = {.tag = tag, .length = len};
	uint64_t padded = ALIGN_UP((uint64_t)len, 8);

	memcpy(p, &it, sizeof(it));
	memcpy(p + sizeof(it), data, len);
	memset(p + sizeof(it) + len, 0, padded - len);
	return p + sizeof(it) + padded;
}

int stream_write_vcpu(struct stream_writer *w, const struct stream_vcpu *v)
{
	struct kvm_msrs m = {.nmsrs = v->nmsrs};
	uint8_t *p = w->scratch;

	if (w->failed)
		return w->failed;
	if (w->bitmap_open)
		return w_misuse(w, "VCPU inside stream_begin_bitmap/stream_end_bitmap");
	/* Bounds first: what follows is written into scratch. */
	if (v->nmsrs > MVS_MSRS_MAX || v->xsave_len > MVS_XSAVE_MAX || (v->xsave_len && !v->xsave))
		return w_fail(w, fail(&w->st, -EINVAL, "VCPU", w->st.offset,
				      "section VCPU #%" PRIu32 " at offset %" PRIu64 ": %" PRIu32
				      " MSRs (at most %u), XSAVE of %" PRIu32 " bytes (at most %u)",
				      v->id, w->st.offset, v->nmsrs, MVS_MSRS_MAX, v->xsave_len,
				      MVS_XSAVE_MAX));
	memcpy(p, &v->mv, sizeof(v->mv));
	p += sizeof(v->mv);
	p = put_item(p, MVS_ITEM_REGS, &v->regs, sizeof(v->regs));
	if (v->has_sregs2)
		p = put_item(p, MVS_ITEM_SREGS2, &v->sregs2, sizeof(v->sregs2));
	else
		p = put_item(p, MVS_ITEM_SREGS, &v->sregs, sizeof(v->sregs));
	p = put_item(p, MVS_ITEM_XSAVE, v->xsave, v->xsave_len);
	p = put_item(p, MVS_ITEM_XCRS, &v->xcrs, sizeof(v->xcrs));
	p = put_item(p, MVS_ITEM_DEBUGREGS, &v->debugregs, sizeof(v->debugregs));
	{
		struct mvs_item it = {
			.tag = MVS_ITEM_MSRS,
			.length = (uint32_t)(sizeof(m) + v->nmsrs * sizeof(v->msrs[0]))};

		memcpy(p, &it, sizeof(it));
		memcpy(p + sizeof(it), &m, sizeof(m));
		memcpy(p + sizeof(it) + sizeof(m), v->msrs, v->nmsrs * sizeof(v->msrs[0]));
		p += sizeof(it) + it.length; /* a multiple of 8 */
	}
	p = put_item(p, MVS_ITEM_VCPU_EVENTS, &v->events, sizeof(v->events));
	return w_small(w, MVS_SEC_VCPU, v->id, w->scratch, (uint64_t)(p - w->scratch));
}

int stream_write_vmstate(struct stream_writer *w, const struct stream_vmstate *s)
{
	uint8_t *p = w->scratch;
	uint64_t len;

	if (w->failed)
		return w->failed;
	if (s->s.nr_sched_words > MVS_SCHED_WORDS_MAX || s->s.device_len > MVS_DEVICE_MAX ||
	    (s->s.device_len && !s->device))
		return w_fail(w, fail(&w->st, -EINVAL, "VMSTATE", w->st.offset,
				      "section VMSTATE at offset %" PRIu64 ": %" PRIu32
				      " scheduler words (at most %u), %" PRIu32
				      " device bytes (at most %u)",
				      w->st.offset, s->s.nr_sched_words, MVS_SCHED_WORDS_MAX,
				      s->s.device_len, MVS_DEVICE_MAX));
	len = vmstate_len(&s->s);
	memset(p, 0, len);
	memcpy(p, &s->s, sizeof(s->s));
	memcpy(p + sizeof(s->s), s->sched_words, 8ull * s->s.nr_sched_words);
	if (s->s.device_len)
		memcpy(p + sizeof(s->s) + 8ull * s->s.nr_sched_words, s->device, s->s.device_len);
	return w_small(w, MVS_SEC_VMSTATE, 0, p, len);
}

int stream_write_end(struct stream_writer *w)
{
	struct mvs_end e = {.sections = w->st.seq, .chain = w->st.chain};

	return w_small(w, MVS_SEC_END, 0, &e, sizeof(e));
}

/* ---- reader ---- */

int stream_reader_init(struct stream_reader *r, stream_read_fn read, void *ctx)
{
	memset(r, 0, sizeof(*r));
	stream_state_init(&r->st);
	r->read = read;
	r->ctx = ctx;
	return 0;
}

void stream_reader_destroy(struct stream_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static int r_fail(struct stream_reader *r, int e)
{
	r->failed = e;
	return e;
}

/* Read len bytes at the current offset + rel; on a short read, say what was wanted. */
static int r_read(struct stream_reader *r, void *buf, size_t len, uint64_t off, const char *section,
		  const char *what)
{
	int e = r->read(r->ctx, buf, len);

	if (!e)
		return 0;
	if (e > 0)
		e = -EIO;
	return r_fail(r, fail(&r->st, e, section, off,
			      "%s in %s at offset %" PRIu64 ": wanted %zu bytes (%s)",
			      e == -ENODATA ? "truncated" : "read error", what, off, len,
			      e == -ENODATA ? "end of stream" : strerror(-e)));
}

int stream_read_header(struct stream_reader *r)
{
	struct stream_state *st = &r->st;
	struct mvs_header hd;
	uint32_t crc;

	if (r->failed)
		return r->failed;
	if (st->phase != STREAM_PH_HEADER)
		return r_fail(r, fail(st, -EPROTO, "stream header", st->offset,
				      "stream header read twice"));
	if (r_read(r, &hd, sizeof(hd), 0, "stream header", "stream header"))
		return r->failed;
	if (memcmp(hd.magic, MVS_MAGIC, MVS_MAGIC_LEN))
		return r_fail(r, fail(st, -EBADMSG, "stream header", 0,
				      "stream header at offset 0: bad magic, not a mini-vmm "
				      "migration stream"));
	if (hd.major != MVS_VERSION_MAJOR)
		return r_fail(
			r, fail(st, -EPROTONOSUPPORT, "stream header",
				offsetof(struct mvs_header, major),
				"stream header at offset %zu: stream version %u.%u, this mini-vmm "
				"reads %u.x",
				offsetof(struct mvs_header, major), hd.major, hd.minor,
				MVS_VERSION_MAJOR));
	if (hd.minor > MVS_VERSION_MINOR)
		return r_fail(
			r, fail(st, -EPROTONOSUPPORT, "stream header",
				offsetof(struct mvs_header, minor),
				"stream header at offset %zu: stream version %u.%u, this mini-vmm "
				"reads %u.%u at most",
				offsetof(struct mvs_header, minor), hd.major, hd.minor,
				MVS_VERSION_MAJOR, MVS_VERSION_MINOR));
	crc = crc32c(0, &hd, offsetof(struct mvs_header, crc));
	if (crc != hd.crc)
		return r_fail(r, fail(st, -EBADMSG, "stream header", 0,
				      "stream header at offset 0: CRC mismatch (want 0x%08" PRIx32
				      ", got 0x%08" PRIx32 ")",
				      hd.crc, crc));
	if (hd.flags || hd.reserved)
		return r_fail(r,
			      fail(st, -EINVAL, "stream header", offsetof(struct mvs_header, flags),
				   "stream header at offset %zu: unknown flags 0x%" PRIx32
				   " or reserved 0x%" PRIx32,
				   offsetof(struct mvs_header, flags), hd.flags, hd.reserved));
	r->major = hd.major;
	r->minor = hd.minor;
	st->chain = crc32c(0, &hd.crc, sizeof(hd.crc));
	st->offset = sizeof(hd);
	st->phase = STREAM_PH_CONFIG;
	return 0;
}

int stream_read_section(struct stream_reader *r, struct stream_section *sec)
{
	struct stream_state *st = &r->st;
	uint64_t off = st->offset;
	struct mvs_section hh, *h = &hh;
	char what[64];
	uint32_t crc, trailer;
	int e;

	if (r->failed)
		return r->failed;
	if (st->phase == STREAM_PH_HEADER || st->phase == STREAM_PH_DONE)
		return r_fail(
			r, fail(st, -EPROTO, "section header", off,
				"no section to read at offset %" PRIu64 " (%s)", off,
				st->phase == STREAM_PH_DONE ? "after END" : "before the header"));
	snprintf(what, sizeof(what), "section header #%" PRIu32, st->seq);
	if (r_read(r, h, sizeof(*h), off, "section header", what))
		return r->failed;
	crc = crc32c(0, h, offsetof(struct mvs_section, hcrc));
	if (crc != h->hcrc)
		return r_fail(r, fail(st, -EBADMSG, "section header", off,
				      "section header #%" PRIu32 " at offset %" PRIu64
				      ": header CRC mismatch (want 0x%08" PRIx32
				      ", got 0x%08" PRIx32 ")",
				      st->seq, off, h->hcrc, crc));
	if ((e = admit(st, h)))
		return r_fail(r, e);
	/* The length is trusted now and bounded by the type (admit). */
	if (h->length > r->cap) {
		uint8_t *nb = realloc(r->buf, h->length);

		if (!nb)
			return r_fail(r, -ENOMEM);
		r->buf = nb;
		r->cap = h->length;
	}
	snprintf(what, sizeof(what), "section %s", label((char[48]){0}, 48, h->type, h->id));
	if (h->length &&
	    r_read(r, r->buf, h->length, off + SEC_HDR, stream_section_name(h->type), what))
		return r->failed;
	if (r_read(r, &trailer, sizeof(trailer), off + SEC_HDR + h->length,
		   stream_section_name(h->type), what))
		return r->failed;
	crc = crc32c(crc32c(0, r->buf, h->length), &h->hcrc, sizeof(h->hcrc));
	if (crc != trailer)
		return r_fail(r, BAD(-EBADMSG, off,
				     "CRC mismatch (want 0x%08" PRIx32 ", got 0x%08" PRIx32 ")",
				     trailer, crc));
	if ((e = accept(st, h, r->buf, trailer, sec, &r->vcpu, &r->vmstate)))
		return r_fail(r, e);
	return 0;
}

int stream_read_trailing(struct stream_reader *r)
{
	struct stream_state *st = &r->st;
	struct mvs_section h;
	uint8_t *b = (uint8_t *)&h;
	int e;

	if (r->failed)
		return r->failed;
	if (st->phase != STREAM_PH_DONE)
		return r_fail(r,
			      fail(st, -EPROTO, "END", st->offset,
				   "stream at offset %" PRIu64 " has not reached END", st->offset));
	e = r->read(r->ctx, b, 1);
	if (e == -ENODATA)
		return 0;
	if (e)
		return r_fail(r, fail(st, e < 0 ? e : -EIO, "END", st->offset,
				      "read error after END at offset %" PRIu64, st->offset));
	/* A whole, intact section header is named; anything else is stray bytes. */
	if (!r->read(r->ctx, b + 1, sizeof(h) - 1) &&
	    crc32c(0, &h, offsetof(struct mvs_section, hcrc)) == h.hcrc)
		return r_fail(r, admit(st, &h));
	return r_fail(r, fail(st, -EPROTO, "END", st->offset,
			      "stray bytes after END at offset %" PRIu64, st->offset));
}

bool stream_reader_done(const struct stream_reader *r)
{
	return !r->failed && r->st.phase == STREAM_PH_DONE;
}

/* ---- memory sink and source ---- */

int stream_mem_write(void *ctx, const void *buf, size_t len)
{
	struct stream_mem *m = ctx;

	if (len > m->cap - m->len) {
		size_t cap = m->cap ? m->cap : 1 << 16;
		uint8_t *nb;

		while (cap - m->len < len)
			cap *= 2;
		if (!(nb = realloc(m->buf, cap)))
			return -ENOMEM;
		m->buf = nb;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

int stream_mem_read(void *ctx, void *buf, size_t len)
{
	struct stream_mem *m = ctx;

	if (len > m->len - m->pos) {
		m->pos = m->len;
		return -ENODATA;
	}
	memcpy(buf, m->buf + m->pos, len);
	m->pos += len;
	return 0;
}
