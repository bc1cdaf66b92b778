/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest physical memory: one anonymous mapping split into at most two
 * memslots around the PCI hole, the E820 map the guest is given, the
 * VMM-owned reserved region, and bounds-checked gpa -> hva translation.
 *
 * Layout (all constants in one place, as Firecracker does):
 *
 *   [0, 0x9f000)              RAM (conventional memory)
 *   [0x9f000, 0xa0000)        reserved (EBDA)
 *   [0xa0000, 0xc0000)        reserved, firmware-shared window (the VMM
 *                             marks it shared at boot, as OVMF marks MMIO)
 *   [0xc0000, 0x100000)       reserved (option ROMs, BIOS); its first
 *                             pages are the per-vCPU ucall pages (one a
 *                             vCPU), shared by the firmware like the GHCB
 *   [1 MiB, low_end - vmm)    RAM
 *   [low_end - vmm, low_end)  reserved, VMM region: start info, GDT,
 *                             page tables, boot params, modules
 *   [low_end, 4 GiB)          hole (only when RAM > 3 GiB)
 *   [4 GiB, 4 GiB + rest)     RAM (only when RAM > 3 GiB)
 */
#ifndef MINIVMM_MEMORY_H
#define MINIVMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minivmm/pvh.h"

#define MEM_MIN_SIZE	   (16ull << 20)
#define MEM_MAX_SIZE	   (1ull << 40) /* 1 TiB */
#define MEM_LOW_RAM_END	   0x9f000ull
#define MEM_EBDA_END	   0xa0000ull
#define MEM_FW_SHARED_GPA  0xa0000ull
#define MEM_FW_SHARED_SIZE 0x20000ull
#define MEM_HIGH_RAM_START 0x100000ull
/* vCPU i's ucall page (our GHCB) is MEM_UCALL_GPA + i * 4 KiB. */
#define MEM_UCALL_GPA	   0xc0000ull
#define MEM_UCALL_MAX	   ((MEM_HIGH_RAM_START - MEM_UCALL_GPA) >> 12)
#define MEM_PCI_HOLE_START 0xc0000000ull /* 3 GiB */
#define MEM_4G		   0x100000000ull
#define MEM_E820_MAX	   8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct guest_mem {
	uint64_t ram_size;  /* bytes of RAM as given by -m */
	uint8_t *host;	    /* one mapping of ram_size bytes */
	uint64_t low_size;  /* bytes mapped at GPA 0 */
	uint64_t high_size; /* bytes mapped at GPA 4 GiB */
	uint64_t top;	    /* highest GPA + 1 */
	uint64_t vmm_gpa;   /* VMM region */
	uint64_t vmm_size;
	struct e820_entry e820[MEM_E820_MAX];
	unsigned nr_e820;
	/*
	 * Pages the firmware shares before boot: [MEM_FW_SHARED_GPA,
	 * fw_shared_end), the window followed by the ucall pages.
	 */
	unsigned nr_ucall_pages;
	uint64_t fw_shared_end;
};

/*
 * Compute the layout for ram_size bytes with a VMM region of vmm_size
 * bytes (page aligned) at the top of low RAM. Does not allocate.
 * Returns 0 or -EINVAL (size out of range, region does not fit).
 */
int mem_layout(struct guest_mem *mem, uint64_t ram_size, uint64_t vmm_size);
/* Allocate the host mapping (MAP_NORESERVE). 0 or -errno. */
int mem_alloc(struct guest_mem *mem);
void mem_free(struct guest_mem *mem);

/*
 * Host pointer for [gpa, gpa + len) if the whole range is backed by guest
 * memory (and does not cross from low to high RAM), NULL otherwise.
 */
void *mem_gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Is [gpa, gpa+len) backed by memory (any E820 type)? */
bool mem_is_backed(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Is [gpa, gpa+len) entirely inside one E820 RAM entry? */
bool mem_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Does [gpa, gpa+len) touch the VMM region? */
bool mem_touches_vmm(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* One ucall page per vCPU (n <= MEM_UCALL_MAX). 0 or -EINVAL. */
int mem_set_ucall_pages(struct guest_mem *mem, unsigned n);
/* Is [gpa, gpa+len) inside one ucall page? */
bool mem_in_ucall_page(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* May a ucall name [gpa, gpa+len)? RAM, or inside one ucall page. */
bool mem_ucall_visible(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Pages covered by the encryption bitmap: top / 4 KiB. */
uint64_t mem_nr_pages(const struct guest_mem *mem);

#endif
