// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit dispatcher vcpu_handle_exit() (vcpu.h) on fabricated exits: a
 * struct kvm_run in a plain buffer, a struct vm set up by hand with a small
 * guest memory, no /dev/kvm. Console, I/O, ucalls, both hypercall
 * transports, MSRs and the fatal exits; the JSON log is checked line by
 * line at the end of every test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encmap.h"
#include "hypercall.h"
#include "memory.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

#define RUN_SIZE       (3 * 4096)
#define IO_DATA_OFFSET 4096	   /* KVM_PIO_PAGE_OFFSET * PAGE_SIZE on x86 */
#define UC_GPA	       0x200000ull /* a struct ucall in RAM */
#define STR_GPA	       0x201000ull /* strings for ABORT/PRINT */

struct fixture {
	struct vm *vm;
	struct vcpu *vcpu;
	struct kvm_run *run;
	char log_path[64];
};

static struct fixture fx;

static int setup(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int fd;

	if (!vm)
		return -1;
	memset(&fx, 0, sizeof(fx));
	fx.vm = vm;
	vm->sys.vcpu_mmap_size = RUN_SIZE;
	vm->sys.has_sync_regs = true;
	vm->sys.hv_name = "test";
	vm->sys.fd = -1;
	vm->fd = -1;
	vm->opts.cbit = 52;
	vm->transport = HC_TRANSPORT_PORT;
	if (mem_layout(&vm->mem, 16ull << 20, 1ull << 20) || mem_alloc(&vm->mem))
		return -1;
	if (encmap_init(&vm->encmap, mem_nr_pages(&vm->mem)))
		return -1;
	if (mem_set_ucall_pages(&vm->mem, 2))
		return -1;
	vm->hostmem = (struct hostmem){.mem = &vm->mem};
	snprintf(fx.log_path, sizeof(fx.log_path), "/tmp/test_dispatch_XXXXXX");
	fd = mkstemp(fx.log_path);
	if (fd < 0)
		return -1;
	close(fd);
	if (evlog_open(&vm->log, fx.log_path))
		return -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->nr_vcpus = 2;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
	}
	fx.vcpu = &vm->vcpus[0];
	fx.vcpu->state = VCPU_RUNNING;
	fx.run = aligned_alloc(4096, RUN_SIZE);
	if (!fx.run)
		return -1;
	memset(fx.run, 0, RUN_SIZE);
	fx.vcpu->run = fx.run;
	return 0;
}

/* Every log line is one JSON object: {"seq":...}. Returns the text. */
static char *read_log(void)
{
	FILE *f = fopen(fx.log_path, "r");
	char *text = NULL;
	size_t len = 0, n;
	char buf[4096];

	assert_non_null(f);
	FILE *m = open_memstream(&text, &len);

	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(m);
	fclose(f);
	return text;
}

static void check_log_lines(const char *text)
{
	const char *p = text;
	unsigned lineno = 0;
	uint64_t last_seq = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n;
		uint64_t seq;

		lineno++;
		if (!nl)
			fail_msg("log line %u not terminated: %s", lineno, p);
		n = (size_t)(nl - p);
		if (n < 10 || strncmp(p, "{\"seq\":", 7) || p[n - 1] != '}')
			fail_msg("log line %u malformed: %.*s", lineno, (int)n, p);
		seq = strtoull(p + 7, NULL, 10);
		if (seq <= last_seq)
			fail_msg("log line %u: seq %" PRIu64 " after %" PRIu64, lineno, seq,
				 last_seq);
		last_seq = seq;
		/* Balanced braces and brackets outside strings. */
		int depth = 0;
		bool in_str = false;

		for (size_t i = 0; i < n; i++) {
			char c = p[i];

			if (in_str) {
				if (c == '\\')
					i++;
				else if (c == '"')
					in_str = false;
				continue;
			}
			if (c == '"')
				in_str = true;
			else if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']')
				depth--;
			if (depth < 0 || (depth == 0 && i + 1 < n))
				fail_msg("log line %u unbalanced at %zu: %.*s", lineno, i, (int)n,
					 p);
		}
		if (depth || in_str)
			fail_msg("log line %u unbalanced: %.*s", lineno, (int)n, p);
		p = nl + 1;
	}
}

