// SPDX-License-Identifier: GPL-2.0-only
/*
 * The software PSP per 4 KiB page, against OpenSSL's own cost of the same
 * primitives, side by side in one run on one core:
 *
 *   hostview   psp_mem_encrypt() of one page (what a host-view read of a
 *              private page costs hostmem)
 *   send       psp_send_update_data(): XTS-decrypt (VEK), 16 random bytes
 *              (IV), CTR-encrypt (TEK), HMAC-SHA-256 (TIK) over our MAC
 *              message (4 + 16 + 4 + 4096 + 16 bytes)
 *   receive    psp_receive_update_data(): the same HMAC, CTR-decrypt
 *   send+recv  one page through both, the figure the targets are about
 *
 * and the raw primitives, called on EVP directly (one context per key,
 * re-armed per page, as cheaply as libcrypto allows): AES-128-XTS
 * encrypt and decrypt, AES-128-CTR, HMAC-SHA-256 of the 4136-byte MAC
 * message, RAND_bytes(16). The ceiling for send+recv is the sum of what it
 * really does: xts_dec + rand16 + ctr + hmac (send) + hmac + ctr (receive).
 *
 * Each figure is the median over repetitions of (time of n pages) / n,
 * CLOCK_MONOTONIC. Targets: send+recv within 1.3x of the ceiling, and at
 * least 0.35 GiB/s of pages through send+recv. Also reported: pages/s and
 * the ratio to the real PSP's 350-450 pages/s (QEMU SEV live migration
 * v4, patch 13, Aug 2021).
 *
 * Usage: bench_psp [--quick] [--check] [--json FILE]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "psp.h"
#include "util.h"

#define PAGE	  PSP_PAGE_SIZE
#define POOL	  64 /* pages cycled through: 256 KiB, as a pre-copy batch would */
#define MAC_BYTES (4 + 16 + 4 + PAGE + 16)

struct sizes {
	unsigned int pages; /* per repetition */
	unsigned int reps;
};

static const struct sizes full_sizes = {20000, 15};
static const struct sizes quick_sizes = {2000, 3};

static void die(const char *what, int ret)
{
	fprintf(stderr, "bench_psp: %s failed (%d)\n", what, ret);
	exit(2);
}

