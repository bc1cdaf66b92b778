// SPDX-License-Identifier: GPL-2.0-only
#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

static void e820_add(struct guest_mem *mem, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size && mem->nr_e820 < MEM_E820_MAX)
		mem->e820[mem->nr_e820++] = (struct e820_entry){addr, size, type};
}

int mem_layout(struct guest_mem *mem, uint64_t ram_size, uint64_t vmm_size)
{
	uint64_t low_end;

	memset(mem, 0, sizeof(*mem));
	if (ram_size < MEM_MIN_SIZE || ram_size > MEM_MAX_SIZE || !IS_ALIGNED(ram_size, SZ_1M))
		return -EINVAL;
	if (!vmm_size || !IS_ALIGNED(vmm_size, PAGE_SIZE))
		return -EINVAL;
	mem->ram_size = ram_size;
	mem->low_size = ram_size > MEM_PCI_HOLE_START ? MEM_PCI_HOLE_START : ram_size;
	mem->high_size = ram_size - mem->low_size;
	mem->top = mem->high_size ? MEM_4G + mem->high_size : mem->low_size;
	low_end = mem->low_size;
	/* Keep at least 4 MiB of RAM above 1 MiB for the guest image. */
	if (vmm_size > low_end || low_end - vmm_size < MEM_HIGH_RAM_START + (4ull << 20))
		return -EINVAL;
	mem->vmm_size = vmm_size;
	mem->vmm_gpa = low_end - vmm_size;

	e820_add(mem, 0, MEM_LOW_RAM_END, E820_TYPE_RAM);
	e820_add(mem, MEM_LOW_RAM_END, MEM_EBDA_END - MEM_LOW_RAM_END, E820_TYPE_RESERVED);
	e820_add(mem, MEM_FW_SHARED_GPA, MEM_FW_SHARED_SIZE, E820_TYPE_RESERVED);
	e820_add(mem, MEM_FW_SHARED_GPA + MEM_FW_SHARED_SIZE,
		 MEM_HIGH_RAM_START - (MEM_FW_SHARED_GPA + MEM_FW_SHARED_SIZE), E820_TYPE_RESERVED);
	e820_add(mem, MEM_HIGH_RAM_START, mem->vmm_gpa - MEM_HIGH_RAM_START, E820_TYPE_RAM);
	e820_add(mem, mem->vmm_gpa, vmm_size, E820_TYPE_RESERVED);
	if (mem->high_size)
		e820_add(mem, MEM_4G, mem->high_size, E820_TYPE_RAM);
	mem->fw_shared_end = MEM_FW_SHARED_GPA + MEM_FW_SHARED_SIZE;
	return 0;
}

int mem_set_ucall_pages(struct guest_mem *mem, unsigned n)
{
	_Static_assert(MEM_UCALL_GPA == MEM_FW_SHARED_GPA + MEM_FW_SHARED_SIZE,
		       "the firmware-shared set is one range");
	if (n > MEM_UCALL_MAX)
		return -EINVAL;
	mem->nr_ucall_pages = n;
	mem->fw_shared_end = MEM_UCALL_GPA + (uint64_t)n * PAGE_SIZE;
	return 0;
}

bool mem_in_ucall_page(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t end = MEM_UCALL_GPA + (uint64_t)mem->nr_ucall_pages * PAGE_SIZE;

	return gpa >= MEM_UCALL_GPA && gpa < end && len <= PAGE_SIZE &&
	       (gpa & (PAGE_SIZE - 1)) + len <= PAGE_SIZE;
}

bool mem_ucall_visible(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return mem_is_ram(mem, gpa, len) || mem_in_ucall_page(mem, gpa, len);
}

int mem_alloc(struct guest_mem *mem)
{
	void *p = mmap(NULL, mem->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	mem->host = p;
	return 0;
}

void mem_free(struct guest_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->ram_size);
	mem->host = NULL;
}

void *mem_gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (!mem->host)
		return NULL;
	if (range_within(gpa, len, 0, mem->low_size))
		return mem->host + gpa;
	if (mem->high_size && range_within(gpa, len, MEM_4G, mem->high_size))
		return mem->host + mem->low_size + (gpa - MEM_4G);
	return NULL;
}

bool mem_is_backed(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return range_within(gpa, len, 0, mem->low_size) ||
	       (mem->high_size && range_within(gpa, len, MEM_4G, mem->high_size));
}

bool mem_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_e820; i++) {
		const struct e820_entry *e = &mem->e820[i];

		if (e->type == E820_TYPE_RAM && range_within(gpa, len, e->addr, e->size))
			return true;
	}
	return false;
}

bool mem_touches_vmm(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len && gpa + len < gpa)
		return true;
	return ranges_overlap(gpa, len, mem->vmm_gpa, mem->vmm_size);
}

uint64_t mem_nr_pages(const struct guest_mem *mem)
{
	return mem->top >> PAGE_SHIFT;
}
