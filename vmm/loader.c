// SPDX-License-Identifier: GPL-2.0-only
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -ENOEXEC;
}

static int check_segments(struct elf_image *img, char *err, size_t errlen)
{
	bool entry_ok = false;

	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];

		if (s->filesz > s->memsz)
			return fail(err, errlen, "segment %u: p_filesz %#lx > p_memsz %#lx", i,
				    s->filesz, s->memsz);
		if (!range_within(s->offset, s->filesz, 0, img->size))
			return fail(err, errlen,
				    "segment %u: file data [%#lx, +%#lx) beyond end of file", i,
				    s->offset, s->filesz);
		if (s->paddr + s->memsz < s->paddr)
			return fail(err, errlen, "segment %u: address %#lx + size %#lx overflows",
				    i, s->paddr, s->memsz);
		for (unsigned j = 0; j < i; j++) {
			const struct elf_segment *o = &img->seg[j];

			if (ranges_overlap(s->paddr, s->memsz, o->paddr, o->memsz))
				return fail(err, errlen, "segments %u and %u overlap", j, i);
		}
		if ((s->flags & PF_X) && img->entry >= s->paddr && img->entry - s->paddr < s->memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return fail(err, errlen, "entry point %#lx is not inside an executable segment",
			    img->entry);
	return 0;
}

int elf_parse(const void *buf, size_t size, struct elf_image *img, char *err, size_t errlen)
{
	const uint8_t *ident = buf;
	Elf *e;
	GElf_Ehdr eh;
	size_t phnum;
	int r = -ENOEXEC;

	memset(img, 0, sizeof(*img));
	img->data = buf;
	img->size = size;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(err, errlen, "libelf: %s", elf_errmsg(-1));
	/*
	 * Identity and size first, on the raw bytes: for a file cut inside its
	 * headers libelf clamps elf_getphdrnum() to what fits and then says
	 * "no PT_LOAD segment" or "invalid data", which names no cause.
	 */
	if (size < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (ident[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen,
			    "ELF class %u is not ELFCLASS64 (a 64-bit guest is required)",
			    ident[EI_CLASS]);
	if (ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not little-endian (EI_DATA %u)", ident[EI_DATA]);
	if (size < sizeof(Elf64_Ehdr))
		return fail(err, errlen, "truncated ELF header (%zu of %zu bytes)", size,
			    sizeof(Elf64_Ehdr));
	/* libelf wants a mutable buffer but does not write to it read-only. */
	e = elf_memory((char *)buf, size);
	if (!e)
		return fail(err, errlen, "libelf: %s", elf_errmsg(-1));
	if (elf_kind(e) != ELF_K_ELF) {
		fail(err, errlen, "not an ELF object");
		goto out;
	}
	if (!gelf_getehdr(e, &eh)) {
		fail(err, errlen, "bad ELF header: %s", elf_errmsg(-1));
		goto out;
	}
	if (eh.e_machine != EM_X86_64) {
		fail(err, errlen, "e_machine %u is not EM_X86_64", eh.e_machine);
		goto out;
	}
	if (eh.e_type != ET_EXEC) {
		fail(err, errlen, "e_type %u is not ET_EXEC", eh.e_type);
		goto out;
	}
	/* PN_XNUM (more than 65534 headers) makes no sense for a guest image. */
	if (eh.e_phnum == PN_XNUM) {
		fail(err, errlen, "extended program header numbering (e_phnum %#x) not supported",
		     eh.e_phnum);
		goto out;
	}
	if (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) {
		fail(err, errlen, "e_phentsize %u is not %zu", eh.e_phentsize, sizeof(Elf64_Phdr));
		goto out;
	}
	if (!range_within(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), 0, size)) {
		fail(err, errlen,
		     "program headers [%#lx, +%u * %zu) beyond end of file (%zu bytes): truncated?",
		     eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr), size);
		goto out;
	}
	if (elf_getphdrnum(e, &phnum) != 0 || phnum != eh.e_phnum) {
		fail(err, errlen, "bad program headers: %s", elf_errmsg(-1));
		goto out;
	}
	img->entry = eh.e_entry;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		struct elf_segment *s;

		if (!gelf_getphdr(e, (int)i, &ph)) {
			fail(err, errlen, "program header %zu: %s", i, elf_errmsg(-1));
			goto out;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->nr_segments == ELF_MAX_SEGMENTS) {
			fail(err, errlen, "more than %d PT_LOAD segments", ELF_MAX_SEGMENTS);
			goto out;
		}
		if (ph.p_vaddr != ph.p_paddr) {
			fail(err, errlen,
			     "segment %u: p_vaddr %#lx != p_paddr %#lx (identity map required)",
			     img->nr_segments, ph.p_vaddr, ph.p_paddr);
			goto out;
		}
		s = &img->seg[img->nr_segments++];
		s->paddr = ph.p_paddr;
		s->memsz = ph.p_memsz;
		s->filesz = ph.p_filesz;
		s->offset = ph.p_offset;
		s->flags = ph.p_flags;
	}
	if (!img->nr_segments) {
		fail(err, errlen, "no PT_LOAD segment");
		goto out;
	}
	r = check_segments(img, err, errlen);
out:
	elf_end(e);
	return r;
}

int elf_check_placement(const struct elf_image *img, const struct guest_mem *mem, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];

		if (mem_touches_vmm(mem, s->paddr, s->memsz))
			return fail(err, errlen,
				    "segment %u [%#lx, %#lx) overlaps the VMM region [%#lx, %#lx)",
				    i, s->paddr, s->paddr + s->memsz, mem->vmm_gpa,
				    mem->vmm_gpa + mem->vmm_size);
		if (!mem_is_ram(mem, s->paddr, s->memsz))
			return fail(err, errlen, "segment %u [%#lx, %#lx) is not inside guest RAM",
				    i, s->paddr, s->paddr + s->memsz);
	}
	return 0;
}

int elf_load(const struct elf_image *img, struct guest_mem *mem)
{
	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];
		uint8_t *dst = mem_gpa_to_hva(mem, s->paddr, s->memsz);

		if (!dst)
			return -EFAULT;
		memcpy(dst, img->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

int read_file(const char *path, size_t max, void **buf, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *p;
	size_t done = 0;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto err_close;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto err_close;
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		r = -ENOMEM;
		goto err_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, (size_t)st.st_size - done);

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			free(p);
			goto err_close;
		}
		done += (size_t)n;
	}
	close(fd);
	*buf = p;
	*size = done;
	return 0;
err_close:
	close(fd);
	return r;
}
