// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host view of guest memory (hostmem.h) and the oracle's guest truth
 * (oracle.h), on the firmware identity map the VMM builds under SEV
 * (x86_identity_map_encrypt): RAM private, the firmware window and ucall
 * pages shared. The memory controller's cipher is first a test stand-in
 * keyed by the GPA, then the software PSP's AES-128-XTS as vm_create
 * attaches it (hostmem_attach_psp); the cipher itself has its own tests
 * (test_psp.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "hostmem.h"
#include "memory.h"
#include "oracle.h"
#include "psp.h"
#include "util.h"
#include "x86.h"

#define CBIT	 (1ull << 52)
#define PML4_GPA 0x201000ull
#define FW_PT	 0x300000ull
#define RAM_PAGE 0x400000ull

static struct guest_mem mem;
static int encrypt_calls;
static struct psp *psp; /* the VM's PSP in the *_psp tests */

/* DRAM as a tweaked cipher would hold it: every byte changes, per GPA. */
static int fake_encrypt(void *ctx, uint64_t gpa, const void *plain, void *out, size_t len)
{
	const uint8_t *in = plain;
	uint8_t *o = out;

	(void)ctx;
	encrypt_calls++;
	if (len % PAGE_SIZE || gpa % PAGE_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		o[i] = (uint8_t)(in[i] ^ 0x5a ^ (gpa >> 12) ^ (i * 7));
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (mem_layout(&mem, 16ull << 20, 1ull << 20) || mem_alloc(&mem) ||
	    mem_set_ucall_pages(&mem, 2))
		return -1;
	if (x86_build_identity_map(&mem, PML4_GPA, mem.top) ||
	    x86_identity_map_encrypt(&mem, PML4_GPA, mem.top, CBIT, MEM_FW_SHARED_GPA,
				     mem.fw_shared_end, FW_PT))
		return -1;
	encrypt_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_free(&mem);
	return 0;
}

/* The same memory with a VM's software PSP as the memory controller. */
static int setup_psp(void **state)
{
	if (setup(state))
		return -1;
	return psp_soft_create(NULL, &psp) ? -1 : 0;
}

static int teardown_psp(void **state)
{
	psp_destroy(psp);
	psp = NULL;
	return teardown(state);
}

static struct hostmem psp_view(void)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT};

	hostmem_attach_psp(&hm, psp);
	return hm;
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t salt)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + salt);
}

static uint64_t *leaf_of(uint64_t gpa)
{
	uint64_t to, leaf;
	uint64_t *pd = mem_gpa_to_hva(&mem, PML4_GPA + 2 * PAGE_SIZE, PAGE_SIZE);

	assert_int_equal(x86_gva_leaf(&mem, PML4_GPA, gpa, &to, &leaf), 0);
	assert_int_equal(to, gpa);
	assert_true(leaf & PTE_PS);
	return &pd[gpa >> 21];
}

/* The firmware map: RAM and the VMM region private, what firmware shares not. */
static void test_oracle_firmware_map(void **state)
{
	(void)state;
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, 0));
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, MEM_FW_SHARED_GPA - PAGE_SIZE));
	for (uint64_t p = MEM_FW_SHARED_GPA; p < mem.fw_shared_end; p += PAGE_SIZE)
		assert_false(oracle_gpa_private(&mem, PML4_GPA, CBIT, p));
	assert_false(oracle_gpa_private(&mem, PML4_GPA, CBIT, MEM_UCALL_GPA + 4095));
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, mem.fw_shared_end));
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, MEM_HIGH_RAM_START));
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, RAM_PAGE));
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, mem.vmm_gpa));
	/* Not mapped at all: private, as a guest starts. */
	assert_true(oracle_gpa_private(&mem, PML4_GPA, CBIT, 1ull << 40));
}

