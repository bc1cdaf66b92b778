/* SPDX-License-Identifier: GPL-2.0-only */
/* The command line every in-process benchmark takes: [--quick] [--check] [--json FILE]. */
#ifndef MINIVMM_BENCH_ARGS_H
#define MINIVMM_BENCH_ARGS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct bench_args {
	bool quick;	  /* small sizes, for CI */
	bool check;	  /* exit 1 when a target is missed */
	const char *json; /* NULL: no JSON file */
};

/* 0, or 2 after printing the usage (the exit status for a bad command line). */
static inline int bench_parse_args(int argc, char **argv, struct bench_args *a)
{
	*a = (struct bench_args){0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			a->quick = true;
		} else if (!strcmp(argv[i], "--check")) {
			a->check = true;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			a->json = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--quick] [--check] [--json FILE]\n", argv[0]);
			return 2;
		}
	}
	return 0;
}

#endif
