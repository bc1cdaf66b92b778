// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest memory management: a bump page allocator after the image, and our
 * own identity page tables over all RAM with U/S set at every level
 * (docs/PVM.md) and the emulated C-bit on every RAM mapping under SEV.
 * The PML4 sits on an odd 4 KiB frame (docs/PVM.md: native execution).
 * The direct map is built in a page-table buffer just after the image
 * (Linux's brk pgt_buf), everything else comes from the allocator.
 */
#include "guest.h"

#define PTE_P  1ull
#define PTE_W  2ull
#define PTE_US 4ull
#define PTE_A  0x20ull
#define PTE_D  0x40ull
#define PTE_PS 0x80ull
/*
 * Accessed and Dirty preset, as Linux's _KERNPG_TABLE and PAGE_KERNEL
 * (arch/x86/include/asm/pgtable_types.h: ___A | ___D): the CPU never has
 * to set them, and a shadow-paging hypervisor takes no fault to emulate
 * the A/D update (a read fault, then a write fault, on every page the
 * kernel writes under fresh page tables).
 */
#define PTE_TABLE (PTE_P | PTE_W | PTE_US | PTE_A | PTE_D)
#define PTE_ADDR  0x000ffffffffff000ull

extern char _end[];
uint64_t cbit_mask;
uint64_t boot_cr3;
static uint64_t next_free, pml4_gpa, alloc_limit;
/*
 * The direct map's page tables come from a buffer at a fixed place just
 * after the image, as Linux's first ones do: init_mem_mapping() builds the
 * direct map with alloc_low_pages(), which takes its pages from pgt_buf, in
 * the image's brk (arch/x86/mm/init.c early_alloc_pgt_buf,
 * RESERVE_BRK(early_pgt_alloc, INIT_PGT_BUF_SIZE): INIT_PGD_PAGE_COUNT = 6
 * pages), as head_64.S's early_top_pgt and early_dynamic_pgts are in the
 * image itself. Our image is not relocatable (it always loads at 1 MiB,
 * see kdump_start_info), so every generation builds its direct map in the
 * same frames, as a kexec'd kernel loaded at the same physical address
 * does. Once the buffer is used up, alloc_low_pages() goes to memblock:
 * here the allocator, as for all else (the split of a 2 MiB leaf takes its
 * page from there, as split_large_page() from the page allocator). On a
 * shadow-paging hypervisor this matters: the upper-level tables no longer
 * wander over frames where earlier generations kept their 4 KiB tables,
 * so the shadow pages kept for those stay valid and the new kernel's first
 * touches of its own memory take no fault.
 */
#define PGT_BUF_PAGES 6
static uint64_t pgt_buf_end, pgt_buf_top;
/*
 * The CR3 each CPU loaded, as Linux keeps it in cpu_tlbstate (loaded_mm,
 * built with build_cr3(), never read back from the register): a full flush
 * writes it again without reading CR3 first, a trap of its own on a
 * shadow-paging hypervisor. 0: not known (read the register).
 */
static uint64_t loaded_cr3[MAX_CPUS];

void mm_set_alloc_limit(uint64_t limit)
{
	alloc_limit = limit;
}

void load_cr3(uint64_t cr3)
{
	loaded_cr3[this_cpu()] = cr3;
	write_cr3(cr3);
}

void mm_cpu_entered(uint64_t cr3)
{
	loaded_cr3[this_cpu()] = cr3;
}

/* Not zeroed: a kernel does not clear a 2 MiB bounce pool it allocates. */
uint64_t alloc_pages(uint64_t n)
{
	uint64_t p = next_free;

	GUEST_ASSERT(n == 0 || is_ram(p, n * PAGE_SIZE));
	/* verify.c's pattern starts at the limit. */
	GUEST_ASSERT(!alloc_limit || p + n * PAGE_SIZE <= alloc_limit);
	next_free += n * PAGE_SIZE;
	return p;
}

static uint64_t alloc_table(void)
{
	uint64_t p;

	if (pgt_buf_end < pgt_buf_top) {
		p = pgt_buf_end;
		pgt_buf_end += PAGE_SIZE;
	} else {
		p = alloc_pages(1);
	}

	memset((void *)p, 0, PAGE_SIZE);
	return p;
}

uint64_t mm_cr3(void)
{
	return pml4_gpa;
}

static uint64_t *table(uint64_t e)
{
	return (uint64_t *)(e & PTE_ADDR);
}

void mm_init(void)
{
	uint64_t top = ALIGN_UP(boot.ram_top, SZ_1G), *pml4;

	/*
	 * The firmware's identity map, where kexec_jump goes back to. A kexec'd
	 * kernel is told (the handover, as it is told its start info): Linux's
	 * startup_64 reads no CR3 either. Only the first boot reads it.
	 */
	boot_cr3 = boot.fw_cr3 ? boot.fw_cr3 : read_cr3();
	pgt_buf_end = ALIGN_UP((uint64_t)_end, PAGE_SIZE);
	pgt_buf_top = pgt_buf_end + PGT_BUF_PAGES * PAGE_SIZE;
	GUEST_ASSERT(is_ram(pgt_buf_end, PGT_BUF_PAGES * PAGE_SIZE));
	/*
	 * What the kernel allocates beyond its page-table buffer lies elsewhere
	 * each generation, as a relocated kernel's allocations would.
	 */
	next_free = pgt_buf_top + (boot.generation % 8) * 2 * PAGE_SIZE;
	/* Odd frame for the PML4. */
	if (!((pgt_buf_end >> 12) & 1))
		pgt_buf_end += PAGE_SIZE;
	pml4_gpa = alloc_table();
	pml4 = (uint64_t *)pml4_gpa;
	for (uint64_t va = 0; va < top; va += SZ_2M) {
		uint64_t *l3, *l2, i4 = (va >> 39) & 511, i3 = (va >> 30) & 511;

		/*
		 * Only what the memory map describes, as Linux's direct map: a
		 * kdump kernel must not map the crashed kernel's RAM.
		 */
		if (!in_memmap(va, SZ_2M))
			continue;

		if (!(pml4[i4] & PTE_P))
			pml4[i4] = alloc_table() | PTE_TABLE;
		l3 = table(pml4[i4]);
		if (!(l3[i3] & PTE_P))
			l3[i3] = alloc_table() | PTE_TABLE;
		l2 = table(l3[i3]);
		/*
		 * Private by default: the C-bit on everything described, RAM and
		 * the reserved pages where the firmware left the boot data (start
		 * info, parameters, modules), which launch encrypted and which
		 * Linux reads encrypted too (early_memremap_is_setup_data() and
		 * friends). Mapped C=0 they read as ciphertext on hardware; here
		 * once a migration carried them as the private pages they are.
		 * What the firmware shared is made C=0 below.
		 */
		if (memmap_covers(va, SZ_2M)) {
			l2[(va >> 21) & 511] = va | PTE_TABLE | PTE_PS | cbit_mask;
		} else {
			/* Partly described (a kdump map): 4 KiB pages, the described ones. */
			uint64_t *pt = (uint64_t *)alloc_table();

			for (uint64_t i = 0; i < 512; i++) {
				uint64_t pa = va + i * PAGE_SIZE;

				if (in_memmap(pa, PAGE_SIZE))
					pt[i] = pa | PTE_TABLE | cbit_mask;
			}
			l2[(va >> 21) & 511] = (uint64_t)pt | PTE_TABLE;
		}
	}
	/*
	 * What the firmware shared (its window and the ucall pages, our
	 * GHCBs) is mapped C=0, as Linux maps the GHCB decrypted. No flush:
	 * these tables are not live yet, and loading them is the flush (as
	 * Linux populates early_top_pgt, then load_cr3()s it in
	 * x86_64_start_kernel/reset_early_page_tables, with no flush before).
	 */
	if (cbit_mask && boot.params && boot.params->fw_shared_size)
		set_cbit_noflush(boot.params->fw_shared_gpa,
				 boot.params->fw_shared_size / PAGE_SIZE, false);
	load_cr3(pml4_gpa);
}

/* The 2 MiB-level entry that maps va, or NULL where nothing does. */
static uint64_t *leaf_2m(uint64_t va)
{
	uint64_t e4 = ((uint64_t *)pml4_gpa)[(va >> 39) & 511], e3;

	if (!(e4 & PTE_P))
		return NULL;
	e3 = table(e4)[(va >> 30) & 511];
	if (!(e3 & PTE_P))
		return NULL;
	return &table(e3)[(va >> 21) & 511];
}

static uint64_t *leaf_2m_mapped(uint64_t va)
{
	uint64_t *pde = leaf_2m(va);

	GUEST_ASSERT(pde && (*pde & PTE_P));
	return pde;
}

/* Split a 2 MiB leaf into 512 4 KiB entries with the same attributes. */
static uint64_t *split(uint64_t *pde)
{
	uint64_t base = *pde & PTE_ADDR & ~(SZ_2M - 1), flags = *pde & ~PTE_ADDR & ~PTE_PS;
	uint64_t *pt = (uint64_t *)alloc_pages(1);

	for (int i = 0; i < 512; i++)
		pt[i] = (base + i * PAGE_SIZE) | flags;
	*pde = (uint64_t)pt | PTE_TABLE;
	return pt;
}

void set_cbit_noflush(uint64_t va, uint64_t npages, bool encrypted)
{
	uint64_t end = va + npages * PAGE_SIZE;

	while (va < end) {
		uint64_t *pde = leaf_2m_mapped(va), *pte;

		if ((*pde & PTE_PS) && !(va & (SZ_2M - 1)) && end - va >= SZ_2M) {
			*pde = encrypted ? (*pde | cbit_mask) : (*pde & ~cbit_mask);
			va += SZ_2M;
			continue;
		}
		if (*pde & PTE_PS)
			split(pde);
		pte = &table(*pde)[(va >> 12) & 511];
		*pte = encrypted ? (*pte | cbit_mask) : (*pte & ~cbit_mask);
		va += PAGE_SIZE;
	}
}

void flush_range(uint64_t va, uint64_t npages)
{
	/*
	 * One flush: on a shadow-paging hypervisor every invlpg is a trap
	 * (about 60 us on kvm_pvm), as Linux's cpa flushes a range at once.
	 */
	uint64_t cr3 = loaded_cr3[this_cpu()];

	if (npages == 1)
		invlpg(va);
	else
		write_cr3(cr3 ? cr3 : read_cr3());
}

void set_cbit_range(uint64_t va, uint64_t npages, bool encrypted)
{
	set_cbit_noflush(va, npages, encrypted);
	flush_range(va, npages);
}

uint64_t mm_for_each_shared(uint64_t lo, uint64_t hi, void (*fn)(uint64_t va, uint64_t npages))
{
	uint64_t total = 0, run = 0, run_start = 0;

	/* Runs of C=0 mappings of RAM in [lo, hi), from our own page tables. */
	for (uint64_t va = lo; va < hi;) {
		uint64_t *pde = leaf_2m(va), e, step;

		if (!pde || !(*pde & PTE_P)) {
			e = 0;
			step = SZ_2M - (va & (SZ_2M - 1));
		} else if (*pde & PTE_PS) {
			e = *pde;
			step = SZ_2M - (va & (SZ_2M - 1));
		} else {
			e = table(*pde)[(va >> 12) & 511];
			step = PAGE_SIZE;
		}
		if (step > hi - va)
			step = hi - va;
		if ((e & PTE_P) && !(e & cbit_mask) && is_ram(va, PAGE_SIZE)) {
			if (!run)
				run_start = va;
			run += step / PAGE_SIZE;
		} else if (run) {
			fn(run_start, run);
			total += run;
			run = 0;
		}
		va += step;
	}
	if (run) {
		fn(run_start, run);
		total += run;
	}
	return total;
}

bool page_is_encrypted(uint64_t va)
{
	uint64_t *pde = leaf_2m_mapped(va);

	if (*pde & PTE_PS)
		return *pde & cbit_mask;
	return table(*pde)[(va >> 12) & 511] & cbit_mask;
}
