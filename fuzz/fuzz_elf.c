// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the ELF loader. elf_parse() on the raw input, then on
 * success elf_check_placement() against a 256 MiB layout and elf_load()
 * into real guest memory, the way vm_create() does it. After a load every
 * segment must be in guest RAM, hold the file's bytes and be zero-filled
 * to p_memsz; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "memory.h"

static struct guest_mem mem;
static const uint8_t zeros[65536];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (mem_layout(&mem, 256ull << 20, 1ull << 20) || mem_alloc(&mem)) {
		fprintf(stderr, "fuzz_elf: cannot set up guest memory\n");
		abort();
	}
	return 0;
}

static void check_loaded(const struct elf_image *img)
{
	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];
		const uint8_t *dst = mem_gpa_to_hva(&mem, s->paddr, s->memsz);

		if (!dst || !mem_is_ram(&mem, s->paddr, s->memsz) ||
		    mem_touches_vmm(&mem, s->paddr, s->memsz))
			abort();
		if (memcmp(dst, img->data + s->offset, s->filesz))
			abort();
		for (uint64_t j = s->filesz; j < s->memsz; j += sizeof(zeros)) {
			uint64_t n = s->memsz - j < sizeof(zeros) ? s->memsz - j : sizeof(zeros);

			if (memcmp(dst + j, zeros, n))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img;
	char err[256];

	err[0] = '\0';
	if (elf_parse(data, size, &img, err, sizeof(err)) < 0) {
		/* Every refusal names its cause. */
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	if (img.nr_segments == 0 || img.nr_segments > ELF_MAX_SEGMENTS || img.data != data ||
	    img.size != size)
		abort();
	if (elf_check_placement(&img, &mem, err, sizeof(err)) < 0)
		return 0;
	if (elf_load(&img, &mem) < 0)
		abort(); /* placement said RAM: the load cannot miss */
	check_loaded(&img);
	return 0;
}
