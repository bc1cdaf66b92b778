// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the guest-script parser, guest-stub/script.c compiled
 * straight into the fuzzer (the very code the guest runs). The input is
 * split on '\n' the way scenario_script() in guest-stub/main.c splits it;
 * each line is copied into a heap buffer of exactly its length (no NUL, so
 * ASan sees any read past the end) and parsed.
 * Oracles (abort()):
 *   - the result is one of the enum script_result values and has a name;
 *   - SCRIPT_CALL implies the line contains "map";
 *   - parsing is deterministic and independent of *out's prior contents
 *     (parsed twice, over a zero-filled and a 0xff-filled struct);
 *   - for lines of printable ASCII (0x20..0x7e) only, accept/reject and the
 *     parsed values agree with ref_parse() below, an independent reference
 *     built on strtoull() for the grammar
 *       [blanks] "map" 3 or 4 NUMBERs [ "expect" ["-"]NUMBER ] [ "#" comment ]
 *     with tokens separated by blanks, NUMBER = decimal or 0x/0X hex that
 *     fits in 64 bits (a leading 0 is decimal, as in script.c, not octal),
 *     and the expect value fitting int64_t.
 * A disagreement is reported with the known departures of script.c from
 * that grammar that explain it (LENIENT_* below); FUZZ_SCRIPT_TOLERATE=
 * glued,order,no-min (any subset) skips those instead of aborting.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

#define MAX_TOKENS 16

/* Splits s (NUL-terminated, modified) on spaces; returns the token count, or -1 if too many. */
static int tokenize(char *s, char **tok)
{
	int n = 0;

	for (char *p = strtok(s, " "); p; p = strtok(NULL, " ")) {
		if (n == MAX_TOKENS)
			return -1;
		tok[n++] = p;
	}
	return n;
}

static bool ref_number(const char *s, uint64_t *out)
{
	const char *digits = s;
	int base = 10;
	char *end;
	unsigned long long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = s + 2;
		base = 16;
	}
	/* strtoull alone would take blanks, a sign and an empty "0x": vet the characters first. */
	if (!*digits ||
	    strspn(digits, base == 16 ? "0123456789abcdefABCDEF" : "0123456789") != strlen(digits))
		return false;
	errno = 0;
	v = strtoull(digits, &end, base);
	if (errno == ERANGE || *end)
		return false;
	*out = v;
	return true;
}

static bool ref_expect(const char *s, int64_t *out)
{
	bool neg = s[0] == '-';
	uint64_t m;

	if (!ref_number(s + neg, &m))
		return false;
	if (neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? (int64_t)(0 - m) : (int64_t)m;
	return true;
}

/*
 * Leniencies, each reproducing one way script.c departs from the grammar;
 * ref_parse(..., 0) is the grammar itself.
 */
enum {
	LENIENT_GLUED = 1,  /* "expect5", "expect-5": no blank after "expect" */
	LENIENT_ORDER = 2,  /* "expect RET" before or between the numbers */
	LENIENT_NO_MIN = 4, /* "expect -9223372036854775808" (INT64_MIN) rejected */
	LENIENT_ALL = 7,
};

/* Departures not to abort on: FUZZ_SCRIPT_TOLERATE=glued,order,no-min (default none). */
static unsigned tolerated;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_SCRIPT_TOLERATE");

	(void)argc;
	(void)argv;
	if (t) {
		tolerated = (strstr(t, "glued") ? LENIENT_GLUED : 0) |
			    (strstr(t, "order") ? LENIENT_ORDER : 0) |
			    (strstr(t, "no-min") ? LENIENT_NO_MIN : 0);
		fprintf(stderr, "fuzz_script: tolerating%s%s%s\n",
			tolerated & LENIENT_GLUED ? " glued" : "",
			tolerated & LENIENT_ORDER ? " order" : "",
			tolerated & LENIENT_NO_MIN ? " no-min" : "");
	}
	return 0;
}

/* line: printable ASCII, NUL-terminated. True iff it is a well-formed call. */
static bool ref_parse(const char *line, struct script_call *out, unsigned lenient)
{
	char buf[4096], *tok[MAX_TOKENS], *hash;
	int n, nnum = 0;
	uint64_t v[4] = {0};

	memset(out, 0, sizeof(*out));
	if (strlen(line) >= sizeof(buf))
		abort(); /* the caller bounds the length */
	strcpy(buf, line);
	hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	n = tokenize(buf, tok);
	if (n < 4 || strcmp(tok[0], "map"))
		return false;
	for (int i = 1; i < n; i++) {
		const char *val = NULL;

		if (!strcmp(tok[i], "expect")) {
			if (!(lenient & LENIENT_ORDER) && i != n - 2)
				return false;
			if (i + 1 < n)
				val = tok[++i];
		} else if ((lenient & LENIENT_GLUED) && !strncmp(tok[i], "expect", 6)) {
			if (!(lenient & LENIENT_ORDER) && i != n - 1)
				return false;
			val = tok[i] + 6;
		} else {
			if (nnum == 4 || !ref_number(tok[i], &v[nnum]))
				return false;
			nnum++;
			continue;
		}
		if (out->has_expect || !val || !ref_expect(val, &out->expect) ||
		    ((lenient & LENIENT_NO_MIN) && out->expect == INT64_MIN))
			return false;
		out->has_expect = true;
	}
	if (nnum < 3)
		return false;
	out->gpa = v[0];
	out->npages = v[1];
	out->attrs = v[2];
	out->gen = v[3];
	return true;
}

