// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: psp_receive_update_data() (psp.h), the PSP command
 * that takes packets from a hostile migration stream, after a genuine
 * RECEIVE_START. A seeded source (--seed-style keys, so every run has the
 * same session) sends GENUINE packets of known pages; the input is up to
 * four fuzzed packets, each
 *   gpa u64 | len u32 | struct psp_packet_hdr (52) | trans (4096)
 * (short input reads as zeros).
 *
 * Oracles (abort()): a packet is accepted only if it is byte for byte the
 * genuine packet of the expected sequence number (anything else would be
 * a forgery, a replay or a reorder getting through), and then the page
 * written is the source's plaintext; a refused packet returns one of the
 * documented status codes, leaves the output buffer untouched and the
 * context in RUPDATE. After an accepted packet the pair is rebuilt, so
 * every input starts from the same state.
 *
 * FUZZ_VERBOSE=1 prints each packet's status (to check a seed or crash).
 * FUZZ_PSP_SEED=FILE writes a valid input (genuine packets 0 and 1) to
 * FILE and exits: that is how fuzz/corpus/psp_receive/ was made.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psp.h"
#include "fuzz_input.h"

#define GENUINE 4

struct genuine {
	uint64_t gpa;
	struct psp_packet_hdr hdr;
	uint8_t trans[PSP_PAGE_SIZE];
	uint8_t plain[PSP_PAGE_SIZE];
};

static struct genuine pk[GENUINE];
static struct psp *dst;

static void page_pattern(uint8_t *p, uint64_t gpa)
{
	for (size_t i = 0; i < PSP_PAGE_SIZE; i++)
		p[i] = (uint8_t)((gpa >> 12) * 31 + i * 7);
}

/* Source and destination with one session; the genuine packets. Same every time. */
static void pair_build(void)
{
	const struct psp_soft_opts so = {.seeded = 1, .seed = 1, .instance = 0};
	const struct psp_soft_opts dopt = {.seeded = 1, .seed = 1, .instance = 1};
	struct psp_pdh_pub dst_pub, src_pub;
	struct psp_session sess;
	struct psp_measure m;
	struct psp *src;
	uint8_t dram[PSP_PAGE_SIZE];

	psp_destroy(dst);
	if (psp_soft_create(&so, &src) || psp_soft_create(&dopt, &dst))
		abort();
	if (psp_launch_start(src, 0) || psp_launch_measure(src, &m) || psp_launch_finish(src) ||
	    psp_pdh_export(dst, &dst_pub) || psp_send_start(src, &dst_pub, &sess, &src_pub) ||
	    psp_receive_start(dst, 0, &src_pub, &sess))
		abort();
	for (int i = 0; i < GENUINE; i++) {
		pk[i].gpa = 0x100000 + (uint64_t)i * 0x3000;
		page_pattern(pk[i].plain, pk[i].gpa);
		if (psp_mem_encrypt(src, pk[i].gpa, pk[i].plain, dram, sizeof(dram)) ||
		    psp_send_update_data(src, pk[i].gpa, dram, &pk[i].hdr, pk[i].trans))
			abort();
	}
	psp_destroy(src);
}

static void write_seed(const char *path)
{
	FILE *f = fopen(path, "wb");
	const uint32_t len = PSP_PAGE_SIZE;

	if (!f)
		abort();
	for (int i = 0; i < 2; i++) {
		fwrite(&pk[i].gpa, sizeof(pk[i].gpa), 1, f);
		fwrite(&len, sizeof(len), 1, f);
		fwrite(&pk[i].hdr, sizeof(pk[i].hdr), 1, f);
		fwrite(pk[i].trans, sizeof(pk[i].trans), 1, f);
	}
	if (fclose(f))
		abort();
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pair_build();
	if (getenv("FUZZ_PSP_SEED"))
		write_seed(getenv("FUZZ_PSP_SEED"));
	return 0;
}

static int is_refusal(int ret)
{
	return ret == PSP_INVALID_LEN || ret == PSP_INVALID_ADDRESS || ret == PSP_INVALID_PARAM ||
	       ret == PSP_BAD_MEASUREMENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t trans[PSP_PAGE_SIZE], out[PSP_PAGE_SIZE];
	struct input in = {data, size};
	int seq = 0, rebuild = 0;

	for (int n = 0; n < 4 && in.n; n++) {
		struct psp_packet_hdr hdr;
		uint64_t gpa = u64(&in);
		uint32_t len = u32(&in);
		int ret;

		take(&in, &hdr, sizeof(hdr));
		take(&in, trans, sizeof(trans));
		memset(out, 0xa5, sizeof(out));
		ret = psp_receive_update_data(dst, gpa, &hdr, trans, len, out);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "packet %d: %s\n", n, psp_status_name(ret));
		if (psp_state(dst) != PSP_GSTATE_RUPDATE)
			abort();
		if (ret == 0) {
			const struct genuine *g = &pk[seq];

			if (seq >= GENUINE || gpa != g->gpa || len != PSP_PAGE_SIZE ||
			    memcmp(&hdr, &g->hdr, sizeof(hdr)) ||
			    memcmp(trans, g->trans, sizeof(trans)) ||
			    memcmp(out, g->plain, sizeof(out)))
				abort();
			seq++;
			rebuild = 1;
			continue;
		}
		if (!is_refusal(ret))
			abort();
		for (size_t i = 0; i < sizeof(out); i++)
			if (out[i] != 0xa5)
				abort();
	}
	if (rebuild)
		pair_build();
	return 0;
}
