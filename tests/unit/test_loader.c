// SPDX-License-Identifier: GPL-2.0-only
/*
 * ELF validation (elf_parse, elf_check_placement) and loading (elf_load) on
 * images built by hand in memory: one Elf64_Ehdr, the program headers right
 * after it, then the segment payloads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "memory.h"
#include "util.h"

#define IMG_MAX	    (64 * 1024)
#define TEXT_GPA    0x100000ull
#define DATA_GPA    0x110000ull
#define PAYLOAD_OFF 0x1000ull

struct test_elf {
	uint8_t buf[IMG_MAX];
	size_t size;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static struct test_elf te;
static char err[256];
static struct elf_image img;

/* A valid two-segment image: text (R X, 0x100 bytes) and data (R W, bss tail). */
static void build_valid(void)
{
	memset(&te, 0, sizeof(te));
	te.eh = (Elf64_Ehdr *)te.buf;
	te.ph = (Elf64_Phdr *)(te.buf + sizeof(Elf64_Ehdr));
	memcpy(te.eh->e_ident, ELFMAG, SELFMAG);
	te.eh->e_ident[EI_CLASS] = ELFCLASS64;
	te.eh->e_ident[EI_DATA] = ELFDATA2LSB;
	te.eh->e_ident[EI_VERSION] = EV_CURRENT;
	te.eh->e_type = ET_EXEC;
	te.eh->e_machine = EM_X86_64;
	te.eh->e_version = EV_CURRENT;
	te.eh->e_entry = TEXT_GPA + 0x10;
	te.eh->e_phoff = sizeof(Elf64_Ehdr);
	te.eh->e_ehsize = sizeof(Elf64_Ehdr);
	te.eh->e_phentsize = sizeof(Elf64_Phdr);
	te.eh->e_phnum = 2;
	te.ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_flags = PF_R | PF_X,
				.p_offset = PAYLOAD_OFF,
				.p_vaddr = TEXT_GPA,
				.p_paddr = TEXT_GPA,
				.p_filesz = 0x100,
				.p_memsz = 0x100,
				.p_align = 0x1000};
	te.ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_flags = PF_R | PF_W,
				.p_offset = PAYLOAD_OFF + 0x1000,
				.p_vaddr = DATA_GPA,
				.p_paddr = DATA_GPA,
				.p_filesz = 0x80,
				.p_memsz = 0x3000,
				.p_align = 0x1000};
	for (unsigned i = 0; i < 0x100; i++)
		te.buf[PAYLOAD_OFF + i] = (uint8_t)(0xc0 + i);
	for (unsigned i = 0; i < 0x80; i++)
		te.buf[PAYLOAD_OFF + 0x1000 + i] = (uint8_t)(0x40 + i);
	te.size = PAYLOAD_OFF + 0x2000;
}

static int parse(void)
{
	memset(err, 0, sizeof(err));
	return elf_parse(te.buf, te.size, &img, err, sizeof(err));
}

/* Parse must fail with -ENOEXEC and a non-empty message containing `want`. */
static void expect_reject(const char *want)
{
	int r = parse();

	if (r != -ENOEXEC)
		fail_msg("elf_parse returned %d, want -ENOEXEC (want message '%s')", r, want);
	if (!err[0])
		fail_msg("empty error message (want '%s')", want);
	if (want && !strstr(err, want))
		fail_msg("message '%s' does not contain '%s'", err, want);
}

static int setup(void **state)
{
	build_valid();
	return 0;
}

static void test_loader_valid(void **state)
{
	assert_int_equal(parse(), 0);
	assert_int_equal(img.nr_segments, 2);
	assert_int_equal(img.entry, TEXT_GPA + 0x10);
	assert_int_equal(img.seg[0].paddr, TEXT_GPA);
	assert_int_equal(img.seg[0].filesz, 0x100);
	assert_int_equal(img.seg[0].offset, PAYLOAD_OFF);
	assert_true(img.seg[0].flags & PF_X);
	assert_int_equal(img.seg[1].paddr, DATA_GPA);
	assert_int_equal(img.seg[1].memsz, 0x3000);
	assert_ptr_equal(img.data, te.buf);
	assert_int_equal(img.size, te.size);
}

