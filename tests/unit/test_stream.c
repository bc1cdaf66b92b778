// SPDX-License-Identifier: GPL-2.0-only
/*
 * The migration stream (vmm/stream.c, docs/stream.md): CRC32C against the
 * standard vector; a complete stream (every section type, 2 vCPUs, pages
 * of each kind, a bitmap of two chunks with firmware and vCPU runs)
 * encoded and decoded field for field; every validation error with its
 * message, section and exact offset; every byte of a stream flipped and
 * the stream cut at every section boundary, each refused; RAM throughput.
 *
 * STREAM_TEST_VERBOSE=1 prints every refusal message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "stream.h"
#include "util.h"

static bool verbose;

/* ---- deterministic test data ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* The 4096 bytes a page at gpa holds in the tests, and its PSP header. */
static void page_pattern(uint64_t gpa, uint8_t *data, uint8_t *hdr)
{
	for (unsigned i = 0; i < MVS_PAGE_SIZE; i++)
		data[i] = (uint8_t)((gpa >> 12) * 31 + i * 7 + (i >> 8));
	for (unsigned i = 0; hdr && i < MVS_PSP_PACKET_HDR_SIZE; i++)
		hdr[i] = (uint8_t)(gpa >> 12 ^ (i * 13));
}

#define RAM_SIZE (256ull << 20)
#define NCPUS	 2

static void make_config(struct mvs_config *c, bool sev)
{
	memset(c, 0, sizeof(*c));
	c->ram_size = RAM_SIZE;
	c->nr_cpus = NCPUS;
	c->flags = (sev ? MVS_CFG_SEV | MVS_CFG_CHECK : 0) | MVS_CFG_GEN_FILTER;
	c->cbit = 51 + 1;
	c->transport = HC_TRANSPORT_PORT;
	c->sched = MVS_SCHED_SERIAL;
	c->nr_slots = 1;
	c->seed = 3;
	c->timeout_s = 60;
	c->slots[0] = (struct mvs_slot){0, RAM_SIZE};
	c->vmm_region_gpa = RAM_SIZE - (1 << 20);
	c->vmm_region_size = 1 << 20;
	c->fw_shared_gpa = 0xa0000;
	c->fw_shared_size = 0x20000 + NCPUS * 4096;
	c->ucall_gpa = 0xc0000;
	for (unsigned i = 0; i < MVS_L_COUNT; i++)
		c->layout[i] = c->vmm_region_gpa + i * 0x1000;
	c->layout[MVS_L_SCRIPT_SIZE] = 100;
	c->nr_inject = 1;
	c->inject[0] =
		(struct mvs_inject){.vcpu = 1, .kinds = 1, .prob_ppm = 300000, .delay_us = 3};
	c->cpuid.magic = MINIVMM_CPUID_MAGIC;
	c->cpuid.count = 2;
	c->cpuid.fn[0] = (struct minivmm_cpuid_fn){0x40000000, 0, 0x40000001, 1, 2, 3};
	c->cpuid.fn[1] = (struct minivmm_cpuid_fn){0x8000001f, 0, 3, 52, 0, 0};
}

static void make_session(struct mvs_session *s)
{
	memset(s, 0, sizeof(*s));
	s->policy = 0x1; /* NODBG */
	fill(s->session, sizeof(s->session));
	fill(s->pdh, sizeof(s->pdh));
	s->pdh[0] = 0x04;
}

static uint8_t xsave_buf[NCPUS][8192];

static void make_vcpu(struct stream_vcpu *v, uint32_t id)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->mv.migration_ctl = id == 0;
	v->mv.ap_state = id == 0 ? MVS_AP_RUNNING : MVS_AP_PENDING;
	v->mv.generation = 2;
	if (v->mv.ap_state == MVS_AP_PENDING) {
		v->mv.start_rip = 0x100000 + id;
		v->mv.start_rsp = 0x200000;
		v->mv.start_rdi = 0x300000;
		v->mv.start_cr3 = 0x401000;
	}
	v->mv.inject_rng = rnd();
	v->mv.inject_hold = 0; /* a stream never carries a held exit */
	fill(&v->regs, sizeof(v->regs));
	v->has_sregs2 = id == 0;
	fill(&v->sregs, sizeof(v->sregs));
	fill(&v->sregs2, sizeof(v->sregs2));
	if (v->has_sregs2)
		memset(&v->sregs, 0, sizeof(v->sregs));
	else
		memset(&v->sregs2, 0, sizeof(v->sregs2));
	v->sregs2.flags = v->has_sregs2 ? KVM_SREGS2_FLAGS_PDPTRS_VALID : 0;
	fill(xsave_buf[id], sizeof(xsave_buf[id]));
	v->xsave = xsave_buf[id];
	v->xsave_len = id == 0 ? 4096 : 8192; /* KVM_CAP_XSAVE2 may be larger */
	fill(&v->xcrs, sizeof(v->xcrs));
	v->xcrs.nr_xcrs = 1;
	fill(&v->debugregs, sizeof(v->debugregs));
	v->nmsrs = 43;
	for (uint32_t i = 0; i < v->nmsrs; i++)
		v->msrs[i] = (struct kvm_msr_entry){.index = 0xc0000080 + i, .data = rnd()};
	fill(&v->events, sizeof(v->events));
}

static uint8_t device_blob[1001];

static void make_vmstate(struct stream_vmstate *s)
{
	memset(s, 0, sizeof(*s));
	s->s.log_seq = 12345;
	s->s.t_ns = 987654321;
	s->s.generation = 2;
	s->s.hc_generation = 2;
	s->s.checked_generation = 1;
	s->s.flags = MVS_VM_MIGRATION_READY;
	s->s.mig_blocked_ns = 4000;
	s->s.mig_windows = 1;
	s->s.hypercalls = 600;
	s->s.hypercall_errors = 3;
	s->s.checks_run = 4;
	s->s.nr_sched_words = 3;
	s->sched_words[0] = 0x1234;
	s->sched_words[1] = (uint64_t)-1;
	s->sched_words[2] = 77;
	fill(device_blob, sizeof(device_blob));
	s->s.device_len = sizeof(device_blob);
	s->device = device_blob;
}

/* ---- a complete stream: what was written, to compare with what is read ---- */

struct wpage {
	uint64_t gpa;
	enum mvs_page_kind kind;
	uint32_t round;
};

struct full {
	struct mvs_config cfg;
	struct mvs_session sess;
	struct wpage pages[2000];
	unsigned npages;
	unsigned rounds;
	struct encmap_prov_run runs[6000];
	unsigned nruns;
	struct stream_vcpu vcpu[NCPUS];
	struct stream_vmstate vms;
};

static struct full full;

static enum mvs_page_kind kind_of(unsigned i)
{
	return (enum mvs_page_kind)(MVS_PAGE_SHARED_PLAIN + i % 3);
}

/*
 * Round 0: 900 pages (two RAM sections), round 1 (final): 300 pages. Every
 * kind in each; zero-copy reservation for every fourth page.
 */
static void write_full(struct stream_mem *m, bool with_bitmap)
{
	struct stream_writer w;
	uint8_t data[MVS_PAGE_SIZE], hdr[MVS_PSP_PACKET_HDR_SIZE];
	const unsigned per_round[] = {900, 300};

	rng = 42;
	make_config(&full.cfg, true);
	make_session(&full.sess);
	full.npages = 0;
	full.rounds = 2;
	assert_int_equal(stream_writer_init(&w, stream_mem_write, m), 0);
	assert_int_equal(stream_write_header(&w), 0);
	assert_int_equal(stream_write_config(&w, &full.cfg), 0);
	assert_int_equal(stream_write_session(&w, &full.sess), 0);
	for (unsigned r = 0; r < 2; r++) {
		assert_int_equal(stream_begin_pages(&w), 0);
		for (unsigned i = 0; i < per_round[r]; i++) {
			struct wpage *p = &full.pages[full.npages++];
			uint8_t *h, *d;

			p->gpa = (uint64_t)(i * 3 + r) << 12;
			p->kind = kind_of(i);
			p->round = r;
			page_pattern(p->gpa, data, hdr);
			if (i % 4) {
				assert_int_equal(
					stream_write_page(&w, p->gpa, p->kind,
							  p->kind == MVS_PAGE_PRIVATE_PSP ? hdr
											  : NULL,
							  p->kind == MVS_PAGE_ZERO ? NULL : data),
					0);
				continue;
			}
			assert_int_equal(stream_reserve_page(&w, p->gpa, p->kind, &h, &d), 0);
			assert_true((h != NULL) == (p->kind == MVS_PAGE_PRIVATE_PSP));
			assert_true((d != NULL) == (p->kind != MVS_PAGE_ZERO));
			if (h)
				memcpy(h, hdr, sizeof(hdr));
			if (d)
				memcpy(d, data, sizeof(data));
		}
		assert_int_equal(stream_end_pages(&w), 0);
		assert_int_equal(stream_write_round(&w, r == 1 ? MVS_ROUND_FINAL : 0), 0);
	}
	/* 5000 runs: two BITMAP chunks; the firmware's first, then vCPUs'. */
	full.nruns = with_bitmap ? 5000 : 0;
	for (unsigned i = 0; i < full.nruns; i++) {
		struct encmap_prov_run *r = &full.runs[i];

		r->start = 0xa0 + (uint64_t)i * 5;
		r->end = r->start + 1 + i % 4;
		r->prov = i < 2 ? (struct encmap_prov){ENCMAP_VCPU_FIRMWARE, 0, 0}
				: (struct encmap_prov){i % NCPUS, 1 + i % 2, 100 + i};
	}
	if (with_bitmap) {
		assert_int_equal(stream_begin_bitmap(&w), 0);
		for (unsigned i = 0; i < full.nruns; i++)
			assert_int_equal(stream_write_bitmap_run(&w, &full.runs[i]), 0);
		assert_int_equal(stream_end_bitmap(&w), 0);
	}
	for (unsigned i = 0; i < NCPUS; i++) {
		make_vcpu(&full.vcpu[i], i);
		assert_int_equal(stream_write_vcpu(&w, &full.vcpu[i]), 0);
	}
	make_vmstate(&full.vms);
	assert_int_equal(stream_write_vmstate(&w, &full.vms), 0);
	assert_int_equal(stream_write_end(&w), 0);
	stream_writer_destroy(&w);
}