static void test_identity_map_encrypt_refuses(void **state)
{
	(void)state;
	/* The shared range must sit in one 2 MiB block, page aligned. */
	assert_int_equal(
		x86_identity_map_encrypt(&mem, PML4_GPA, mem.top, CBIT, 0x1ff000, 0x201000, FW_PT),
		-EINVAL);
	assert_int_equal(
		x86_identity_map_encrypt(&mem, PML4_GPA, mem.top, CBIT, 0xa0800, 0xc0000, FW_PT),
		-EINVAL);
	assert_int_equal(
		x86_identity_map_encrypt(&mem, PML4_GPA, mem.top, CBIT, 0xc0000, 0xa0000, FW_PT),
		-EINVAL);
	assert_int_equal(x86_identity_map_encrypt(&mem, PML4_GPA, mem.top, CBIT, 0xa0000, 0xc0000,
						  1ull << 40),
			 -EFAULT);
}

/* Without SEV the host view is plain memory and nothing is walked. */
static void test_hostmem_plain_without_sev(void **state)
{
	struct hostmem hm = {.mem = &mem};
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE), buf[64];

	(void)state;
	memset(ram, 0x11, 64);
	assert_int_equal(hostmem_read(&hm, 0xdead000, RAM_PAGE, buf, sizeof(buf)), HOSTMEM_PLAIN);
	assert_memory_equal(buf, ram, sizeof(buf));
	assert_int_equal(encrypt_calls, 0);
	assert_int_equal(hostmem_read(&hm, 0, mem.top, buf, 1), -EFAULT);
}

/* A C=1 page reads as ciphertext, different from its plaintext; C=0 as is. */
static void test_hostmem_private_reads_ciphertext(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT, .dram_encrypt = fake_encrypt};
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE);
	uint8_t *uc = mem_gpa_to_hva(&mem, MEM_UCALL_GPA, PAGE_SIZE);
	uint8_t buf[PAGE_SIZE], want[PAGE_SIZE];

	(void)state;
	for (unsigned i = 0; i < PAGE_SIZE; i++)
		ram[i] = uc[i] = (uint8_t)i;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, PAGE_SIZE), HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(buf, ram, PAGE_SIZE);
	fake_encrypt(NULL, RAM_PAGE, ram, want, PAGE_SIZE);
	assert_memory_equal(buf, want, PAGE_SIZE);
	/* Guest RAM keeps the plaintext: the ciphertext is only the host's view. */
	assert_int_equal(ram[1], 1);
	/* A sub-range of a private page is that part of the page's ciphertext. */
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE + 100, buf, 8), HOSTMEM_CIPHERTEXT);
	assert_memory_equal(buf, want + 100, 8);
	/* The ucall page is shared: plain. */
	assert_int_equal(hostmem_read(&hm, PML4_GPA, MEM_UCALL_GPA, buf, PAGE_SIZE), HOSTMEM_PLAIN);
	assert_memory_equal(buf, uc, PAGE_SIZE);
}

/* A read across a shared and a private page: plain part plain, rest cipher. */
static void test_hostmem_mixed_range(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT, .dram_encrypt = fake_encrypt};
	uint64_t last = mem.fw_shared_end - PAGE_SIZE; /* last shared page */
	uint8_t *p = mem_gpa_to_hva(&mem, last, 2 * PAGE_SIZE), buf[32], want[PAGE_SIZE];

	(void)state;
	memset(p, 0x77, 2 * PAGE_SIZE);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, last + PAGE_SIZE - 16, buf, sizeof(buf)),
			 HOSTMEM_CIPHERTEXT);
	assert_memory_equal(buf, p, 16);
	fake_encrypt(NULL, last + PAGE_SIZE, p + PAGE_SIZE, want, PAGE_SIZE);
	assert_memory_equal(buf + 16, want, 16);
}

/* The guest flips a C-bit: the next read sees the new view (nothing cached). */
static void test_hostmem_cbit_flip_changes_view(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT, .dram_encrypt = fake_encrypt};
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE), buf[16];
	uint64_t *pde = leaf_of(RAM_PAGE);

	(void)state;
	memset(ram, 0x42, 16);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 16), HOSTMEM_CIPHERTEXT);
	*pde &= ~CBIT;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 16), HOSTMEM_PLAIN);
	assert_memory_equal(buf, ram, 16);
	*pde |= CBIT;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 16), HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(buf, ram, 16);
}

