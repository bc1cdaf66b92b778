// SPDX-License-Identifier: GPL-2.0-only
#include "script.h"

struct cursor {
	const char *p, *end;
};

static bool at_end(const struct cursor *c)
{
	return c->p >= c->end || *c->p == '#';
}

static void skip_blanks(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

static bool is_sep(const struct cursor *c)
{
	return c->p >= c->end || *c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '#';
}

static int digit(char ch, unsigned base)
{
	int d = -1;

	if (ch >= '0' && ch <= '9')
		d = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		d = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		d = ch - 'A' + 10;
	return d >= 0 && (unsigned)d < base ? d : -1;
}

static bool number(struct cursor *c, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool any = false;

	if (c->end - c->p >= 2 && c->p[0] == '0' && (c->p[1] == 'x' || c->p[1] == 'X')) {
		base = 16;
		c->p += 2;
	}
	for (; c->p < c->end; c->p++) {
		int d = digit(*c->p, base);

		if (d < 0)
			break;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return false;
		v = v * base + (unsigned)d;
		any = true;
	}
	*out = v;
	return any && is_sep(c);
}

enum script_result script_parse_line(const char *line, size_t len, struct script_call *out)
{
	struct cursor c = {line, line + len};
	uint64_t v[4] = {0};
	unsigned nv = 0;

	*out = (struct script_call){0};
	skip_blanks(&c);
	if (at_end(&c))
		return SCRIPT_EMPTY;
	if (c.end - c.p < 3 || c.p[0] != 'm' || c.p[1] != 'a' || c.p[2] != 'p')
		return SCRIPT_BAD_CMD;
	c.p += 3;
	if (!is_sep(&c) || at_end(&c))
		return c.p >= c.end || *c.p == '#' ? SCRIPT_BAD_ARGS : SCRIPT_BAD_CMD;
	for (;;) {
		skip_blanks(&c);
		if (at_end(&c))
			break;
		if (c.end - c.p >= 6 && c.p[0] == 'e' && c.p[1] == 'x' && c.p[2] == 'p' &&
		    c.p[3] == 'e' && c.p[4] == 'c' && c.p[5] == 't') {
			bool neg;
			uint64_t e;

			/* Last on the line, after the numbers, separated by a blank. */
			c.p += 6;
			if (nv < 3)
				return SCRIPT_BAD_ARGS;
			if (c.p >= c.end || (*c.p != ' ' && *c.p != '\t'))
				return SCRIPT_BAD_EXPECT;
			skip_blanks(&c);
			neg = c.p < c.end && *c.p == '-';
			if (neg)
				c.p++;
			if (!number(&c, &e) || e > (uint64_t)INT64_MAX + (neg ? 1 : 0))
				return SCRIPT_BAD_EXPECT;
			out->has_expect = true;
			out->expect = neg ? (int64_t)(0 - e) : (int64_t)e;
			skip_blanks(&c);
			if (!at_end(&c))
				return SCRIPT_BAD_EXPECT;
			break;
		}
		if (nv == 4)
			return SCRIPT_BAD_ARGS;
		if (!number(&c, &v[nv]))
			return SCRIPT_BAD_NUMBER;
		nv++;
	}
	if (nv < 3)
		return SCRIPT_BAD_ARGS;
	out->gpa = v[0];
	out->npages = v[1];
	out->attrs = v[2];
	out->gen = v[3];
	return SCRIPT_CALL;
}

const char *script_result_name(enum script_result r)
{
	switch (r) {
	case SCRIPT_CALL:
		return "call";
	case SCRIPT_EMPTY:
		return "empty";
	case SCRIPT_BAD_CMD:
		return "unknown command (want 'map')";
	case SCRIPT_BAD_NUMBER:
		return "malformed number";
	case SCRIPT_BAD_ARGS:
		return "want 'map GPA NPAGES ATTRS [GEN] [expect RET]'";
	case SCRIPT_BAD_EXPECT:
		return "bad 'expect' value";
	}
	return "?";
}
