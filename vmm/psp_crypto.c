// SPDX-License-Identifier: GPL-2.0-only
/* libcrypto wrappers of the software PSP; see psp_crypto.h. */
#include "psp_crypto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* ---- AES-128-XTS ---- */

int psp_xts_init(struct psp_xts *x, const uint8_t key[32])
{
	x->enc = EVP_CIPHER_CTX_new();
	x->dec = EVP_CIPHER_CTX_new();
	if (!x->enc || !x->dec) {
		psp_xts_free(x);
		return -ENOMEM;
	}
	/* The key schedules are built once here; each data unit only sets its tweak. */
	if (EVP_CipherInit_ex(x->enc, EVP_aes_128_xts(), NULL, key, NULL, 1) != 1 ||
	    EVP_CipherInit_ex(x->dec, EVP_aes_128_xts(), NULL, key, NULL, 0) != 1) {
		psp_xts_free(x);
		return -EIO;
	}
	return 0;
}

int psp_xts_crypt(struct psp_xts *x, int enc, uint64_t unit, const void *in, void *out, size_t len)
{
	EVP_CIPHER_CTX *ctx = enc ? x->enc : x->dec;
	uint8_t tweak[16] = {0};
	int outl;

	/* IEEE 1619 5.1: the tweak is the data unit number, little-endian. */
	for (int i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(unit >> (8 * i));
	if (len < 16 || len > INT_MAX)
		return -EINVAL;
	/* XTS in OpenSSL takes one data unit per EVP_CipherUpdate. */
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, tweak, -1) != 1 ||
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len)
		return -EIO;
	return 0;
}

void psp_xts_free(struct psp_xts *x)
{
	/* EVP_CIPHER_CTX_free cleanses the expanded keys. */
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	x->enc = x->dec = NULL;
}

int psp_xts_keygen(uint8_t key[32], int (*fill)(void *arg, void *buf, size_t len), void *arg)
{
	for (int tries = 0; tries < 8; tries++) {
		int ret = fill(arg, key, 32);

		if (ret)
			return ret;
		/* SP 800-38E and OpenSSL 3.0 refuse key1 == key2. */
		if (memcmp(key, key + 16, 16) != 0)
			return 0;
	}
	psp_wipe(key, 32);
	return -EIO;
}

/* ---- AES-128-CTR ---- */

int psp_ctr_init(struct psp_ctr *c, const uint8_t key[16])
{
	c->ctx = EVP_CIPHER_CTX_new();
	if (!c->ctx)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(c->ctx, EVP_aes_128_ctr(), NULL, key, NULL) != 1) {
		psp_ctr_free(c);
		return -EIO;
	}
	return 0;
}

int psp_ctr_crypt(struct psp_ctr *c, const uint8_t iv[16], const void *in, void *out, size_t len)
{
	int outl;

	if (len > INT_MAX)
		return -EINVAL;
	/* New counter block, same key schedule; CTR is its own inverse. */
	if (EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(c->ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len)
		return -EIO;
	return 0;
}

void psp_ctr_free(struct psp_ctr *c)
{
	EVP_CIPHER_CTX_free(c->ctx);
	c->ctx = NULL;
}

/* ---- HMAC-SHA-256 ---- */

int psp_hmac_init(struct psp_hmac *h, const void *key, size_t keylen)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

	h->ctx = NULL;
	if (!mac)
		return -EIO;
	h->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context holds its own reference */
	if (!h->ctx)
		return -ENOMEM;
	/* The key's inner and outer pads are computed once, here. */
	if (EVP_MAC_init(h->ctx, key, keylen, params) != 1) {
		psp_hmac_free(h);
		return -EIO;
	}
	return 0;
}

int psp_hmac_begin(struct psp_hmac *h)
{
	/* NULL key: OpenSSL's HMAC re-initialises with the key it has. */
	return EVP_MAC_init(h->ctx, NULL, 0, NULL) == 1 ? 0 : -EIO;
}

int psp_hmac_update(struct psp_hmac *h, const void *data, size_t len)
{
	return EVP_MAC_update(h->ctx, data, len) == 1 ? 0 : -EIO;
}

int psp_hmac_final(struct psp_hmac *h, uint8_t mac[32])
{
	size_t outl;

	if (EVP_MAC_final(h->ctx, mac, &outl, 32) != 1 || outl != 32)
		return -EIO;
	return 0;
}

void psp_hmac_free(struct psp_hmac *h)
{
	EVP_MAC_CTX_free(h->ctx);
	h->ctx = NULL;
}

int psp_hmac_oneshot(const void *key, size_t keylen, const void *data, size_t len, uint8_t mac[32])
{
	struct psp_hmac h;
	int ret = psp_hmac_init(&h, key, keylen);

	if (ret)
		return ret;
	ret = psp_hmac_update(&h, data, len);
	if (!ret)
		ret = psp_hmac_final(&h, mac);
	psp_hmac_free(&h);
	return ret;
}

/* ---- SP 800-108 counter-mode KDF ---- */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int psp_kdf(uint8_t *out, size_t outlen, const void *key, size_t keylen, const char *label,
	    const void *context, size_t contextlen)
{
	const uint8_t zero = 0;
	uint8_t block[32], le[4], bits[4];
	struct psp_hmac h;
	size_t done = 0;
	int ret;

	if (!outlen || outlen > (UINT32_MAX >> 3) || !label || !*label)
		return -EINVAL;
	ret = psp_hmac_init(&h, key, keylen);
	if (ret)
		return ret;
	put_le32(bits, (uint32_t)(outlen * 8));
	for (uint32_t i = 1; done < outlen; i++) {
		size_t n = outlen - done < 32 ? outlen - done : 32;

		put_le32(le, i);
		ret = psp_hmac_begin(&h);
		if (!ret)
			ret = psp_hmac_update(&h, le, 4);
		if (!ret)
			ret = psp_hmac_update(&h, label, strlen(label));
		if (!ret)
			ret = psp_hmac_update(&h, &zero, 1);
		if (!ret && contextlen)
			ret = psp_hmac_update(&h, context, contextlen);
		if (!ret)
			ret = psp_hmac_update(&h, bits, 4);
		if (!ret)
			ret = psp_hmac_final(&h, block);
		if (ret)
			break;
		memcpy(out + done, block, n);
		done += n;
	}
	psp_wipe(block, sizeof(block));
	psp_hmac_free(&h);
	if (ret)
		psp_wipe(out, outlen);
	return ret;
}

int psp_memcmp_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) ? 1 : 0;
}

void psp_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
