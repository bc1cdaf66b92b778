// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the schedule-file reader (vmm/schedule.c, docs/schedule.md)
 * through sched_init(), as mini-vmm --schedule FILE runs it. A header that
 * matches this target's fake VM is recorded once (--schedule-out's own
 * writer), so that inputs reach the decision and end lines; an input that
 * starts with '!' is the whole file instead, header included.
 * Oracles (abort()): sched_init() returns 0 or a negative errno, and a
 * file it accepted is accepted again (deterministic); nothing leaks (ASan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "schedule.h"

static char header[8192];
static size_t header_len;

static struct vm *fake_vm(const char *in, const char *out)
{
	static char elf[] = "\177ELF fuzz";
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		abort();
	vm->opts.sched = SCHED_SERIAL;
	vm->opts.nr_cpus = 2;
	vm->opts.ram_size = 256ull << 20;
	vm->opts.sev = true;
	vm->opts.cbit = 52;
	vm->opts.check = true;
	vm->opts.device_ppm = 50000;
	vm->opts.cmdline = "scenario=kexec strategy=v12 cycles=2";
	vm->opts.kernel_path = "fuzz.elf";
	vm->opts.schedule_in = in;
	vm->opts.schedule_out = out;
	vm->elf_buf = elf;
	vm->elf_size = sizeof(elf);
	vm->nr_vcpus = 2;
	return vm;
}

static int run(const char *path)
{
	struct vm *vm = fake_vm(path, NULL);
	int r = sched_init(vm);

	if (r > 0)
		abort();
	sched_destroy(vm);
	free(vm);
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];
	int fd = memfd_create("fuzz-schedule-header", 0);
	struct vm *vm;
	ssize_t n;

	(void)argc;
	(void)argv;
	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	vm = fake_vm(NULL, path);
	if (sched_init(vm) < 0)
		abort();
	sched_destroy(vm); /* closes the writer: the header is in the memfd */
	free(vm);
	n = pread(fd, header, sizeof(header) - 1, 0);
	if (n <= 0)
		abort();
	header_len = (size_t)n;
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz-schedule", 0);
	bool whole = size && data[0] == '!';
	int r;

	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((!whole && write(fd, header, header_len) != (ssize_t)header_len) ||
	    write(fd, data + whole, size - whole) != (ssize_t)(size - whole))
		abort();
	r = run(path);
	if (r == 0 && run(path) != 0)
		abort();
	close(fd);
	return 0;
}
