// SPDX-License-Identifier: GPL-2.0-only
/*
 * Software PSP: the SEV firmware's guest commands and the memory
 * controller, on OpenSSL libcrypto 3.0 through psp_crypto.h. Layouts and
 * rules are in psp.h; this file says where it follows the SEV API (read
 * through AMD's sev-tool) and where the rule is ours.
 *
 * Keys per context:
 *   VEK       AES-128-XTS memory key, 32 bytes, halves never equal
 *   PDH       ECDH P-384 key pair (the platform's Diffie-Hellman key)
 *   TEK/TIK   launch: made by LAUNCH_START (on real SEV the guest owner
 *             sends them wrapped; there is no guest owner here, ours)
 *   TEK/TIK   transport: fresh per SEND_START, unwrapped by RECEIVE_START
 */
#include "psp.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "psp_crypto.h"

/* Key and nonce source: the OS, or a stream derived from --seed. */
struct psp_rng {
	int seeded;
	uint32_t instance;
	uint64_t counter;
	uint8_t key[32];
	/*
	 * Unseeded: RAND_bytes a pool at a time, handed out from its end and
	 * wiped as it goes (a packet IV a page: one DRBG call per 256 IVs).
	 */
	uint8_t pool[4096];
	size_t pool_left;
};

struct psp_soft {
	struct psp psp;
	struct psp_rng rng;

	/* VEK: the XTS contexts are shared by every vCPU thread's host-view read. */
	pthread_mutex_t mem_lock;
	uint8_t vek[32];
	struct psp_xts vek_xts;

	EVP_PKEY *pdh;
	struct psp_pdh_pub pdh_pub;

	/* launch */
	int launched;
	uint8_t launch_tek[16], launch_tik[16];
	EVP_MD_CTX *ld; /* SHA-256 launch digest, LAUNCH_START..LAUNCH_MEASURE */

	/* transport: SUPDATE or RUPDATE */
	int transport;
	uint8_t tek[16], tik[16];
	struct psp_ctr tek_ctr;
	struct psp_hmac tik_mac;
	uint64_t seq;  /* next packet's sequence number */
	uint8_t *page; /* SEND_UPDATE_DATA's plaintext stays in here, not in trans */
};

static struct psp_soft *to_soft(const struct psp *psp)
{
	return (struct psp_soft *)psp;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- randomness ---- */

static int psp_rng_fill(void *arg, void *buf, size_t len)
{
	struct psp_rng *r = arg;
	uint8_t ctx[12];

	if (!r->seeded) {
		if (len > sizeof(r->pool))
			return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
		if (r->pool_left < len) {
			if (RAND_bytes(r->pool, (int)sizeof(r->pool)) != 1)
				return -EIO;
			r->pool_left = sizeof(r->pool);
		}
		r->pool_left -= len;
		memcpy(buf, r->pool + r->pool_left, len);
		psp_wipe(r->pool + r->pool_left, len);
		return 0;
	}
	/* Block i of the stream: KDF(seed key, label, instance || i). */
	put_le(ctx, r->instance, 4);
	put_le(ctx + 4, r->counter++, 8);
	return psp_kdf(buf, len, r->key, sizeof(r->key), "mini-vmm psp rng", ctx, sizeof(ctx));
}

static int psp_rng_init(struct psp_rng *r, const struct psp_soft_opts *opts)
{
	uint8_t seed[8];

	memset(r, 0, sizeof(*r));
	if (!opts || !opts->seeded)
		return 0;
	r->seeded = 1;
	r->instance = opts->instance;
	put_le(seed, opts->seed, 8);
	return psp_hmac_oneshot(seed, sizeof(seed), "mini-vmm psp seed", 17, r->key);
}

/* ---- PDH (ECDH P-384) ---- */

/*
 * A key pair from the context's randomness, so that a seeded run has the
 * same PDH every time: d drawn until 0 < d < n, Q = dG.
 */
static int soft_pdh_generate(struct psp_soft *s)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_secp384r1);
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *d = BN_secure_new();
	EC_POINT *q = group ? EC_POINT_new(group) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t raw[48];
	int ret = -ENOMEM, tries;

	if (!group || !bn || !d || !q || !bld)
		goto out;
	ret = -EIO;
	for (tries = 0; tries < 8; tries++) {
		int r = psp_rng_fill(&s->rng, raw, sizeof(raw));

		if (r) {
			ret = r;
			goto out;
		}
		if (!BN_bin2bn(raw, sizeof(raw), d))
			goto out;
		if (!BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(group)) < 0)
			break;
	}
	if (tries == 8)
		goto out;
	if (EC_POINT_mul(group, q, d, NULL, NULL, bn) != 1 ||
	    EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, s->pdh_pub.point,
			       PSP_PDH_PUB_LEN, bn) != PSP_PDH_PUB_LEN)
		goto out;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, s->pdh_pub.point,
					     PSP_PDH_PUB_LEN) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &s->pdh, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	ret = 0;
