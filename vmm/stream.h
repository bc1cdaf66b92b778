/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The migration stream (include/minivmm/stream.h, docs/stream.md): a
 * writer over a sink callback and a reader over a source callback. Only
 * the format: encode, decode, validate. No sockets, no KVM.
 *
 * Writer and reader share one validator and one state machine, so a
 * writer cannot emit a stream its own reader refuses. Every function
 * returns 0 or -errno; after the first error the writer or reader stays
 * failed (the same error again) and its `err` says what and where.
 *
 * Errors: -ENODATA/-EIO the source ran out or failed (passed through),
 * -EBADMSG magic or CRC mismatch, -EPROTONOSUPPORT version, -EPROTO
 * order, sequence, duplicate or count, -EMSGSIZE a length beyond its
 * section's bound or not its exact size, -EINVAL a field out of range,
 * -ENOMEM.
 */
#ifndef MINIVMM_VMM_STREAM_H
#define MINIVMM_VMM_STREAM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encmap.h"
#include "minivmm/stream.h"

/* Write all len bytes or return -errno. */
typedef int (*stream_write_fn)(void *ctx, const void *buf, size_t len);
/* Read exactly len bytes: 0, or -ENODATA (end of stream first) / -EIO / -errno. */
typedef int (*stream_read_fn)(void *ctx, void *buf, size_t len);

struct stream_error {
	char msg[256];
	const char *section; /* "CONFIG", "VCPU", ..., "stream header", "section header" */
	uint64_t offset;     /* byte offset in the stream of what is wrong */
};

/* The state machine both sides run (docs/stream.md "Order"). */
enum stream_phase {
	STREAM_PH_HEADER = 0, /* nothing yet */
	STREAM_PH_CONFIG,     /* header done: CONFIG next */
	STREAM_PH_SESSION,    /* SEV: SESSION next */
	STREAM_PH_PAGES,      /* RAM of the current round, or its ROUND */
	STREAM_PH_BITMAP,     /* final round done: BITMAP chunks or VCPU #0 */
	STREAM_PH_VCPU,	      /* VCPU #next_vcpu, then VMSTATE */
	STREAM_PH_END,	      /* VMSTATE done: END next */
	STREAM_PH_DONE,	      /* END done: nothing more */
};

struct stream_state {
	enum stream_phase phase;
	uint32_t seq;	/* sections so far */
	uint32_t chain; /* END's chain CRC so far */
	uint64_t offset;
	struct mvs_config cfg; /* valid from CONFIG on */
	uint64_t round;	       /* current round */
	uint64_t round_pages;  /* page records in it so far */
	uint32_t bitmap_chunks;
	uint64_t bitmap_next; /* first page the next run may start at */
	uint32_t next_vcpu;
	struct stream_error err;
};

/* ---- decoded sections ---- */

struct stream_vcpu {
	uint32_t id;
	struct mvs_vcpu_state mv;
	struct kvm_regs regs;
	bool has_sregs2; /* sregs2 is valid, else sregs */
	struct kvm_sregs sregs;
	struct kvm_sregs2 sregs2;
	/* Reader: points into the reader's buffer until its next read. */
	const void *xsave;
	uint32_t xsave_len;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[MVS_MSRS_MAX];
	struct kvm_vcpu_events events;
};

struct stream_vmstate {
	struct mvs_vmstate s;
	uint64_t sched_words[MVS_SCHED_WORDS_MAX]; /* s.nr_sched_words of them */
	const void *device;			   /* s.device_len bytes (reader: its buffer) */
};

struct stream_page {
	uint64_t gpa;
	enum mvs_page_kind kind;
	const uint8_t *hdr;  /* PRIVATE_PSP: MVS_PSP_PACKET_HDR_SIZE bytes, else NULL */
	const uint8_t *data; /* 4096 bytes, NULL for ZERO */
	uint64_t offset;     /* of the record in the stream */
};

struct stream_section {
	uint32_t type; /* enum mvs_section_type */
	uint32_t id;
	uint64_t offset; /* of the section header */
	uint64_t length;
	union {
		struct mvs_config config;
		struct mvs_session session;
		struct {
			uint64_t round;
			uint32_t npages;
			const uint8_t *records; /* validated; walk with stream_next_page */
			uint64_t cursor;	/* bytes of records walked */
		} ram;
		struct {
			uint64_t round;
			struct mvs_round r;
		} round;
		struct {
			uint32_t nruns;
			const struct mvs_run *runs; /* validated, in the reader's buffer */
		} bitmap;
		struct stream_vcpu *vcpu;	/* the reader's, until its next read */
		struct stream_vmstate *vmstate; /* the reader's, until its next read */
		struct mvs_end end;
	} u;
};

/* The next page of a RAM section; false after the last. */
bool stream_next_page(struct stream_section *sec, struct stream_page *pg);

/* ---- writer ---- */