static int teardown(void **state)
{
	struct vm *vm = fx.vm;
	char *text;

	evlog_close(&vm->log);
	text = read_log();
	check_log_lines(text);
	free(text);
	unlink(fx.log_path);
	encmap_destroy(&vm->encmap);
	mem_free(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(fx.run);
	free(vm);
	return 0;
}

/* The log so far (flushed), for content checks inside a test. */
static char *log_so_far(void)
{
	evlog_flush(&fx.vm->log);
	return read_log();
}

static void *gpa(uint64_t a, uint64_t len)
{
	void *p = mem_gpa_to_hva(&fx.vm->mem, a, len);

	assert_non_null(p);
	return p;
}

/* ---- capturing the console (stdout) ---- */

static int saved_stdout = -1;
static char cap_path[64];

static void capture_begin(void)
{
	int fd;

	fflush(stdout);
	snprintf(cap_path, sizeof(cap_path), "/tmp/test_dispatch_out_XXXXXX");
	fd = mkstemp(cap_path);
	assert_true(fd >= 0);
	saved_stdout = dup(STDOUT_FILENO);
	assert_true(saved_stdout >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
}

static char *capture_end(void)
{
	FILE *f;
	char *text = calloc(1, 65536);

	fflush(stdout);
	dup2(saved_stdout, STDOUT_FILENO);
	close(saved_stdout);
	f = fopen(cap_path, "r");
	assert_non_null(f);
	assert_non_null(text);
	if (fread(text, 1, 65535, f) == 0)
		text[0] = '\0';
	fclose(f);
	unlink(cap_path);
	return text;
}

/* ---- fabricated exits ---- */

static enum vcpu_action io_exit(uint8_t dir, uint16_t port, uint8_t size, uint32_t count,
				const void *data)
{
	struct kvm_run *run = fx.run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = IO_DATA_OFFSET;
	if (data)
		memcpy((uint8_t *)run + IO_DATA_OFFSET, data, (size_t)size * count);
	return vcpu_handle_exit(fx.vcpu);
}

static enum vcpu_action ucall_exit(uint64_t at)
{
	fx.run->s.regs.regs.rdi = at;
	return io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_UCALL, 1, 1, "\0");
}

static enum vcpu_action ucall(uint32_t cmd, unsigned nargs, uint64_t a0, uint64_t a1, uint64_t a2,
			      uint64_t a3, uint64_t a4)
{
	struct ucall *uc = gpa(UC_GPA, sizeof(*uc));

	*uc = (struct ucall){.cmd = cmd, .nargs = nargs, .args = {a0, a1, a2, a3, a4, 0}};
	return ucall_exit(UC_GPA);
}

static enum vcpu_action port_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct kvm_regs *r = &fx.run->s.regs.regs;

	r->rax = nr;
	r->rbx = a0;
	r->rcx = a1;
	r->rdx = a2;
	r->rsi = 0;
	fx.run->kvm_dirty_regs = 0;
	return io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_HYPERCALL, 1, 1, "\0");
}

static enum vcpu_action simple_exit(uint32_t reason)
{
	fx.run->exit_reason = reason;
	return vcpu_handle_exit(fx.vcpu);
}

static void expect_crash(enum vcpu_action act, const char *want1, const char *want2)
{
	assert_int_equal(act, ACT_STOP);
	assert_true(fx.vm->stopping);
	assert_int_equal(fx.vm->exit_status, EXIT_GUEST_CRASH);
	assert_true(fx.vm->exit_reason[0] != '\0');
	if (want1 && !strstr(fx.vm->exit_reason, want1))
		fail_msg("exit reason '%s' does not contain '%s'", fx.vm->exit_reason, want1);
	if (want2 && !strstr(fx.vm->exit_reason, want2))
		fail_msg("exit reason '%s' does not contain '%s'", fx.vm->exit_reason, want2);
}

