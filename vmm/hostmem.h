/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host view of guest memory (DESIGN.md "SEV platform emulation"): the
 * only way VMM code reads guest RAM after launch. Without SEV it is plain
 * memory. Under --sev a page the guest maps private (C=1) reads as what
 * DRAM holds, the page encrypted with the VM's memory key (the memory
 * controller's cipher, which the secure processor owns: dram_encrypt),
 * and hostmem says so; a page mapped C=0 reads as it is.
 *
 * Guest RAM itself keeps the plaintext; the ciphertext is computed on
 * read. The guest truth comes from the oracle (the page tables of the
 * accessing vCPU: for the VMM's own accesses, the vCPU whose exit is being
 * handled), looked up at every access: nothing is cached, so an answer is
 * never stale.
 */
#ifndef MINIVMM_HOSTMEM_H
#define MINIVMM_HOSTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

struct psp;

struct hostmem {
	const struct guest_mem *mem;
	uint64_t cbit_mask; /* 0: no SEV, the host view is plain memory */
	/*
	 * DRAM contents of len bytes (whole pages) of plaintext at gpa under
	 * the VM's memory key. NULL: private pages cannot be read at all.
	 */
	int (*dram_encrypt)(void *ctx, uint64_t gpa, const void *plain, void *out, size_t len);
	/* Its inverse: what the guest reads (C=1) from DRAM contents at gpa. */
	int (*dram_decrypt)(void *ctx, uint64_t gpa, const void *dram, void *plain, size_t len);
	void *dram_ctx;
	/*
	 * A migration in pre-copy: every page hostmem_write touches gets its
	 * bit set (one a page frame), since KVM's dirty log does not see
	 * the VMM's writes (docs/MIGRATION.md 4). NULL: none.
	 */
	uint64_t *dirty;
};

/*
 * The memory controller's cipher is the secure processor's: dram_encrypt
 * and dram_decrypt become psp_mem_encrypt and psp_mem_decrypt under psp's
 * VEK (AES-128-XTS, GPA tweak: psp.h), dram_ctx psp. psp must outlive hm's
 * use.
 */
void hostmem_attach_psp(struct hostmem *hm, struct psp *psp);

#define HOSTMEM_PLAIN	   0
#define HOSTMEM_CIPHERTEXT 1 /* some of the bytes read are ciphertext */

/*
 * Read [gpa, gpa + len) as the host sees it, the guest truth taken from
 * the page tables at cr3. The range must be backed by guest memory.
 * Returns HOSTMEM_PLAIN, HOSTMEM_CIPHERTEXT, -EFAULT (not backed), or
 * -ENOTSUP (a private page and no memory controller cipher).
 */
int hostmem_read(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, void *buf, size_t len);
/*
 * The host view of the whole page at gpa (page-aligned) into page
 * (PAGE_SIZE bytes), as hostmem_read computes it, unless DRAM holds the
 * kind of bytes skip names: then page is left alone and nothing is
 * computed. One look at the mapping at cr3 answers both. Returns the kind
 * (HOSTMEM_PLAIN or HOSTMEM_CIPHERTEXT: page was read iff it is not
 * skip; skip -1 always reads), -EFAULT (not backed, or gpa unaligned),
 * -ENOTSUP (a private page to read and no memory controller cipher).
 *
 * The kind is the emulation's stand-in for a hardware fact: there DRAM
 * changes only by writes, here a C-bit flip changes the host view of an
 * unwritten page too, and a VMM that keeps what it sent (a migration's
 * stopped round) needs to see that. Never a reason to send a page one way
 * or the other: the bitmap decides.
 */
int hostmem_read_page(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, int skip, void *page);
/*
 * Write [gpa, gpa + len) as the host would: bytes land in DRAM as they
 * are, so where the guest maps the page private it later reads them
 * decrypted with its key, i.e. garbage. Returns 0, -EFAULT, or -ENOTSUP
 * (a private page and no memory controller cipher).
 */
int hostmem_write(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, const void *buf,
		  size_t len);

/*
 * A migration's destination received the page at gpa and stored it as
 * the guest reads a page mapped the way received_private says: plaintext
 * from RECEIVE_UPDATE_DATA (true), or the bytes of a plain record, i.e.
 * what DRAM holds (false). Make guest memory what the guest reads through
 * its real mapping at cr3 (the memory controller's job, hence here): a
 * PSP page the guest maps shared reads as the PSP's ciphertext under the
 * VM key, a plain page it maps private reads as those bytes decrypted
 * with it. Returns 0 (nothing to do, or done), -EFAULT, -ENOTSUP.
 */
int hostmem_settle_received(const struct hostmem *hm, uint64_t cr3, uint64_t gpa,
			    bool received_private);

#endif
