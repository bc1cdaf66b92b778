/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-script lines: "map GPA NPAGES ATTRS [GEN] [expect RET]", numbers in
 * C syntax (decimal, 0x hex), RET may be negative, '#' starts a comment.
 * Self-contained (no libc, no guest runtime) so that the host fuzzes the
 * very same parser (fuzz/fuzz_script.c).
 */
#ifndef GUEST_SCRIPT_H
#define GUEST_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct script_call {
	uint64_t gpa, npages, attrs, gen;
	bool has_expect;
	int64_t expect;
};

enum script_result {
	SCRIPT_CALL = 0,   /* *out holds a call */
	SCRIPT_EMPTY,	   /* blank or comment line */
	SCRIPT_BAD_CMD,	   /* not "map" */
	SCRIPT_BAD_NUMBER, /* malformed or overflowing number */
	SCRIPT_BAD_ARGS,   /* fewer than 3 or more than 4 numbers */
	SCRIPT_BAD_EXPECT, /* "expect" without a valid value */
};

/* Parse one line of len bytes (no NUL needed). */
enum script_result script_parse_line(const char *line, size_t len, struct script_call *out);
const char *script_result_name(enum script_result r);

#endif