static void expect_running(void)
{
	if (fx.vm->stopping)
		fail_msg("VM stopped: %s", fx.vm->exit_reason);
}

/* ---- console and port I/O ---- */

static void test_dispatch_console_out(void **state)
{
	enum vcpu_action a1, a2;
	char *out;

	capture_begin();
	a1 = io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_CONSOLE, 1, 5, "hello");
	/* rep outsw: every size-th byte is a character. */
	a2 = io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_CONSOLE, 2, 3, "a1b2c3");
	out = capture_end();
	assert_int_equal(a1, ACT_CONTINUE);
	assert_int_equal(a2, ACT_CONTINUE);
	assert_string_equal(out, "helloabc");
	free(out);
	expect_running();
	assert_int_equal(fx.vcpu->exits, 2);
}

static void test_dispatch_io_in(void **state)
{
	uint8_t *data = (uint8_t *)fx.run + IO_DATA_OFFSET;

	memset(data, 0, 64);
	assert_int_equal(io_exit(KVM_EXIT_IO_IN, 0x60, 4, 1, NULL), ACT_CONTINUE);
	assert_int_equal(*(uint32_t *)data, 0xffffffff);
	assert_int_equal(data[4], 0);
	memset(data, 0, 64);
	assert_int_equal(io_exit(KVM_EXIT_IO_IN, MINIVMM_PORT_CONSOLE, 1, 16, NULL), ACT_CONTINUE);
	for (int i = 0; i < 16; i++)
		assert_int_equal(data[i], 0xff);
	assert_int_equal(data[16], 0);
	expect_running();
}

static void test_dispatch_io_unhandled_port(void **state)
{
	char *log;

	assert_int_equal(io_exit(KVM_EXIT_IO_OUT, 0x80, 1, 1, "x"), ACT_CONTINUE);
	expect_running();
	log = log_so_far();
	assert_non_null(strstr(log, "\"type\":\"io_unhandled\""));
	assert_non_null(strstr(log, "\"port\":\"0x80\""));
	free(log);
}

static void test_dispatch_io_size_zero(void **state)
{
	expect_crash(io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_CONSOLE, 0, 1, NULL), "malformed", NULL);
}

static void test_dispatch_io_count_zero(void **state)
{
	expect_crash(io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_CONSOLE, 1, 0, NULL), "malformed", NULL);
}

static void test_dispatch_io_size_bad(void **state)
{
	expect_crash(io_exit(KVM_EXIT_IO_OUT, MINIVMM_PORT_CONSOLE, 3 * 4, 1, NULL), "malformed",
		     NULL);
}

static void test_dispatch_io_offset_beyond_mmap(void **state)
{
	fx.run->exit_reason = KVM_EXIT_IO;
	fx.run->io.direction = KVM_EXIT_IO_IN;
	fx.run->io.port = 0x60;
	fx.run->io.size = 4;
	fx.run->io.count = 1;
	fx.run->io.data_offset = RUN_SIZE - 2; /* the last 2 bytes would overrun */
	expect_crash(vcpu_handle_exit(fx.vcpu), "malformed", NULL);
}

static void test_dispatch_io_count_beyond_mmap(void **state)
{
	fx.run->exit_reason = KVM_EXIT_IO;
	fx.run->io.direction = KVM_EXIT_IO_IN;
	fx.run->io.port = 0x60;
	fx.run->io.size = 8;
	fx.run->io.count = 0x80000000u; /* size * count overflows 32 bits */
	fx.run->io.data_offset = IO_DATA_OFFSET;
	expect_crash(vcpu_handle_exit(fx.vcpu), "malformed", NULL);
}

/* ---- ucalls ---- */

