// SPDX-License-Identifier: GPL-2.0-only
/*
 * The software PSP (vmm/psp.c, psp_soft.c, psp_crypto.c):
 *  - known-answer tests of every primitive through the wrappers psp_soft
 *    uses: AES-128-XTS IEEE 1619-2007 vectors 2, 3 and 4; AES-128-CTR
 *    NIST SP 800-38A F.5.1/F.5.2; HMAC-SHA-256 RFC 4231 cases 1, 2, 4, 6;
 *    the SP 800-108 KDF against its definition;
 *  - the guest state machine: every command in every state (table-driven);
 *  - launch digest and measurement, recomputed here;
 *  - a 64-page migration, byte-exact, and every way a hostile host could
 *    alter, replay, drop, move or swap a packet or a session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psp.h"
#include "psp_crypto.h"

#define PAGE PSP_PAGE_SIZE

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned int b;

		assert_true(n < max);
		assert_int_equal(sscanf(hex, "%2x", &b), 1);
		out[n++] = (uint8_t)b;
	}
	return n;
}

/* ---- known answers ---- */

struct xts_vector {
	const char *key, *ptx, *ctx;
	uint64_t unit;
};

/* IEEE Std 1619-2007 Annex B, XTS-AES-128 vectors 2 and 3 (vector 1 has equal key halves). */
static const struct xts_vector xts_short[] = {
	{"11111111111111111111111111111111"
	 "22222222222222222222222222222222",
	 "4444444444444444444444444444444444444444444444444444444444444444",
	 "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0", 0x3333333333ull},
	{"fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"
	 "22222222222222222222222222222222",
	 "4444444444444444444444444444444444444444444444444444444444444444",
	 "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89", 0x3333333333ull},
};

/* Vector 4: keys from SP 800-38E, data unit 0, plaintext 00..ff twice (512 bytes). */
static const char xts_v4_key[] = "27182818284590452353602874713526"
				 "31415926535897932384626433832795";
static const char xts_v4_ctx[] = "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c"
				 "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412"
				 "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce"
				 "93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265"
				 "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8"
				 "a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434"
				 "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c"
				 "5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e"
				 "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc"
				 "1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3"
				 "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344"
				 "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd"
				 "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752"
				 "afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e"
				 "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18d"
				 "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568";

static void check_xts(const uint8_t *key, uint64_t unit, const uint8_t *ptx, const uint8_t *ctx,
		      size_t len)
{
	struct psp_xts x;
	uint8_t out[512];

	assert_true(len <= sizeof(out));
	assert_int_equal(psp_xts_init(&x, key), 0);
	assert_int_equal(psp_xts_crypt(&x, 1, unit, ptx, out, len), 0);
	assert_memory_equal(out, ctx, len);
	assert_int_equal(psp_xts_crypt(&x, 0, unit, ctx, out, len), 0);
	assert_memory_equal(out, ptx, len);
	/* Again: the kept context re-arms with the tweak alone. */
	assert_int_equal(psp_xts_crypt(&x, 1, unit, ptx, out, len), 0);
	assert_memory_equal(out, ctx, len);
	psp_xts_free(&x);
}

static void test_psp_kat_xts(void **state)
{
	uint8_t key[32], ptx[512], ctx[512];

	for (size_t i = 0; i < sizeof(xts_short) / sizeof(xts_short[0]); i++) {
		assert_int_equal(unhex(xts_short[i].key, key, sizeof(key)), 32);
		assert_int_equal(unhex(xts_short[i].ptx, ptx, sizeof(ptx)), 32);
		assert_int_equal(unhex(xts_short[i].ctx, ctx, sizeof(ctx)), 32);
		check_xts(key, xts_short[i].unit, ptx, ctx, 32);
	}
	assert_int_equal(unhex(xts_v4_key, key, sizeof(key)), 32);
	assert_int_equal(unhex(xts_v4_ctx, ctx, sizeof(ctx)), 512);
	for (int i = 0; i < 512; i++)
		ptx[i] = (uint8_t)i;
	check_xts(key, 0, ptx, ctx, 512);
}

/* NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt) and F.5.2 (Decrypt). */
static void test_psp_kat_ctr(void **state)
{
	uint8_t key[16], iv[16], pt[64], ct[64], out[64];
	struct psp_ctr c;

	unhex("2b7e151628aed2a6abf7158809cf4f3c", key, sizeof(key));
	unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, sizeof(iv));
	unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	      pt, sizeof(pt));
	unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
	      "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
	      ct, sizeof(ct));
	assert_int_equal(psp_ctr_init(&c, key), 0);
	assert_int_equal(psp_ctr_crypt(&c, iv, pt, out, sizeof(pt)), 0);
	assert_memory_equal(out, ct, sizeof(ct));
	assert_int_equal(psp_ctr_crypt(&c, iv, ct, out, sizeof(ct)), 0);
	assert_memory_equal(out, pt, sizeof(pt));
	psp_ctr_free(&c);
}

