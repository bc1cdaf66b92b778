/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Xen PVH start info, as laid out by xen/include/public/arch-x86/hvm/start_info.h
 * (version 1, with the memory map). The VMM writes it, the guest reads it.
 */
#ifndef MINIVMM_PVH_H
#define MINIVMM_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC_VALUE  0x336ec578u
#define HVM_START_INFO_VERSION 1u

/* E820 types (ACPI address range types). */
#define E820_TYPE_RAM	   1u
#define E820_TYPE_RESERVED 2u
#define E820_TYPE_ACPI	   3u
#define E820_TYPE_NVS	   4u
#define E820_TYPE_UNUSABLE 5u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(__builtin_offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap");
_Static_assert(__builtin_offsetof(struct hvm_start_info, memmap_entries) == 48, "entries");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry size");

#endif