out:
	psp_wipe(raw, sizeof(raw));
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(q);
	BN_clear_free(d);
	BN_CTX_free(bn);
	EC_GROUP_free(group);
	return ret;
}

/*
 * A peer's PDH point from a hostile stream: only 0x04 || X || Y, and only
 * a point on P-384 (EC_POINT_oct2point checks the curve equation, the
 * public-key check the rest). INVALID_CERTIFICATE otherwise.
 */
static int soft_pdh_import(const struct psp_pdh_pub *pub, EVP_PKEY **out)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_secp384r1);
	EC_POINT *q = group ? EC_POINT_new(group) : NULL;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL, *check = NULL;
	int ret = -ENOMEM;

	*out = NULL;
	if (!group || !q)
		goto out;
	ret = PSP_INVALID_CERTIFICATE;
	if (pub->point[0] != POINT_CONVERSION_UNCOMPRESSED ||
	    EC_POINT_oct2point(group, q, pub->point, PSP_PDH_PUB_LEN, NULL) != 1 ||
	    EC_POINT_is_on_curve(group, q, NULL) != 1 || EC_POINT_is_at_infinity(group, q))
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub->point,
						      PSP_PDH_PUB_LEN);
	params[2] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1)
		goto out;
	ret = 0;
out:
	if (ret) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(pctx);
	EC_POINT_free(q);
	EC_GROUP_free(group);
	return ret;
}

/*
 * KEK and KIK shared with the peer (sev-tool derive_master_secret(),
 * derive_kek(), derive_kik()): ECDH x-coordinate -> master secret =
 * KDF(x, "sev-master-secret", nonce) -> KEK = KDF(master, "sev-kek"),
 * KIK = KDF(master, "sev-kik"), 16 bytes each.
 */
static int soft_session_keys(struct psp_soft *s, const struct psp_pdh_pub *peer_pub,
			     const uint8_t nonce[16], uint8_t kek[16], uint8_t kik[16])
{
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t shared[48], master[16];
	size_t len = sizeof(shared);
	int ret = soft_pdh_import(peer_pub, &peer);

	if (ret)
		return ret;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->pdh, NULL);
	ret = -EIO;
	if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
	    EVP_PKEY_derive(ctx, shared, &len) == 1 && len == sizeof(shared))
		ret = psp_kdf(master, sizeof(master), shared, len, "sev-master-secret", nonce, 16);
	if (!ret)
		ret = psp_kdf(kek, 16, master, sizeof(master), "sev-kek", NULL, 0);
	if (!ret)
		ret = psp_kdf(kik, 16, master, sizeof(master), "sev-kik", NULL, 0);
	psp_wipe(shared, sizeof(shared));
	psp_wipe(master, sizeof(master));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return ret;
}

/* ---- transport keys ---- */

static void soft_transport_forget(struct psp_soft *s)
{
	psp_ctr_free(&s->tek_ctr);
	psp_hmac_free(&s->tik_mac);
	psp_wipe(s->tek, sizeof(s->tek));
	psp_wipe(s->tik, sizeof(s->tik));
	s->transport = 0;
	s->seq = 0;
}

/* TEK/TIK from tk = TEK || TIK; sequence from 0. */
static int soft_transport_set(struct psp_soft *s, const uint8_t tk[32])
{
	int ret;

	memcpy(s->tek, tk, 16);
	memcpy(s->tik, tk + 16, 16);
	ret = psp_ctr_init(&s->tek_ctr, s->tek);
	if (!ret) {
		ret = psp_hmac_init(&s->tik_mac, s->tik, sizeof(s->tik));
		if (ret)
			psp_ctr_free(&s->tek_ctr);
	}
	if (ret) {
		psp_wipe(s->tek, sizeof(s->tek));
		psp_wipe(s->tik, sizeof(s->tik));
		return ret;
	}
	s->transport = 1;
	s->seq = 0;
	return 0;
}