static void test_loader_not_elf(void **state)
{
	memcpy(te.buf, "#!/bin/sh\n", 10);
	expect_reject("not an ELF");
	te.size = 3;
	expect_reject("not an ELF");
	te.size = 0;
	expect_reject("not an ELF");
}

static void test_loader_wrong_class(void **state)
{
	te.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject("ELFCLASS64");
	te.eh->e_ident[EI_CLASS] = ELFCLASSNONE;
	expect_reject("ELFCLASS64");
}

static void test_loader_wrong_machine(void **state)
{
	te.eh->e_machine = EM_AARCH64;
	expect_reject("EM_X86_64");
	te.eh->e_machine = EM_386;
	expect_reject("e_machine 3");
}

static void test_loader_wrong_type(void **state)
{
	te.eh->e_type = ET_DYN;
	expect_reject("ET_EXEC");
	te.eh->e_type = ET_REL;
	expect_reject("ET_EXEC");
}

static void test_loader_big_endian(void **state)
{
	te.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject("little-endian");
}

static void test_loader_truncated_header(void **state)
{
	te.size = sizeof(Elf64_Ehdr) - 1;
	expect_reject("truncated");
	te.size = EI_NIDENT;
	expect_reject("truncated");
}

static void test_loader_truncated_phdrs(void **state)
{
	/* Header whole, second program header cut in the middle. */
	te.size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 10;
	expect_reject("program headers");
	/* Cut exactly after the first one: libelf alone would drop the second. */
	te.size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	expect_reject("program headers");
	/* Cut right after the ELF header. */
	te.size = sizeof(Elf64_Ehdr);
	expect_reject("program headers");
}

static void test_loader_phoff_beyond_file(void **state)
{
	te.eh->e_phoff = te.size + 0x1000;
	expect_reject("program headers");
	te.eh->e_phoff = UINT64_MAX - 8;
	expect_reject("program headers");
}

static void test_loader_bad_phentsize(void **state)
{
	te.eh->e_phentsize = sizeof(Elf64_Phdr) - 8;
	expect_reject("e_phentsize");
}

static void test_loader_data_beyond_file(void **state)
{
	te.ph[0].p_filesz = te.ph[0].p_memsz = te.size;
	expect_reject("beyond end of file");
	build_valid();
	te.ph[1].p_offset = UINT64_MAX - 0x10;
	expect_reject("beyond end of file");
}

static void test_loader_filesz_above_memsz(void **state)
{
	te.ph[1].p_filesz = te.ph[1].p_memsz + 1;
	expect_reject("p_filesz");
}

static void test_loader_overlap(void **state)
{
	te.ph[1].p_vaddr = te.ph[1].p_paddr = TEXT_GPA + 0x80;
	expect_reject("overlap");
	/* Touching is fine. */
	build_valid();
	te.ph[1].p_vaddr = te.ph[1].p_paddr = TEXT_GPA + 0x100;
	assert_int_equal(parse(), 0);
}

static void test_loader_address_overflow(void **state)
{
	te.ph[1].p_vaddr = te.ph[1].p_paddr = 0xfffffffffffff000ull;
	te.ph[1].p_memsz = 0x2000;
	expect_reject("overflow");
}

static void test_loader_entry_outside(void **state)
{
	te.eh->e_entry = 0x200000;
	expect_reject("entry");
	te.eh->e_entry = TEXT_GPA + 0x100; /* one past the end */
	expect_reject("entry");
	te.eh->e_entry = TEXT_GPA + 0xff; /* last byte: fine */
	assert_int_equal(parse(), 0);
}

static void test_loader_entry_not_executable(void **state)
{
	te.eh->e_entry = DATA_GPA + 0x10;
	expect_reject("executable");
}

static void test_loader_vaddr_ne_paddr(void **state)
{
	te.ph[1].p_vaddr = 0xffffffff80000000ull + DATA_GPA;
	expect_reject("p_vaddr");
}

static void test_loader_no_load(void **state)
{
	te.ph[0].p_type = PT_NOTE;
	te.ph[1].p_type = PT_GNU_STACK;
	expect_reject("PT_LOAD");
	te.eh->e_phnum = 0;
	expect_reject("PT_LOAD");
	/* PT_LOAD with p_memsz 0 does not count either. */
	build_valid();
	te.ph[0].p_memsz = te.ph[0].p_filesz = 0;
	te.ph[1].p_memsz = te.ph[1].p_filesz = 0;
	expect_reject("PT_LOAD");
}