/* ---- reading ---- */

/* Read a whole stream; 0 or the first error (err filled). Counts sections. */
static int read_all(const uint8_t *buf, size_t len, struct stream_error *err, unsigned *nsec)
{
	struct stream_mem src = {.buf = (uint8_t *)buf, .len = len};
	struct stream_reader r;
	struct stream_section sec;
	int e;

	if (nsec)
		*nsec = 0;
	stream_reader_init(&r, stream_mem_read, &src);
	e = stream_read_header(&r);
	while (!e && !stream_reader_done(&r)) {
		e = stream_read_section(&r, &sec);
		if (!e && nsec)
			(*nsec)++;
	}
	if (!e)
		e = stream_read_trailing(&r);
	if (e && err)
		*err = r.st.err;
	stream_reader_destroy(&r);
	return e;
}

static void test_stream_crc32c_vector(void **state)
{
	uint8_t buf[3000];

	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	memset(buf, 0, 32);
	assert_int_equal(crc32c(0, buf, 32), 0x8a9136aa);
	/* The hardware and table paths agree at every alignment and split. */
	fill(buf, sizeof(buf));
	for (size_t a = 0; a < 16; a++)
		for (size_t len = 0; len < 200; len += 7) {
			uint32_t whole = crc32c_sw(0, buf + a, len);
			size_t cut = len / 3;

			assert_int_equal(crc32c(0, buf + a, len), whole);
			assert_int_equal(crc32c(crc32c(0, buf + a, cut), buf + a + cut, len - cut),
					 whole);
		}
}

static void test_stream_round_trip(void **state)
{
	struct stream_mem m = {0};
	struct stream_mem src;
	struct stream_reader r;
	struct stream_section sec;
	struct stream_page pg;
	uint8_t data[MVS_PAGE_SIZE], hdr[MVS_PSP_PACKET_HDR_SIZE];
	unsigned page = 0, round = 0, run = 0, vcpu = 0, nsec = 0, ram_sections = 0, chunks = 0,
		 kinds[4] = {0};

	write_full(&m, true);
	src = (struct stream_mem){.buf = m.buf, .len = m.len};
	stream_reader_init(&r, stream_mem_read, &src);
	assert_int_equal(stream_read_header(&r), 0);
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 0);
	while (!stream_reader_done(&r)) {
		int e = stream_read_section(&r, &sec);

		if (e)
			fail_msg("round trip refused: %s", r.st.err.msg);
		nsec++;
		switch (sec.type) {
		case MVS_SEC_CONFIG:
			assert_memory_equal(&sec.u.config, &full.cfg, sizeof(full.cfg));
			break;
		case MVS_SEC_SESSION:
			assert_memory_equal(&sec.u.session, &full.sess, sizeof(full.sess));
			break;
		case MVS_SEC_RAM:
			ram_sections++;
			assert_int_equal(sec.u.ram.round, round);
			while (stream_next_page(&sec, &pg)) {
				const struct wpage *w = &full.pages[page++];

				assert_int_equal(pg.gpa, w->gpa);
				assert_int_equal(pg.kind, w->kind);
				assert_int_equal(w->round, round);
				kinds[pg.kind]++;
				page_pattern(w->gpa, data, hdr);
				if (w->kind == MVS_PAGE_ZERO)
					assert_null(pg.data);
				else
					assert_memory_equal(pg.data, data, sizeof(data));
				if (w->kind == MVS_PAGE_PRIVATE_PSP)
					assert_memory_equal(pg.hdr, hdr, sizeof(hdr));
				else
					assert_null(pg.hdr);
			}
			break;
		case MVS_SEC_ROUND:
			assert_int_equal(sec.id, round);
			assert_int_equal(sec.u.round.r.pages, round == 0 ? 900 : 300);
			assert_int_equal(sec.u.round.r.flags, round == 1 ? MVS_ROUND_FINAL : 0);
			round++;
			break;
		case MVS_SEC_BITMAP:
			assert_int_equal(sec.id, chunks++);
			for (uint32_t i = 0; i < sec.u.bitmap.nruns; i++, run++) {
				const struct encmap_prov_run *w = &full.runs[run];
				const struct mvs_run *g = &sec.u.bitmap.runs[i];

				assert_int_equal(g->start_page, w->start);
				assert_int_equal(g->end_page, w->end);
				assert_int_equal(g->vcpu, w->prov.vcpu);
				assert_int_equal(g->generation, w->prov.generation);
				assert_int_equal(g->seq, w->prov.seq);
			}
			break;
		case MVS_SEC_VCPU: {
			const struct stream_vcpu *g = sec.u.vcpu, *w = &full.vcpu[vcpu];

			assert_int_equal(g->id, vcpu);
			assert_memory_equal(&g->mv, &w->mv, sizeof(w->mv));
			assert_memory_equal(&g->regs, &w->regs, sizeof(w->regs));
			assert_int_equal(g->has_sregs2, w->has_sregs2);
			assert_memory_equal(&g->sregs, &w->sregs, sizeof(w->sregs));
			assert_memory_equal(&g->sregs2, &w->sregs2, sizeof(w->sregs2));
			assert_int_equal(g->xsave_len, w->xsave_len);
			assert_memory_equal(g->xsave, w->xsave, w->xsave_len);
			assert_memory_equal(&g->xcrs, &w->xcrs, sizeof(w->xcrs));
			assert_memory_equal(&g->debugregs, &w->debugregs, sizeof(w->debugregs));
			assert_int_equal(g->nmsrs, w->nmsrs);
			assert_memory_equal(g->msrs, w->msrs, w->nmsrs * sizeof(w->msrs[0]));
			assert_memory_equal(&g->events, &w->events, sizeof(w->events));
			vcpu++;
			break;
		}
		case MVS_SEC_VMSTATE:
			assert_memory_equal(&sec.u.vmstate->s, &full.vms.s, sizeof(full.vms.s));
			assert_memory_equal(sec.u.vmstate->sched_words, full.vms.sched_words,
					    8 * full.vms.s.nr_sched_words);
			assert_memory_equal(sec.u.vmstate->device, full.vms.device,
					    full.vms.s.device_len);
			break;
		case MVS_SEC_END:
			assert_int_equal(sec.u.end.sections, nsec - 1);
			break;
		default:
			fail_msg("unexpected section type 0x%x", sec.type);
		}
	}
	assert_int_equal(page, full.npages);
	assert_int_equal(round, 2);
	assert_int_equal(run, full.nruns);
	assert_int_equal(chunks, 2);
	assert_int_equal(vcpu, NCPUS);
	/* 900 pages = 512 + 388: the writer split round 0 on its own. */
	assert_int_equal(ram_sections, 3);
	assert_int_equal(kinds[1], 400);
	assert_int_equal(kinds[2], 400);
	assert_int_equal(kinds[3], 400);
	assert_int_equal(src.pos, m.len);
	/* CONFIG SESSION 3xRAM 2xROUND 2xBITMAP 2xVCPU VMSTATE END */
	assert_int_equal(nsec, 13);
	stream_reader_destroy(&r);
	free(m.buf);
}

/* ---- hostile streams, assembled from parts ---- */

struct part {
	uint32_t type, id;
	const void *p;
	uint64_t len;
};

/* The parts of a small valid SEV stream, in order, with a correct END last. */
enum {
	P_CONFIG,
	P_SESSION,
	P_RAM0,
	P_ROUND0,
	P_RAM1,
	P_ROUND1,
	P_BITMAP,
	P_VCPU0,
	P_VCPU1,
	P_VMSTATE,
	P_END,
	P_COUNT
};

static struct mvs_config base_cfg;
static struct mvs_session base_sess;
static uint8_t base_ram0[8 * (16 + MVS_PAGE_DATA_PSP)], base_ram1[2 * (16 + MVS_PAGE_SIZE)];
static uint64_t base_ram0_len, base_ram1_len;
static struct mvs_round base_round0, base_round1;
static struct mvs_run base_runs[3];
static uint8_t *base_vcpu[NCPUS];
static uint64_t base_vcpu_len[NCPUS];
static uint8_t *base_vms;
static uint64_t base_vms_len;
static struct part base[P_COUNT];

/* Append a record to a RAM payload. */
static uint64_t put_page(uint8_t *buf, uint64_t pos, uint64_t gpa, uint32_t kind)
{
	struct mvs_page rec = {.gpa = gpa, .kind = kind};
	uint64_t dlen = kind == MVS_PAGE_SHARED_PLAIN  ? MVS_PAGE_SIZE
			: kind == MVS_PAGE_PRIVATE_PSP ? MVS_PAGE_DATA_PSP
						       : 0;

	memcpy(buf + pos, &rec, sizeof(rec));
	memset(buf + pos + sizeof(rec), (int)(gpa >> 12), dlen);
	return pos + sizeof(rec) + dlen;
}