/* Our MAC rule (psp.h): flags || iv || trans_len || trans || gpa || seq. */
static int soft_packet_mac(struct psp_soft *s, uint64_t gpa, const struct psp_packet_hdr *hdr,
			   const void *trans, uint8_t mac[32])
{
	uint8_t flags[4], len[4], tail[16];
	int ret;

	put_le(flags, hdr->flags, 4);
	put_le(len, PSP_PAGE_SIZE, 4);
	put_le(tail, gpa, 8);
	put_le(tail + 8, s->seq, 8);
	ret = psp_hmac_begin(&s->tik_mac);
	if (!ret)
		ret = psp_hmac_update(&s->tik_mac, flags, sizeof(flags));
	if (!ret)
		ret = psp_hmac_update(&s->tik_mac, hdr->iv, sizeof(hdr->iv));
	if (!ret)
		ret = psp_hmac_update(&s->tik_mac, len, sizeof(len));
	if (!ret)
		ret = psp_hmac_update(&s->tik_mac, trans, PSP_PAGE_SIZE);
	if (!ret)
		ret = psp_hmac_update(&s->tik_mac, tail, sizeof(tail));
	if (!ret)
		ret = psp_hmac_final(&s->tik_mac, mac);
	return ret;
}

/* ---- the memory controller ---- */

static int soft_mem_crypt(struct psp *psp, int enc, uint64_t gpa, const void *in, void *out,
			  size_t len)
{
	struct psp_soft *s = to_soft(psp);
	int ret = 0;

	pthread_mutex_lock(&s->mem_lock);
	for (size_t off = 0; off < len && !ret; off += PSP_PAGE_SIZE)
		ret = psp_xts_crypt(&s->vek_xts, enc, gpa + off, (const uint8_t *)in + off,
				    (uint8_t *)out + off, PSP_PAGE_SIZE);
	pthread_mutex_unlock(&s->mem_lock);
	return ret;
}

/* ---- launch ---- */

static int soft_launch_start(struct psp *psp, uint32_t policy)
{
	struct psp_soft *s = to_soft(psp);
	int ret = psp_rng_fill(&s->rng, s->launch_tek, sizeof(s->launch_tek));

	if (!ret)
		ret = psp_rng_fill(&s->rng, s->launch_tik, sizeof(s->launch_tik));
	if (!ret) {
		s->ld = EVP_MD_CTX_new();
		if (!s->ld)
			ret = -ENOMEM;
		else if (EVP_DigestInit_ex(s->ld, EVP_sha256(), NULL) != 1)
			ret = -EIO;
	}
	if (ret) {
		EVP_MD_CTX_free(s->ld);
		s->ld = NULL;
		psp_wipe(s->launch_tek, sizeof(s->launch_tek));
		psp_wipe(s->launch_tik, sizeof(s->launch_tik));
	}
	s->launched = !ret;
	return ret;
}

static int soft_launch_update_data(struct psp *psp, uint64_t gpa, const void *data, size_t len)
{
	struct psp_soft *s = to_soft(psp);
	uint8_t head[16];

	put_le(head, gpa, 8);
	put_le(head + 8, len, 8);
	/* A failure part-way leaves the digest extended: reported as -EIO, fatal to the launch. */
	if (EVP_DigestUpdate(s->ld, head, sizeof(head)) != 1 ||
	    (len && EVP_DigestUpdate(s->ld, data, len) != 1))
		return -EIO;
	return 0;
}

static int soft_launch_measure(struct psp *psp, struct psp_measure *out)
{
	struct psp_soft *s = to_soft(psp);
	const uint8_t head[4] = {PSP_MEASURE_CTX, PSP_API_MAJOR, PSP_API_MINOR, PSP_BUILD};
	EVP_MD_CTX *tmp = EVP_MD_CTX_new();
	struct psp_measure m;
	struct psp_hmac h;
	uint8_t policy[4];
	unsigned int ldlen = 0;
	int ret = -ENOMEM;

	if (!tmp)
		return ret;
	/* Finish a copy, so that a failure leaves the digest as it was. */
	ret = -EIO;
	if (EVP_MD_CTX_copy_ex(tmp, s->ld) == 1 && EVP_DigestFinal_ex(tmp, m.ld, &ldlen) == 1 &&
	    ldlen == sizeof(m.ld))
		ret = psp_rng_fill(&s->rng, m.mnonce, sizeof(m.mnonce));
	EVP_MD_CTX_free(tmp);
	if (ret)
		return ret;
	put_le(policy, psp->policy, 4);
	ret = psp_hmac_init(&h, s->launch_tik, sizeof(s->launch_tik));
	if (ret)
		return ret;
	ret = psp_hmac_update(&h, head, sizeof(head));
	if (!ret)
		ret = psp_hmac_update(&h, policy, sizeof(policy));
	if (!ret)
		ret = psp_hmac_update(&h, m.ld, sizeof(m.ld));
	if (!ret)
		ret = psp_hmac_update(&h, m.mnonce, sizeof(m.mnonce));
	if (!ret)
		ret = psp_hmac_final(&h, m.measurement);
	psp_hmac_free(&h);
	if (!ret) {
		*out = m;
		EVP_MD_CTX_free(s->ld);
		s->ld = NULL;
	}
	return ret;
}

