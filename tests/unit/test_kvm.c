// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/kvm access (kvm.h): opening something that is not KVM fails cleanly
 * and leaves no fd behind, raw and named ioctls return -errno, exit reasons
 * have names. The part that needs /dev/kvm is skipped without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm.h"

/* Run fn with stderr going to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test_kvm_XXXXXX";
	int fd = mkstemp(path), saved;
	char *text = calloc(1, 4096);
	FILE *f;

	assert_true(fd >= 0);
	assert_non_null(text);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	if (!fread(text, 1, 4095, f))
		text[0] = '\0';
	fclose(f);
	unlink(path);
	return text;
}

struct open_call {
	struct kvm_sys sys;
	const char *path;
	int ret;
};

static void do_open(void *arg)
{
	struct open_call *c = arg;

	c->ret = kvm_sys_open(&c->sys, c->path);
}

static void test_kvm_open_missing(void **state)
{
	struct open_call c = {.path = "/nonexistent/kvm"};
	char *err = capture_stderr(do_open, &c);

	assert_int_equal(c.ret, -ENOENT);
	assert_int_equal(c.sys.fd, -1);
	assert_non_null(strstr(err, "/nonexistent/kvm"));
	free(err);
	kvm_sys_close(&c.sys);
}

static void test_kvm_open_not_kvm(void **state)
{
	struct open_call c = {.path = "/dev/null"};
	char *err = capture_stderr(do_open, &c);
	int probe;

	assert_int_equal(c.ret, -ENOTSUP);
	assert_non_null(strstr(err, "/dev/null"));
	assert_non_null(strstr(err, "API version"));
	free(err);
	/*
	 * The fd it opened is closed and forgotten: the caller's cleanup
	 * (vm_destroy -> kvm_sys_close) must not close whatever file reuses
	 * that number in the meantime.
	 */
	assert_int_equal(c.sys.fd, -1);
	probe = open("/dev/null", O_RDONLY);
	assert_true(probe >= 0);
	kvm_sys_close(&c.sys);
	if (fcntl(probe, F_GETFD) < 0)
		fail_msg("kvm_sys_close closed an unrelated fd %d", probe);
	close(probe);
}

struct ioctl_call {
	int ret;
};

static void do_named_ioctl(void *arg)
{
	struct ioctl_call *c = arg;

	c->ret = kvm_ioctl(-1, KVM_GET_API_VERSION, NULL);
}

static void test_kvm_ioctl_errors(void **state)
{
	struct ioctl_call c;
	char *err;
	int fd = open("/dev/null", O_RDWR);

	assert_int_equal(kvm_ioctl_raw(-1, KVM_GET_API_VERSION, NULL), -EBADF);
	assert_true(fd >= 0);
	assert_int_equal(kvm_ioctl_raw(fd, KVM_GET_API_VERSION, NULL), -ENOTTY);
	close(fd);
	/* The checked variant names the ioctl and the error. */
	err = capture_stderr(do_named_ioctl, &c);
	assert_int_equal(c.ret, -EBADF);
	assert_non_null(strstr(err, "KVM_GET_API_VERSION"));
	assert_non_null(strstr(err, strerror(EBADF)));
	free(err);
}

static void test_kvm_names(void **state)
{
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_IO), "IO");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_HLT), "HLT");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_SHUTDOWN), "SHUTDOWN");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_INTERNAL_ERROR), "INTERNAL_ERROR");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_X86_WRMSR), "X86_WRMSR");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_NOTIFY), "NOTIFY");
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_S390_SIEIC), "UNKNOWN_REASON");
	assert_string_equal(kvm_exit_reason_name(0xdead), "UNKNOWN_REASON");
	assert_string_equal(kvm_exit_reason_name(UINT32_MAX), "UNKNOWN_REASON");
	assert_string_equal(hv_kind_name(HV_PVM), "kvm_pvm");
	assert_string_equal(hv_kind_name(HV_AMD), "kvm_amd");
	assert_string_equal(hv_kind_name(HV_INTEL), "kvm_intel");
	assert_string_equal(hv_kind_name(HV_UNKNOWN), "unknown");
	assert_string_equal(hv_kind_name((enum hv_kind)42), "unknown");
}

static void test_kvm_open_real(void **state)
{
	struct kvm_sys sys;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		skip();
	assert_int_equal(kvm_sys_open(&sys, "/dev/kvm"), 0);
	assert_true(sys.fd >= 0);
	assert_int_equal(sys.api_version, KVM_API_VERSION);
	assert_true(sys.vcpu_mmap_size >= (int)sizeof(struct kvm_run));
	assert_true(sys.max_vcpus >= 1);
	assert_non_null(sys.hv_name);
	assert_int_equal(kvm_check_cap(&sys, KVM_CAP_USER_MEMORY), 1);
	assert_int_equal(kvm_check_cap(&sys, -12345), 0);
	kvm_sys_close(&sys);
	assert_int_equal(sys.fd, -1);
	kvm_sys_close(&sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvm_open_missing), cmocka_unit_test(test_kvm_open_not_kvm),
		cmocka_unit_test(test_kvm_ioctl_errors), cmocka_unit_test(test_kvm_names),
		cmocka_unit_test(test_kvm_open_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