static void test_dispatch_ucall_done_ok(void **state)
{
	char *log;

	assert_int_equal(ucall(UCALL_DONE, 1, 0, 0, 0, 0, 0), ACT_STOP);
	assert_true(fx.vm->stopping);
	assert_int_equal(fx.vm->exit_status, EXIT_OK);
	log = log_so_far();
	assert_non_null(strstr(log, "\"cmd\":\"done\",\"status\":0"));
	free(log);
}

static void test_dispatch_ucall_done_failure(void **state)
{
	expect_crash(ucall(UCALL_DONE, 1, 5, 0, 0, 0, 0), "status 5", NULL);
}

static void test_dispatch_ucall_abort(void **state)
{
	char *s = gpa(STR_GPA, 256);
	char *log;

	strcpy(s, "x == y");
	strcpy(s + 0x100, "guest-stub/main.c");
	expect_crash(ucall(UCALL_ABORT, 4, STR_GPA, STR_GPA + 0x100, 42, 7, 0),
		     "guest-stub/main.c:42", "x == y");
	log = log_so_far();
	assert_non_null(strstr(log, "\"type\":\"guest_abort\""));
	assert_non_null(strstr(log, "\"file\":\"guest-stub/main.c\",\"line\":42"));
	free(log);
}

static void test_dispatch_ucall_abort_bad_strings(void **state)
{
	/* Strings outside RAM: still a clean stop, the pointers are named. */
	expect_crash(ucall(UCALL_ABORT, 4, 1ull << 40, MEM_FW_SHARED_GPA, 7, 0, 0), "bad pointer",
		     ":7");
}

static void test_dispatch_ucall_abort_unterminated(void **state)
{
	/* A string running to the end of low RAM (the EBDA follows) is cut there. */
	uint64_t at = MEM_LOW_RAM_END - 8;

	memset(gpa(at, 8), 'A', 8);
	strcpy(gpa(STR_GPA, 16), "f.c");
	expect_crash(ucall(UCALL_ABORT, 4, at, STR_GPA, 1, 0, 0), "AAAAAAAA", "f.c:1");
}