#define CHECK(call)                                                                                \
	do {                                                                                       \
		int ret_ = (call);                                                                 \
		if (ret_)                                                                          \
			die(#call, ret_);                                                          \
	} while (0)

#define CHECK1(call)                                                                               \
	do {                                                                                       \
		if ((call) != 1)                                                                   \
			die(#call, -EIO);                                                          \
	} while (0)

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint8_t *pool_in, *pool_out, *pool_dram;
static struct psp *src, *dst;

/* ---- what is timed: one page each, page i of the pool ---- */

enum op {
	OP_HOSTVIEW,
	OP_SEND,
	OP_RECEIVE,
	OP_SEND_RECV,
	OP_XTS_ENC,
	OP_XTS_DEC,
	OP_CTR,
	OP_HMAC,
	OP_RAND16,
	OP_NR,
};

static const char *const op_names[OP_NR] = {
	"hostview_read",     "send_update_data",    "receive_update_data",
	"send_plus_receive", "openssl_xts_encrypt", "openssl_xts_decrypt",
	"openssl_ctr",	     "openssl_hmac_sha256", "openssl_rand16",
};

static EVP_CIPHER_CTX *raw_xts_enc, *raw_xts_dec, *raw_ctr;
static EVP_MAC_CTX *raw_hmac;

/* Packets made ahead for OP_RECEIVE (their sequence numbers follow on). */
static struct psp_packet_hdr *rx_hdr;
static uint8_t *rx_trans;

static void raw_setup(void)
{
	uint8_t key[32], iv[16] = {0};
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

	CHECK1(RAND_bytes(key, sizeof(key)));
	key[16] ^= key[0] ^ 0x5a; /* halves differ */
	raw_xts_enc = EVP_CIPHER_CTX_new();
	raw_xts_dec = EVP_CIPHER_CTX_new();
	raw_ctr = EVP_CIPHER_CTX_new();
	if (!mac || !raw_xts_enc || !raw_xts_dec || !raw_ctr)
		die("EVP allocation", -ENOMEM);
	raw_hmac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!raw_hmac)
		die("EVP_MAC_CTX_new", -ENOMEM);
	CHECK1(EVP_CipherInit_ex(raw_xts_enc, EVP_aes_128_xts(), NULL, key, iv, 1));
	CHECK1(EVP_CipherInit_ex(raw_xts_dec, EVP_aes_128_xts(), NULL, key, iv, 0));
	CHECK1(EVP_CipherInit_ex(raw_ctr, EVP_aes_128_ctr(), NULL, key, iv, 1));
	CHECK1(EVP_MAC_init(raw_hmac, key, 16, params));
}

static void run_raw(enum op op, unsigned int i)
{
	const uint8_t *in = pool_in + (i % POOL) * PAGE;
	uint8_t *out = pool_out + (i % POOL) * PAGE, iv[4 + 16 + 4] = {0}, mac[32];
	int outl;
	size_t macl;

	memcpy(iv, &i, sizeof(i));
	switch (op) {
	case OP_XTS_ENC:
	case OP_XTS_DEC: {
		EVP_CIPHER_CTX *c = op == OP_XTS_ENC ? raw_xts_enc : raw_xts_dec;

		CHECK1(EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1));
		CHECK1(EVP_CipherUpdate(c, out, &outl, in, PAGE));
		break;
	}
	case OP_CTR:
		CHECK1(EVP_CipherInit_ex(raw_ctr, NULL, NULL, NULL, iv, -1));
		CHECK1(EVP_CipherUpdate(raw_ctr, out, &outl, in, PAGE));
		break;
	case OP_HMAC:
		/* The MAC message's size: header fields around one page. */
		CHECK1(EVP_MAC_init(raw_hmac, NULL, 0, NULL));
		CHECK1(EVP_MAC_update(raw_hmac, iv, 4 + 16 + 4));
		CHECK1(EVP_MAC_update(raw_hmac, in, PAGE));
		CHECK1(EVP_MAC_update(raw_hmac, iv, 16));
		CHECK1(EVP_MAC_final(raw_hmac, mac, &macl, sizeof(mac)));
		break;
	case OP_RAND16:
		CHECK1(RAND_bytes(out, 16));
		break;
	default:
		abort();
	}
}

static void run_psp(enum op op, unsigned int i)
{
	uint64_t gpa = (uint64_t)(i % POOL) * PAGE;
	uint8_t *dram = pool_dram + (i % POOL) * PAGE, *out = pool_out + (i % POOL) * PAGE;
	struct psp_packet_hdr hdr;
	uint8_t trans[PAGE];

	switch (op) {
	case OP_HOSTVIEW:
		CHECK(psp_mem_encrypt(src, gpa, pool_in + (i % POOL) * PAGE, out, PAGE));
		break;
	case OP_SEND:
		CHECK(psp_send_update_data(src, gpa, dram, &hdr, trans));
		break;
	case OP_RECEIVE:
		CHECK(psp_receive_update_data(dst, gpa, &rx_hdr[i], rx_trans + (size_t)i * PAGE,
					      PAGE, out));
		break;
	case OP_SEND_RECV:
		CHECK(psp_send_update_data(src, gpa, dram, &hdr, trans));
		CHECK(psp_receive_update_data(dst, gpa, &hdr, trans, PAGE, out));
		break;
	default:
		run_raw(op, i);
	}
}

/* A fresh session (sequence 0 both sides); for OP_RECEIVE, n packets made ahead. */
static void session_open(unsigned int ahead)
{
	struct psp_pdh_pub dst_pub, src_pub;
	struct psp_session sess;

	if (psp_state(src) == PSP_GSTATE_SUPDATE)
		CHECK(psp_send_cancel(src));
	psp_destroy(dst);
	CHECK(psp_soft_create(NULL, &dst));
	CHECK(psp_pdh_export(dst, &dst_pub));
	CHECK(psp_send_start(src, &dst_pub, &sess, &src_pub));
	CHECK(psp_receive_start(dst, 0, &src_pub, &sess));
	for (unsigned int i = 0; i < ahead; i++)
		CHECK(psp_send_update_data(src, (uint64_t)(i % POOL) * PAGE,
					   pool_dram + (i % POOL) * PAGE, &rx_hdr[i],
					   rx_trans + (size_t)i * PAGE));
}