/* Payloads of VCPU and VMSTATE as the writer makes them: cut from a written stream. */
static void capture_payload(uint32_t type, uint32_t id, const uint8_t *buf, size_t len,
			    uint8_t **out, uint64_t *out_len)
{
	size_t off = sizeof(struct mvs_header);

	while (off + sizeof(struct mvs_section) <= len) {
		struct mvs_section h;

		memcpy(&h, buf + off, sizeof(h));
		if (h.type == type && h.id == id) {
			*out = malloc(h.length);
			memcpy(*out, buf + off + sizeof(h), h.length);
			*out_len = h.length;
			return;
		}
		off += sizeof(h) + h.length + MVS_TRAILER_SIZE;
	}
	fail_msg("no section 0x%x #%u", type, id);
}

static int setup_base(void **state)
{
	struct stream_mem m = {0};
	uint64_t pos = 0;

	verbose = getenv("STREAM_TEST_VERBOSE") != NULL;
	make_config(&base_cfg, true);
	make_session(&base_sess);
	for (unsigned i = 0; i < 8; i++)
		pos = put_page(base_ram0, pos, 0x10000 + i * 0x1000ull, 1 + i % 3);
	base_ram0_len = pos;
	base_round0 = (struct mvs_round){.pages = 8};
	pos = put_page(base_ram1, 0, 0x1000, MVS_PAGE_SHARED_PLAIN);
	base_ram1_len = put_page(base_ram1, pos, 0x3000, MVS_PAGE_SHARED_PLAIN);
	base_round1 = (struct mvs_round){.pages = 2, .flags = MVS_ROUND_FINAL};
	base_runs[0] = (struct mvs_run){0xa0, 0xc2, MVS_VCPU_FIRMWARE, 0, 0};
	base_runs[1] = (struct mvs_run){0x200, 0x210, 0, 1, 50};
	base_runs[2] = (struct mvs_run){0x300, 0x301, 1, 2, 60};
	write_full(&m, false);
	for (unsigned i = 0; i < NCPUS; i++)
		capture_payload(MVS_SEC_VCPU, i, m.buf, m.len, &base_vcpu[i], &base_vcpu_len[i]);
	capture_payload(MVS_SEC_VMSTATE, 0, m.buf, m.len, &base_vms, &base_vms_len);
	free(m.buf);

	base[P_CONFIG] = (struct part){MVS_SEC_CONFIG, 0, &base_cfg, sizeof(base_cfg)};
	base[P_SESSION] = (struct part){MVS_SEC_SESSION, 0, &base_sess, sizeof(base_sess)};
	base[P_RAM0] = (struct part){MVS_SEC_RAM, 0, base_ram0, base_ram0_len};
	base[P_ROUND0] = (struct part){MVS_SEC_ROUND, 0, &base_round0, sizeof(base_round0)};
	base[P_RAM1] = (struct part){MVS_SEC_RAM, 1, base_ram1, base_ram1_len};
	base[P_ROUND1] = (struct part){MVS_SEC_ROUND, 1, &base_round1, sizeof(base_round1)};
	base[P_BITMAP] = (struct part){MVS_SEC_BITMAP, 0, base_runs, sizeof(base_runs)};
	base[P_VCPU0] = (struct part){MVS_SEC_VCPU, 0, base_vcpu[0], base_vcpu_len[0]};
	base[P_VCPU1] = (struct part){MVS_SEC_VCPU, 1, base_vcpu[1], base_vcpu_len[1]};
	base[P_VMSTATE] = (struct part){MVS_SEC_VMSTATE, 0, base_vms, base_vms_len};
	base[P_END] = (struct part){MVS_SEC_END, 0, NULL, 0}; /* NULL: computed */
	return 0;
}

static int teardown_base(void **state)
{
	for (unsigned i = 0; i < NCPUS; i++)
		free(base_vcpu[i]);
	free(base_vms);
	return 0;
}

/* Header, then parts through the raw writer; an END part with p NULL is made correct. */
static void assemble(const struct part *parts, unsigned n, struct stream_mem *m)
{
	struct stream_writer w;

	*m = (struct stream_mem){0};
	assert_int_equal(stream_writer_init(&w, stream_mem_write, m), 0);
	assert_int_equal(stream_write_header(&w), 0);
	for (unsigned i = 0; i < n; i++) {
		struct mvs_end end = {.sections = w.st.seq, .chain = w.st.chain};
		const struct part *p = &parts[i];

		if (p->type == MVS_SEC_END && !p->p)
			assert_int_equal(stream_write_raw(&w, p->type, p->id, &end, sizeof(end)),
					 0);
		else
			assert_int_equal(stream_write_raw(&w, p->type, p->id, p->p, p->len), 0);
	}
	stream_writer_destroy(&w);
}

/* Offset of part k in an assembled stream. */
static uint64_t part_off(const struct part *parts, unsigned k)
{
	uint64_t off = sizeof(struct mvs_header);

	for (unsigned i = 0; i < k; i++)
		off += sizeof(struct mvs_section) +
		       (parts[i].type == MVS_SEC_END && !parts[i].p ? sizeof(struct mvs_end)
								    : parts[i].len) +
		       MVS_TRAILER_SIZE;
	return off;
}

#define PAYLOAD(parts, k) (part_off(parts, k) + sizeof(struct mvs_section))

/*
 * The stream in buf must be refused with rc; the error names `section`,
 * its message holds `label`, "at offset OFF" and `detail`.
 */
static void expect_refusal(const char *what, const uint8_t *buf, size_t len, int rc,
			   const char *section, const char *label, uint64_t offset,
			   const char *detail)
{
	struct stream_error err = {.section = ""};
	char at[48];
	int e = read_all(buf, len, &err, NULL);

	snprintf(at, sizeof(at), "at offset %" PRIu64 ":", offset);
	if (verbose)
		print_message("%-28s %s\n", what, err.msg);
	if (e != rc || strcmp(err.section, section) || err.offset != offset ||
	    !strstr(err.msg, label) || !strstr(err.msg, at) || !strstr(err.msg, detail))
		fail_msg("%s: got %d (%s) section '%s' offset %" PRIu64 " \"%s\"; want %d (%s) "
			 "section '%s' offset %" PRIu64 " with \"%s\" and \"%s\"",
			 what, e, strerror(-e), err.section, err.offset, err.msg, rc, strerror(-rc),
			 section, offset, label, detail);
}

static void expect_parts(const char *what, const struct part *parts, unsigned n, int rc,
			 const char *section, const char *label, uint64_t offset,
			 const char *detail)
{
	struct stream_mem m;

	assemble(parts, n, &m);
	expect_refusal(what, m.buf, m.len, rc, section, label, offset, detail);
	free(m.buf);
}

static void test_stream_base_is_valid(void **state)
{
	struct stream_mem m;
	struct stream_error err = {.section = ""};
	unsigned nsec;

	assemble(base, P_COUNT, &m);
	if (read_all(m.buf, m.len, &err, &nsec))
		fail_msg("base stream refused: %s", err.msg);
	assert_int_equal(nsec, P_COUNT);
	free(m.buf);
}

static void test_stream_header_errors(void **state)
{
	struct stream_mem m;
	struct mvs_header hd;

	assemble(base, P_COUNT, &m);
	memcpy(&hd, m.buf, sizeof(hd));

#define WITH_HEADER(mutation, recrc)                                                               \
	do {                                                                                       \
		struct mvs_header h2 = hd;                                                         \
		mutation;                                                                          \
		if (recrc)                                                                         \
			h2.crc = crc32c(0, &h2, offsetof(struct mvs_header, crc));                 \
		memcpy(m.buf, &h2, sizeof(h2));                                                    \
	} while (0)

	WITH_HEADER(h2.magic[3] = 'X', true);
	expect_refusal("wrong magic", m.buf, m.len, -EBADMSG, "stream header", "stream header", 0,
		       "bad magic");
	WITH_HEADER(h2.major = 2, false);
	expect_refusal("major version", m.buf, m.len, -EPROTONOSUPPORT, "stream header",
		       "stream header", 8, "stream version 2.0, this mini-vmm reads 1.x");
	WITH_HEADER(h2.major = 0, true);
	expect_refusal("major version 0", m.buf, m.len, -EPROTONOSUPPORT, "stream header",
		       "stream header", 8, "stream version 0.0, this mini-vmm reads 1.x");
	WITH_HEADER(h2.minor = 1, true);
	expect_refusal("minor too new", m.buf, m.len, -EPROTONOSUPPORT, "stream header",
		       "stream header", 10, "stream version 1.1, this mini-vmm reads 1.0 at most");
	WITH_HEADER(h2.reserved = 1, false);
	expect_refusal("header CRC", m.buf, m.len, -EBADMSG, "stream header", "stream header", 0,
		       "CRC mismatch");
	WITH_HEADER(h2.crc ^= 1, false);
	expect_refusal("header CRC field", m.buf, m.len, -EBADMSG, "stream header", "stream header",
		       0, "CRC mismatch");
	WITH_HEADER(h2.flags = 4, true);
	expect_refusal("header flags", m.buf, m.len, -EINVAL, "stream header", "stream header", 12,
		       "unknown flags 0x4");
	WITH_HEADER(h2.reserved = 9, true);
	expect_refusal("header reserved", m.buf, m.len, -EINVAL, "stream header", "stream header",
		       12, "reserved 0x9");
	WITH_HEADER((void)0, false);
	for (size_t cut = 0; cut < sizeof(hd); cut++)
		expect_refusal("truncated header", m.buf, cut, -ENODATA, "stream header",
			       "stream header", 0, "wanted 24 bytes");
#undef WITH_HEADER
	free(m.buf);
}