/* RFC 4231 section 4: test cases 1, 2, 4 and 6 (131-byte key, hashed first). */
static void test_psp_kat_hmac(void **state)
{
	static const struct {
		const char *key_hex, *data, *mac;
	} tc[] = {
		{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"4a656665", "what do ya want for nothing?",
		 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		/* data: 50 bytes of 0xcd */
		{"0102030405060708090a0b0c0d0e0f10111213141516171819", NULL,
		 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
		 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	};

	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		uint8_t key[131], data[64], want[32], mac[32];
		size_t klen, dlen;
		struct psp_hmac h;

		if (tc[i].key_hex) {
			klen = unhex(tc[i].key_hex, key, sizeof(key));
		} else {
			klen = 131;
			memset(key, 0xaa, klen);
		}
		if (tc[i].data) {
			dlen = strlen(tc[i].data);
			memcpy(data, tc[i].data, dlen);
		} else {
			dlen = 50;
			memset(data, 0xcd, dlen);
		}
		assert_int_equal(unhex(tc[i].mac, want, sizeof(want)), 32);
		assert_int_equal(psp_hmac_oneshot(key, klen, data, dlen, mac), 0);
		assert_memory_equal(mac, want, 32);
		/* The kept context, re-armed twice, in pieces. */
		assert_int_equal(psp_hmac_init(&h, key, klen), 0);
		for (int round = 0; round < 2; round++) {
			memset(mac, 0, sizeof(mac));
			assert_int_equal(psp_hmac_begin(&h), 0);
			assert_int_equal(psp_hmac_update(&h, data, 3), 0);
			assert_int_equal(psp_hmac_update(&h, data + 3, dlen - 3), 0);
			assert_int_equal(psp_hmac_final(&h, mac), 0);
			assert_memory_equal(mac, want, 32);
		}
		psp_hmac_free(&h);
	}
}

/* The KDF against its definition, computed here with the HMAC wrapper. */
static void test_psp_kdf(void **state)
{
	static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t nonce[16] = {0xa5};
	uint8_t a[48], b[48], msg[64], want[32];
	size_t n = 0;

	assert_int_equal(psp_kdf(a, 16, key, 16, "sev-kek", NULL, 0), 0);
	assert_int_equal(psp_kdf(b, 16, key, 16, "sev-kek", NULL, 0), 0);
	assert_memory_equal(a, b, 16);
	assert_int_equal(psp_kdf(b, 16, key, 16, "sev-kik", NULL, 0), 0);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(psp_kdf(b, 16, key, 16, "sev-kek", nonce, 16), 0);
	assert_memory_not_equal(a, b, 16);

	/* K(1) = HMAC(key, 01000000 || "sev-master-secret" || 00 || nonce || 80000000). */
	assert_int_equal(psp_kdf(a, 16, key, 16, "sev-master-secret", nonce, 16), 0);
	memcpy(msg, "\x01\0\0\0", 4);
	n = 4;
	memcpy(msg + n, "sev-master-secret", 17);
	n += 17;
	msg[n++] = 0;
	memcpy(msg + n, nonce, 16);
	n += 16;
	memcpy(msg + n, "\x80\0\0\0", 4);
	n += 4;
	assert_int_equal(psp_hmac_oneshot(key, 16, msg, n, want), 0);
	assert_memory_equal(a, want, 16);

	/* 48 bytes: two blocks, the second with i = 2 and L = 384. */
	assert_int_equal(psp_kdf(a, 48, key, 16, "sev-kek", NULL, 0), 0);
	memcpy(msg, "\x02\0\0\0sev-kek\0\x80\x01\0\0", 16);
	assert_int_equal(psp_hmac_oneshot(key, 16, msg, 16, want), 0);
	assert_memory_equal(a + 32, want, 16);
	assert_int_equal(psp_kdf(a, 0, key, 16, "x", NULL, 0), -EINVAL);
	assert_int_equal(psp_kdf(a, 16, key, 16, "", NULL, 0), -EINVAL);
}

/* A source that returns equal halves the first `equal` times. */
struct fake_fill {
	int equal, calls;
};

static int fake_fill(void *arg, void *buf, size_t len)
{
	struct fake_fill *f = arg;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(f->calls < f->equal ? i % 16 : i + f->calls);
	f->calls++;
	return 0;
}

static void test_psp_xts_keygen(void **state)
{
	struct fake_fill f = {.equal = 3};
	uint8_t key[32];
	struct psp_xts x;

	assert_int_equal(psp_xts_keygen(key, fake_fill, &f), 0);
	assert_int_equal(f.calls, 4);
	assert_memory_not_equal(key, key + 16, 16);
	assert_int_equal(psp_xts_init(&x, key), 0);
	psp_xts_free(&x);
	/* A source stuck on equal halves is refused, not used. */
	f = (struct fake_fill){.equal = 1000};
	assert_int_equal(psp_xts_keygen(key, fake_fill, &f), -EIO);
	/* And OpenSSL would refuse such a key anyway (the reason for the rule). */
	memset(key, 7, sizeof(key));
	assert_int_equal(psp_xts_init(&x, key), -EIO);
}

/* ---- helpers ---- */

static struct psp *new_psp(void)
{
	struct psp *p;

	assert_int_equal(psp_soft_create(NULL, &p), 0);
	assert_int_equal(psp_state(p), PSP_GSTATE_UNINIT);
	return p;
}

/* Launched with policy and nothing measured: RUNNING. */
static struct psp *new_running(uint32_t policy)
{
	struct psp *p = new_psp();
	struct psp_measure m;

	assert_int_equal(psp_launch_start(p, policy), 0);
	assert_int_equal(psp_launch_measure(p, &m), 0);
	assert_int_equal(psp_launch_finish(p), 0);
	assert_int_equal(psp_state(p), PSP_GSTATE_RUNNING);
	return p;
}

static void fill_page(uint8_t *p, uint64_t gpa)
{
	for (size_t i = 0; i < PAGE; i += 8) {
		uint64_t v = (gpa + i) * 0x9e3779b97f4a7c15ull ^ 0x5a5a;

		memcpy(p + i, &v, 8);
	}
}

/* A source in SUPDATE and a destination in RUPDATE sharing one session. */
struct link {
	struct psp *src, *dst;
	uint32_t policy;
};

static void link_open(struct link *l, uint32_t policy)
{
	struct psp_pdh_pub dst_pub, src_pub;
	struct psp_session sess;

	l->policy = policy;
	l->src = new_running(policy);
	l->dst = new_psp();
	assert_int_equal(psp_pdh_export(l->dst, &dst_pub), 0);
	assert_int_equal(psp_send_start(l->src, &dst_pub, &sess, &src_pub), 0);
	assert_int_equal(psp_state(l->src), PSP_GSTATE_SUPDATE);
	assert_int_equal(psp_receive_start(l->dst, policy, &src_pub, &sess), 0);
	assert_int_equal(psp_state(l->dst), PSP_GSTATE_RUPDATE);
}

static void link_close(struct link *l)
{
	psp_destroy(l->src);
	psp_destroy(l->dst);
}

/* One private page at gpa through the source's host view into a packet. */
struct packet {
	uint64_t gpa;
	struct psp_packet_hdr hdr;
	uint8_t trans[PAGE];
	uint8_t plain[PAGE];
};

static void send_page(struct psp *src, uint64_t gpa, struct packet *pk)
{
	uint8_t dram[PAGE];

	pk->gpa = gpa;
	fill_page(pk->plain, gpa);
	assert_int_equal(psp_mem_encrypt(src, gpa, pk->plain, dram, PAGE), 0);
	assert_int_equal(psp_send_update_data(src, gpa, dram, &pk->hdr, pk->trans), 0);
}

static int recv_packet(struct psp *dst, const struct packet *pk, uint8_t *out)
{
	return psp_receive_update_data(dst, pk->gpa, &pk->hdr, pk->trans, PAGE, out);
}

static void recv_ok(struct psp *dst, const struct packet *pk)
{
	uint8_t out[PAGE];

	assert_int_equal(recv_packet(dst, pk, out), 0);
	assert_memory_equal(out, pk->plain, PAGE);
}

/* ---- state machine ---- */

/* The subject, and a peer in SUPDATE whose session is addressed to it. */
struct world {
	struct psp *p, *peer;
	struct psp_pdh_pub peer_pub, p_pub;
	struct psp_session sess;
	uint8_t page[PAGE];
};

static void world_reach(struct world *w, enum psp_gstate s)
{
	struct psp_measure m;
	struct psp_session sess;
	struct psp_pdh_pub pub, peer_pdh;

	memset(w, 0, sizeof(*w));
	fill_page(w->page, 0);
	w->p = new_psp();
	w->peer = new_running(0);
	assert_int_equal(psp_pdh_export(w->p, &w->p_pub), 0);
	assert_int_equal(psp_send_start(w->peer, &w->p_pub, &w->sess, &w->peer_pub), 0);
	assert_int_equal(psp_pdh_export(w->peer, &peer_pdh), 0);
	if (s == PSP_GSTATE_RUPDATE) {
		assert_int_equal(psp_receive_start(w->p, 0, &w->peer_pub, &w->sess), 0);
		return;
	}
	if (s == PSP_GSTATE_UNINIT)
		return;
	assert_int_equal(psp_launch_start(w->p, 0), 0);
	if (s == PSP_GSTATE_LUPDATE)
		return;
	assert_int_equal(psp_launch_measure(w->p, &m), 0);
	if (s == PSP_GSTATE_LSECRET)
		return;
	assert_int_equal(psp_launch_finish(w->p), 0);
	if (s == PSP_GSTATE_RUNNING)
		return;
	assert_int_equal(psp_send_start(w->p, &peer_pdh, &sess, &pub), 0);
	if (s == PSP_GSTATE_SUPDATE)
		return;
	assert_int_equal(psp_send_finish(w->p), 0);
	assert_int_equal(s, PSP_GSTATE_SENT);
}

static void world_free(struct world *w)
{
	psp_destroy(w->p);
	psp_destroy(w->peer);
}

/* cmd with arguments that are valid whenever the state allows it. */
static int world_run(struct world *w, enum psp_cmd cmd)
{
	struct psp_measure m;
	struct psp_session sess;
	struct psp_pdh_pub pub, peer_pdh;
	struct psp_packet_hdr hdr;
	uint8_t dram[PAGE], trans[PAGE], out[PAGE];

	switch (cmd) {
	case PSP_CMD_LAUNCH_START:
		return psp_launch_start(w->p, 0);
	case PSP_CMD_LAUNCH_UPDATE_DATA:
		return psp_launch_update_data(w->p, 0, w->page, PAGE);
	case PSP_CMD_LAUNCH_MEASURE:
		return psp_launch_measure(w->p, &m);
	case PSP_CMD_LAUNCH_FINISH:
		return psp_launch_finish(w->p);
	case PSP_CMD_SEND_START:
		assert_int_equal(psp_pdh_export(w->peer, &peer_pdh), 0);
		return psp_send_start(w->p, &peer_pdh, &sess, &pub);
	case PSP_CMD_SEND_UPDATE_DATA:
		assert_int_equal(psp_mem_encrypt(w->p, 0, w->page, dram, PAGE), 0);
		return psp_send_update_data(w->p, 0, dram, &hdr, trans);
	case PSP_CMD_SEND_FINISH:
		return psp_send_finish(w->p);
	case PSP_CMD_SEND_CANCEL:
		return psp_send_cancel(w->p);
	case PSP_CMD_RECEIVE_START:
		return psp_receive_start(w->p, 0, &w->peer_pub, &w->sess);
	case PSP_CMD_RECEIVE_UPDATE_DATA:
		/* The peer's packet 0 for gpa 0 (its sequence restarts in each world). */
		assert_int_equal(psp_mem_encrypt(w->peer, 0, w->page, dram, PAGE), 0);
		assert_int_equal(psp_send_update_data(w->peer, 0, dram, &hdr, trans), 0);
		return psp_receive_update_data(w->p, 0, &hdr, trans, PAGE, out);
	case PSP_CMD_RECEIVE_FINISH:
		return psp_receive_finish(w->p);
	case PSP_CMD_NR:
		break;
	}
	fail();
	return -1;
}

/* After a refusal in state s, the context still behaves as before it. */
static void world_check_unchanged(struct world *w, enum psp_gstate s, const uint8_t *ld_empty)
{
	struct psp_measure m;

	switch (s) {
	case PSP_GSTATE_LUPDATE:
		/* Nothing was measured. */
		assert_int_equal(psp_launch_measure(w->p, &m), 0);
		assert_memory_equal(m.ld, ld_empty, 32);
		break;
	case PSP_GSTATE_RUPDATE:
		/* Keys and expected sequence intact: the peer's packet 0 is accepted. */
		assert_int_equal(world_run(w, PSP_CMD_RECEIVE_UPDATE_DATA), 0);
		break;
	case PSP_GSTATE_SUPDATE:
		assert_int_equal(world_run(w, PSP_CMD_SEND_UPDATE_DATA), 0);
		break;
	default:
		break;
	}
}

static void test_psp_state_table(void **state)
{
	uint8_t ld_empty[32];
	struct psp_measure m;
	struct psp *p = new_psp();

	assert_int_equal(psp_launch_start(p, 0), 0);
	assert_int_equal(psp_launch_measure(p, &m), 0);
	memcpy(ld_empty, m.ld, 32);
	psp_destroy(p);

	for (int s = 0; s < PSP_GSTATE_NR; s++) {
		for (int c = 0; c < PSP_CMD_NR; c++) {
			struct world w;
			int allowed = psp_cmd_from(c) == (enum psp_gstate)s;
			int ret;

			world_reach(&w, s);
			assert_int_equal(psp_state(w.p), s);
			ret = world_run(&w, c);
			if (allowed) {
				if (ret != 0)
					fail_msg("%s in %s: %s", psp_cmd_name(c),
						 psp_gstate_name(s), psp_status_name(ret));
				assert_int_equal(psp_state(w.p), psp_cmd_to(c));
			} else {
				if (ret != PSP_INVALID_GUEST_STATE)
					fail_msg("%s in %s: %d, want INVALID_GUEST_STATE",
						 psp_cmd_name(c), psp_gstate_name(s), ret);
				assert_int_equal(psp_state(w.p), s);
				world_check_unchanged(&w, s, ld_empty);
			}
			world_free(&w);
		}
	}
	/* Each command has exactly one source state, SENT accepts none. */
	for (int c = 0; c < PSP_CMD_NR; c++)
		assert_int_not_equal(psp_cmd_from(c), PSP_GSTATE_SENT);
}

/* ---- launch ---- */

static void launch_measure(const uint8_t *pages, size_t n, uint64_t gpa0, uint32_t policy,
			   struct psp_measure *m, uint8_t tik[16])
{
	struct psp *p = new_psp();

	assert_int_equal(psp_launch_start(p, policy), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(psp_launch_update_data(p, gpa0 + i * PAGE, pages + i * PAGE, PAGE),
				 0);
	assert_int_equal(psp_launch_measure(p, m), 0);
	if (tik)
		assert_int_equal(psp_soft_guest_owner_tik(p, tik), 0);
	psp_destroy(p);
}

static void test_psp_launch_measure(void **state)
{
	static uint8_t pages[4 * PAGE];
	struct psp_measure a, b;
	uint8_t tik[16], msg[4 + 4 + 32 + 16], mac[32];
	const uint32_t policy = PSP_POLICY_NODBG | PSP_POLICY_NOKS;

	for (int i = 0; i < 4; i++)
		fill_page(pages + i * PAGE, (uint64_t)i * PAGE);
	/* Same inputs, other keys and nonce: same digest, other measurement. */
	launch_measure(pages, 4, 0x100000, policy, &a, tik);
	launch_measure(pages, 4, 0x100000, policy, &b, NULL);
	assert_memory_equal(a.ld, b.ld, 32);
	assert_memory_not_equal(a.mnonce, b.mnonce, 16);
	assert_memory_not_equal(a.measurement, b.measurement, 32);

	/* The guest owner's check: HMAC(TIK, 04 api_major api_minor build policy ld mnonce). */
	msg[0] = PSP_MEASURE_CTX;
	msg[1] = PSP_API_MAJOR;
	msg[2] = PSP_API_MINOR;
	msg[3] = PSP_BUILD;
	for (int i = 0; i < 4; i++)
		msg[4 + i] = (uint8_t)(policy >> (8 * i));
	memcpy(msg + 8, a.ld, 32);
	memcpy(msg + 40, a.mnonce, 16);
	assert_int_equal(psp_hmac_oneshot(tik, 16, msg, sizeof(msg), mac), 0);
	assert_memory_equal(mac, a.measurement, 32);

	/* Other data, other address, other order: other digest. */
	pages[3 * PAGE + 100] ^= 1;
	launch_measure(pages, 4, 0x100000, policy, &b, NULL);
	assert_memory_not_equal(a.ld, b.ld, 32);
	pages[3 * PAGE + 100] ^= 1;
	launch_measure(pages, 4, 0x200000, policy, &b, NULL);
	assert_memory_not_equal(a.ld, b.ld, 32);
	launch_measure(pages, 3, 0x100000, policy, &b, NULL);
	assert_memory_not_equal(a.ld, b.ld, 32);
}

static void test_psp_policy(void **state)
{
	struct psp *p = new_psp();
	struct psp_pdh_pub pub, src;
	struct psp_session sess;

	/* API 0.25 is newer than the emulated 0.24; reserved bit 6. */
	assert_int_equal(psp_launch_start(p, 25u << 24), PSP_POLICY_FAILURE);
	assert_int_equal(psp_launch_start(p, 1u << 16), PSP_POLICY_FAILURE);
	assert_int_equal(psp_launch_start(p, 1u << 6), PSP_POLICY_FAILURE);
	assert_int_equal(psp_state(p), PSP_GSTATE_UNINIT);
	psp_destroy(p);

	/* NOSEND: SEND_START refused, the guest keeps running. */
	p = new_running(PSP_POLICY_NOSEND | PSP_POLICY_NODBG | (24u << 24));
	assert_int_equal(psp_pdh_export(p, &pub), 0);
	assert_int_equal(psp_send_start(p, &pub, &sess, &src), PSP_POLICY_FAILURE);
	assert_int_equal(psp_state(p), PSP_GSTATE_RUNNING);
	psp_destroy(p);
}

/* ---- migration ---- */

#define GUEST_PAGES 64

static void test_psp_roundtrip(void **state)
{
	static uint8_t plain[GUEST_PAGES * PAGE], dram[GUEST_PAGES * PAGE],
		dst_ram[GUEST_PAGES * PAGE], dst_view[GUEST_PAGES * PAGE];
	const uint64_t base = 0x40000000;
	struct link l;

	link_open(&l, PSP_POLICY_NODBG);
	for (int i = 0; i < GUEST_PAGES; i++)
		fill_page(plain + i * PAGE, base + (uint64_t)i * PAGE);
	/* The source host view: what DRAM holds for private pages. */
	assert_int_equal(psp_mem_encrypt(l.src, base, plain, dram, sizeof(dram)), 0);
	assert_memory_not_equal(dram, plain, PAGE);
	for (int i = 0; i < GUEST_PAGES; i++) {
		struct psp_packet_hdr hdr;
		uint8_t trans[PAGE];
		uint64_t gpa = base + (uint64_t)i * PAGE;

		assert_int_equal(psp_send_update_data(l.src, gpa, dram + i * PAGE, &hdr, trans), 0);
		assert_memory_not_equal(trans, plain + i * PAGE, PAGE);
		assert_int_equal(
			psp_receive_update_data(l.dst, gpa, &hdr, trans, PAGE, dst_ram + i * PAGE),
			0);
	}
	assert_memory_equal(dst_ram, plain, sizeof(plain));
	assert_int_equal(psp_send_finish(l.src), 0);
	assert_int_equal(psp_state(l.src), PSP_GSTATE_SENT);
	assert_int_equal(psp_receive_finish(l.dst), 0);
	assert_int_equal(psp_state(l.dst), PSP_GSTATE_RUNNING);
	/* The destination's host view is under its own VEK. */
	assert_int_equal(psp_mem_encrypt(l.dst, base, dst_ram, dst_view, sizeof(dst_view)), 0);
	assert_memory_not_equal(dst_view, dram, PAGE);
	assert_int_equal(psp_mem_decrypt(l.dst, base, dst_view, dst_ram, sizeof(dst_view)), 0);
	assert_memory_equal(dst_ram, plain, sizeof(plain));
	link_close(&l);
}

/* A page that really was shared: DRAM holds plaintext, the PSP decrypts it anyway. */
static void test_psp_shared_page_garbage(void **state)
{
	struct link l;
	struct packet pk;
	uint8_t out[PAGE];

	link_open(&l, 0);
	pk.gpa = 0x5000;
	fill_page(pk.plain, pk.gpa);
	assert_int_equal(psp_send_update_data(l.src, pk.gpa, pk.plain, &pk.hdr, pk.trans), 0);
	assert_int_equal(recv_packet(l.dst, &pk, out), 0);
	assert_memory_not_equal(out, pk.plain, PAGE);
	link_close(&l);
}

static void test_psp_memory_tweak(void **state)
{
	struct psp *a = new_psp(), *b = new_psp();
	uint8_t plain[2 * PAGE], ca[2 * PAGE], cb[PAGE], back[PAGE];

	memset(plain, 0x42, sizeof(plain));
	/* Same plaintext, two addresses: two ciphertexts. */
	assert_int_equal(psp_mem_encrypt(a, 0x1000, plain, ca, sizeof(ca)), 0);
	assert_memory_not_equal(ca, ca + PAGE, PAGE);
	/* Ciphertext moved to another address or VM: garbage. */
	assert_int_equal(psp_mem_decrypt(a, 0x3000, ca, back, PAGE), 0);
	assert_memory_not_equal(back, plain, PAGE);
	assert_int_equal(psp_mem_decrypt(b, 0x1000, ca, back, PAGE), 0);
	assert_memory_not_equal(back, plain, PAGE);
	assert_int_equal(psp_mem_encrypt(b, 0x1000, plain, cb, PAGE), 0);
	assert_memory_not_equal(ca, cb, PAGE);
	assert_int_equal(psp_mem_decrypt(a, 0x2000, ca + PAGE, back, PAGE), 0);
	assert_memory_equal(back, plain, PAGE);
	/* Host errors. */
	assert_int_equal(psp_mem_encrypt(a, 0x1001, plain, ca, PAGE), -EINVAL);
	assert_int_equal(psp_mem_encrypt(a, 0x1000, plain, ca, 100), -EINVAL);
	assert_int_equal(psp_mem_encrypt(a, UINT64_MAX & ~0xfffull, plain, ca, 2 * PAGE), -EINVAL);
	psp_destroy(a);
	psp_destroy(b);
}

/* The host view from several vCPU threads at once, while a migration sends. */
struct mem_thread {
	struct psp *p;
	const uint8_t *plain, *want;
	int bad;
};

static void *mem_thread_run(void *arg)
{
	struct mem_thread *t = arg;
	uint8_t out[PAGE];

	for (int round = 0; round < 50; round++)
		for (int i = 0; i < 8; i++) {
			if (psp_mem_encrypt(t->p, (uint64_t)i * PAGE, t->plain + i * PAGE, out,
					    PAGE) ||
			    memcmp(out, t->want + i * PAGE, PAGE))
				t->bad = 1;
		}
	return NULL;
}

static void test_psp_mem_threads(void **state)
{
	static uint8_t plain[8 * PAGE], want[8 * PAGE];
	struct mem_thread t[4];
	pthread_t tid[4];
	struct link l;
	struct packet pk;

	link_open(&l, 0);
	for (int i = 0; i < 8; i++)
		fill_page(plain + i * PAGE, (uint64_t)i * PAGE);
	assert_int_equal(psp_mem_encrypt(l.src, 0, plain, want, sizeof(want)), 0);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct mem_thread){.p = l.src, .plain = plain, .want = want};
		assert_int_equal(pthread_create(&tid[i], NULL, mem_thread_run, &t[i]), 0);
	}
	for (int i = 0; i < 50; i++) {
		send_page(l.src, (uint64_t)(i % 8) * PAGE, &pk);
		recv_ok(l.dst, &pk);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].bad, 0);
	}
	link_close(&l);
}