static double time_op(enum op op, const struct sizes *sz)
{
	double *ns = calloc(sz->reps, sizeof(*ns));

	if (!ns)
		die("calloc", -ENOMEM);
	for (unsigned int r = 0; r < sz->reps; r++) {
		uint64_t t0;

		if (op == OP_RECEIVE || op == OP_SEND_RECV || op == OP_SEND)
			session_open(op == OP_RECEIVE ? sz->pages : 0);
		t0 = now_ns();
		for (unsigned int i = 0; i < sz->pages; i++)
			run_psp(op, i);
		ns[r] = (double)(now_ns() - t0) / sz->pages;
	}
	double m = median(ns, sz->reps);

	free(ns);
	return m;
}

/* The pages received equal the pages sent: the benchmark measures real work. */
static void cross_check(void)
{
	struct psp_packet_hdr hdr;
	uint8_t trans[PAGE];

	session_open(0);
	for (unsigned int i = 0; i < POOL; i++) {
		CHECK(psp_send_update_data(src, (uint64_t)i * PAGE, pool_dram + i * PAGE, &hdr,
					   trans));
		CHECK(psp_receive_update_data(dst, (uint64_t)i * PAGE, &hdr, trans, PAGE,
					      pool_out + i * PAGE));
	}
	if (memcmp(pool_out, pool_in, (size_t)POOL * PAGE))
		die("round trip", -EIO);
}