/*
 * hostmem_read_page: the page's view as hostmem_read gives it, or nothing
 * computed when DRAM holds the kind of bytes skip names; a C-bit flip is
 * seen in the same call that reads the new view.
 */
static void test_hostmem_read_page_skip(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT, .dram_encrypt = fake_encrypt};
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE);
	uint8_t buf[PAGE_SIZE], want[PAGE_SIZE];
	uint64_t *pde = leaf_of(RAM_PAGE);

	(void)state;
	fill_pattern(ram, PAGE_SIZE, 3);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, want, PAGE_SIZE),
			 HOSTMEM_CIPHERTEXT);
	encrypt_calls = 0;
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, -1, buf), HOSTMEM_CIPHERTEXT);
	assert_memory_equal(buf, want, PAGE_SIZE);
	assert_int_equal(encrypt_calls, 1);
	/* Still ciphertext: the kind alone, the buffer untouched, no encryption. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, HOSTMEM_CIPHERTEXT, buf),
			 HOSTMEM_CIPHERTEXT);
	assert_int_equal(buf[0], 0xee);
	assert_int_equal(encrypt_calls, 1);
	/* The guest maps it C=0: the plain view, read by the same call. */
	*pde &= ~CBIT;
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, HOSTMEM_CIPHERTEXT, buf),
			 HOSTMEM_PLAIN);
	assert_memory_equal(buf, ram, PAGE_SIZE);
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, HOSTMEM_PLAIN, buf),
			 HOSTMEM_PLAIN);
	*pde |= CBIT;
	assert_int_equal(encrypt_calls, 1);
	/* Whole pages only, backed ones only; no cipher: only the kind. */
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE + 8, -1, buf), -EFAULT);
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, mem.top, -1, buf), -EFAULT);
	hm.dram_encrypt = NULL;
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, -1, buf), -ENOTSUP);
	assert_int_equal(hostmem_read_page(&hm, PML4_GPA, RAM_PAGE, HOSTMEM_CIPHERTEXT, buf),
			 HOSTMEM_CIPHERTEXT);
	/* Without SEV: plain memory, nothing walked. */
	hm.cbit_mask = 0;
	assert_int_equal(hostmem_read_page(&hm, 0xdead000, RAM_PAGE, -1, buf), HOSTMEM_PLAIN);
	assert_memory_equal(buf, ram, PAGE_SIZE);
}

/* Same plaintext at two GPAs: two ciphertexts (the tweak). */
static void test_hostmem_tweak_per_gpa(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT, .dram_encrypt = fake_encrypt};
	uint8_t *a = mem_gpa_to_hva(&mem, RAM_PAGE, 2 * PAGE_SIZE), x[64], y[64];

	(void)state;
	memset(a, 0x33, 2 * PAGE_SIZE);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, x, 64), HOSTMEM_CIPHERTEXT);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE + PAGE_SIZE, y, 64),
			 HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(x, y, 64);
}

/* No memory-controller cipher: a private page cannot be read at all. */
static void test_hostmem_private_without_cipher(void **state)
{
	struct hostmem hm = {.mem = &mem, .cbit_mask = CBIT};
	uint8_t buf[8];

	(void)state;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 8), -ENOTSUP);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, MEM_UCALL_GPA, buf, 8), HOSTMEM_PLAIN);
}

/*
 * The real cipher: a C=1 page reads as AES-XTS ciphertext under the VM's
 * key, which the PSP turns back into the guest's plaintext.
 */
static void test_hostmem_psp_private_reads_ciphertext(void **state)
{
	struct hostmem hm = psp_view();
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE);
	uint8_t buf[PAGE_SIZE], back[PAGE_SIZE], part[8];

	(void)state;
	fill_pattern(ram, PAGE_SIZE, 1);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, PAGE_SIZE), HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(buf, ram, PAGE_SIZE);
	assert_int_equal(psp_mem_decrypt(psp, RAM_PAGE, buf, back, PAGE_SIZE), 0);
	assert_memory_equal(back, ram, PAGE_SIZE);
	/* A sub-range is that part of the page's ciphertext. */
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE + 100, part, sizeof(part)),
			 HOSTMEM_CIPHERTEXT);
	assert_memory_equal(part, buf + 100, sizeof(part));
}