/* Each hostile change refused with its status; the stream then goes on. */
static void test_psp_packet_tampering(void **state)
{
	struct link l;
	struct packet p0, p1, p2, bad;
	uint8_t out[PAGE];

	link_open(&l, 0);
	send_page(l.src, 0x10000, &p0);
	send_page(l.src, 0x11000, &p1);
	send_page(l.src, 0x12000, &p2);

	memset(out, 0xee, sizeof(out));
	bad = p0;
	bad.trans[4095] ^= 0x01;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_BAD_MEASUREMENT);
	/* Nothing written to guest RAM by a refused packet. */
	for (size_t i = 0; i < PAGE; i++)
		assert_int_equal(out[i], 0xee);
	bad = p0;
	bad.hdr.iv[0] ^= 0x80;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_BAD_MEASUREMENT);
	bad = p0;
	bad.hdr.mac[31] ^= 0x01;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_BAD_MEASUREMENT);
	bad = p0;
	bad.hdr.flags = 1;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_INVALID_PARAM);
	bad = p0;
	bad.hdr.flags = 0x80000000u;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_INVALID_PARAM);
	bad = p0;
	bad.gpa = 0x20000; /* moved to another page */
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_BAD_MEASUREMENT);
	bad.gpa = 0x10001;
	assert_int_equal(recv_packet(l.dst, &bad, out), PSP_INVALID_ADDRESS);
	assert_int_equal(psp_receive_update_data(l.dst, p0.gpa, &p0.hdr, p0.trans, PAGE - 1, out),
			 PSP_INVALID_LEN);
	assert_int_equal(psp_receive_update_data(l.dst, p0.gpa, &p0.hdr, p0.trans, 2 * PAGE, out),
			 PSP_INVALID_LEN);
	/* Skipped packet (p1 first), then the real order works. */
	assert_int_equal(recv_packet(l.dst, &p1, out), PSP_BAD_MEASUREMENT);
	recv_ok(l.dst, &p0);
	/* Replayed and duplicated. */
	assert_int_equal(recv_packet(l.dst, &p0, out), PSP_BAD_MEASUREMENT);
	recv_ok(l.dst, &p1);
	assert_int_equal(recv_packet(l.dst, &p1, out), PSP_BAD_MEASUREMENT);
	assert_int_equal(recv_packet(l.dst, &p0, out), PSP_BAD_MEASUREMENT);
	recv_ok(l.dst, &p2);
	assert_int_equal(psp_state(l.dst), PSP_GSTATE_RUPDATE);
	link_close(&l);
}

