// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: psp_receive_start() (psp.h) with a fuzzed policy,
 * source PDH point and session blob, as a hostile stream would send them:
 *   policy u32 | struct psp_pdh_pub (97) | struct psp_session (128)
 * (short input reads as zeros). The destination context is seeded, and a
 * seeded source made one genuine session for it.
 *
 * Oracles (abort()): RECEIVE_START succeeds only for exactly the genuine
 * (policy, point, blob), and then the genuine source's first packet is
 * accepted; anything else is refused with INVALID_CERTIFICATE,
 * BAD_SIGNATURE, POLICY_FAILURE or INVALID_PARAM and leaves the context
 * in UNINIT (it is then reused for the next input).
 *
 * FUZZ_VERBOSE=1 prints the status (to check a seed or crash).
 * FUZZ_PSP_SEED=FILE writes the genuine input to FILE and exits (how
 * fuzz/corpus/psp_session/ was made).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psp.h"
#include "fuzz_input.h"

static const uint32_t genuine_policy = PSP_POLICY_NODBG | PSP_POLICY_NOKS;
static struct psp_pdh_pub genuine_pub;
static struct psp_session genuine_sess;
static struct psp_packet_hdr genuine_hdr;
static uint8_t genuine_trans[PSP_PAGE_SIZE], genuine_plain[PSP_PAGE_SIZE];
static struct psp *dst;

static void dst_build(void)
{
	const struct psp_soft_opts dopt = {.seeded = 1, .seed = 2, .instance = 1};

	psp_destroy(dst);
	if (psp_soft_create(&dopt, &dst))
		abort();
}

static void genuine_build(void)
{
	const struct psp_soft_opts so = {.seeded = 1, .seed = 2, .instance = 0};
	struct psp_pdh_pub dst_pub;
	struct psp_measure m;
	struct psp *src;
	uint8_t dram[PSP_PAGE_SIZE];

	memset(genuine_plain, 0x3c, sizeof(genuine_plain));
	if (psp_soft_create(&so, &src) || psp_launch_start(src, genuine_policy) ||
	    psp_launch_measure(src, &m) || psp_launch_finish(src) ||
	    psp_pdh_export(dst, &dst_pub) ||
	    psp_send_start(src, &dst_pub, &genuine_sess, &genuine_pub) ||
	    psp_mem_encrypt(src, 0, genuine_plain, dram, sizeof(dram)) ||
	    psp_send_update_data(src, 0, dram, &genuine_hdr, genuine_trans))
		abort();
	psp_destroy(src);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seed = getenv("FUZZ_PSP_SEED");

	(void)argc;
	(void)argv;
	dst_build();
	genuine_build();
	if (seed) {
		FILE *f = fopen(seed, "wb");

		if (!f || fwrite(&genuine_policy, 4, 1, f) != 1 ||
		    fwrite(&genuine_pub, sizeof(genuine_pub), 1, f) != 1 ||
		    fwrite(&genuine_sess, sizeof(genuine_sess), 1, f) != 1 || fclose(f))
			abort();
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct psp_pdh_pub pub;
	struct psp_session sess;
	uint32_t policy = u32(&in);
	uint8_t out[PSP_PAGE_SIZE];
	int ret;

	take(&in, &pub, sizeof(pub));
	take(&in, &sess, sizeof(sess));
	ret = psp_receive_start(dst, policy, &pub, &sess);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "RECEIVE_START: %s\n", psp_status_name(ret));
	if (ret == 0) {
		if (policy != genuine_policy || memcmp(&pub, &genuine_pub, sizeof(pub)) ||
		    memcmp(&sess, &genuine_sess, sizeof(sess)) ||
		    psp_state(dst) != PSP_GSTATE_RUPDATE)
			abort();
		/* The keys really are the sender's: its packet opens. */
		if (psp_receive_update_data(dst, 0, &genuine_hdr, genuine_trans, sizeof(out),
					    out) ||
		    memcmp(out, genuine_plain, sizeof(out)))
			abort();
		dst_build();
		return 0;
	}
	if (ret != PSP_INVALID_CERTIFICATE && ret != PSP_BAD_SIGNATURE &&
	    ret != PSP_POLICY_FAILURE && ret != PSP_INVALID_PARAM)
		abort();
	if (psp_state(dst) != PSP_GSTATE_UNINIT)
		abort();
	return 0;
}
