// SPDX-License-Identifier: GPL-2.0-only
#include "hostmem.h"

#include <errno.h>
#include <string.h>

#include "oracle.h"
#include "psp.h"
#include "util.h"

/* The struct hostmem callbacks over the PSP's memory controller (psp.h). */
static int psp_dram_encrypt(void *psp, uint64_t gpa, const void *plain, void *out, size_t len)
{
	return psp_mem_encrypt(psp, gpa, plain, out, len);
}

static int psp_dram_decrypt(void *psp, uint64_t gpa, const void *dram, void *plain, size_t len)
{
	return psp_mem_decrypt(psp, gpa, dram, plain, len);
}

void hostmem_attach_psp(struct hostmem *hm, struct psp *psp)
{
	hm->dram_encrypt = psp_dram_encrypt;
	hm->dram_decrypt = psp_dram_decrypt;
	hm->dram_ctx = psp;
}

int hostmem_read(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, void *buf, size_t len)
{
	const uint8_t *src = mem_gpa_to_hva(hm->mem, gpa, len);
	uint8_t *out = buf;
	int ret = HOSTMEM_PLAIN;

	if (!src || (len && gpa + len < gpa))
		return -EFAULT;
	if (!hm->cbit_mask) {
		memcpy(buf, src, len);
		return HOSTMEM_PLAIN;
	}
	while (len) {
		uint64_t page = gpa & ~(uint64_t)(PAGE_SIZE - 1), off = gpa - page;
		size_t n = PAGE_SIZE - off < len ? PAGE_SIZE - off : len;

		if (oracle_gpa_private(hm->mem, cr3, hm->cbit_mask, page)) {
			uint8_t cipher[PAGE_SIZE];
			const void *plain = mem_gpa_to_hva(hm->mem, page, PAGE_SIZE);
			int r;

			if (!hm->dram_encrypt)
				return -ENOTSUP;
			if (!plain)
				return -EFAULT;
			r = hm->dram_encrypt(hm->dram_ctx, page, plain, cipher, PAGE_SIZE);
			if (r < 0)
				return r;
			memcpy(out, cipher + off, n);
			ret = HOSTMEM_CIPHERTEXT;
		} else {
			memcpy(out, src, n);
		}
		out += n;
		src += n;
		gpa += n;
		len -= n;
	}
	return ret;
}

int hostmem_read_page(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, int skip, void *page)
{
	const void *plain = mem_gpa_to_hva(hm->mem, gpa, PAGE_SIZE);
	int kind, r;

	if (!plain || !IS_ALIGNED(gpa, PAGE_SIZE))
		return -EFAULT;
	kind = hm->cbit_mask && oracle_gpa_private(hm->mem, cr3, hm->cbit_mask, gpa)
		       ? HOSTMEM_CIPHERTEXT
		       : HOSTMEM_PLAIN;
	if (kind == skip)
		return kind;
	if (kind == HOSTMEM_PLAIN) {
		memcpy(page, plain, PAGE_SIZE);
		return kind;
	}
	if (!hm->dram_encrypt)
		return -ENOTSUP;
	r = hm->dram_encrypt(hm->dram_ctx, gpa, plain, page, PAGE_SIZE);
	return r < 0 ? r : kind;
}

int hostmem_write(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *dst = mem_gpa_to_hva(hm->mem, gpa, len);
	const uint8_t *in = buf;

	if (!dst || (len && gpa + len < gpa))
		return -EFAULT;
	if (hm->dirty && len)
		for (uint64_t pfn = gpa >> PAGE_SHIFT; pfn <= (gpa + len - 1) >> PAGE_SHIFT; pfn++)
			__atomic_fetch_or(&hm->dirty[pfn / 64], 1ull << (pfn % 64),
					  __ATOMIC_RELAXED);
	if (!hm->cbit_mask) {
		memcpy(dst, buf, len);
		return 0;
	}
	while (len) {
		uint64_t page = gpa & ~(uint64_t)(PAGE_SIZE - 1), off = gpa - page;
		size_t n = PAGE_SIZE - off < len ? PAGE_SIZE - off : len;

		if (oracle_gpa_private(hm->mem, cr3, hm->cbit_mask, page)) {
			/* Read-modify-write of the page as DRAM holds it. */
			uint8_t dram[PAGE_SIZE];
			uint8_t *plain = mem_gpa_to_hva(hm->mem, page, PAGE_SIZE);
			int r;

			if (!hm->dram_encrypt || !hm->dram_decrypt)
				return -ENOTSUP;
			if (!plain)
				return -EFAULT;
			r = hm->dram_encrypt(hm->dram_ctx, page, plain, dram, PAGE_SIZE);
			if (r < 0)
				return r;
			memcpy(dram + off, in, n);
			r = hm->dram_decrypt(hm->dram_ctx, page, dram, plain, PAGE_SIZE);
			if (r < 0)
				return r;
		} else {
			memcpy(dst, in, n);
		}
		dst += n;
		in += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int hostmem_settle_received(const struct hostmem *hm, uint64_t cr3, uint64_t gpa,
			    bool received_private)
{
	uint8_t *page = mem_gpa_to_hva(hm->mem, gpa, PAGE_SIZE);
	uint8_t tmp[PAGE_SIZE];

	if (!page || !IS_ALIGNED(gpa, PAGE_SIZE))
		return -EFAULT;
	if (!hm->cbit_mask ||
	    oracle_gpa_private(hm->mem, cr3, hm->cbit_mask, gpa) == received_private)
		return 0;
	if (!hm->dram_encrypt || !hm->dram_decrypt)
		return -ENOTSUP;
	memcpy(tmp, page, PAGE_SIZE);
	return received_private ? hm->dram_encrypt(hm->dram_ctx, gpa, tmp, page, PAGE_SIZE)
				: hm->dram_decrypt(hm->dram_ctx, gpa, tmp, page, PAGE_SIZE);
}