static void test_dispatch_ucall_outside_ram(void **state)
{
	expect_crash(ucall_exit(1ull << 40), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_unaligned(void **state)
{
	expect_crash(ucall_exit(UC_GPA + 4), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_in_vmm_region(void **state)
{
	expect_crash(ucall_exit(fx.vm->mem.vmm_gpa + 0x100), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_in_firmware_window(void **state)
{
	expect_crash(ucall_exit(MEM_FW_SHARED_GPA), "bad ucall pointer", NULL);
}

/* The ucall pages (one per vCPU, shared by firmware) take a ucall... */
static void test_dispatch_ucall_in_ucall_page(void **state)
{
	struct ucall *uc = gpa(MEM_UCALL_GPA + PAGE_SIZE, sizeof(*uc));

	*uc = (struct ucall){.cmd = UCALL_DONE, .nargs = 1};
	assert_int_equal(ucall_exit(MEM_UCALL_GPA + PAGE_SIZE), ACT_STOP);
	assert_int_equal(fx.vm->exit_status, EXIT_OK);
}

/* ...but not the pages past the last vCPU's, nor one crossing a page end. */
static void test_dispatch_ucall_beyond_ucall_pages(void **state)
{
	struct ucall *uc = gpa(MEM_UCALL_GPA + 2 * PAGE_SIZE, sizeof(*uc));

	*uc = (struct ucall){.cmd = UCALL_DONE, .nargs = 1};
	expect_crash(ucall_exit(MEM_UCALL_GPA + 2 * PAGE_SIZE), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_crosses_ucall_page(void **state)
{
	expect_crash(ucall_exit(MEM_UCALL_GPA + PAGE_SIZE - 16), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_straddles_ram_end(void **state)
{
	/* Aligned, starts in RAM, ends in the EBDA. */
	expect_crash(ucall_exit(MEM_LOW_RAM_END - 16), "bad ucall pointer", NULL);
}

static void test_dispatch_ucall_bad_cmd(void **state)
{
	expect_crash(ucall(UCALL_MAX, 0, 0, 0, 0, 0, 0), "ucall", NULL);
}

static void test_dispatch_ucall_cmd_none(void **state)
{
	expect_crash(ucall(UCALL_NONE, 0, 0, 0, 0, 0, 0), "ucall", NULL);
}

static void test_dispatch_ucall_too_many_args(void **state)
{
	expect_crash(ucall(UCALL_DONE, UCALL_MAX_ARGS + 1, 0, 0, 0, 0, 0), "ucall", NULL);
}

static void test_dispatch_cpu_on(void **state)
{
	struct kvm_regs *r = &fx.run->s.regs.regs;
	struct vcpu *ap = &fx.vm->vcpus[1];

	/* A CPU that does not exist, and the caller itself. */
	fx.run->kvm_dirty_regs = 0;
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 2, 0x100000, 0x300000, 1, 0x1000), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EINVAL);
	assert_true(fx.run->kvm_dirty_regs & KVM_SYNC_X86_REGS);
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 63, 0x100000, 0x300000, 1, 0x1000), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EINVAL);
	assert_int_equal(ucall(UCALL_CPU_ON, 5, UINT64_MAX, 0x100000, 0x300000, 1, 0x1000),
			 ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EINVAL);
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 0, 0x100000, 0x300000, 1, 0x1000), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EINVAL);
	/* CR3 unaligned or outside memory. */
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 1, 0x100000, 0x300000, 1, 0x1008), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EFAULT);
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 1, 0x100000, 0x300000, 1, 1ull << 40),
			 ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EFAULT);
	assert_int_equal(ap->state, VCPU_OFF);
	/* A good one, then the same CPU again while it is pending. */
	fx.vcpu->generation = 3;
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 1, 0x100000, 0x300000, 1, 0x1000), ACT_CONTINUE);
	assert_int_equal(r->rax, 0);
	assert_int_equal(ap->state, VCPU_PENDING);
	assert_int_equal(ap->start_rip, 0x100000);
	assert_int_equal(ap->start_rsp, 0x300000);
	assert_int_equal(ap->start_rdi, 1);
	assert_int_equal(ap->start_cr3, 0x1000);
	assert_int_equal(ap->generation, 3);
	assert_int_equal(ucall(UCALL_CPU_ON, 5, 1, 0x100000, 0x300000, 1, 0x1000), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -EBUSY);
	expect_running();
}

static void test_dispatch_park_yield_print(void **state)
{
	char *out;
	enum vcpu_action a;

	assert_int_equal(ucall(UCALL_YIELD, 0, 0, 0, 0, 0, 0), ACT_YIELD);
	strcpy(gpa(STR_GPA, 32), "printed text\n");
	capture_begin();
	a = ucall(UCALL_PRINT, 2, STR_GPA, 13, 0, 0, 0);
	out = capture_end();
	assert_int_equal(a, ACT_CONTINUE);
	assert_string_equal(out, "printed text\n");
	free(out);
	assert_int_equal(ucall(UCALL_PARK, 0, 0, 0, 0, 0, 0), ACT_PARK);
	assert_int_equal(fx.vcpu->state, VCPU_OFF);
	expect_running();
}

static void test_dispatch_print_outside_ram(void **state)
{
	expect_crash(ucall(UCALL_PRINT, 2, fx.vm->mem.vmm_gpa, 16, 0, 0, 0), "PRINT", NULL);
}

/* ---- hypercalls ---- */