int main(int argc, char **argv)
{
	const struct sizes *sz = &full_sizes;
	const char *json = NULL;
	int quick = 0, strict = 0;
	double t[OP_NR];
	struct psp_measure m;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
			sz = &quick_sizes;
		} else if (!strcmp(argv[i], "--check")) {
			strict = 1;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--quick] [--check] [--json FILE]\n", argv[0]);
			return 2;
		}
	}

	pool_in = aligned_alloc(PAGE, (size_t)POOL * PAGE);
	pool_out = aligned_alloc(PAGE, (size_t)POOL * PAGE);
	pool_dram = aligned_alloc(PAGE, (size_t)POOL * PAGE);
	rx_hdr = calloc(sz->pages, sizeof(*rx_hdr));
	rx_trans = aligned_alloc(PAGE, (size_t)sz->pages * PAGE);
	if (!pool_in || !pool_out || !pool_dram || !rx_hdr || !rx_trans)
		die("allocation", -ENOMEM);
	for (size_t i = 0; i < (size_t)POOL * PAGE; i++)
		pool_in[i] = (uint8_t)(i * 131 + (i >> 12));
	CHECK(psp_soft_create(NULL, &src));
	CHECK(psp_launch_start(src, 0));
	CHECK(psp_launch_measure(src, &m));
	CHECK(psp_launch_finish(src));
	CHECK(psp_mem_encrypt(src, 0, pool_in, pool_dram, (size_t)POOL * PAGE));
	raw_setup();
	cross_check();

	/* Warm up every path once, then interleave nothing: each op in turn. */
	for (int op = 0; op < OP_NR; op++)
		t[op] = time_op(op, &quick_sizes);
	for (int op = 0; op < OP_NR; op++)
		t[op] = time_op(op, sz);

	double ceiling = t[OP_XTS_DEC] + t[OP_RAND16] + 2 * t[OP_CTR] + 2 * t[OP_HMAC];
	double ratio = t[OP_SEND_RECV] / ceiling;
	double gib_s = PAGE / t[OP_SEND_RECV] * 1e9 / (1ull << 30);
	double pages_s = 1e9 / t[OP_SEND_RECV];
	int met_ratio = ratio <= 1.3, met_rate = gib_s >= 0.35;

	printf("bench_psp: %u pages x %u repetitions, median ns per 4 KiB page\n", sz->pages,
	       sz->reps);
	for (int op = 0; op < OP_NR; op++)
		printf("  %-22s %9.0f ns  %6.2f GiB/s\n", op_names[op], t[op],
		       PAGE / t[op] * 1e9 / (1ull << 30));
	printf("  ceiling (xts_dec + rand16 + 2 ctr + 2 hmac) %.0f ns\n", ceiling);
	printf("  send+recv / ceiling %.3f (target <= 1.3: %s)\n", ratio,
	       met_ratio ? "met" : "MISSED");
	printf("  send+recv %.3f GiB/s (target >= 0.35: %s), %.0f pages/s = %.0f..%.0fx the real "
	       "PSP's 450..350 pages/s\n",
	       gib_s, met_rate ? "met" : "MISSED", pages_s, pages_s / 450, pages_s / 350);

	if (json) {
		FILE *f = fopen(json, "w");

		if (!f)
			die(json, -errno);
		fprintf(f, "{\n  \"benchmark\": \"software PSP per 4 KiB page vs OpenSSL\",\n");
		fprintf(f, "  \"quick\": %s,\n  \"pages_per_rep\": %u,\n  \"reps\": %u,\n",
			quick ? "true" : "false", sz->pages, sz->reps);
		fprintf(f, "  \"ns_per_page\": {");
		for (int op = 0; op < OP_NR; op++)
			fprintf(f, "%s\"%s\": %.1f", op ? ", " : "", op_names[op], t[op]);
		fprintf(f, "},\n  \"ceiling_ns\": %.1f,\n", ceiling);
		fprintf(f, "  \"figures\": [\n");
		fprintf(f,
			"    {\"figure\": \"host-view read of a private page (XTS)\", \"value\": "
			"%.0f, \"unit\": \"ns/page\"},\n",
			t[OP_HOSTVIEW]);
		fprintf(f,
			"    {\"figure\": \"OpenSSL AES-128-XTS encrypt 4 KiB\", \"value\": %.0f, "
			"\"unit\": \"ns\"},\n",
			t[OP_XTS_ENC]);
		fprintf(f,
			"    {\"figure\": \"OpenSSL AES-128-CTR 4 KiB\", \"value\": %.0f, "
			"\"unit\": "
			"\"ns\"},\n",
			t[OP_CTR]);
		fprintf(f,
			"    {\"figure\": \"OpenSSL HMAC-SHA-256 of the 4136-byte MAC message\", "
			"\"value\": %.0f, \"unit\": \"ns\"},\n",
			t[OP_HMAC]);
		fprintf(f,
			"    {\"figure\": \"SEND_UPDATE_DATA + RECEIVE_UPDATE_DATA\", \"value\": "
			"%.0f, \"unit\": \"ns/page\"},\n",
			t[OP_SEND_RECV]);
		fprintf(f,
			"    {\"figure\": \"send+recv / OpenSSL ceiling (xts_dec + rand16 + 2 ctr "
			"+ "
			"2 hmac)\", \"value\": %.3f, \"target\": \"<= 1.3\", \"met\": %s},\n",
			ratio, met_ratio ? "true" : "false");
		fprintf(f,
			"    {\"figure\": \"send+recv throughput, one core\", \"value\": %.3f, "
			"\"unit\": \"GiB/s\", \"target\": \">= 0.35\", \"met\": %s},\n",
			gib_s, met_rate ? "true" : "false");
		fprintf(f,
			"    {\"figure\": \"send+recv pages/s\", \"value\": %.0f, \"unit\": "
			"\"pages/s\"},\n",
			pages_s);
		fprintf(f,
			"    {\"figure\": \"x the real PSP (350-450 pages/s)\", \"value\": "
			"\"%.0f-%.0f\", "
			"\"unit\": \"x\"}\n",
			pages_s / 450, pages_s / 350);
		fprintf(f, "  ]\n}\n");
		if (fclose(f))
			die(json, -errno);
	}
	psp_destroy(src);
	psp_destroy(dst);
	EVP_CIPHER_CTX_free(raw_xts_enc);
	EVP_CIPHER_CTX_free(raw_xts_dec);
	EVP_CIPHER_CTX_free(raw_ctr);
	EVP_MAC_CTX_free(raw_hmac);
	free(pool_in);
	free(pool_out);
	free(pool_dram);
	free(rx_hdr);
	free(rx_trans);
	return strict && !(met_ratio && met_rate) ? 1 : 0;
}
