/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The primitives of the software PSP, each a thin wrapper over OpenSSL
 * libcrypto 3.0 EVP with a context kept per key (set up once, re-armed
 * per use with a new IV or the same key), so the per-page cost is the
 * cipher's own. psp_soft.c uses nothing else, and the unit tests run the
 * published known-answer vectors through these very functions.
 *
 * Every function returns 0 or -errno: -ENOMEM (allocation), -EIO (a
 * libcrypto call failed), -EINVAL (a length the primitive cannot take).
 */
#ifndef MINIVMM_PSP_CRYPTO_H
#define MINIVMM_PSP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

/*
 * AES-128-XTS (IEEE 1619, SP 800-38E): key = key1 || key2, 32 bytes; the
 * halves must differ (OpenSSL 3.0 refuses equal halves, as 800-38E asks).
 * One call is one data unit of len bytes (16 <= len, <= 2^24 blocks) with
 * the tweak = data unit number as a 16-byte little-endian value.
 */
struct psp_xts {
	EVP_CIPHER_CTX *enc, *dec; /* XTS decryption has its own key schedule */
};
int psp_xts_init(struct psp_xts *x, const uint8_t key[32]);
int psp_xts_crypt(struct psp_xts *x, int enc, uint64_t unit, const void *in, void *out, size_t len);
void psp_xts_free(struct psp_xts *x);

/*
 * A fresh XTS key from fill(arg, buf, 32), drawn again while its halves
 * are equal (never happens with a sound source; a broken one is refused
 * after 8 draws with -EIO).
 */
int psp_xts_keygen(uint8_t key[32], int (*fill)(void *arg, void *buf, size_t len), void *arg);

/* AES-128-CTR (SP 800-38A 6.5): the IV is the initial 128-bit counter block. */
struct psp_ctr {
	EVP_CIPHER_CTX *ctx;
};
int psp_ctr_init(struct psp_ctr *c, const uint8_t key[16]);
int psp_ctr_crypt(struct psp_ctr *c, const uint8_t iv[16], const void *in, void *out, size_t len);
void psp_ctr_free(struct psp_ctr *c);

/* HMAC-SHA-256 (RFC 2104, FIPS 180-4) under one key, re-armed per message. */
struct psp_hmac {
	EVP_MAC_CTX *ctx;
};
int psp_hmac_init(struct psp_hmac *h, const void *key, size_t keylen);
int psp_hmac_begin(struct psp_hmac *h);
int psp_hmac_update(struct psp_hmac *h, const void *data, size_t len);
int psp_hmac_final(struct psp_hmac *h, uint8_t mac[32]);
void psp_hmac_free(struct psp_hmac *h);
/* One message under a key used once. */
int psp_hmac_oneshot(const void *key, size_t keylen, const void *data, size_t len, uint8_t mac[32]);

/*
 * SP 800-108 KDF in counter mode with PRF = HMAC-SHA-256, the fields
 * encoded as the SEV firmware does (sev-tool commands.cpp kdf()):
 *   K(i) = HMAC(key, i u32 LE || label || 0x00 || context || L u32 LE)
 * for i = 1.., L = outlen in bits; out = K(1) || K(2) || ... truncated.
 */
int psp_kdf(uint8_t *out, size_t outlen, const void *key, size_t keylen, const char *label,
	    const void *context, size_t contextlen);

/* Constant-time comparison: 0 if equal. */
int psp_memcmp_ct(const void *a, const void *b, size_t len);
/* OPENSSL_cleanse. */
void psp_wipe(void *p, size_t len);

#endif