/* A packet of session A is refused in session B, both from one source. */
static void test_psp_other_session(void **state)
{
	struct psp *src = new_running(0), *dst_a = new_psp(), *dst_b = new_psp();
	struct psp_pdh_pub pub_a, pub_b, src_pub;
	struct psp_session sess_a, sess_b;
	struct packet a0, b0;
	uint8_t out[PAGE];

	assert_int_equal(psp_pdh_export(dst_a, &pub_a), 0);
	assert_int_equal(psp_pdh_export(dst_b, &pub_b), 0);
	assert_int_equal(psp_send_start(src, &pub_a, &sess_a, &src_pub), 0);
	assert_int_equal(psp_receive_start(dst_a, 0, &src_pub, &sess_a), 0);
	send_page(src, 0x3000, &a0);
	/* The failed migration is cancelled: the guest runs, the session is gone. */
	assert_int_equal(psp_send_cancel(src), 0);
	assert_int_equal(psp_state(src), PSP_GSTATE_RUNNING);
	assert_int_equal(psp_send_update_data(src, 0, a0.plain, &b0.hdr, b0.trans),
			 PSP_INVALID_GUEST_STATE);
	/* A new SEND_START works, with new transport keys. */
	assert_int_equal(psp_send_start(src, &pub_b, &sess_b, &src_pub), 0);
	assert_memory_not_equal(sess_a.wrap_tk, sess_b.wrap_tk, 32);
	assert_int_equal(psp_receive_start(dst_b, 0, &src_pub, &sess_b), 0);
	assert_int_equal(recv_packet(dst_b, &a0, out), PSP_BAD_MEASUREMENT);
	send_page(src, 0x3000, &b0);
	assert_int_equal(recv_packet(dst_a, &b0, out), PSP_BAD_MEASUREMENT);
	recv_ok(dst_b, &b0);
	recv_ok(dst_a, &a0);
	psp_destroy(src);
	psp_destroy(dst_a);
	psp_destroy(dst_b);
}

