// SPDX-License-Identifier: GPL-2.0-only
/* mini-vmm: only this file decides to exit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "migrate.h"
#include "options.h"
#include "util.h"
#include "vm.h"

int main(int argc, char **argv)
{
	uint64_t t0 = now_ns();
	struct vm_opts opts;
	struct vm *vm;
	int status;

	switch (opts_parse(argc, argv, &opts, stdout, stderr)) {
	case OPTS_EXIT_OK:
		return EXIT_OK;
	case OPTS_USAGE:
		return EXIT_USAGE;
	default:
		break;
	}
	opts.t_start_ns = t0;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "mini-vmm: out of memory\n");
		return EXIT_USAGE;
	}
	if (opts.incoming.kind != MIGRATE_URI_NONE) {
		status = migrate_incoming(vm, &opts);
	} else {
		status = vm_create(vm, &opts);
		if (status == 0)
			status = migrate_check_plan(vm);
		if (opts.migrate_to.kind != MIGRATE_URI_NONE)
			vm->mig_ops = &migrate_ops;
	}
	if (status == 0) {
		status = vm_run(vm);
		fflush(stdout);
		if (status != EXIT_OK)
			fprintf(stderr, "mini-vmm: %s (exit status %d)\n", vm->exit_reason, status);
		else if (opts.story && vm->checks_run)
			fprintf(stderr, "mini-vmm: %s, all %" PRIu64 " bitmap checks passed\n",
				vm->exit_reason, vm->checks_run);
		else if (opts.verbose || opts.story)
			fprintf(stderr, "mini-vmm: %s\n", vm->exit_reason);
		if (opts.dump_bitmap)
			check_dump_bitmap(vm, stdout);
	}
	vm_destroy(vm);
	free(vm);
	return status;
}