int psp_soft_guest_owner_tik(const struct psp *psp, uint8_t tik[16])
{
	const struct psp_soft *s = to_soft(psp);

	if (!s->launched)
		return PSP_INVALID_GUEST_STATE;
	memcpy(tik, s->launch_tik, 16);
	return 0;
}

/* ---- PDH export, send ---- */

static int soft_pdh_export(struct psp *psp, struct psp_pdh_pub *out)
{
	*out = to_soft(psp)->pdh_pub;
	return 0;
}

static int soft_send_start(struct psp *psp, const struct psp_pdh_pub *target,
			   struct psp_session *session, struct psp_pdh_pub *source)
{
	struct psp_soft *s = to_soft(psp);
	struct psp_session blob;
	uint8_t kek[16], kik[16], tk[32], policy[4];
	struct psp_ctr wrap = {0};
	int ret;

	ret = psp_rng_fill(&s->rng, blob.nonce, sizeof(blob.nonce));
	if (!ret)
		ret = soft_session_keys(s, target, blob.nonce, kek, kik);
	/* Fresh TEK || TIK for this migration, wrapped under KEK, MACed under KIK. */
	if (!ret)
		ret = psp_rng_fill(&s->rng, tk, sizeof(tk));
	if (!ret)
		ret = psp_rng_fill(&s->rng, blob.wrap_iv, sizeof(blob.wrap_iv));
	if (!ret)
		ret = psp_ctr_init(&wrap, kek);
	if (!ret)
		ret = psp_ctr_crypt(&wrap, blob.wrap_iv, tk, blob.wrap_tk, sizeof(tk));
	if (!ret)
		ret = psp_hmac_oneshot(kik, sizeof(kik), blob.wrap_tk, sizeof(blob.wrap_tk),
				       blob.wrap_mac);
	put_le(policy, psp->policy, 4);
	if (!ret)
		ret = psp_hmac_oneshot(tk + 16, 16, policy, sizeof(policy), blob.policy_mac);
	if (!ret)
		ret = soft_transport_set(s, tk);
	if (!ret) {
		*session = blob;
		*source = s->pdh_pub;
	}
	psp_ctr_free(&wrap);
	psp_wipe(kek, sizeof(kek));
	psp_wipe(kik, sizeof(kik));
	psp_wipe(tk, sizeof(tk));
	return ret;
}

static int soft_send_update_data(struct psp *psp, uint64_t gpa, const void *dram,
				 struct psp_packet_hdr *hdr, void *trans)
{
	struct psp_soft *s = to_soft(psp);
	struct psp_packet_hdr h = {.flags = 0};
	int ret;

	/* What the PSP sees through the memory controller: DRAM under the VEK. */
	ret = soft_mem_crypt(psp, 0, gpa, dram, s->page, PSP_PAGE_SIZE);
	if (!ret)
		ret = psp_rng_fill(&s->rng, h.iv, sizeof(h.iv));
	if (!ret)
		ret = psp_ctr_crypt(&s->tek_ctr, h.iv, s->page, trans, PSP_PAGE_SIZE);
	if (!ret)
		ret = soft_packet_mac(s, gpa, &h, trans, h.mac);
	if (!ret) {
		*hdr = h;
		s->seq++;
	}
	return ret;
}

static void soft_send_forget(struct psp *psp)
{
	struct psp_soft *s = to_soft(psp);

	soft_transport_forget(s);
	psp_wipe(s->page, PSP_PAGE_SIZE);
}

/* ---- receive ---- */