static void test_dispatch_hypercall_port(void **state)
{
	struct kvm_regs *r = &fx.run->s.regs.regs;
	struct encmap *m = &fx.vm->encmap;
	struct encmap_prov prov;
	char *log;

	fx.vm->opts.sev = true;
	assert_int_equal(port_hypercall(KVM_HC_MAP_GPA_RANGE, 0x300000, 4, 0), ACT_CONTINUE);
	assert_int_equal(r->rax, 0);
	assert_true(fx.run->kvm_dirty_regs & KVM_SYNC_X86_REGS);
	for (uint64_t p = 0x300; p < 0x304; p++)
		assert_true(encmap_is_shared(m, p));
	assert_false(encmap_is_shared(m, 0x2ff));
	assert_false(encmap_is_shared(m, 0x304));
	assert_true(encmap_provenance(m, 0x300, &prov));
	assert_int_equal(prov.vcpu, 0);
	assert_int_equal(fx.vm->hypercalls, 1);
	/* A bad call: -KVM_EINVAL in RAX, bitmap unchanged. */
	assert_int_equal(port_hypercall(KVM_HC_MAP_GPA_RANGE, 0x304001, 4, 0), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -KVM_EINVAL);
	assert_true(fx.run->kvm_dirty_regs & KVM_SYNC_X86_REGS);
	assert_false(encmap_is_shared(m, 0x304));
	assert_int_equal(encmap_count_shared(m), 4);
	assert_int_equal(fx.vm->hypercall_errors, 1);
	/* Unknown hypercall number. */
	assert_int_equal(port_hypercall(1, 0x304000, 4, 0), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -KVM_ENOSYS);
	/* Back to private. */
	assert_int_equal(
		port_hypercall(KVM_HC_MAP_GPA_RANGE, 0x300000, 2, KVM_MAP_GPA_RANGE_ENCRYPTED),
		ACT_CONTINUE);
	assert_int_equal(r->rax, 0);
	assert_false(encmap_is_shared(m, 0x301));
	assert_true(encmap_is_shared(m, 0x302));
	expect_running();
	log = log_so_far();
	assert_non_null(strstr(log, "\"transport\":\"port\",\"verdict\":\"ok\",\"ret\":0"));
	assert_non_null(strstr(log, "\"verdict\":\"gpa_unaligned\",\"ret\":-22"));
	assert_non_null(strstr(log, "\"verdict\":\"unknown_nr\",\"ret\":-1000"));
	free(log);
}

static void test_dispatch_hypercall_port_without_sev(void **state)
{
	struct kvm_regs *r = &fx.run->s.regs.regs;

	assert_int_equal(port_hypercall(KVM_HC_MAP_GPA_RANGE, 0x300000, 4, 0), ACT_CONTINUE);
	assert_int_equal((int64_t)r->rax, -KVM_ENOSYS);
	assert_int_equal(encmap_count_shared(&fx.vm->encmap), 0);
	expect_running();
}

static void test_dispatch_hypercall_exit(void **state)
{
	struct kvm_run *run = fx.run;

	fx.vm->opts.sev = true;
	fx.vm->transport = HC_TRANSPORT_VMMCALL;
	run->exit_reason = KVM_EXIT_HYPERCALL;
	run->hypercall.nr = KVM_HC_MAP_GPA_RANGE;
	run->hypercall.args[0] = 0x400000;
	run->hypercall.args[1] = 512;
	run->hypercall.args[2] = KVM_MAP_GPA_RANGE_PAGE_SZ_2M;
	run->hypercall.ret = 0xdead;
	assert_int_equal(vcpu_handle_exit(fx.vcpu), ACT_CONTINUE);
	assert_int_equal(run->hypercall.ret, 0);
	assert_int_equal(encmap_count_shared(&fx.vm->encmap), 512);
	assert_true(encmap_is_shared(&fx.vm->encmap, 0x400));
	/* 2M hint on a misaligned range. */
	run->hypercall.args[0] = 0x601000;
	assert_int_equal(vcpu_handle_exit(fx.vcpu), ACT_CONTINUE);
	assert_int_equal((int64_t)run->hypercall.ret, -KVM_EINVAL);
	run->hypercall.nr = 99;
	assert_int_equal(vcpu_handle_exit(fx.vcpu), ACT_CONTINUE);
	assert_int_equal((int64_t)run->hypercall.ret, -KVM_ENOSYS);
	assert_int_equal(encmap_count_shared(&fx.vm->encmap), 512);
	expect_running();
}

/* ---- fatal and other exits ---- */