static const char *const part_label[P_COUNT] = {
	"section CONFIG ",  "section SESSION ",	 "section RAM #0 ",    "section ROUND #0 ",
	"section RAM #1 ",  "section ROUND #1 ", "section BITMAP #0 ", "section VCPU #0 ",
	"section VCPU #1 ", "section VMSTATE ",	 "section END "};
static const char *const part_section[P_COUNT] = {"CONFIG", "SESSION", "RAM",	 "ROUND",
						  "RAM",    "ROUND",   "BITMAP", "VCPU",
						  "VCPU",   "VMSTATE", "END"};

/* Each section's CRCs: a payload byte, a header byte, the trailer. */
static void test_stream_section_crc(void **state)
{
	struct stream_mem m;

	assemble(base, P_COUNT, &m);
	for (unsigned k = 0; k < P_COUNT; k++) {
		uint64_t off = part_off(base, k), len = part_off(base, k + 1) - off - 28;
		uint64_t flips[] = {off + 24, off + 24 + len / 2, off + 24 + len - 1,
				    off + 24 + len, off + 24 + len + 3};
		char detail[80], what[64];
		uint32_t trailer;

		memcpy(&trailer, m.buf + off + 24 + len, 4);
		for (unsigned f = 0; f < ARRAY_SIZE(flips); f++) {
			m.buf[flips[f]] ^= 0x20;
			snprintf(what, sizeof(what), "CRC %s +%" PRIu64, part_section[k],
				 flips[f] - off);
			/* want: the trailer as stored (flipped when the flip is in it). */
			snprintf(detail, sizeof(detail), "CRC mismatch (want 0x%08" PRIx32,
				 f >= 3 ? trailer ^ (0x20u << (8 * (flips[f] - off - 24 - len)))
					: trailer);
			expect_refusal(what, m.buf, m.len, -EBADMSG, part_section[k], part_label[k],
				       off, detail);
			m.buf[flips[f]] ^= 0x20;
		}
		for (unsigned b = 0; b < 24; b++) {
			char lab[32];

			m.buf[off + b] ^= 0x01;
			snprintf(lab, sizeof(lab), "section header #%u", k);
			expect_refusal("header CRC", m.buf, m.len, -EBADMSG, "section header", lab,
				       off, "header CRC mismatch");
			m.buf[off + b] ^= 0x01;
		}
	}
	free(m.buf);
}

/*
 * Each section cut at every byte of its header, at and inside its payload,
 * and inside its trailer.
 */
static void test_stream_truncation(void **state)
{
	struct stream_mem m;

	assemble(base, P_COUNT, &m);
	for (unsigned k = 0; k < P_COUNT; k++) {
		uint64_t off = part_off(base, k), len = part_off(base, k + 1) - off - 28;
		uint64_t cuts[] = {off + 24, off + 25, off + 24 + len / 3, off + 24 + len - 1};
		char lab[40], detail[40];

		snprintf(lab, sizeof(lab), "section header #%u", k);
		for (uint64_t c = off; c < off + 24; c++)
			expect_refusal("cut in header", m.buf, c, -ENODATA, "section header", lab,
				       off, "wanted 24 bytes");
		snprintf(detail, sizeof(detail), "wanted %" PRIu64 " bytes", len);
		for (unsigned i = 0; i < ARRAY_SIZE(cuts); i++)
			expect_refusal("cut in payload", m.buf, cuts[i], -ENODATA, part_section[k],
				       part_label[k], off + 24, detail);
		for (uint64_t c = off + 24 + len; c < off + 28 + len; c++)
			expect_refusal("cut in trailer", m.buf, c, -ENODATA, part_section[k],
				       part_label[k], off + 24 + len, "wanted 4 bytes");
	}
	/* Missing END: the stream stops after VMSTATE. */
	expect_refusal("missing END", m.buf, part_off(base, P_END), -ENODATA, "section header",
		       "section header #10", part_off(base, P_END), "wanted 24 bytes");
	/* A source that fails (not EOF) is reported as such. */
	free(m.buf);
}

/* Copy of base with part k replaced. */
static void with_part(struct part *out, unsigned k, const void *p, uint64_t len)
{
	memcpy(out, base, sizeof(base));
	out[k].p = p;
	out[k].len = len;
}

static void test_stream_order_errors(void **state)
{
	struct part ps[P_COUNT + 2];
	static uint8_t big[MVS_RAM_MAX + 16];
	const struct part vcpu5 = {MVS_SEC_VCPU, 5, base_vcpu[1], base_vcpu_len[1]};

	/* RAM before CONFIG. */
	ps[0] = base[P_RAM0];
	expect_parts("RAM before CONFIG", ps, 1, -EPROTO, "RAM", "unexpected section RAM #0", 24,
		     "expected CONFIG");
	/* Duplicate CONFIG. */
	ps[0] = base[P_CONFIG];
	ps[1] = base[P_CONFIG];
	expect_parts("duplicate CONFIG", ps, 2, -EPROTO, "CONFIG", "unexpected section CONFIG",
		     part_off(ps, 1), "duplicate");
	/* Duplicate SESSION. */
	memcpy(ps, base, sizeof(base));
	ps[P_RAM0] = base[P_SESSION];
	expect_parts("duplicate SESSION", ps, P_COUNT, -EPROTO, "SESSION",
		     "unexpected section SESSION", part_off(ps, P_RAM0), "duplicate");
	/* SEV without SESSION. */
	memcpy(ps, base, sizeof(base));
	ps[P_SESSION] = base[P_RAM0];
	expect_parts("missing SESSION", ps, P_COUNT, -EPROTO, "RAM", "unexpected section RAM #0",
		     part_off(ps, P_SESSION), "expected SESSION");
	/* VCPU id >= vCPUs in CONFIG. */
	memcpy(ps, base, sizeof(base));
	ps[P_VCPU1] = vcpu5;
	expect_parts("VCPU id >= cpus", ps, P_COUNT, -EPROTO, "VCPU", "unexpected section VCPU #5",
		     part_off(ps, P_VCPU1), "vCPU id 5 >= 2 vCPUs in CONFIG");
	/* VCPUs swapped, VCPU repeated. */
	memcpy(ps, base, sizeof(base));
	ps[P_VCPU0] = base[P_VCPU1];
	ps[P_VCPU1] = base[P_VCPU0];
	expect_parts("VCPUs swapped", ps, P_COUNT, -EPROTO, "VCPU", "unexpected section VCPU #1",
		     part_off(ps, P_VCPU0), "expected BITMAP #1 or VCPU #0");
	memcpy(ps, base, sizeof(base));
	ps[P_VCPU1] = base[P_VCPU0];
	expect_parts("VCPU twice", ps, P_COUNT, -EPROTO, "VCPU", "unexpected section VCPU #0",
		     part_off(ps, P_VCPU1), "duplicate");
	/* VMSTATE before the last VCPU. */
	memcpy(ps, base, sizeof(base));
	ps[P_VCPU1] = base[P_VMSTATE];
	expect_parts("VMSTATE early", ps, P_COUNT, -EPROTO, "VMSTATE", "unexpected section VMSTATE",
		     part_off(ps, P_VCPU1), "expected VCPU #1");
	/* VCPU after END. */
	memcpy(ps, base, sizeof(base));
	ps[P_COUNT] = base[P_VCPU0];
	expect_parts("VCPU after END", ps, P_COUNT + 1, -EPROTO, "VCPU",
		     "unexpected section VCPU #0", part_off(ps, P_COUNT), "after END");
	/* Pages after the final round; BITMAP before it; a round skipped. */
	memcpy(ps, base, sizeof(base));
	ps[P_BITMAP] = (struct part){MVS_SEC_RAM, 2, base_ram1, base_ram1_len};
	expect_parts("RAM after final round", ps, P_COUNT, -EPROTO, "RAM",
		     "unexpected section RAM #2", part_off(ps, P_BITMAP),
		     "expected BITMAP #0 or VCPU #0");
	memcpy(ps, base, sizeof(base));
	ps[P_RAM1] = base[P_BITMAP];
	expect_parts("BITMAP before final round", ps, P_COUNT, -EPROTO, "BITMAP",
		     "unexpected section BITMAP #0", part_off(ps, P_RAM1),
		     "expected RAM #1 or ROUND #1");
	memcpy(ps, base, sizeof(base));
	ps[P_RAM0].id = 1;
	expect_parts("RAM of a later round", ps, P_COUNT, -EPROTO, "RAM",
		     "unexpected section RAM #1", part_off(ps, P_RAM0),
		     "expected RAM #0 or ROUND #0");
	/* An unknown type. */
	memcpy(ps, base, sizeof(base));
	ps[P_RAM0].type = MVS_FOURCC('X', 'Y', 'Z', 'W');
	expect_parts("unknown type", ps, P_COUNT, -EPROTO, "unknown",
		     "section of unknown type 0x575a5958", part_off(ps, P_RAM0),
		     "unknown section type");
	/* SESSION in a stream without SEV. */
	{
		struct mvs_config nosev = base_cfg;

		nosev.flags &= ~(uint32_t)MVS_CFG_SEV;
		memcpy(ps, base, sizeof(base));
		ps[P_CONFIG].p = &nosev;
		expect_parts("SESSION without SEV", ps, P_COUNT, -EPROTO, "SESSION",
			     "unexpected section SESSION", part_off(ps, P_SESSION),
			     "SESSION without SEV in CONFIG");
	}
	/* Over the maximum length, and not the exact size. */
	memcpy(ps, base, sizeof(base));
	ps[P_RAM0] = (struct part){MVS_SEC_RAM, 0, big, sizeof(big)};
	expect_parts("RAM over its maximum", ps, P_COUNT, -EMSGSIZE, "RAM", "section RAM #0",
		     part_off(ps, P_RAM0), "length 2131984 not in 16..2131968");
	with_part(ps, P_CONFIG, big, sizeof(base_cfg) + 8);
	expect_parts("CONFIG size", ps, P_COUNT, -EMSGSIZE, "CONFIG", "section CONFIG", 24,
		     "length 544, want 536");
	with_part(ps, P_BITMAP, base_runs, sizeof(base_runs) - 8);
	expect_parts("BITMAP not whole runs", ps, P_COUNT, -EMSGSIZE, "BITMAP", "section BITMAP #0",
		     part_off(ps, P_BITMAP), "in whole runs");
	with_part(ps, P_VCPU0, big, MVS_VCPU_MAX + 8);
	expect_parts("VCPU over its maximum", ps, P_COUNT, -EMSGSIZE, "VCPU", "section VCPU #0",
		     part_off(ps, P_VCPU0), "not in 64..81920");
	with_part(ps, P_VMSTATE, big, MVS_VMSTATE_MAX + 1);
	expect_parts("VMSTATE over its maximum", ps, P_COUNT, -EMSGSIZE, "VMSTATE",
		     "section VMSTATE", part_off(ps, P_VMSTATE), "not in 136..");
}