static void test_psp_session_refused(void **state)
{
	struct psp *src = new_running(PSP_POLICY_NODBG), *dst = new_psp(), *other = new_psp();
	struct psp_pdh_pub dst_pub, src_pub, bad;
	struct psp_session sess, s2;

	assert_int_equal(psp_pdh_export(dst, &dst_pub), 0);
	assert_int_equal(psp_send_start(src, &dst_pub, &sess, &src_pub), 0);
	/* Another PDH key cannot open a session addressed to dst. */
	assert_int_equal(psp_receive_start(other, PSP_POLICY_NODBG, &src_pub, &sess),
			 PSP_BAD_SIGNATURE);
	/* Policy changed in transit. */
	assert_int_equal(psp_receive_start(dst, 0, &src_pub, &sess), PSP_POLICY_FAILURE);
	/* One byte of the blob altered: each field is covered by a MAC. */
	static const struct {
		size_t off;
		int want;
	} flips[] = {
		{offsetof(struct psp_session, nonce), PSP_BAD_SIGNATURE},
		{offsetof(struct psp_session, wrap_tk) + 5, PSP_BAD_SIGNATURE},
		{offsetof(struct psp_session, wrap_mac) + 31, PSP_BAD_SIGNATURE},
		/* Wrong IV: other TEK/TIK, so the policy MAC fails under the false TIK. */
		{offsetof(struct psp_session, wrap_iv) + 15, PSP_POLICY_FAILURE},
		{offsetof(struct psp_session, policy_mac), PSP_POLICY_FAILURE},
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		s2 = sess;
		((uint8_t *)&s2)[flips[i].off] ^= 1;
		assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &src_pub, &s2),
				 flips[i].want);
	}
	/* Points not on P-384, compressed or infinity. */
	bad = src_pub;
	bad.point[96] ^= 1;
	assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &bad, &sess),
			 PSP_INVALID_CERTIFICATE);
	bad.point[0] = 0x02;
	assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &bad, &sess),
			 PSP_INVALID_CERTIFICATE);
	memset(&bad, 0, sizeof(bad));
	assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &bad, &sess),
			 PSP_INVALID_CERTIFICATE);
	bad.point[0] = 4;
	assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &bad, &sess),
			 PSP_INVALID_CERTIFICATE);
	assert_int_equal(psp_state(dst), PSP_GSTATE_UNINIT);
	assert_int_equal(psp_state(other), PSP_GSTATE_UNINIT);
	/* SEND_START towards a bad point: refused, still RUNNING. */
	assert_int_equal(psp_send_cancel(src), 0);
	bad = dst_pub;
	bad.point[50] ^= 4;
	assert_int_equal(psp_send_start(src, &bad, &s2, &src_pub), PSP_INVALID_CERTIFICATE);
	assert_int_equal(psp_state(src), PSP_GSTATE_RUNNING);
	/* After all refusals the genuine session still opens. */
	assert_int_equal(psp_send_start(src, &dst_pub, &sess, &src_pub), 0);
	assert_int_equal(psp_receive_start(dst, PSP_POLICY_NODBG, &src_pub, &sess), 0);
	psp_destroy(src);
	psp_destroy(dst);
	psp_destroy(other);
}

