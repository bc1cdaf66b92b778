// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whole VM lifecycles in-process on /dev/kvm: vm_create, vm_run,
 * vm_destroy leave no file descriptor and no thread behind, whatever the
 * outcome (success, check failure, crash, bad ELF). Skips (77) without
 * /dev/kvm or the guest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "proc_entries.h"
#include "vm.h"

static int run_vm(const char *const *args, int nargs)
{
	char *argv[16];
	struct vm_opts opts;
	struct vm *vm = calloc(1, sizeof(*vm));
	FILE *devnull = fopen("/dev/null", "w");
	int status;

	assert_non_null(vm);
	argv[0] = (char *)"mini-vmm";
	for (int i = 0; i < nargs; i++)
		argv[i + 1] = (char *)args[i];
	argv[nargs + 1] = NULL;
	assert_int_equal(opts_parse(nargs + 1, argv, &opts, devnull, devnull), OPTS_RUN);
	status = vm_create(vm, &opts);
	if (status == 0)
		status = vm_run(vm);
	vm_destroy(vm);
	free(vm);
	fclose(devnull);
	return status;
}

static void test_vm_lifecycle_no_leaks(void **state)
{
	const char *guest = getenv("GUEST");
	char log[] = "/tmp/mini-vmm-lifecycle-XXXXXX";
	int fds, threads, lfd = mkstemp(log);

	(void)state;
	assert_true(lfd >= 0);
	close(lfd);
	fds = count_entries("/proc/self/fd");
	threads = count_entries("/proc/self/task");
	{
		const char *a[] = {"--sev",	"--check",
				   "-c",	"2",
				   "--log",	log,
				   "--cmdline", "scenario=kexec strategy=upstream cycles=3",
				   guest};
		assert_int_equal(run_vm(a, 9), EXIT_OK);
	}
	{
		const char *a[] = {"--sev", "--check", "--cmdline",
				   "scenario=kexec strategy=none cycles=2", guest};
		assert_int_equal(run_vm(a, 5), EXIT_CHECK_FAILED);
	}
	{
		const char *a[] = {"--cmdline", "scenario=fault", guest};
		assert_int_equal(run_vm(a, 3), EXIT_GUEST_CRASH);
	}
	{
		const char *a[] = {"--timeout",	    "1",  "-c", "2", "--cmdline",
				   "scenario=spin", guest};
		assert_int_equal(run_vm(a, 7), EXIT_TIMEOUT);
	}
	{
		const char *a[] = {"/etc/hostname"};
		assert_int_equal(run_vm(a, 1), EXIT_USAGE);
	}
	assert_int_equal(count_entries("/proc/self/fd"), fds);
	assert_int_equal(count_entries("/proc/self/task"), threads);
	unlink(log);
}

int main(void)
{
	const char *guest = getenv("GUEST");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_lifecycle_no_leaks),
	};

	if (access("/dev/kvm", W_OK) != 0 || !guest || access(guest, R_OK) != 0) {
		fprintf(stderr, "skip: needs /dev/kvm and GUEST\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