static void test_stream_sequence_and_end(void **state)
{
	struct stream_mem m;
	struct part ps[P_COUNT];
	struct mvs_end end;
	uint64_t o_r0 = part_off(base, P_ROUND0), o_r1 = part_off(base, P_RAM1);
	uint8_t *cut;

	/* A section dropped from the bytes: the next one has the wrong sequence number. */
	assemble(base, P_COUNT, &m);
	cut = malloc(m.len);
	memcpy(cut, m.buf, o_r0);
	memcpy(cut + o_r0, m.buf + o_r1, m.len - o_r1);
	expect_refusal("section dropped", cut, m.len - (o_r1 - o_r0), -EPROTO, "RAM",
		       "section RAM #1", o_r0, "sequence number 4, want 3");
	free(cut);
	free(m.buf);

	/* END with a wrong count, a wrong chain, a reserved field. */
	memcpy(ps, base, sizeof(base));
	assemble(ps, P_COUNT, &m);
	memcpy(&end, m.buf + PAYLOAD(base, P_END), sizeof(end));
	free(m.buf);
	end.sections--;
	ps[P_END].p = &end;
	ps[P_END].len = sizeof(end);
	expect_parts("END count", ps, P_COUNT, -EPROTO, "END", "section END", PAYLOAD(base, P_END),
		     "END counts 9 sections, the stream had 10");
	end.sections++;
	end.chain ^= 0x100;
	expect_parts("END chain", ps, P_COUNT, -EBADMSG, "END", "section END",
		     PAYLOAD(base, P_END) + 8, "chain CRC mismatch");
	end.chain ^= 0x100;
	end.reserved = 1;
	expect_parts("END reserved", ps, P_COUNT, -EINVAL, "END", "section END",
		     PAYLOAD(base, P_END) + 12, "reserved field not zero");
	/* Two valid sections swapped in the bytes with renumbered headers: order catches it. */
	memcpy(ps, base, sizeof(base));
	ps[P_ROUND0] = base[P_RAM0];
	ps[P_RAM0] = base[P_ROUND0];
	expect_parts("ROUND before its pages", ps, P_COUNT, -EPROTO, "ROUND", "section ROUND #0",
		     PAYLOAD(ps, P_RAM0), "round has 8 pages, its RAM sections held 0");
}

/* Pages of a RAM section: each error at the offset of its record. */
static void test_stream_page_errors(void **state)
{
	struct part ps[P_COUNT];
	uint8_t ram[4 * (16 + MVS_PAGE_DATA_PSP)];
	struct mvs_round r = {.pages = 2};
	struct mvs_config nosev = base_cfg;
	uint64_t pos, rec2;
	const struct {
		const char *what;
		uint64_t gpa1, gpa2;
		uint32_t kind2;
		const char *detail;
		int rc;
	} cases[] = {
		{"pages not increasing", 0x5000, 0x4000, 1,
		 "page 0x4000 not above the page before it (0x5000)", -EINVAL},
		{"page repeated", 0x5000, 0x5000, 1, "not above the page before it", -EINVAL},
		{"page outside memory", 0x5000, RAM_SIZE, 1, "page 0x10000000 outside guest memory",
		 -EINVAL},
		{"page far outside", 0x5000, 0xfffffffffffff000ull, 3, "outside guest memory",
		 -EINVAL},
		{"page unaligned", 0x5000, 0x6010, 1, "page 0x6010 not page aligned", -EINVAL},
		{"unknown page kind", 0x5000, 0x6000, 7, "page 0x6000: unknown page kind 7",
		 -EINVAL},
		{"page kind 0", 0x5000, 0x6000, 0, "unknown page kind 0", -EINVAL},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		pos = put_page(ram, 0, cases[i].gpa1, MVS_PAGE_SHARED_PLAIN);
		rec2 = pos;
		pos = put_page(ram, pos, cases[i].gpa2, cases[i].kind2);
		with_part(ps, P_RAM0, ram, pos);
		ps[P_ROUND0].p = &r;
		expect_parts(cases[i].what, ps, P_COUNT, cases[i].rc, "RAM", "section RAM #0",
			     PAYLOAD(ps, P_RAM0) + rec2, cases[i].detail);
	}
	/* Reserved field set. */
	pos = put_page(ram, 0, 0x5000, MVS_PAGE_ZERO);
	ram[12] = 1;
	with_part(ps, P_RAM0, ram, pos);
	expect_parts("page reserved", ps, P_COUNT, -EINVAL, "RAM", "section RAM #0",
		     PAYLOAD(ps, P_RAM0), "reserved field not zero");
	/* Data cut short, a record header cut short. */
	pos = put_page(ram, 0, 0x5000, MVS_PAGE_PRIVATE_PSP);
	with_part(ps, P_RAM0, ram, pos - 100);
	expect_parts("page data short", ps, P_COUNT, -EMSGSIZE, "RAM", "section RAM #0",
		     PAYLOAD(ps, P_RAM0), "its data needs 4148");
	pos = put_page(ram, 0, 0x5000, MVS_PAGE_ZERO);
	with_part(ps, P_RAM0, ram, pos + 8);
	expect_parts("record header short", ps, P_COUNT, -EMSGSIZE, "RAM", "section RAM #0",
		     PAYLOAD(ps, P_RAM0) + 16, "8 bytes left, a page record needs 16");
	/* A private page in a stream without SEV (and so without SESSION). */
	nosev.flags &= ~(uint32_t)MVS_CFG_SEV;
	memcpy(ps, base, sizeof(base));
	ps[P_CONFIG].p = &nosev;
	memmove(&ps[P_SESSION], &ps[P_SESSION + 1], (P_COUNT - P_SESSION - 1) * sizeof(ps[0]));
	expect_parts("private page without SEV", ps, P_COUNT - 1, -EINVAL, "RAM", "section RAM #0",
		     PAYLOAD(ps, P_SESSION) + 16 + 4096, "page 0x11000: private page without SEV");
	/* The round's count disagrees with its pages. */
	r.pages = 7;
	with_part(ps, P_ROUND0, &r, sizeof(r));
	expect_parts("ROUND count", ps, P_COUNT, -EPROTO, "ROUND", "section ROUND #0",
		     PAYLOAD(ps, P_ROUND0), "round has 7 pages, its RAM sections held 8");
	r = (struct mvs_round){.pages = 8, .flags = 2};
	expect_parts("ROUND flags", ps, P_COUNT, -EINVAL, "ROUND", "section ROUND #0",
		     PAYLOAD(ps, P_ROUND0) + 8, "unknown flags 0x2");
}

