// SPDX-License-Identifier: GPL-2.0-only
/* Start info (Xen PVH layout), mini-vmm boot parameters, firmware CPUID table. */
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

bool in_memmap(uint64_t gpa, uint64_t len)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;

	for (uint32_t i = 0; i < boot.si->memmap_entries; i++)
		if (gpa < mm[i].addr + mm[i].size && mm[i].addr < gpa + len)
			return true;
	return false;
}

bool memmap_covers(uint64_t gpa, uint64_t len)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;
	uint64_t at = gpa;

	while (at < gpa + len) {
		uint32_t i;

		for (i = 0; i < boot.si->memmap_entries; i++)
			if (at >= mm[i].addr && at < mm[i].addr + mm[i].size)
				break;
		if (i == boot.si->memmap_entries)
			return false;
		at = mm[i].addr + mm[i].size;
	}
	return true;
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
	p = find_module(MINIVMM_MOD_CPUID);
	if (p && p->size >= sizeof(struct minivmm_cpuid_table)) {
		const struct minivmm_cpuid_table *t = (const void *)p->paddr;

		if (t->magic == MINIVMM_CPUID_MAGIC && t->count <= MINIVMM_CPUID_MAX)
			boot.cpuid = t;
	}
	boot.nr_cpus = boot.params ? boot.params->nr_cpus : 1;
	if (boot.nr_cpus > MAX_CPUS)
		boot.nr_cpus = MAX_CPUS;
	mm = (const void *)boot.si->memmap_paddr;
	for (uint32_t i = 0; i < boot.si->memmap_entries; i++)
		if (mm[i].type == E820_TYPE_RAM && mm[i].addr + mm[i].size > boot.ram_top)
			boot.ram_top = mm[i].addr + mm[i].size;
}

void fw_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	for (uint32_t i = 0; boot.cpuid && i < boot.cpuid->count; i++) {
		const struct minivmm_cpuid_fn *f = &boot.cpuid->fn[i];

		if (f->eax_in == leaf && f->ecx_in == sub) {
			*a = f->eax;
			*b = f->ebx;
			*c = f->ecx;
			*d = f->edx;
			return;
		}
	}
	cpuid(leaf, sub, a, b, c, d);
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