/* Same plaintext, two GPAs: two ciphertexts; moved or under another VM's key: garbage. */
static void test_hostmem_psp_tweak_and_key(void **state)
{
	struct hostmem hm = psp_view();
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, 2 * PAGE_SIZE);
	uint8_t a[PAGE_SIZE], b[PAGE_SIZE], back[PAGE_SIZE];
	struct psp *other;

	(void)state;
	fill_pattern(ram, PAGE_SIZE, 2);
	memcpy(ram + PAGE_SIZE, ram, PAGE_SIZE);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, a, PAGE_SIZE), HOSTMEM_CIPHERTEXT);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE + PAGE_SIZE, b, PAGE_SIZE),
			 HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(a, b, PAGE_SIZE);
	/* Page A's ciphertext copied to B's address. */
	assert_int_equal(psp_mem_decrypt(psp, RAM_PAGE + PAGE_SIZE, a, back, PAGE_SIZE), 0);
	assert_memory_not_equal(back, ram, PAGE_SIZE);
	/* Another VM (its own PSP, its own VEK) at the same address. */
	assert_int_equal(psp_soft_create(NULL, &other), 0);
	assert_int_equal(psp_mem_decrypt(other, RAM_PAGE, a, back, PAGE_SIZE), 0);
	psp_destroy(other);
	assert_memory_not_equal(back, ram, PAGE_SIZE);
}

/* C=0 reads as it is, with the cipher attached too. */
static void test_hostmem_psp_shared_reads_plain(void **state)
{
	struct hostmem hm = psp_view();
	uint8_t *uc = mem_gpa_to_hva(&mem, MEM_UCALL_GPA, PAGE_SIZE), buf[PAGE_SIZE];

	(void)state;
	fill_pattern(uc, PAGE_SIZE, 3);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, MEM_UCALL_GPA, buf, PAGE_SIZE), HOSTMEM_PLAIN);
	assert_memory_equal(buf, uc, PAGE_SIZE);
}

/* Flipping the C-bit in the page tables changes the view at the next read. */
static void test_hostmem_psp_cbit_flip(void **state)
{
	struct hostmem hm = psp_view();
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE);
	uint8_t first[64], buf[64];
	uint64_t *pde = leaf_of(RAM_PAGE);

	(void)state;
	fill_pattern(ram, 64, 4);
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, first, 64), HOSTMEM_CIPHERTEXT);
	assert_memory_not_equal(first, ram, 64);
	*pde &= ~CBIT;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 64), HOSTMEM_PLAIN);
	assert_memory_equal(buf, ram, 64);
	*pde |= CBIT;
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, buf, 64), HOSTMEM_CIPHERTEXT);
	assert_memory_equal(buf, first, 64);
}

/*
 * A host write into a private page lands in DRAM as written: the guest
 * then reads psp_mem_decrypt(what DRAM holds), garbage. XTS keeps every
 * 16-byte block its own (IEEE 1619), so a block-aligned partial write
 * garbles only the blocks it touches, as SEV's engine does.
 */