static void test_stream_bitmap_errors(void **state)
{
	struct part ps[P_COUNT];
	const struct {
		const char *what;
		struct mvs_run r1, r2;
		const char *detail;
	} cases[] = {
		{"run empty",
		 {0x10, 0x20, 0, 0, 0},
		 {0x30, 0x30, 0, 0, 0},
		 "run [0x30, 0x30) is empty"},
		{"run backwards",
		 {0x10, 0x20, 0, 0, 0},
		 {0x30, 0x28, 0, 0, 0},
		 "run [0x30, 0x28) is empty"},
		{"runs overlapping",
		 {0x10, 0x20, 0, 0, 0},
		 {0x1f, 0x28, 1, 0, 0},
		 "run [0x1f, 0x28) overlaps or precedes the run before it (ending at 0x20)"},
		{"runs unsorted",
		 {0x10, 0x20, 0, 0, 0},
		 {0x1, 0x8, 1, 0, 0},
		 "run [0x1, 0x8) overlaps or precedes"},
		{"run outside memory",
		 {0x10, 0x20, 0, 0, 0},
		 {0xfff0, 0x10001, 1, 0, 0},
		 "run [0xfff0, 0x10001) outside guest memory"},
		{"run far outside",
		 {0x10, 0x20, 0, 0, 0},
		 {1ull << 50, (1ull << 50) + 1, 1, 0, 0},
		 "outside guest memory"},
		{"run by unknown vCPU",
		 {0x10, 0x20, 0, 0, 0},
		 {0x30, 0x31, 2, 0, 0},
		 "by vCPU 2, CONFIG has 2"},
	};
	struct mvs_run runs[2];
	struct mvs_run chunk2[1] = {{0x5, 0x6, 0, 0, 0}};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		runs[0] = cases[i].r1;
		runs[1] = cases[i].r2;
		with_part(ps, P_BITMAP, runs, sizeof(runs));
		expect_parts(cases[i].what, ps, P_COUNT, -EINVAL, "BITMAP", "section BITMAP #0",
			     PAYLOAD(ps, P_BITMAP) + sizeof(runs[0]), cases[i].detail);
	}
	/* Order holds across chunks too. */
	{
		struct part qs[P_COUNT + 1];

		memcpy(qs, base, sizeof(base));
		memmove(&qs[P_BITMAP + 2], &qs[P_BITMAP + 1],
			(P_COUNT - P_BITMAP - 1) * sizeof(qs[0]));
		qs[P_BITMAP + 1] = (struct part){MVS_SEC_BITMAP, 1, chunk2, sizeof(chunk2)};
		expect_parts(
			"runs unsorted across chunks", qs, P_COUNT + 1, -EINVAL, "BITMAP",
			"section BITMAP #1", PAYLOAD(qs, P_BITMAP + 1),
			"run [0x5, 0x6) overlaps or precedes the run before it (ending at 0x301)");
		qs[P_BITMAP + 1].id = 2;
		expect_parts("bitmap chunk skipped", qs, P_COUNT + 1, -EPROTO, "BITMAP",
			     "unexpected section BITMAP #2", part_off(qs, P_BITMAP + 1),
			     "expected BITMAP #1 or VCPU #0");
	}
}

/* Patch a copy of a VCPU payload: the item with `tag`, at `at` bytes into its data. */
static uint64_t item_off(const uint8_t *p, uint64_t len, uint32_t tag)
{
	uint64_t pos = sizeof(struct mvs_vcpu_state);

	while (pos + 8 <= len) {
		struct mvs_item it;

		memcpy(&it, p + pos, sizeof(it));
		if (it.tag == tag)
			return pos;
		pos += 8 + ALIGN_UP((uint64_t)it.length, 8);
	}
	fail_msg("no item %u", tag);
	return 0;
}

static void test_stream_vcpu_errors(void **state)
{
	struct part ps[P_COUNT];
	uint64_t len = base_vcpu_len[1];
	uint8_t *v = malloc(len + 64);
	uint64_t o_msrs = item_off(base_vcpu[1], len, MVS_ITEM_MSRS);
	uint64_t o_xsave = item_off(base_vcpu[1], len, MVS_ITEM_XSAVE);
	uint64_t o_sregs = item_off(base_vcpu[1], len, MVS_ITEM_SREGS);
	uint64_t o_xcrs = item_off(base_vcpu[1], len, MVS_ITEM_XCRS);
	uint64_t vo;
	uint32_t u32;
	uint64_t u64;

	with_part(ps, P_VCPU1, v, len);
	vo = PAYLOAD(ps, P_VCPU1);

#define VCPU_CASE(what, patch, rc, at, detail)                                                     \
	do {                                                                                       \
		memcpy(v, base_vcpu[1], len);                                                      \
		patch;                                                                             \
		expect_parts(what, ps, P_COUNT, rc, "VCPU", "section VCPU #1", vo + (at), detail); \
	} while (0)

	/* MSR count too large, inconsistent with the length. */
	VCPU_CASE("MSR count too large", (u32 = 300, memcpy(v + o_msrs + 8, &u32, 4)), -EINVAL,
		  o_msrs, "item MSRS: 300 MSRs, at most 256");
	VCPU_CASE("MSR count vs length", (u32 = 42, memcpy(v + o_msrs + 8, &u32, 4)), -EMSGSIZE,
		  o_msrs, "item MSRS: length 696 for 42 MSRs");
	VCPU_CASE("MSR twice", memcpy(v + o_msrs + 16 + 16, v + o_msrs + 16, 4), -EINVAL, o_msrs,
		  "item MSRS: MSR 0xc0000080 twice");
	/* XSAVE length wrong: too small, not a multiple of 4, too large. */
	VCPU_CASE("XSAVE too small",
		  (u32 = 4092, memcpy(v + o_xsave + 4, &u32, 4),
		   memset(v + o_xsave + 8 + 4092, 0, 4)),
		  -EMSGSIZE, o_xsave,
		  "item XSAVE: length 4092, want 4096..65536 and a multiple of 4");
	VCPU_CASE("XSAVE odd length", (u32 = 8190, memcpy(v + o_xsave + 4, &u32, 4)), -EINVAL,
		  o_xsave, "item XSAVE: padding not zero");
	VCPU_CASE("XSAVE past the end", (u32 = 65536, memcpy(v + o_xsave + 4, &u32, 4)), -EMSGSIZE,
		  o_xsave, "item XSAVE of 65536 bytes runs past the section");
	/* Items out of order, a wrong size, state values. */
	VCPU_CASE("item order", (u32 = MVS_ITEM_XCRS, memcpy(v + o_sregs, &u32, 4)), -EPROTO,
		  o_sregs, "expected item SREGS2 or SREGS, got tag 5");
	VCPU_CASE("SREGS size", (u32 = 320, memcpy(v + o_sregs + 4, &u32, 4)), -EMSGSIZE, o_sregs,
		  "item SREGS: length 320, want 312");
	VCPU_CASE("XCRS count", (u32 = 17, memcpy(v + o_xcrs + 8, &u32, 4)), -EINVAL, o_xcrs,
		  "item XCRS: 17 XCRs, at most 16");
	VCPU_CASE("MIGRATION_CONTROL", (u64 = 2, memcpy(v, &u64, 8)), -EINVAL, 0,
		  "MIGRATION_CONTROL 0x2 has reserved bits");
	VCPU_CASE("AP state", (u32 = 3, memcpy(v + 8, &u32, 4)), -EINVAL, 8, "unknown AP state 3");
	VCPU_CASE("start regs when running", (u32 = MVS_AP_RUNNING, memcpy(v + 8, &u32, 4)),
		  -EINVAL, 16, "start registers set on a vCPU that is not pending");
	VCPU_CASE("injection hold", (u64 = 2, memcpy(v + 56, &u64, 8)), -EINVAL, 56,
		  "injection hold 2: a stream never carries a held exit");
	memcpy(v, base_vcpu[1], len);
	memset(v + len, 0, 8);
	ps[P_VCPU1].len = len + 8;
	expect_parts("bytes after the items", ps, P_COUNT, -EMSGSIZE, "VCPU", "section VCPU #1",
		     vo + len, "8 bytes after the last item");
	ps[P_VCPU1].len = o_xsave;
	expect_parts("VCPU ends early", ps, P_COUNT, -EMSGSIZE, "VCPU", "section VCPU #1",
		     vo + o_xsave, "ends before item XSAVE");
#undef VCPU_CASE
	free(v);
}

static void test_stream_vmstate_session_errors(void **state)
{
	struct part ps[P_COUNT];
	uint8_t *v = malloc(base_vms_len + 8);
	struct mvs_session s = base_sess;
	uint64_t vo;
	uint32_t u32;

	with_part(ps, P_VMSTATE, v, base_vms_len);
	vo = PAYLOAD(ps, P_VMSTATE);
#define VMS_CASE(what, patch, rc, at, detail)                                                      \
	do {                                                                                       \
		memcpy(v, base_vms, base_vms_len);                                                 \
		patch;                                                                             \
		expect_parts(what, ps, P_COUNT, rc, "VMSTATE", "section VMSTATE", vo + (at),       \
			     detail);                                                              \
	} while (0)
	VMS_CASE("device too large", (u32 = MVS_DEVICE_MAX + 1, memcpy(v + 132, &u32, 4)),
		 -EMSGSIZE, 128, "65537 device bytes (at most 65536)");
	VMS_CASE("sched words too many", (u32 = 65, memcpy(v + 128, &u32, 4)), -EMSGSIZE, 128,
		 "65 scheduler words (at most 64)");
	VMS_CASE("counts vs length", (u32 = 2, memcpy(v + 128, &u32, 4)), -EMSGSIZE, 0,
		 "its counts make");
	VMS_CASE("vm flags", (u32 = 6, memcpy(v + 28, &u32, 4)), -EINVAL, 28, "unknown flags 0x6");
	VMS_CASE("errors > hypercalls", memset(v + 104, 0xff, 8), -EINVAL, 96,
		 "more failures than events");
	VMS_CASE("device padding", v[base_vms_len - 1] = 1, -EINVAL, base_vms_len - 1,
		 "device padding not zero");
#undef VMS_CASE
	free(v);

	with_part(ps, P_SESSION, &s, sizeof(s));
	s.pad[6] = 1;
	expect_parts("session padding", ps, P_COUNT, -EINVAL, "SESSION", "section SESSION",
		     PAYLOAD(ps, P_SESSION) + 4, "reserved bytes not zero");
	s.pad[6] = 0;
	s.policy |= 1u << 3;
	expect_parts("session NOSEND", ps, P_COUNT, -EINVAL, "SESSION", "section SESSION",
		     PAYLOAD(ps, P_SESSION), "guest policy 0x9 has NOSEND");
}