static void test_dispatch_hlt(void **state)
{
	fx.run->s.regs.regs.rip = 0x101234;
	expect_crash(simple_exit(KVM_EXIT_HLT), "hlt", "0x101234");
}

static void test_dispatch_shutdown(void **state)
{
	/* The caller collects the exception (an ioctl) and stops. */
	assert_int_equal(simple_exit(KVM_EXIT_SHUTDOWN), ACT_SHUTDOWN);
	expect_running();
}

static void test_dispatch_internal_error(void **state)
{
	fx.run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	fx.run->internal.ndata = 1;
	fx.run->internal.data[0] = 0x1234;
	expect_crash(simple_exit(KVM_EXIT_INTERNAL_ERROR), "INTERNAL_ERROR", "suberror 1");
	assert_non_null(strstr(fx.vm->exit_reason, "0x1234"));
}

static void test_dispatch_fail_entry(void **state)
{
	fx.run->fail_entry.hardware_entry_failure_reason = 0x80000021;
	expect_crash(simple_exit(KVM_EXIT_FAIL_ENTRY), "FAIL_ENTRY", "0x80000021");
}

static void test_dispatch_system_event(void **state)
{
	fx.run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	expect_crash(simple_exit(KVM_EXIT_SYSTEM_EVENT), "system event", NULL);
}

static void test_dispatch_unknown_reason(void **state)
{
	/* 0xdead = 57005: the number is in the message. */
	expect_crash(simple_exit(0xdead), "exit reason", "57005");
}

static void test_dispatch_known_but_unexpected(void **state)
{
	expect_crash(simple_exit(KVM_EXIT_DEBUG), "exit reason", "DEBUG");
}

static void test_dispatch_mmio(void **state)
{
	char *log;

	fx.run->exit_reason = KVM_EXIT_MMIO;
	fx.run->mmio.phys_addr = 0xfee00000;
	fx.run->mmio.len = 4;
	fx.run->mmio.is_write = 0;
	memset(fx.run->mmio.data, 0, sizeof(fx.run->mmio.data));
	assert_int_equal(vcpu_handle_exit(fx.vcpu), ACT_CONTINUE);
	for (unsigned i = 0; i < sizeof(fx.run->mmio.data); i++)
		assert_int_equal(fx.run->mmio.data[i], 0xff);
	fx.run->mmio.is_write = 1;
	assert_int_equal(vcpu_handle_exit(fx.vcpu), ACT_CONTINUE);
	expect_running();
	log = log_so_far();
	assert_non_null(strstr(log, "\"type\":\"mmio_unhandled\""));
	assert_non_null(strstr(log, "\"gpa\":\"0xfee00000\""));
	free(log);
}

/* ---- MSRs ---- */

static enum vcpu_action msr_exit(bool write, uint32_t index, uint64_t data)
{
	fx.run->exit_reason = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
	fx.run->msr.index = index;
	fx.run->msr.data = data;
	fx.run->msr.error = 0xaa;
	fx.run->msr.reason = KVM_MSR_EXIT_REASON_FILTER;
	return vcpu_handle_exit(fx.vcpu);
}