static void test_hostmem_psp_write_private(void **state)
{
	struct hostmem hm = psp_view();
	uint8_t *ram = mem_gpa_to_hva(&mem, RAM_PAGE, PAGE_SIZE);
	uint8_t w[PAGE_SIZE], want[PAGE_SIZE], dram[PAGE_SIZE], before[PAGE_SIZE];

	(void)state;
	fill_pattern(w, PAGE_SIZE, 5);
	assert_int_equal(hostmem_write(&hm, PML4_GPA, RAM_PAGE, w, PAGE_SIZE), 0);
	assert_int_equal(psp_mem_decrypt(psp, RAM_PAGE, w, want, PAGE_SIZE), 0);
	assert_memory_equal(ram, want, PAGE_SIZE);
	assert_memory_not_equal(ram, w, PAGE_SIZE);
	/* The host reads back what it wrote: DRAM holds it. */
	assert_int_equal(hostmem_read(&hm, PML4_GPA, RAM_PAGE, dram, PAGE_SIZE),
			 HOSTMEM_CIPHERTEXT);
	assert_memory_equal(dram, w, PAGE_SIZE);

	/* 16 bytes at offset 32 of a page whose plaintext the guest knows. */
	fill_pattern(ram, PAGE_SIZE, 6);
	memcpy(before, ram, PAGE_SIZE);
	assert_int_equal(psp_mem_encrypt(psp, RAM_PAGE, before, dram, PAGE_SIZE), 0);
	memcpy(dram + 32, w, 16);
	assert_int_equal(psp_mem_decrypt(psp, RAM_PAGE, dram, want, PAGE_SIZE), 0);
	assert_int_equal(hostmem_write(&hm, PML4_GPA, RAM_PAGE + 32, w, 16), 0);
	assert_memory_equal(ram, want, PAGE_SIZE);
	assert_memory_not_equal(ram + 32, before + 32, 16);
	assert_memory_equal(ram, before, 32);
	assert_memory_equal(ram + 48, before + 48, PAGE_SIZE - 48);

	/* A shared page takes the bytes as they are. */
	assert_int_equal(hostmem_write(&hm, PML4_GPA, MEM_UCALL_GPA, w, 64), 0);
	assert_memory_equal(mem_gpa_to_hva(&mem, MEM_UCALL_GPA, 64), w, 64);
}

/* The ucall pages: one per vCPU, a struct or string never crosses one. */
static void test_mem_ucall_pages(void **state)
{
	(void)state;
	assert_int_equal(mem.fw_shared_end, MEM_UCALL_GPA + 2 * PAGE_SIZE);
	assert_true(mem_in_ucall_page(&mem, MEM_UCALL_GPA, 56));
	assert_true(mem_in_ucall_page(&mem, MEM_UCALL_GPA + PAGE_SIZE + 4040, 56));
	assert_false(mem_in_ucall_page(&mem, MEM_UCALL_GPA + 4064, 56));
	assert_false(mem_in_ucall_page(&mem, MEM_UCALL_GPA + 2 * PAGE_SIZE, 8));
	assert_false(mem_in_ucall_page(&mem, MEM_UCALL_GPA - 8, 8));
	assert_false(mem_in_ucall_page(&mem, MEM_UCALL_GPA, PAGE_SIZE + 1));
	assert_true(mem_ucall_visible(&mem, RAM_PAGE, 56));
	assert_false(mem_ucall_visible(&mem, MEM_FW_SHARED_GPA, 56));
	assert_int_equal(mem_set_ucall_pages(&mem, MEM_UCALL_MAX + 1), -EINVAL);
	assert_int_equal(mem_set_ucall_pages(&mem, MEM_UCALL_MAX), 0);
	assert_int_equal(mem.fw_shared_end, MEM_HIGH_RAM_START);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_oracle_firmware_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_map_encrypt_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_plain_without_sev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_private_reads_ciphertext, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_mixed_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_cbit_flip_changes_view, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_read_page_skip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_tweak_per_gpa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_private_without_cipher, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostmem_psp_private_reads_ciphertext,
						setup_psp, teardown_psp),
		cmocka_unit_test_setup_teardown(test_hostmem_psp_tweak_and_key, setup_psp,
						teardown_psp),
		cmocka_unit_test_setup_teardown(test_hostmem_psp_shared_reads_plain, setup_psp,
						teardown_psp),
		cmocka_unit_test_setup_teardown(test_hostmem_psp_cbit_flip, setup_psp,
						teardown_psp),
		cmocka_unit_test_setup_teardown(test_hostmem_psp_write_private, setup_psp,
						teardown_psp),
		cmocka_unit_test_setup_teardown(test_mem_ucall_pages, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