struct stream_writer {
	stream_write_fn write;
	void *ctx;
	struct stream_state st;
	int failed; /* sticky -errno */
	/* RAM batch: section header, records, trailer, sent with one write. */
	uint8_t *batch;
	uint64_t batch_len; /* payload bytes so far */
	uint32_t batch_pages;
	uint32_t batch_crc;	/* CRC32C of payload[0, batch_crc_len) */
	uint64_t batch_crc_len; /* payload bytes already in batch_crc */
	uint64_t batch_prev_gpa;
	bool batch_open;
	/* BITMAP chunk. */
	struct mvs_run *runs;
	uint32_t nruns;
	bool bitmap_open;
	uint8_t *scratch; /* payloads of VCPU and VMSTATE */
	struct stream_section check;
	struct stream_vcpu check_vcpu;
	struct stream_vmstate check_vmstate;
};

int stream_writer_init(struct stream_writer *w, stream_write_fn write, void *ctx);
void stream_writer_destroy(struct stream_writer *w);

int stream_write_header(struct stream_writer *w);
int stream_write_config(struct stream_writer *w, const struct mvs_config *c);
int stream_write_session(struct stream_writer *w, const struct mvs_session *s);
/*
 * Pages of the current round: begin, any number of pages (a full batch is
 * sent and a new one begun on its own), end. hdr: the PSP packet header
 * for PRIVATE_PSP, else NULL; data: 4096 bytes, NULL for ZERO. Each page
 * is copied once, into the batch, and checksummed there while hot.
 */
int stream_begin_pages(struct stream_writer *w);
int stream_write_page(struct stream_writer *w, uint64_t gpa, enum mvs_page_kind kind,
		      const void *hdr, const void *data);
/*
 * Same, without the copy: *hdr / *data point into the batch, where the
 * caller (the PSP) writes the packet header and the data before its next
 * call on w.
 */
int stream_reserve_page(struct stream_writer *w, uint64_t gpa, enum mvs_page_kind kind,
			uint8_t **hdr, uint8_t **data);
int stream_end_pages(struct stream_writer *w);
/* Close the current round (flags: MVS_ROUND_FINAL for stop-and-copy). */
int stream_write_round(struct stream_writer *w, uint32_t flags);
/* Shared runs with provenance, in order (encmap_next_prov_run's). */
int stream_begin_bitmap(struct stream_writer *w);
int stream_write_bitmap_run(struct stream_writer *w, const struct encmap_prov_run *run);
int stream_end_bitmap(struct stream_writer *w);
int stream_write_vcpu(struct stream_writer *w, const struct stream_vcpu *v);
int stream_write_vmstate(struct stream_writer *w, const struct stream_vmstate *s);
int stream_write_end(struct stream_writer *w);
/*
 * One section as given, after header-level checks only: tests and fuzzing
 * use it to build streams the typed writers refuse to produce.
 */
int stream_write_raw(struct stream_writer *w, uint32_t type, uint32_t id, const void *payload,
		     uint64_t len);

/* ---- reader ---- */

struct stream_reader {
	stream_read_fn read;
	void *ctx;
	struct stream_state st;
	int failed;
	uint8_t *buf; /* payload of the current section */
	size_t cap;
	uint16_t major, minor; /* of the stream, once its header was read */
	struct stream_vcpu vcpu;
	struct stream_vmstate vmstate;
};

int stream_reader_init(struct stream_reader *r, stream_read_fn read, void *ctx);
void stream_reader_destroy(struct stream_reader *r);
int stream_read_header(struct stream_reader *r);
/*
 * The next section, validated (CRC first, then every field and its place
 * in the order). Pointers in *sec stay valid until the next call. After
 * END, stream_reader_done() is true.
 */
int stream_read_section(struct stream_reader *r, struct stream_section *sec);
bool stream_reader_done(const struct stream_reader *r);
/*
 * After END, for a stream that must end there (a snapshot file): 0 at the
 * end of the source, else an error naming what follows (a section "after
 * END", or stray bytes).
 */
int stream_read_trailing(struct stream_reader *r);
/* The reader's error (valid after a failed call). */
static inline const struct stream_error *stream_reader_error(const struct stream_reader *r)
{
	return &r->st.err;
}

/* Name of a section type ("CONFIG", ...), "unknown" for others. */
const char *stream_section_name(uint32_t type);

/* ---- memory sink and source (tests, fuzzing, snapshots in memory) ---- */

struct stream_mem {
	uint8_t *buf;
	size_t len; /* bytes written, or the source's size */
	size_t cap; /* sink: allocated; 0 for a source over caller memory */
	size_t pos; /* source: bytes read */
};

/* Sink: appends (grows buf with realloc). free(m->buf) when done. */
int stream_mem_write(void *ctx, const void *buf, size_t len);
/* Source over m->buf[0, m->len): -ENODATA when fewer than len bytes are left. */
int stream_mem_read(void *ctx, void *buf, size_t len);

#endif
