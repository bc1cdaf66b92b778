// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: ucall_fetch() and guest_read_string() (ucall.h), the
 * two functions that read guest-controlled pointers. The input picks a
 * layout (16 MiB, or just over 3 GiB so RAM continues above 4 GiB), writes
 * a blob of guest memory near an interesting boundary (E820 and memslot
 * edges, the VMM region, 4 GiB, the top of the address space) and calls
 * both functions with fuzzed pointers and buffer sizes.
 *
 * Oracles (abort()): a fetched ucall is aligned, wholly in E820 RAM or
 * one ucall page (mem_ucall_visible), a
 * byte-exact copy of guest memory with a valid cmd and nargs; a string is
 * NUL-terminated within the buffer, every byte of it is the guest's byte
 * at that address in visible memory, and it stops only at the buffer end,
 * a NUL or the end of visible memory; -EFAULT only when the first byte is
 * not visible. (The plain host view: hostmem's SEV view has its own tests.) And the
 * memory helpers agree: mem_is_ram() implies mem_is_backed() and a
 * non-NULL mem_gpa_to_hva().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "sync.h"
#include "ucall.h"
#include "util.h"
#include "fuzz_input.h"

static struct guest_mem mems[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint64_t sizes[2] = {16ull << 20, (3ull << 30) + (16ull << 20)};

	(void)argc;
	(void)argv;
	for (unsigned i = 0; i < 2; i++)
		if (mem_layout(&mems[i], sizes[i], 1ull << 20) || mem_alloc(&mems[i]) ||
		    mem_set_ucall_pages(&mems[i], 2))
			abort();
	return 0;
}

/* An address near a boundary of this layout, or raw. */
static uint64_t pick_gpa(struct input *in, const struct guest_mem *mem)
{
	const uint64_t bases[] = {
		0,
		MEM_LOW_RAM_END,
		MEM_FW_SHARED_GPA,
		MEM_UCALL_GPA,
		MEM_UCALL_GPA + 2 * 4096,
		MEM_HIGH_RAM_START,
		0x200000,
		mem->vmm_gpa,
		mem->low_size,
		MEM_4G,
		mem->top,
		0,
	};
	uint8_t sel = u8(in);
	int16_t off;

	if (sel >= 0xf0)
		return u64(in);
	off = (int16_t)u16(in);
	return bases[sel % ARRAY_SIZE(bases)] + (uint64_t)(int64_t)off;
}

static void check_helpers(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (mem_is_ram(mem, gpa, len) &&
	    (!mem_is_backed(mem, gpa, len) || !mem_gpa_to_hva(mem, gpa, len)))
		abort();
	if (mem_is_backed(mem, gpa, len) != (mem_gpa_to_hva(mem, gpa, len) != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t cfg = u8(&in);
	struct guest_mem *mem = &mems[cfg & 1];
	const struct hostmem hm = {.mem = mem}; /* no SEV: the plain view */
	uint64_t blob_gpa = pick_gpa(&in, mem);
	size_t blob_len = u16(&in) % 1024;
	uint8_t *blob = NULL;
	struct ucall uc;
	uint64_t gpa;
	size_t bufsize;
	char *buf;
	int r;

	/* Guest memory content: a blob where the pointers below may land. */
	if (mem_gpa_to_hva(mem, blob_gpa, blob_len)) {
		blob = mem_gpa_to_hva(mem, blob_gpa, blob_len);
		take(&in, blob, blob_len);
	}

	/* ucall_fetch */
	gpa = (cfg & 2) ? pick_gpa(&in, mem) : blob_gpa;
	check_helpers(mem, gpa, sizeof(uc));
	memset(&uc, 0xa5, sizeof(uc));
	r = ucall_fetch(&hm, 0, gpa, &uc);
	if (r == 0) {
		const void *p = mem_gpa_to_hva(mem, gpa, sizeof(uc));

		if (gpa % 8 || !mem_ucall_visible(mem, gpa, sizeof(uc)) || !p ||
		    memcmp(p, &uc, sizeof(uc)) || uc.cmd == UCALL_NONE || uc.cmd >= UCALL_MAX ||
		    uc.nargs > UCALL_MAX_ARGS)
			abort();
	} else if (r == -EFAULT) {
		if (gpa % 8 || mem_ucall_visible(mem, gpa, sizeof(uc)))
			abort();
	} else if (r != -EINVAL) {
		abort();
	}
	(void)ucall_cmd_name(uc.cmd);
	(void)sync_tag_name(uc.args[0]);

	/* guest_read_string, with an exactly sized heap buffer for ASan */
	gpa = (cfg & 4) ? pick_gpa(&in, mem) : blob_gpa + (u8(&in) & 63);
	bufsize = (cfg & 8) ? u16(&in) % 600 : UCALL_STR_MAX;
	buf = malloc(bufsize ? bufsize : 1);
	if (!buf)
		abort();
	r = guest_read_string(&hm, 0, gpa, buf, bufsize);
	if (bufsize == 0) {
		if (r != -EINVAL)
			abort();
	} else if (r == -EFAULT) {
		if (mem_ucall_visible(mem, gpa, 1))
			abort();
	} else if (r == 0) {
		size_t len = strnlen(buf, bufsize);

		if (len == bufsize)
			abort(); /* not terminated */
		for (size_t i = 0; i < len; i++) {
			const char *c = mem_gpa_to_hva(mem, gpa + i, 1);

			if (gpa + i < gpa || !mem_ucall_visible(mem, gpa + i, 1) || !c ||
			    *c != buf[i])
				abort();
		}
		/* Stopped early only at a NUL or the end of RAM. */
		if (len + 1 < bufsize && gpa + len >= gpa && mem_ucall_visible(mem, gpa + len, 1) &&
		    *(const char *)mem_gpa_to_hva(mem, gpa + len, 1) != '\0')
			abort();
	} else {
		abort();
	}
	free(buf);

	if (blob)
		memset(blob, 0, blob_len);
	return 0;
}