static void test_dispatch_msr_migration_control(void **state)
{
	fx.vm->opts.sev = true;
	fx.vcpu->migration_ctl = KVM_MIGRATION_READY;
	fx.vm->vcpus[1].migration_ctl = 0;
	assert_int_equal(msr_exit(false, MSR_KVM_MIGRATION_CONTROL, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 0);
	assert_int_equal(fx.run->msr.data, KVM_MIGRATION_READY);
	/* Writes: 0 and READY are fine, anything else is #GP and changes nothing. */
	assert_int_equal(msr_exit(true, MSR_KVM_MIGRATION_CONTROL, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 0);
	assert_int_equal(fx.vcpu->migration_ctl, 0);
	assert_int_equal(msr_exit(true, MSR_KVM_MIGRATION_CONTROL, KVM_MIGRATION_READY),
			 ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 0);
	assert_int_equal(fx.vcpu->migration_ctl, KVM_MIGRATION_READY);
	assert_true(fx.vm->mig.ready);
	assert_int_equal(msr_exit(true, MSR_KVM_MIGRATION_CONTROL, 2), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	assert_int_equal(msr_exit(true, MSR_KVM_MIGRATION_CONTROL, 1ull << 63), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	assert_int_equal(fx.vcpu->migration_ctl, KVM_MIGRATION_READY);
	assert_true(fx.vm->mig.ready);
	assert_int_equal(msr_exit(false, MSR_KVM_MIGRATION_CONTROL, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.data, KVM_MIGRATION_READY);
	expect_running();
}

static void test_dispatch_msr_without_sev(void **state)
{
	assert_int_equal(msr_exit(false, MSR_KVM_MIGRATION_CONTROL, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	assert_int_equal(msr_exit(true, MSR_KVM_MIGRATION_CONTROL, 1), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	assert_int_equal(msr_exit(false, MSR_AMD64_SEV, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 0);
	assert_int_equal(fx.run->msr.data, 0);
	expect_running();
}

static void test_dispatch_msr_sev_status(void **state)
{
	fx.vm->opts.sev = true;
	assert_int_equal(msr_exit(false, MSR_AMD64_SEV, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 0);
	assert_int_equal(fx.run->msr.data, MSR_AMD64_SEV_ENABLED);
	assert_int_equal(msr_exit(true, MSR_AMD64_SEV, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	expect_running();
}

static void test_dispatch_msr_unknown(void **state)
{
	char *log;

	fx.vm->opts.sev = true;
	assert_int_equal(msr_exit(false, 0x1234, 0), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	assert_int_equal(msr_exit(true, 0x1234, 5), ACT_CONTINUE);
	assert_int_equal(fx.run->msr.error, 1);
	expect_running();
	log = log_so_far();
	assert_non_null(strstr(log, "\"msr\":\"0x1234\""));
	assert_non_null(strstr(log, "\"result\":\"gp\""));
	free(log);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dispatch_console_out),
		T(test_dispatch_io_in),
		T(test_dispatch_io_unhandled_port),
		T(test_dispatch_io_size_zero),
		T(test_dispatch_io_count_zero),
		T(test_dispatch_io_size_bad),
		T(test_dispatch_io_offset_beyond_mmap),
		T(test_dispatch_io_count_beyond_mmap),
		T(test_dispatch_ucall_done_ok),
		T(test_dispatch_ucall_done_failure),
		T(test_dispatch_ucall_abort),
		T(test_dispatch_ucall_abort_bad_strings),
		T(test_dispatch_ucall_abort_unterminated),
		T(test_dispatch_ucall_outside_ram),
		T(test_dispatch_ucall_unaligned),
		T(test_dispatch_ucall_in_vmm_region),
		T(test_dispatch_ucall_in_firmware_window),
		T(test_dispatch_ucall_in_ucall_page),
		T(test_dispatch_ucall_beyond_ucall_pages),
		T(test_dispatch_ucall_crosses_ucall_page),
		T(test_dispatch_ucall_straddles_ram_end),
		T(test_dispatch_ucall_bad_cmd),
		T(test_dispatch_ucall_cmd_none),
		T(test_dispatch_ucall_too_many_args),
		T(test_dispatch_cpu_on),
		T(test_dispatch_park_yield_print),
		T(test_dispatch_print_outside_ram),
		T(test_dispatch_hypercall_port),
		T(test_dispatch_hypercall_port_without_sev),
		T(test_dispatch_hypercall_exit),
		T(test_dispatch_hlt),
		T(test_dispatch_shutdown),
		T(test_dispatch_internal_error),
		T(test_dispatch_fail_entry),
		T(test_dispatch_system_event),
		T(test_dispatch_unknown_reason),
		T(test_dispatch_known_but_unexpected),
		T(test_dispatch_mmio),
		T(test_dispatch_msr_migration_control),
		T(test_dispatch_msr_without_sev),
		T(test_dispatch_msr_sev_status),
		T(test_dispatch_msr_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