static void test_loader_too_many_segments(void **state)
{
	unsigned n = ELF_MAX_SEGMENTS + 1;

	te.eh->e_phnum = (uint16_t)n;
	for (unsigned i = 0; i < n; i++)
		te.ph[i] = (Elf64_Phdr){.p_type = PT_LOAD,
					.p_flags = PF_R | PF_X,
					.p_offset = PAYLOAD_OFF,
					.p_vaddr = TEXT_GPA + i * 0x1000,
					.p_paddr = TEXT_GPA + i * 0x1000,
					.p_filesz = 0x10,
					.p_memsz = 0x1000};
	expect_reject("PT_LOAD");
	/* Exactly the maximum is accepted. */
	te.eh->e_phnum = ELF_MAX_SEGMENTS;
	assert_int_equal(parse(), 0);
	assert_int_equal(img.nr_segments, ELF_MAX_SEGMENTS);
}

/* ---- placement against a memory layout ---- */

static struct guest_mem mem;

static int setup_mem(void **state)
{
	build_valid();
	assert_int_equal(mem_layout(&mem, 16ull << 20, 1ull << 20), 0);
	return 0;
}

static int teardown_mem(void **state)
{
	mem_free(&mem);
	return 0;
}

static void expect_misplaced(const char *want)
{
	assert_int_equal(parse(), 0);
	memset(err, 0, sizeof(err));
	assert_int_equal(elf_check_placement(&img, &mem, err, sizeof(err)), -ENOEXEC);
	assert_true(err[0] != '\0');
	if (!strstr(err, want))
		fail_msg("message '%s' does not contain '%s'", err, want);
}

static void test_loader_placement_ok(void **state)
{
	assert_int_equal(parse(), 0);
	assert_int_equal(elf_check_placement(&img, &mem, err, sizeof(err)), 0);
	/* Low RAM below the EBDA is RAM too. */
	te.ph[1].p_vaddr = te.ph[1].p_paddr = 0x1000;
	assert_int_equal(parse(), 0);
	assert_int_equal(elf_check_placement(&img, &mem, err, sizeof(err)), 0);
}

static void test_loader_placement_outside_ram(void **state)
{
	/* Beyond the end of memory. */
	te.ph[1].p_vaddr = te.ph[1].p_paddr = 64ull << 20;
	expect_misplaced("not inside guest RAM");
	/* In the firmware window (reserved, not RAM). */
	build_valid();
	te.ph[1].p_vaddr = te.ph[1].p_paddr = MEM_FW_SHARED_GPA;
	expect_misplaced("not inside guest RAM");
	/* Straddling the EBDA. */
	build_valid();
	te.ph[1].p_vaddr = te.ph[1].p_paddr = MEM_LOW_RAM_END - 0x1000;
	expect_misplaced("not inside guest RAM");
	/* Straddling the BIOS area and RAM at 1 MiB. */
	build_valid();
	te.ph[0].p_vaddr = te.ph[0].p_paddr = MEM_HIGH_RAM_START - 0x1000;
	te.ph[0].p_memsz = 0x2000;
	te.eh->e_entry = te.ph[0].p_paddr;
	expect_misplaced("segment 0");
}

static void test_loader_placement_vmm_region(void **state)
{
	te.ph[1].p_vaddr = te.ph[1].p_paddr = mem.vmm_gpa - 0x1000;
	expect_misplaced("VMM region");
	build_valid();
	te.ph[1].p_vaddr = te.ph[1].p_paddr = mem.vmm_gpa + 0x2000;
	expect_misplaced("VMM region");
}