/* CONFIG values out of range: each at the offset of its field. */
#define CO(field) offsetof(struct mvs_config, field)
static const struct {
	const char *what;
	size_t at;
	const char *detail;
} cfg_cases[] = {
	{"ram below 16 MiB", CO(ram_size), "ram_size 15728640 not in 16 MiB..1 TiB in whole MiB"},
	{"ram not whole MiB", CO(ram_size), "ram_size 268439552 not in 16 MiB..1 TiB"},
	{"ram above 1 TiB", CO(ram_size), "ram_size 1099512676352 not in"},
	{"no vCPU", CO(nr_cpus), "nr_cpus 0 not in 1..64"},
	{"65 vCPUs", CO(nr_cpus), "nr_cpus 65 not in 1..64"},
	{"cbit 51", CO(cbit), "cbit 51 not in 52..62"},
	{"cbit 63", CO(cbit), "cbit 63 not in 52..62"},
	{"transport", CO(transport), "unknown transport 4"},
	{"sched", CO(sched), "unknown sched mode 2"},
	{"flags", CO(flags), "unknown flags 0x17"},
	{"timeout 0", CO(timeout_s), "timeout 0 s not in 1..86400"},
	{"3 slots", CO(nr_slots), "nr_slots 3 not in 1..2"},
	{"slots vs ram", CO(slots), "slots hold 134217728 bytes, ram_size 268435456"},
	{"slot 0 not at 0", CO(slots), "slot 0 [0x1000, +0x10000000) not page aligned"},
	{"slot 1 below slot 0", CO(slots) + 16, "slot 1 [0x0, +0x1000) not page aligned"},
	{"unused slot", CO(slots) + 16, "unused slot 1 not zero"},
	{"VMM region", CO(vmm_region_gpa), "VMM region not whole pages in slot 0"},
	{"firmware range", CO(fw_shared_gpa), "firmware-shared range not whole pages in slot 0"},
	{"ucall pages", CO(ucall_gpa),
	 "ucall pages 0xc1000 (2 of them) not inside the firmware-shared range"},
	{"layout", CO(layout) + 3 * 8, "layout[3] 0x0 not inside the VMM region"},
	{"script size", CO(layout) + MVS_L_SCRIPT_SIZE * 8, "layout[12] 0x200000 not inside"},
	{"nr_inject", CO(nr_inject), "nr_inject 5 > 4"},
	{"inject vCPU", CO(inject), "inject rule 0 out of range"},
	{"inject prob", CO(inject), "inject rule 0 out of range"},
	{"inject kinds", CO(inject), "inject rule 0 out of range"},
	{"inject delay", CO(inject), "inject rule 0 out of range"},
	{"unused inject", CO(inject) + 24, "unused inject rule 1 not zero"},
	{"CPUID magic", CO(cpuid), "bad firmware CPUID table"},
	{"CPUID count", CO(cpuid), "bad firmware CPUID table"},
	{"CPUID unused entry", CO(cpuid), "bad firmware CPUID table"},
};
#undef CO

static void cfg_patch(struct mvs_config *c, unsigned k)
{
	switch (k) {
	case 0:
		c->ram_size = c->slots[0].size = 15ull << 20;
		break;
	case 1:
		c->ram_size = c->slots[0].size = RAM_SIZE + 4096;
		break;
	case 2:
		c->ram_size = c->slots[0].size = (1ull << 40) + (1ull << 20);
		break;
	case 3:
		c->nr_cpus = 0;
		break;
	case 4:
		c->nr_cpus = 65;
		break;
	case 5:
		c->cbit = 51;
		break;
	case 6:
		c->cbit = 63;
		break;
	case 7:
		c->transport = 4;
		break;
	case 8:
		c->sched = 2;
		break;
	case 9:
		c->flags |= 0x10;
		break;
	case 10:
		c->timeout_s = 0;
		break;
	case 11:
		c->nr_slots = 3;
		break;
	case 12:
		c->slots[0].size = 128ull << 20;
		break;
	case 13:
		c->slots[0].gpa = 0x1000;
		break;
	case 14:
		c->slots[0].size = RAM_SIZE - 4096;
		c->slots[1] = (struct mvs_slot){0, 4096};
		c->nr_slots = 2;
		break;
	case 15:
		c->slots[1].size = 1;
		break;
	case 16:
		c->vmm_region_gpa = RAM_SIZE;
		break;
	case 17:
		c->fw_shared_gpa = 0xa0010;
		break;
	case 18:
		c->ucall_gpa = 0xc1000;
		c->fw_shared_size = 0x21000;
		break;
	case 19:
		c->layout[3] = 0;
		break;
	case 20:
		c->layout[MVS_L_SCRIPT_SIZE] = 2ull << 20;
		break;
	case 21:
		c->nr_inject = 5;
		break;
	case 22:
		c->inject[0].vcpu = 2;
		break;
	case 23:
		c->inject[0].prob_ppm = 1000001;
		break;
	case 24:
		c->inject[0].kinds = 8;
		break;
	case 25:
		c->inject[0].delay_us = MVS_DELAY_MAX + 1;
		break;
	case 26:
		c->inject[1].delay_us = 1;
		break;
	case 27:
		c->cpuid.magic = 0;
		break;
	case 28:
		c->cpuid.count = MINIVMM_CPUID_MAX + 1;
		break;
	case 29:
		c->cpuid.fn[5].eax = 1;
		break;
	default:
		fail_msg("no config case %u", k);
	}
}

static void test_stream_config_errors(void **state)
{
	struct part ps[P_COUNT];
	struct mvs_config c;

	for (unsigned k = 0; k < ARRAY_SIZE(cfg_cases); k++) {
		c = base_cfg;
		cfg_patch(&c, k);
		with_part(ps, P_CONFIG, &c, sizeof(c));
		expect_parts(cfg_cases[k].what, ps, P_COUNT, -EINVAL, "CONFIG", "section CONFIG",
			     PAYLOAD(ps, P_CONFIG) + cfg_cases[k].at, cfg_cases[k].detail);
	}
	/* A config the writer refuses, with the same message, and nothing sent. */
	{
		struct stream_mem m = {0};
		struct stream_writer w;

		c = base_cfg;
		c.cbit = 63;
		assert_int_equal(stream_writer_init(&w, stream_mem_write, &m), 0);
		assert_int_equal(stream_write_header(&w), 0);
		assert_int_equal(stream_write_config(&w, &c), -EINVAL);
		assert_non_null(
			strstr(w.st.err.msg, "section CONFIG at offset 64: cbit 63 not in 52..62"));
		assert_int_equal(m.len, sizeof(struct mvs_header));
		/* Sticky: the writer stays failed. */
		assert_int_equal(stream_write_config(&w, &base_cfg), -EINVAL);
		stream_writer_destroy(&w);
		free(m.buf);
	}
}

/* ---- sweeps: every byte flipped, every section boundary cut ---- */

/* Section start offsets of a valid stream (and its length last). */
static unsigned boundaries(const uint8_t *buf, size_t len, uint64_t *out, unsigned max)
{
	uint64_t off = sizeof(struct mvs_header);
	unsigned n = 0;

	while (off < len && n < max - 1) {
		struct mvs_section h;

		out[n++] = off;
		memcpy(&h, buf + off, sizeof(h));
		off += sizeof(h) + h.length + MVS_TRAILER_SIZE;
	}
	assert_int_equal(off, len);
	out[n++] = len;
	return n;
}

/*
 * Flip one bit of byte i: the stream must be refused, never accepted, and
 * the error must point at or before the flip, inside the section that
 * holds it (a CRC mismatch is reported at the start of its section).
 */
static void flip_and_check(uint8_t *buf, size_t len, size_t i, const uint64_t *bounds, unsigned nb)
{
	struct stream_error err = {.section = ""};
	uint64_t start = 0;
	uint8_t bit = (uint8_t)(1u << (i % 8));
	int e;

	for (unsigned k = 0; k < nb && bounds[k] <= i; k++)
		start = bounds[k];
	buf[i] ^= bit;
	e = read_all(buf, len, &err, NULL);
	buf[i] ^= bit;
	if (e >= 0 || err.offset > i || err.offset < start || !strstr(err.msg, "at offset"))
		fail_msg("flip of bit %u at byte %zu: %d, offset %" PRIu64 " (section from %" PRIu64
			 "): %s",
			 i % 8, i, e, err.offset, start, err.msg);
}

static void test_stream_byte_flip_sweep(void **state)
{
	struct stream_mem m, big = {0};
	uint64_t bounds[64];
	unsigned nb;
	size_t n = 0;

	/* Every byte of the small stream. */
	assemble(base, P_COUNT, &m);
	nb = boundaries(m.buf, m.len, bounds, ARRAY_SIZE(bounds));
	for (size_t i = 0; i < m.len; i++, n++)
		flip_and_check(m.buf, m.len, i, bounds, nb);
	print_message("byte flips: every one of %zu bytes of a %u-section stream refused\n", m.len,
		      nb - 1);
	free(m.buf);

	/* 2000 spread offsets of the complete stream, and both ends of every section. */
	write_full(&big, true);
	nb = boundaries(big.buf, big.len, bounds, ARRAY_SIZE(bounds));
	rng = 7;
	for (unsigned k = 0; k < 2000; k++)
		flip_and_check(big.buf, big.len, rnd() % big.len, bounds, nb);
	for (unsigned k = 0; k + 1 < nb; k++) {
		for (unsigned d = 0; d < 28; d++)
			flip_and_check(big.buf, big.len, bounds[k] + d, bounds, nb);
		flip_and_check(big.buf, big.len, bounds[k + 1] - 1, bounds, nb);
	}
	for (unsigned d = 0; d < sizeof(struct mvs_header); d++)
		flip_and_check(big.buf, big.len, d, bounds, nb);
	print_message("byte flips: 2000 random offsets and %u section ends of a %zu-byte stream "
		      "refused\n",
		      nb - 1, big.len);
	free(big.buf);
}

