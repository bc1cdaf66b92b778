// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the migration stream reader (vmm/stream.c). The input
 * is a whole stream. It is read twice: as it is, and with every CRC
 * recomputed (header CRC, each section's header CRC and trailer, END's
 * chain), so that mutations get past the checksums into the validators
 * behind them rather than dying at the first CRC.
 *
 * Oracles (abort()): besides ASan/UBSan (no read past the input, which is
 * the only memory the source hands out), every refusal has a message that
 * names an offset inside the input; and a stream the reader accepts,
 * re-encoded section by section with the typed writers, is accepted by
 * the writers and reproduces the input byte for byte (so nothing the
 * reader accepts is ambiguous, and reader and writer agree).
 *
 * FUZZ_VERBOSE=1 prints how each input ended.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "stream.h"

static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_stream: oracle failed: %s\n", #cond);                \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Re-encode one accepted section. */
static void reencode(struct stream_writer *w, struct stream_section *sec)
{
	struct stream_page pg;

	switch (sec->type) {
	case MVS_SEC_CONFIG:
		CHECK(!stream_write_config(w, &sec->u.config));
		break;
	case MVS_SEC_SESSION:
		CHECK(!stream_write_session(w, &sec->u.session));
		break;
	case MVS_SEC_RAM:
		CHECK(!stream_begin_pages(w));
		while (stream_next_page(sec, &pg))
			CHECK(!stream_write_page(w, pg.gpa, pg.kind, pg.hdr, pg.data));
		CHECK(!stream_end_pages(w));
		break;
	case MVS_SEC_ROUND:
		CHECK(!stream_write_round(w, sec->u.round.r.flags));
		break;
	case MVS_SEC_BITMAP:
		CHECK(!stream_begin_bitmap(w));
		for (uint32_t i = 0; i < sec->u.bitmap.nruns; i++) {
			const struct mvs_run *r = &sec->u.bitmap.runs[i];
			struct encmap_prov_run er = {
				r->start_page, r->end_page, {r->vcpu, r->generation, r->seq}};

			CHECK(!stream_write_bitmap_run(w, &er));
		}
		CHECK(!stream_end_bitmap(w));
		break;
	case MVS_SEC_VCPU:
		CHECK(!stream_write_vcpu(w, sec->u.vcpu));
		break;
	case MVS_SEC_VMSTATE:
		CHECK(!stream_write_vmstate(w, sec->u.vmstate));
		break;
	case MVS_SEC_END:
		CHECK(!stream_write_end(w));
		break;
	default:
		CHECK(!"accepted an unknown section type");
	}
}

static void run(const uint8_t *data, size_t size, const char *how)
{
	struct stream_mem src = {.buf = (uint8_t *)data, .len = size};
	struct stream_mem out = {0};
	struct stream_reader r;
	struct stream_writer w;
	struct stream_section sec;
	unsigned n = 0;
	int e;

	stream_reader_init(&r, stream_mem_read, &src);
	CHECK(!stream_writer_init(&w, stream_mem_write, &out));
	e = stream_read_header(&r);
	if (!e)
		CHECK(!stream_write_header(&w));
	while (!e && !stream_reader_done(&r)) {
		e = stream_read_section(&r, &sec);
		if (!e) {
			reencode(&w, &sec);
			n++;
		}
	}
	if (!e)
		e = stream_read_trailing(&r);
	if (verbose)
		fprintf(stderr, "%s: %u sections, %s\n", how, n, e ? r.st.err.msg : "accepted");
	if (e) {
		CHECK(e < 0 && r.st.err.msg[0] && strstr(r.st.err.msg, "offset"));
		CHECK(r.st.err.offset <= size);
	} else {
		CHECK(out.len == size && !memcmp(out.buf, data, size));
	}
	stream_writer_destroy(&w);
	stream_reader_destroy(&r);
	free(out.buf);
}

/* Recompute every CRC the layout of buf lets us find. */
static void fix_crcs(uint8_t *buf, size_t size)
{
	struct mvs_header hd;
	uint64_t off = sizeof(hd);
	uint32_t chain;

	if (size < sizeof(hd))
		return;
	memcpy(&hd, buf, sizeof(hd));
	hd.crc = crc32c(0, &hd, offsetof(struct mvs_header, crc));
	memcpy(buf, &hd, sizeof(hd));
	chain = crc32c(0, &hd.crc, sizeof(hd.crc));
	while (size - off >= sizeof(struct mvs_section)) {
		struct mvs_section h;
		uint32_t trailer;

		memcpy(&h, buf + off, sizeof(h));
		h.hcrc = crc32c(0, &h, offsetof(struct mvs_section, hcrc));
		memcpy(buf + off, &h, sizeof(h));
		if (h.length > size - off - sizeof(h) ||
		    size - off - sizeof(h) - h.length < MVS_TRAILER_SIZE)
			return;
		if (h.type == MVS_SEC_END && h.length == sizeof(struct mvs_end))
			memcpy(buf + off + sizeof(h) + offsetof(struct mvs_end, chain), &chain,
			       sizeof(chain));
		trailer =
			crc32c(crc32c(0, buf + off + sizeof(h), h.length), &h.hcrc, sizeof(h.hcrc));
		memcpy(buf + off + sizeof(h) + h.length, &trailer, sizeof(trailer));
		chain = crc32c(chain, &trailer, sizeof(trailer));
		off += sizeof(h) + h.length + MVS_TRAILER_SIZE;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	run(data, size, "as is");
	fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	fix_crcs(fixed, size);
	if (memcmp(fixed, data, size))
		run(fixed, size, "CRCs fixed");
	free(fixed);
	return 0;
}
