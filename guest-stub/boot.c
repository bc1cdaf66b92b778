// SPDX-License-Identifier: GPL-2.0-only
/* Start info (Xen PVH layout) and mini-vmm boot parameters; the command line is cmdline.c. */
#include "guest.h"

struct boot boot;

static const struct hvm_modlist_entry *find_module(const char *name)
{
	const struct hvm_modlist_entry *m = (const void *)boot.si->modlist_paddr;

	for (uint32_t i = 0; i < boot.si->nr_modules; i++)
		if (m[i].cmdline_paddr && !strcmp((const char *)m[i].cmdline_paddr, name))
			return &m[i];
	return NULL;
}

bool is_ram(uint64_t gpa, uint64_t len)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;

	for (uint32_t i = 0; i < boot.si->memmap_entries; i++)
		if (mm[i].type == E820_TYPE_RAM && gpa >= mm[i].addr &&
		    gpa + len <= mm[i].addr + mm[i].size)
			return true;
	return false;
}

void boot_parse(uint64_t start_info)
{
	const struct hvm_memmap_table_entry *mm;
	const struct hvm_modlist_entry *p;

	boot.si = (const void *)start_info;
	GUEST_ASSERT(boot.si && boot.si->magic == HVM_START_MAGIC_VALUE);
	boot.cmdline = boot.si->cmdline_paddr ? (const char *)boot.si->cmdline_paddr : "";
	p = find_module(MINIVMM_MOD_PARAMS);
	if (p) {
		const struct minivmm_params *prm = (const void *)p->paddr;

		if (prm->magic == MINIVMM_PARAMS_MAGIC && prm->version == MINIVMM_PARAMS_VERSION)
			boot.params = prm;
	}
	boot.kernel = find_module(MINIVMM_MOD_KERNEL);
	if (!boot.kernel && boot.si->nr_modules)
		boot.kernel = (const void *)boot.si->modlist_paddr;
	boot.script = find_module(MINIVMM_MOD_SCRIPT);
	boot.nr_cpus = boot.params ? boot.params->nr_cpus : 1;
	if (boot.nr_cpus > MAX_CPUS)
		boot.nr_cpus = MAX_CPUS;
	mm = (const void *)boot.si->memmap_paddr;
	for (uint32_t i = 0; i < boot.si->memmap_entries; i++)
		if (mm[i].type == E820_TYPE_RAM && mm[i].addr + mm[i].size > boot.ram_top)
			boot.ram_top = mm[i].addr + mm[i].size;
}

void boot_print(void)
{
	static const char *const types[] = {"?", "RAM", "reserved", "ACPI", "NVS", "unusable"};
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;

	printf("mini-vmm guest: generation %u, %u cpu(s), cmdline '%s'\n", boot.generation,
	       boot.nr_cpus, boot.cmdline);
	printf("memmap (%u entries):\n", boot.si->memmap_entries);
	for (uint32_t i = 0; i < boot.si->memmap_entries; i++)
		printf("  [%#012lx-%#012lx) %s\n", mm[i].addr, mm[i].addr + mm[i].size,
		       mm[i].type < 6 ? types[mm[i].type] : "?");
	printf("modules: %u\n", boot.si->nr_modules);
}