static void test_loader_load_copies_and_zeroes(void **state)
{
	const uint8_t *text, *data;

	assert_int_equal(mem_alloc(&mem), 0);
	/* Dirty the destination so that zeroing is visible. */
	memset(mem_gpa_to_hva(&mem, TEXT_GPA, 0x20000), 0xee, 0x20000);
	assert_int_equal(parse(), 0);
	assert_int_equal(elf_check_placement(&img, &mem, err, sizeof(err)), 0);
	assert_int_equal(elf_load(&img, &mem), 0);
	text = mem_gpa_to_hva(&mem, TEXT_GPA, 0x100);
	data = mem_gpa_to_hva(&mem, DATA_GPA, 0x3000);
	assert_non_null(text);
	assert_non_null(data);
	assert_memory_equal(text, te.buf + PAYLOAD_OFF, 0x100);
	assert_memory_equal(data, te.buf + PAYLOAD_OFF + 0x1000, 0x80);
	for (unsigned i = 0x80; i < 0x3000; i++)
		if (data[i])
			fail_msg("bss byte %#x not zeroed: %#x", i, data[i]);
	/* Outside p_memsz nothing was touched. */
	assert_int_equal(text[0x100], 0xee);
	assert_int_equal(data[0x3000], 0xee);
}

static void test_loader_load_outside_memory(void **state)
{
	assert_int_equal(mem_alloc(&mem), 0);
	te.ph[1].p_vaddr = te.ph[1].p_paddr = 64ull << 20;
	assert_int_equal(parse(), 0);
	assert_int_equal(elf_load(&img, &mem), -EFAULT);
}

static void test_loader_read_file(void **state)
{
	char path[] = "/tmp/test_loader_XXXXXX";
	int fd = mkstemp(path);
	void *buf = NULL;
	size_t size = 0;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, te.buf, te.size), (ssize_t)te.size);
	close(fd);
	assert_int_equal(read_file(path, ELF_MAX_FILE_SIZE, &buf, &size), 0);
	assert_int_equal(size, te.size);
	assert_memory_equal(buf, te.buf, te.size);
	free(buf);
	assert_int_equal(read_file(path, te.size - 1, &buf, &size), -EFBIG);
	unlink(path);
	assert_int_equal(read_file(path, ELF_MAX_FILE_SIZE, &buf, &size), -ENOENT);
	assert_int_equal(read_file("/tmp", ELF_MAX_FILE_SIZE, &buf, &size), -EISDIR);
	assert_int_equal(read_file("/dev/null", ELF_MAX_FILE_SIZE, &buf, &size), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_loader_valid, setup),
		cmocka_unit_test_setup(test_loader_not_elf, setup),
		cmocka_unit_test_setup(test_loader_wrong_class, setup),
		cmocka_unit_test_setup(test_loader_wrong_machine, setup),
		cmocka_unit_test_setup(test_loader_wrong_type, setup),
		cmocka_unit_test_setup(test_loader_big_endian, setup),
		cmocka_unit_test_setup(test_loader_truncated_header, setup),
		cmocka_unit_test_setup(test_loader_truncated_phdrs, setup),
		cmocka_unit_test_setup(test_loader_phoff_beyond_file, setup),
		cmocka_unit_test_setup(test_loader_bad_phentsize, setup),
		cmocka_unit_test_setup(test_loader_data_beyond_file, setup),
		cmocka_unit_test_setup(test_loader_filesz_above_memsz, setup),
		cmocka_unit_test_setup(test_loader_overlap, setup),
		cmocka_unit_test_setup(test_loader_address_overflow, setup),
		cmocka_unit_test_setup(test_loader_entry_outside, setup),
		cmocka_unit_test_setup(test_loader_entry_not_executable, setup),
		cmocka_unit_test_setup(test_loader_vaddr_ne_paddr, setup),
		cmocka_unit_test_setup(test_loader_no_load, setup),
		cmocka_unit_test_setup(test_loader_too_many_segments, setup),
		cmocka_unit_test_setup_teardown(test_loader_placement_ok, setup_mem, teardown_mem),
		cmocka_unit_test_setup_teardown(test_loader_placement_outside_ram, setup_mem,
						teardown_mem),
		cmocka_unit_test_setup_teardown(test_loader_placement_vmm_region, setup_mem,
						teardown_mem),
		cmocka_unit_test_setup_teardown(test_loader_load_copies_and_zeroes, setup_mem,
						teardown_mem),
		cmocka_unit_test_setup_teardown(test_loader_load_outside_memory, setup_mem,
						teardown_mem),
		cmocka_unit_test_setup(test_loader_read_file, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
