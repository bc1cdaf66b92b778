/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ELF guest loader (libelf). The guest is a freestanding ELFCLASS64,
 * EM_X86_64, ET_EXEC image whose PT_LOAD segments are placed at p_paddr.
 * The VMM starts it on an identity map, so p_vaddr must equal p_paddr.
 */
#ifndef MINIVMM_LOADER_H
#define MINIVMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"

#define ELF_MAX_SEGMENTS  16
#define ELF_MAX_FILE_SIZE (64ull << 20)

struct elf_segment {
	uint64_t paddr;
	uint64_t memsz;
	uint64_t filesz;
	uint64_t offset;
	uint32_t flags; /* PF_X | PF_W | PF_R */
};

struct elf_image {
	const uint8_t *data; /* the file, not owned */
	size_t size;
	uint64_t entry;
	unsigned nr_segments;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
};

/*
 * Validate the file's structure: class, data, machine, type, program
 * headers inside the file, filesz <= memsz, no overflow, no overlaps, an
 * entry inside an executable segment. On error returns -ENOEXEC and a
 * one-line reason in err.
 */
int elf_parse(const void *buf, size_t size, struct elf_image *img, char *err, size_t errlen);
/* Every segment inside E820 RAM and outside the VMM region. -ENOEXEC. */
int elf_check_placement(const struct elf_image *img, const struct guest_mem *mem, char *err,
			size_t errlen);
/* Copy segments to guest memory and zero the rest of p_memsz. */
int elf_load(const struct elf_image *img, struct guest_mem *mem);
/* Read a whole file (at most max bytes) into a malloc'd buffer. -errno. */
int read_file(const char *path, size_t max, void **buf, size_t *size);

#endif