static bool same_call(const struct script_call *a, const struct script_call *b)
{
	return a->gpa == b->gpa && a->npages == b->npages && a->attrs == b->attrs &&
	       a->gen == b->gen && a->has_expect == b->has_expect && a->expect == b->expect;
}

static void print_call(const char *who, const struct script_call *c)
{
	fprintf(stderr, "  %s: gpa %#llx npages %#llx attrs %#llx gen %#llx expect %s%lld\n", who,
		(unsigned long long)c->gpa, (unsigned long long)c->npages,
		(unsigned long long)c->attrs, (unsigned long long)c->gen,
		c->has_expect ? "" : "(none) ", (long long)c->expect);
}

static void fail(const char *why, const char *line, size_t len, enum script_result r)
{
	fprintf(stderr, "fuzz_script: %s\n  line (%zu bytes): \"", why, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			fputc(ch, stderr);
		else
			fprintf(stderr, "\\x%02x", ch);
	}
	fprintf(stderr, "\"\n  script_parse_line: %d (%s)\n", (int)r,
		(unsigned)r <= SCRIPT_BAD_EXPECT ? script_result_name(r) : "?");
	abort();
}

static bool contains_map(const char *s, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (s[i] == 'm' && s[i + 1] == 'a' && s[i + 2] == 'p')
			return true;
	return false;
}

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void check_line(const char *src, size_t len)
{
	/* Exactly len bytes on the heap (malloc(0) may be NULL: use 1 byte then, never read). */
	char *line = malloc(len ? len : 1);
	struct script_call a, b, ref;
	enum script_result ra, rb;

	if (!line)
		abort();
	memcpy(line, src, len);

	memset(&a, 0, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	ra = script_parse_line(line, len, &a);
	rb = script_parse_line(line, len, &b);

	switch (ra) {
	case SCRIPT_CALL:
	case SCRIPT_EMPTY:
	case SCRIPT_BAD_CMD:
	case SCRIPT_BAD_NUMBER:
	case SCRIPT_BAD_ARGS:
	case SCRIPT_BAD_EXPECT:
		break;
	default:
		fail("result is not an enum script_result value", line, len, ra);
	}
	if (!script_result_name(ra) || !strcmp(script_result_name(ra), "?"))
		fail("result has no name", line, len, ra);
	if (ra != rb || (ra == SCRIPT_CALL && !same_call(&a, &b))) {
		print_call("first", &a);
		print_call("second", &b);
		fail("two parses of the same line differ", line, len, ra);
	}
	if (ra == SCRIPT_CALL && !contains_map(line, len))
		fail("SCRIPT_CALL for a line without \"map\"", line, len, ra);

	if (len < 4096 && printable(line, len)) {
		char z[4096];
		bool ok;

		memcpy(z, line, len);
		z[len] = '\0';
		ok = ref_parse(z, &ref, 0);
		if (ok != (ra == SCRIPT_CALL) || (ok && !same_call(&a, &ref))) {
			/* The smallest set of known departures that explains the disagreement. */
			unsigned why = 0;

			for (unsigned m = 1; m <= LENIENT_ALL && !why; m++)
				if (ref_parse(z, &ref, m) == (ra == SCRIPT_CALL) &&
				    (ra != SCRIPT_CALL || same_call(&a, &ref)))
					why = m;
			if (why && !(why & ~tolerated))
				goto out;
			print_call("script.c", &a);
			ref_parse(z, &ref, 0);
			print_call("grammar", &ref);
			fprintf(stderr, "  explained by:%s%s%s%s\n", why ? "" : " nothing known",
				why & LENIENT_GLUED ? " glued" : "",
				why & LENIENT_ORDER ? " order" : "",
				why & LENIENT_NO_MIN ? " no-min" : "");
			fail(ok == (ra == SCRIPT_CALL)
				     ? "script.c and the grammar parse different values"
			     : ok ? "the grammar accepts, script.c rejects"
				  : "script.c accepts, the grammar rejects",
			     line, len, ra);
		}
	}
out:
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			nl = end;
		check_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	return 0;
}