/* --seed runs: same seed and instance, same keys and packets. */
static void test_psp_seeded(void **state)
{
	const struct psp_soft_opts o0 = {.seeded = 1, .seed = 3, .instance = 0};
	const struct psp_soft_opts o1 = {.seeded = 1, .seed = 3, .instance = 1};
	struct psp *a, *b, *c;
	struct psp_pdh_pub pa, pb, pc, src_a, src_b;
	struct psp_session sa, sb;
	uint8_t plain[PAGE], ca[PAGE], cb[PAGE];
	struct psp_packet_hdr ha, hb;
	uint8_t ta[PAGE], tb[PAGE];

	assert_int_equal(psp_soft_create(&o0, &a), 0);
	assert_int_equal(psp_soft_create(&o0, &b), 0);
	assert_int_equal(psp_soft_create(&o1, &c), 0);
	psp_pdh_export(a, &pa);
	psp_pdh_export(b, &pb);
	psp_pdh_export(c, &pc);
	assert_memory_equal(&pa, &pb, sizeof(pa));
	assert_memory_not_equal(&pa, &pc, sizeof(pa));
	fill_page(plain, 0);
	assert_int_equal(psp_mem_encrypt(a, 0, plain, ca, PAGE), 0);
	assert_int_equal(psp_mem_encrypt(b, 0, plain, cb, PAGE), 0);
	assert_memory_equal(ca, cb, PAGE);
	assert_int_equal(psp_mem_encrypt(c, 0, plain, cb, PAGE), 0);
	assert_memory_not_equal(ca, cb, PAGE);
	/* Launch and migrate a and b to the same target: identical blobs and packets. */
	for (int i = 0; i < 2; i++) {
		struct psp *p = i ? b : a;
		struct psp_measure m;

		assert_int_equal(psp_launch_start(p, 0), 0);
		assert_int_equal(psp_launch_measure(p, &m), 0);
		assert_int_equal(psp_launch_finish(p), 0);
	}
	assert_int_equal(psp_send_start(a, &pc, &sa, &src_a), 0);
	assert_int_equal(psp_send_start(b, &pc, &sb, &src_b), 0);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	assert_int_equal(psp_send_update_data(a, 0, ca, &ha, ta), 0);
	assert_int_equal(psp_send_update_data(b, 0, ca, &hb, tb), 0);
	assert_memory_equal(&ha, &hb, sizeof(ha));
	assert_memory_equal(ta, tb, PAGE);
	psp_destroy(a);
	psp_destroy(b);
	psp_destroy(c);
}

