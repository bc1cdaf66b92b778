// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the host-side option parsers. The first input byte
 * selects the parser; the rest is its text:
 *   0: opts_parse() with argv = "mini-vmm" + the text split on NUL bytes;
 *   1: parse_inject();
 *   2: parse_size(), parse_u64(), parse_u64_range(), each checked against a
 *      reference written here.
 * Oracles (abort()): a successful opts_parse() leaves options inside the
 * ranges --help promises; a successful parse_inject() a rule inside its
 * ranges; the number parsers agree with the references.
 *
 * (The guest's scenario-script parser lives in guest-stub/main.c and is not
 * reachable from the host build; it needs moving into a shared file first.)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"
#include "vm.h"

#define MAX_ARGS 64

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

static void check_rule(const struct inject_rule *r)
{
	if (r->vcpu < -1 || r->vcpu >= VM_MAX_VCPUS || !r->kinds ||
	    (r->kinds & ~(unsigned)(INJ_HYPERCALL | INJ_UCALL | INJ_MSR)) ||
	    r->prob_ppm > 1000000 || r->delay_us > 10000000)
		abort();
}

static void fuzz_opts(char *text, size_t len)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	struct vm_opts o;
	enum opts_result res;

	argv[argc++] = "mini-vmm";
	for (size_t i = 0; i <= len && argc <= MAX_ARGS;) {
		size_t n = strlen(text + i);

		argv[argc++] = text + i;
		i += n + 1;
	}
	argv[argc] = NULL;
	res = opts_parse(argc, argv, &o, devnull, devnull);
	if (res > OPTS_USAGE)
		abort();
	if (res != OPTS_RUN)
		return;
	/* A destination (--incoming) takes no ELF: everything comes in the stream. */
	if ((o.incoming.kind == MIGRATE_URI_NONE) != (o.kernel_path != NULL))
		abort();
	if (o.incoming.kind != MIGRATE_URI_NONE)
		return;
	if (o.ram_size < MEM_MIN_SIZE || o.ram_size > MEM_MAX_SIZE || o.ram_size % SZ_1M ||
	    o.nr_cpus < 1 || o.nr_cpus > VM_MAX_VCPUS ||
	    (o.cmdline && strlen(o.cmdline) >= VM_CMDLINE_MAX - 64) || o.timeout_s < 1 ||
	    o.timeout_s > 86400 || o.cbit < 52 || o.cbit > 62 || o.transport > TRANSPORT_PORT ||
	    o.sched > SCHED_SERIAL || o.nr_inject > ARRAY_SIZE(o.inject) || !o.kvm_path)
		abort();
	/* The default story is --sev's alone; a guest script always has its reader. */
	if ((o.story && (!o.sev || strcmp(o.cmdline, OPTS_DEFAULT_STORY))) ||
	    (o.script_path && (!o.cmdline || !strstr(o.cmdline, "scenario=script"))))
		abort();
	for (unsigned i = 0; i < o.nr_inject; i++)
		check_rule(&o.inject[i]);
}

/* Reference: decimal digits, at most one K/M/G/T (any case), nothing else. */
static int ref_parse_size(const char *s, uint64_t *out)
{
	unsigned __int128 v = 0;
	unsigned shift = 0;
	bool overflow = false;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT64_MAX) {
			overflow = true;
			v = (unsigned __int128)UINT64_MAX + 1; /* saturate */
		}
	}
	if (overflow)
		return -ERANGE;
	if (*p) {
		const char *suf = strchr("kKmMgGtT", *p);

		if (!suf || p[1])
			return -EINVAL;
		shift = 10 * (unsigned)(1 + (suf - "kKmMgGtT") / 2);
	}
	if ((v << shift) > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)(v << shift);
	return 0;
}

/* Reference: C syntax without sign or space, strtoull's base 0 rules. */
static int ref_parse_u64(const char *s, uint64_t *out)
{
	unsigned __int128 v = 0;
	unsigned base = 10;
	const char *p = s;
	bool overflow = false;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		bool hex1 = (p[2] >= '0' && p[2] <= '9') || (p[2] >= 'a' && p[2] <= 'f') ||
			    (p[2] >= 'A' && p[2] <= 'F');

		if (!hex1) {
			/* strtoull parses "0" and stops at 'x': junk. */
			return -EINVAL;
		}
		base = 16;
		p += 2;
	} else if (p[0] == '0') {
		base = 8;
	}
	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'z')
			d = (unsigned)(*p - 'a') + 10;
		else if (*p >= 'A' && *p <= 'Z')
			d = (unsigned)(*p - 'A') + 10;
		else
			break;
		if (d >= base)
			break;
		v = v * base + d;
		if (v > UINT64_MAX) {
			overflow = true;
			v = (unsigned __int128)UINT64_MAX + 1;
		}
	}
	if (overflow)
		return -ERANGE;
	if (*p)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

static void fuzz_numbers(const char *s)
{
	uint64_t a = 0, b = 0;
	int ra, rb;

	ra = parse_size(s, &a);
	rb = ref_parse_size(s, &b);
	if (ra != rb || (ra == 0 && a != b)) {
		fprintf(stderr, "parse_size(\"%s\"): %d %#lx, reference %d %#lx\n", s, ra, a, rb,
			b);
		abort();
	}
	ra = parse_u64(s, &a);
	rb = ref_parse_u64(s, &b);
	if (ra != rb || (ra == 0 && a != b)) {
		fprintf(stderr, "parse_u64(\"%s\"): %d %#lx, reference %d %#lx\n", s, ra, a, rb, b);
		abort();
	}
	ra = parse_u64_range(s, 16, 4096, &a);
	if (ra == 0 && (rb != 0 || a != b || a < 16 || a > 4096))
		abort();
	if (ra == -ERANGE && rb == 0 && b >= 16 && b <= 4096)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct inject_rule rule;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		fuzz_opts(text, size - 1);
		break;
	case 1:
		if (parse_inject(text, &rule) == 0)
			check_rule(&rule);
		break;
	default:
		fuzz_numbers(text);
		break;
	}
	free(text);
	return 0;
}