static void test_stream_truncation_sweep(void **state)
{
	struct stream_mem big = {0};
	uint64_t bounds[64];
	unsigned nb;

	write_full(&big, true);
	nb = boundaries(big.buf, big.len, bounds, ARRAY_SIZE(bounds));
	for (unsigned k = 0; k < nb; k++) {
		uint64_t cuts[] = {bounds[k], bounds[k] - 1, bounds[k] + 1};

		for (unsigned c = 0; c < ARRAY_SIZE(cuts); c++) {
			struct stream_error err = {.section = ""};
			int e;

			if (cuts[c] >= big.len)
				continue;
			e = read_all(big.buf, cuts[c], &err, NULL);
			if (e != -ENODATA || !strstr(err.msg, "truncated in "))
				fail_msg("cut at %" PRIu64 ": %d %s", cuts[c], e, err.msg);
		}
	}
	/* Every byte after END, one at a time, and a whole section after it. */
	{
		uint8_t *longer = malloc(big.len + 24);
		struct stream_error err = {.section = ""};

		memcpy(longer, big.buf, big.len);
		memset(longer + big.len, 0, 24);
		assert_int_equal(read_all(longer, big.len + 1, &err, NULL), -EPROTO);
		assert_non_null(strstr(err.msg, "stray bytes after END at offset"));
		assert_int_equal(err.offset, big.len);
		free(longer);
	}
	assert_int_equal(read_all(big.buf, big.len, NULL, NULL), 0);
	free(big.buf);
}

/* ---- the API's own errors ---- */

static int failing_sink(void *ctx, const void *buf, size_t len)
{
	unsigned *left = ctx;

	return (*left)-- ? 0 : -EPIPE;
}

static int failing_source(void *ctx, void *buf, size_t len)
{
	return -EIO;
}

static void test_stream_api_errors(void **state)
{
	struct stream_mem m = {0};
	struct stream_writer w;
	struct stream_reader r;
	struct stream_section sec;
	unsigned left = 3;
	uint8_t page[MVS_PAGE_SIZE] = {0};

	/* Calls in the wrong place are refused and name what the stream expects. */
	assert_int_equal(stream_writer_init(&w, stream_mem_write, &m), 0);
	assert_int_equal(stream_write_config(&w, &base_cfg), -EPROTO);
	assert_non_null(strstr(w.st.err.msg, "the stream expects the stream header"));
	stream_writer_destroy(&w);
	assert_int_equal(stream_writer_init(&w, stream_mem_write, &m), 0);
	assert_int_equal(stream_write_header(&w), 0);
	assert_int_equal(stream_write_config(&w, &base_cfg), 0);
	assert_int_equal(stream_write_page(&w, 0x1000, MVS_PAGE_SHARED_PLAIN, NULL, page), -EPROTO);
	assert_non_null(strstr(w.st.err.msg, "page outside stream_begin_pages"));
	stream_writer_destroy(&w);
	free(m.buf);

	/* The writer refuses a page the reader would refuse, before sending it. */
	m = (struct stream_mem){0};
	assert_int_equal(stream_writer_init(&w, stream_mem_write, &m), 0);
	assert_int_equal(stream_write_header(&w), 0);
	assert_int_equal(stream_write_config(&w, &base_cfg), 0);
	assert_int_equal(stream_write_session(&w, &base_sess), 0);
	assert_int_equal(stream_begin_pages(&w), 0);
	assert_int_equal(stream_write_page(&w, 0x2000, MVS_PAGE_SHARED_PLAIN, NULL, page), 0);
	assert_int_equal(stream_write_page(&w, 0x1000, MVS_PAGE_SHARED_PLAIN, NULL, page), 0);
	assert_int_equal(stream_end_pages(&w), -EINVAL);
	assert_non_null(
		strstr(w.st.err.msg, "section RAM #0 at offset 4992: page 0x1000 not above"));
	assert_int_equal(m.len, 24 + 564 + 268);
	stream_writer_destroy(&w);
	free(m.buf);

	/* A sink error is passed through, named. */
	assert_int_equal(stream_writer_init(&w, failing_sink, &left), 0);
	assert_int_equal(stream_write_header(&w), 0);
	assert_int_equal(stream_write_config(&w, &base_cfg), -EPIPE);
	assert_non_null(strstr(w.st.err.msg, "write of 4 bytes at offset 24 failed"));
	stream_writer_destroy(&w);

	/*
	 * A header declaring 2^40 payload bytes: refused from the header alone,
	 * before a payload byte is read or a buffer allocated for it.
	 */
	{
		struct stream_mem src;
		struct mvs_section h = {.type = MVS_SEC_RAM, .length = 1ull << 40, .seq = 2};
		uint64_t at;

		assemble(base, P_RAM0, &m);
		at = m.len;
		h.hcrc = crc32c(0, &h, offsetof(struct mvs_section, hcrc));
		assert_int_equal(stream_mem_write(&m, &h, sizeof(h)), 0);
		assert_int_equal(stream_mem_write(&m, page, sizeof(page)), 0);
		src = (struct stream_mem){.buf = m.buf, .len = m.len};
		stream_reader_init(&r, stream_mem_read, &src);
		assert_int_equal(stream_read_header(&r), 0);
		assert_int_equal(stream_read_section(&r, &sec), 0);
		assert_int_equal(stream_read_section(&r, &sec), 0);
		assert_int_equal(stream_read_section(&r, &sec), -EMSGSIZE);
		assert_int_equal(src.pos, at + sizeof(h));
		assert_true(r.cap < (1u << 20));
		assert_non_null(strstr(r.st.err.msg, "length 1099511627776 not in 16..2131968"));
		stream_reader_destroy(&r);
		free(m.buf);
	}

	/* A source error is not a truncation. */
	stream_reader_init(&r, failing_source, NULL);
	assert_int_equal(stream_read_header(&r), -EIO);
	assert_non_null(strstr(r.st.err.msg, "read error in stream header at offset 0"));
	assert_int_equal(stream_read_section(&r, &sec), -EIO); /* sticky */
	stream_reader_destroy(&r);
}

/*
 * STREAM_SEED_DIR=DIR writes the fuzzer's seeds there (fuzz/corpus/stream):
 * the small SEV stream above, and a minimal one without SEV (1 vCPU, one
 * zero page, no bitmap).
 */
static void write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_stream_seeds(void **state)
{
	const char *dir = getenv("STREAM_SEED_DIR");
	struct stream_mem m = {0};
	struct stream_writer w;
	struct stream_vcpu *v = malloc(sizeof(*v));
	struct stream_vmstate vms;
	struct mvs_config c = base_cfg;

	/* Built every run, so the seeds stay valid streams of this version. */
	c.flags = 0;
	c.nr_cpus = 1;
	c.inject[0].vcpu = -1;
	rng = 5;
	make_vcpu(v, 0);
	make_vmstate(&vms);
	vms.s.nr_sched_words = 1;
	vms.s.device_len = 3;
	assert_int_equal(stream_writer_init(&w, stream_mem_write, &m), 0);
	assert_int_equal(stream_write_header(&w), 0);
	assert_int_equal(stream_write_config(&w, &c), 0);
	assert_int_equal(stream_begin_pages(&w), 0);
	assert_int_equal(stream_write_page(&w, 0x7000, MVS_PAGE_ZERO, NULL, NULL), 0);
	assert_int_equal(stream_end_pages(&w), 0);
	assert_int_equal(stream_write_round(&w, MVS_ROUND_FINAL), 0);
	assert_int_equal(stream_write_vcpu(&w, v), 0);
	assert_int_equal(stream_write_vmstate(&w, &vms), 0);
	assert_int_equal(stream_write_end(&w), 0);
	stream_writer_destroy(&w);
	assert_int_equal(read_all(m.buf, m.len, NULL, NULL), 0);
	if (dir)
		write_file(dir, "plain-1cpu", m.buf, m.len);
	free(m.buf);
	free(v);
	assemble(base, P_COUNT, &m);
	if (dir)
		write_file(dir, "sev-2cpu", m.buf, m.len);
	free(m.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_crc32c_vector),
		cmocka_unit_test(test_stream_round_trip),
		cmocka_unit_test(test_stream_base_is_valid),
		cmocka_unit_test(test_stream_header_errors),
		cmocka_unit_test(test_stream_section_crc),
		cmocka_unit_test(test_stream_truncation),
		cmocka_unit_test(test_stream_order_errors),
		cmocka_unit_test(test_stream_sequence_and_end),
		cmocka_unit_test(test_stream_page_errors),
		cmocka_unit_test(test_stream_bitmap_errors),
		cmocka_unit_test(test_stream_vcpu_errors),
		cmocka_unit_test(test_stream_vmstate_session_errors),
		cmocka_unit_test(test_stream_config_errors),
		cmocka_unit_test(test_stream_byte_flip_sweep),
		cmocka_unit_test(test_stream_truncation_sweep),
		cmocka_unit_test(test_stream_api_errors),
		cmocka_unit_test(test_stream_seeds),
	};

	return cmocka_run_group_tests(tests, setup_base, teardown_base);
}