static void test_psp_kvm_probe(void **state)
{
	char msg[160] = "";
	int ret = psp_kvm_probe("/dev/sev", "/dev/kvm", msg, sizeof(msg));

	assert_true(msg[0] != '\0');
	if (access("/dev/sev", F_OK) != 0) {
		assert_int_equal(ret, -ENODEV);
		assert_non_null(strstr(msg, "no /dev/sev"));
	}
	assert_int_equal(psp_kvm_probe("/dev/sev", "/dev/kvm", msg, 0), -EINVAL);
	/* Past the secure processor (a stand-in that opens), to the KVM checks. */
	assert_int_equal(psp_kvm_probe("/dev/null", "/etc/hostname", msg, sizeof(msg)), -ENODEV);
	assert_non_null(strstr(msg, "not a KVM device"));
	assert_int_equal(psp_kvm_probe("/dev/null", "/nonexistent", msg, sizeof(msg)), -ENOENT);
	ret = psp_kvm_probe("/dev/null", "/dev/kvm", msg, sizeof(msg));
	if (access("/dev/kvm", R_OK | W_OK) == 0 && access("/sys/module/kvm_amd", F_OK) != 0) {
		/* Not AMD: KVM has no SEV VM type and no SEV command handler. */
		assert_int_equal(ret, -ENOTSUP);
		assert_non_null(strstr(msg, "KVM has no SEV support"));
	}
}