static int soft_receive_start(struct psp *psp, uint32_t policy, const struct psp_pdh_pub *source,
			      const struct psp_session *session)
{
	struct psp_soft *s = to_soft(psp);
	uint8_t kek[16], kik[16], tk[32], mac[32], le[4];
	struct psp_ctr wrap = {0};
	int ret;

	ret = soft_session_keys(s, source, session->nonce, kek, kik);
	if (!ret)
		ret = psp_hmac_oneshot(kik, sizeof(kik), session->wrap_tk, sizeof(session->wrap_tk),
				       mac);
	if (!ret && psp_memcmp_ct(mac, session->wrap_mac, sizeof(mac)))
		ret = PSP_BAD_SIGNATURE;
	if (!ret)
		ret = psp_ctr_init(&wrap, kek);
	if (!ret)
		ret = psp_ctr_crypt(&wrap, session->wrap_iv, session->wrap_tk, tk, sizeof(tk));
	/* The policy travels in clear: its MAC under the new TIK says it is the sender's. */
	put_le(le, policy, 4);
	if (!ret)
		ret = psp_hmac_oneshot(tk + 16, 16, le, sizeof(le), mac);
	if (!ret && psp_memcmp_ct(mac, session->policy_mac, sizeof(mac)))
		ret = PSP_POLICY_FAILURE;
	if (!ret)
		ret = soft_transport_set(s, tk);
	psp_ctr_free(&wrap);
	psp_wipe(kek, sizeof(kek));
	psp_wipe(kik, sizeof(kik));
	psp_wipe(tk, sizeof(tk));
	return ret;
}

static int soft_receive_update_data(struct psp *psp, uint64_t gpa, const struct psp_packet_hdr *hdr,
				    const void *trans, void *guest_plain)
{
	struct psp_soft *s = to_soft(psp);
	uint8_t mac[32];
	int ret;

	/* With the expected sequence number: any replay, drop or reorder fails here. */
	ret = soft_packet_mac(s, gpa, hdr, trans, mac);
	if (!ret && psp_memcmp_ct(mac, hdr->mac, sizeof(mac)))
		ret = PSP_BAD_MEASUREMENT;
	if (!ret)
		ret = psp_ctr_crypt(&s->tek_ctr, hdr->iv, trans, guest_plain, PSP_PAGE_SIZE);
	if (!ret)
		s->seq++;
	return ret;
}

static void soft_receive_forget(struct psp *psp)
{
	soft_transport_forget(to_soft(psp));
}

/* ---- life cycle ---- */

static void soft_destroy(struct psp *psp)
{
	struct psp_soft *s = to_soft(psp);

	soft_transport_forget(s);
	psp_xts_free(&s->vek_xts);
	EVP_PKEY_free(s->pdh); /* frees the private scalar cleansed */
	EVP_MD_CTX_free(s->ld);
	if (s->page) {
		psp_wipe(s->page, PSP_PAGE_SIZE);
		free(s->page);
	}
	pthread_mutex_destroy(&s->mem_lock);
	/* Every key and the seed stream in one go (VEK, launch TEK/TIK, rng key). */
	psp_wipe(s, sizeof(*s));
	free(s);
}

static const struct psp_ops soft_ops = {
	.name = "soft",
	.destroy = soft_destroy,
	.launch_start = soft_launch_start,
	.launch_update_data = soft_launch_update_data,
	.launch_measure = soft_launch_measure,
	.pdh_export = soft_pdh_export,
	.send_start = soft_send_start,
	.send_update_data = soft_send_update_data,
	.send_forget = soft_send_forget,
	.receive_start = soft_receive_start,
	.receive_update_data = soft_receive_update_data,
	.receive_forget = soft_receive_forget,
	.mem_crypt = soft_mem_crypt,
};

int psp_soft_create(const struct psp_soft_opts *opts, struct psp **out)
{
	struct psp_soft *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->psp.ops = &soft_ops;
	s->psp.state = PSP_GSTATE_UNINIT;
	ret = pthread_mutex_init(&s->mem_lock, NULL);
	if (ret) {
		free(s);
		return -ret;
	}
	ret = psp_rng_init(&s->rng, opts);
	if (!ret)
		ret = (s->page = aligned_alloc(PSP_PAGE_SIZE, PSP_PAGE_SIZE)) ? 0 : -ENOMEM;
	if (!ret)
		ret = psp_xts_keygen(s->vek, psp_rng_fill, &s->rng);
	if (!ret)
		ret = psp_xts_init(&s->vek_xts, s->vek);
	if (!ret)
		ret = soft_pdh_generate(s);
	if (ret) {
		soft_destroy(&s->psp);
		return ret;
	}
	*out = &s->psp;
	return 0;
}
