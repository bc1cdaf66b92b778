// SPDX-License-Identifier: GPL-2.0-only
/*
 * Migration stream RAM path throughput (vmm/stream.c): page data through
 * the writer and back through the reader, in MB/s of guest page data
 * (MB = 10^6 bytes).
 *
 *   crc32c   CRC32C alone over a 2 MiB buffer (the floor of either side)
 *   encode   stream_write_page of every page into a sink that drops the
 *            bytes: one copy (guest -> batch) and one CRC per byte
 *   reserve  the same through stream_reserve_page, the PSP's path (the
 *            caller's write is the copy)
 *   decode   stream_read_section + stream_next_page from an encoded
 *            stream in memory, each page copied into guest memory: one
 *            copy by the source (as recv() would), one CRC, one copy out
 *
 * Usage: bench_stream [--quick] [--mib N] [--reps N]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "stream.h"
#include "util.h"

static int null_sink(void *ctx, const void *buf, size_t len)
{
	*(uint64_t *)ctx += len;
	return 0;
}

static void die(const char *what, int e)
{
	fprintf(stderr, "bench_stream: %s: %s\n", what, strerror(-e));
	exit(1);
}

static void config(struct mvs_config *c, uint64_t ram)
{
	memset(c, 0, sizeof(*c));
	c->ram_size = ram;
	c->nr_cpus = 1;
	c->cbit = MVS_CBIT_MIN;
	c->transport = HC_TRANSPORT_PORT;
	c->timeout_s = 60;
	c->nr_slots = 1;
	c->slots[0] = (struct mvs_slot){0, ram};
	c->vmm_region_gpa = ram - (1 << 20);
	c->vmm_region_size = 1 << 20;
	c->fw_shared_gpa = 0xa0000;
	c->fw_shared_size = 0x21000;
	c->ucall_gpa = 0xc0000;
	for (unsigned i = 0; i < MVS_L_COUNT; i++)
		c->layout[i] = i == MVS_L_SCRIPT_SIZE ? 0 : c->vmm_region_gpa;
	c->cpuid.magic = MINIVMM_CPUID_MAGIC;
}

/* One round of every page of guest, through the writer. */
static void encode(stream_write_fn sink, void *ctx, const uint8_t *guest, uint64_t ram,
		   bool reserve)
{
	struct stream_writer w;
	struct mvs_config c;
	int e;

	config(&c, ram);
	if ((e = stream_writer_init(&w, sink, ctx)) || (e = stream_write_header(&w)) ||
	    (e = stream_write_config(&w, &c)) || (e = stream_begin_pages(&w)))
		die("writer", e);
	for (uint64_t gpa = 0; gpa < ram; gpa += PAGE_SIZE) {
		if (reserve) {
			uint8_t *h, *d;

			e = stream_reserve_page(&w, gpa, MVS_PAGE_SHARED_PLAIN, &h, &d);
			if (!e)
				memcpy(d, guest + gpa, PAGE_SIZE);
		} else {
			e = stream_write_page(&w, gpa, MVS_PAGE_SHARED_PLAIN, NULL, guest + gpa);
		}
		if (e)
			die("page", e);
	}
	if ((e = stream_end_pages(&w)) || (e = stream_write_round(&w, MVS_ROUND_FINAL)))
		die("end", e);
	stream_writer_destroy(&w);
}

/* Read the stream's sections up to the final ROUND, copying pages into guest. */
static void decode(struct stream_mem *src, uint8_t *guest)
{
	struct stream_reader r;
	struct stream_section sec;
	struct stream_page pg;
	int e;

	src->pos = 0;
	stream_reader_init(&r, stream_mem_read, src);
	if ((e = stream_read_header(&r)))
		die(r.st.err.msg, e);
	do {
		if ((e = stream_read_section(&r, &sec)))
			die(r.st.err.msg, e);
		while (stream_next_page(&sec, &pg))
			memcpy(guest + pg.gpa, pg.data, PAGE_SIZE);
	} while (sec.type != MVS_SEC_ROUND);
	stream_reader_destroy(&r);
}

static double mbps(uint64_t bytes, uint64_t ns)
{
	return (double)bytes / 1e6 / ((double)ns / 1e9);
}

int main(int argc, char **argv)
{
	uint64_t mib = 256, reps = 5, t, best[4] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
	uint64_t ram, sent = 0;
	struct stream_mem enc = {0};
	uint8_t *guest, *dest;
	volatile uint32_t sink_crc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			mib = 32;
			reps = 2;
		} else if (!strcmp(argv[i], "--mib") && i + 1 < argc) {
			mib = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = strtoull(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: bench_stream [--quick] [--mib N] [--reps N]\n");
			return 2;
		}
	}
	if (mib < 16 || mib > 4096 || !reps) {
		fprintf(stderr, "bench_stream: --mib 16..4096, --reps >= 1\n");
		return 2;
	}
	ram = mib << 20;
	guest = malloc(ram);
	dest = malloc(ram);
	if (!guest || !dest)
		die("malloc", -ENOMEM);
	for (uint64_t i = 0; i < ram / 8; i++)
		((uint64_t *)guest)[i] = i * 0x9e3779b97f4a7c15ull;
	memset(dest, 0, ram);
	encode(stream_mem_write, &enc, guest, ram, false);

	for (uint64_t r = 0; r < reps; r++) {
		t = now_ns();
		for (uint64_t off = 0; off < ram; off += SZ_2M)
			sink_crc = crc32c(sink_crc, guest + off, SZ_2M);
		t = now_ns() - t;
		best[0] = t < best[0] ? t : best[0];
		t = now_ns();
		encode(null_sink, &sent, guest, ram, false);
		t = now_ns() - t;
		best[1] = t < best[1] ? t : best[1];
		t = now_ns();
		encode(null_sink, &sent, guest, ram, true);
		t = now_ns() - t;
		best[2] = t < best[2] ? t : best[2];
		t = now_ns();
		decode(&enc, dest);
		t = now_ns() - t;
		best[3] = t < best[3] ? t : best[3];
	}
	if (memcmp(guest, dest, ram))
		die("decoded memory differs", -EIO);
	printf("stream RAM path, %" PRIu64 " MiB of shared pages, best of %" PRIu64
	       " (MB/s of page data; stream %.2f%% larger than the pages)\n",
	       mib, reps, 100.0 * ((double)enc.len / (double)ram - 1));
	printf("  crc32c   %8.0f MB/s\n", mbps(ram, best[0]));
	printf("  encode   %8.0f MB/s  (stream_write_page)\n", mbps(ram, best[1]));
	printf("  reserve  %8.0f MB/s  (stream_reserve_page)\n", mbps(ram, best[2]));
	printf("  decode   %8.0f MB/s  (read, check, copy into guest memory)\n",
	       mbps(ram, best[3]));
	free(enc.buf);
	free(guest);
	free(dest);
	return 0;
}