static void test_psp_names(void **state)
{
	assert_string_equal(psp_status_name(PSP_INVALID_GUEST_STATE), "INVALID_GUEST_STATE");
	assert_string_equal(psp_status_name(0x7f), "?");
	assert_string_equal(psp_gstate_name(PSP_GSTATE_SENT), "SENT");
	assert_string_equal(psp_cmd_name(PSP_CMD_SEND_CANCEL), "SEND_CANCEL");
	/* Values from psp-sev.h / sevapi.h. */
	assert_int_equal(PSP_INVALID_LEN, 4);
	assert_int_equal(PSP_BAD_MEASUREMENT, 11);
	assert_int_equal(PSP_INVALID_PARAM, 22);
	assert_int_equal(PSP_GSTATE_RUPDATE, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psp_kat_xts),
		cmocka_unit_test(test_psp_kat_ctr),
		cmocka_unit_test(test_psp_kat_hmac),
		cmocka_unit_test(test_psp_kdf),
		cmocka_unit_test(test_psp_xts_keygen),
		cmocka_unit_test(test_psp_state_table),
		cmocka_unit_test(test_psp_launch_measure),
		cmocka_unit_test(test_psp_policy),
		cmocka_unit_test(test_psp_roundtrip),
		cmocka_unit_test(test_psp_shared_page_garbage),
		cmocka_unit_test(test_psp_memory_tweak),
		cmocka_unit_test(test_psp_mem_threads),
		cmocka_unit_test(test_psp_packet_tampering),
		cmocka_unit_test(test_psp_other_session),
		cmocka_unit_test(test_psp_session_refused),
		cmocka_unit_test(test_psp_seeded),
		cmocka_unit_test(test_psp_kvm_probe),
		cmocka_unit_test(test_psp_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
