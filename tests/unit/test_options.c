// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command line (options.h) and the number parsers (util.h): defaults, every
 * option, every rejection with a message that names the option, and
 * repeated parsing (getopt keeps global state).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "schedule.h"
#include "util.h"

#define MAX_ARGS 64

static struct vm_opts opts;
static char *out_text, *err_text;

static void free_texts(void)
{
	free(out_text);
	free(err_text);
	out_text = err_text = NULL;
}

static int teardown(void **state)
{
	free_texts();
	return 0;
}

/*
 * Run opts_parse on {"mini-vmm", args..., NULL}. getopt permutes argv, so
 * it gets a private copy; output and errors are captured.
 */
static enum opts_result parse_v(const char *first, va_list ap)
{
	static char storage[MAX_ARGS][8192];
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	size_t out_len = 0, err_len = 0;
	FILE *out, *err;
	enum opts_result r;

	free_texts();
	snprintf(storage[argc], sizeof(storage[0]), "mini-vmm");
	argv[argc] = storage[argc];
	argc++;
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < MAX_ARGS);
		snprintf(storage[argc], sizeof(storage[0]), "%s", a);
		argv[argc] = storage[argc];
		argc++;
	}
	argv[argc] = NULL;
	out = open_memstream(&out_text, &out_len);
	err = open_memstream(&err_text, &err_len);
	assert_non_null(out);
	assert_non_null(err);
	r = opts_parse(argc, argv, &opts, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static enum opts_result parse(const char *first, ...)
{
	va_list ap;
	enum opts_result r;

	va_start(ap, first);
	r = parse_v(first, ap);
	va_end(ap);
	return r;
}

/* Usage error: exactly one line "mini-vmm: ...", containing every `want`. */
static void expect_usage_v(const char *want1, const char *want2, const char *first, va_list ap)
{
	enum opts_result r = parse_v(first, ap);
	size_t n;

	if (r != OPTS_USAGE)
		fail_msg("%s ...: result %d, want OPTS_USAGE", first ? first : "(none)", r);
	assert_string_equal(out_text, "");
	n = strlen(err_text);
	if (strncmp(err_text, "mini-vmm: ", 10) || n < 12 || err_text[n - 1] != '\n' ||
	    strchr(err_text, '\n') != err_text + n - 1)
		fail_msg("not one 'mini-vmm: ...' line: '%s'", err_text);
	if (want1 && !strstr(err_text, want1))
		fail_msg("message '%s' does not name '%s'", err_text, want1);
	if (want2 && !strstr(err_text, want2))
		fail_msg("message '%s' does not contain '%s'", err_text, want2);
}

static void expect_usage(const char *want1, const char *want2, const char *first, ...)
{
	va_list ap;

	va_start(ap, first);
	expect_usage_v(want1, want2, first, ap);
	va_end(ap);
}

static void test_options_defaults(void **state)
{
	assert_int_equal(parse("guest.elf", NULL), OPTS_RUN);
	assert_string_equal(opts.kernel_path, "guest.elf");
	assert_string_equal(opts.kvm_path, "/dev/kvm");
	assert_int_equal(opts.ram_size, 256ull << 20);
	assert_int_equal(opts.nr_cpus, 1);
	assert_int_equal(opts.timeout_s, 60);
	assert_int_equal(opts.cbit, 52);
	assert_false(opts.sev);
	assert_int_equal(opts.transport, TRANSPORT_AUTO);
	assert_null(opts.cmdline);
	assert_null(opts.log_path);
	assert_null(opts.script_path);
	assert_false(opts.dump_bitmap);
	assert_false(opts.check);
	assert_false(opts.story);
	assert_false(opts.gen_filter);
	assert_int_equal(opts.verbose, 0);
	assert_int_equal(opts.sched, SCHED_PARALLEL);
	assert_int_equal(opts.seed, 0);
	assert_int_equal(opts.nr_inject, 0);
	assert_false(opts.allow_emulated);
	assert_string_equal(out_text, "");
	assert_string_equal(err_text, "");
}

static void test_options_everything(void **state)
{
	assert_int_equal(parse("-m", "1G", "-c", "4", "--cmdline", "scenario=script x=1",
			       "--timeout", "5", "--sev", "--cbit", "55", "--hypercall=port",
			       "--log", "l.jsonl", "--guest-script", "s.txt", "--dump-bitmap",
			       "--check", "--gen-filter", "--sched=serial", "--seed", "0x10",
			       "--inject", "vcpu=1,kind=msr,prob=0.5,delay=3", "--inject",
			       "kind=all", "--allow-emulated", "--kvm", "/dev/null", "-v", "-v",
			       "g.elf", NULL),
			 OPTS_RUN);
	assert_int_equal(opts.ram_size, 1ull << 30);
	assert_int_equal(opts.nr_cpus, 4);
	assert_string_equal(opts.cmdline, "scenario=script x=1");
	assert_false(opts.story);
	assert_int_equal(opts.timeout_s, 5);
	assert_true(opts.sev);
	assert_int_equal(opts.cbit, 55);
	assert_int_equal(opts.transport, TRANSPORT_PORT);
	assert_string_equal(opts.log_path, "l.jsonl");
	assert_string_equal(opts.script_path, "s.txt");
	assert_true(opts.dump_bitmap && opts.check && opts.gen_filter && opts.allow_emulated);
	assert_int_equal(opts.sched, SCHED_SERIAL);
	assert_int_equal(opts.seed, 16);
	assert_int_equal(opts.nr_inject, 2);
	assert_int_equal(opts.inject[0].vcpu, 1);
	assert_int_equal(opts.inject[0].kinds, INJ_MSR);
	assert_int_equal(opts.inject[0].prob_ppm, 500000);
	assert_int_equal(opts.inject[0].delay_us, 3);
	assert_int_equal(opts.inject[1].vcpu, -1);
	assert_int_equal(opts.inject[1].kinds, INJ_HYPERCALL | INJ_UCALL | INJ_MSR);
	assert_string_equal(opts.kvm_path, "/dev/null");
	assert_int_equal(opts.verbose, 2);
	assert_string_equal(opts.kernel_path, "g.elf");
	assert_string_equal(err_text, "");
}

static void test_options_forms(void **state)
{
	/* ELF first (GNU permutation), long forms with '=', short forms glued. */
	assert_int_equal(parse("g.elf", "--memory=512M", "--cpus=2", "--sev=emulated", NULL),
			 OPTS_RUN);
	assert_int_equal(opts.ram_size, 512ull << 20);
	assert_int_equal(opts.nr_cpus, 2);
	assert_true(opts.sev);
	assert_string_equal(opts.kernel_path, "g.elf");
	assert_int_equal(parse("-m2G", "-c3", "-vv", "g.elf", NULL), OPTS_RUN);
	assert_int_equal(opts.ram_size, 2ull << 30);
	assert_int_equal(opts.nr_cpus, 3);
	assert_int_equal(opts.verbose, 2);
	/* "--" ends the options: a guest called "-x". */
	assert_int_equal(parse("--", "-x", NULL), OPTS_RUN);
	assert_string_equal(opts.kernel_path, "-x");
	for (const char *const *t =
		     (const char *const[]){"auto", "exit", "vmmcall", "vmcall", "port", NULL};
	     *t; t++) {
		char arg[64];

		snprintf(arg, sizeof(arg), "--hypercall=%s", *t);
		assert_int_equal(parse(arg, "g.elf", NULL), OPTS_RUN);
	}
	assert_int_equal(opts.transport, TRANSPORT_PORT);
}

static void test_options_memory(void **state)
{
	assert_int_equal(parse("-m", "16M", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.ram_size, 16ull << 20);
	assert_int_equal(parse("-m", "1T", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.ram_size, 1ull << 40);
	assert_int_equal(parse("-m", "3073M", "g", NULL), OPTS_RUN);
	assert_int_equal(parse("-m", "268435456", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.ram_size, 256ull << 20);
	expect_usage("-m 1K", "16M", "-m", "1K", "g", NULL);
	expect_usage("-m 15M", NULL, "-m", "15M", "g", NULL);
	expect_usage("-m 1025G", "1T", "-m", "1025G", "g", NULL);
	expect_usage("-m 2T", NULL, "-m", "2T", "g", NULL);
	expect_usage("-m 262148K", "MiB", "-m", "262148K", "g", NULL); /* 256M + 4K */
	expect_usage("-m 12Q", NULL, "-m", "12Q", "g", NULL);
	expect_usage("-m -1", NULL, "-m", "-1", "g", NULL);
	expect_usage("-m", "MiB", "--memory=", "g", NULL);
	expect_usage("-m 99999999999999999999", NULL, "-m", "99999999999999999999", "g", NULL);
}

static void test_options_cpus(void **state)
{
	assert_int_equal(parse("--cpus", "64", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.nr_cpus, 64);
	expect_usage("--cpus 0", "1 to 64", "--cpus", "0", "g", NULL);
	expect_usage("--cpus 65", NULL, "--cpus", "65", "g", NULL);
	expect_usage("--cpus abc", NULL, "--cpus", "abc", "g", NULL);
	expect_usage("--cpus -1", NULL, "--cpus", "-1", "g", NULL);
	expect_usage("--cpus 2x", NULL, "-c", "2x", "g", NULL);
}

static void test_options_timeout(void **state)
{
	assert_int_equal(parse("--timeout", "86400", "g", NULL), OPTS_RUN);
	expect_usage("--timeout 0", NULL, "--timeout", "0", "g", NULL);
	expect_usage("--timeout 86401", NULL, "--timeout", "86401", "g", NULL);
	expect_usage("--timeout 1.5", NULL, "--timeout", "1.5", "g", NULL);
}

static void test_options_sev(void **state)
{
	expect_usage("--sev=hw", "not implemented", "--sev=hw", "g", NULL);
	expect_usage("--sev=maybe", NULL, "--sev=maybe", "g", NULL);
	assert_int_equal(parse("--cbit", "52", "g", NULL), OPTS_RUN);
	assert_int_equal(parse("--cbit", "62", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.cbit, 62);
	expect_usage("--cbit 51", "52..62", "--cbit", "51", "g", NULL);
	expect_usage("--cbit 47", NULL, "--cbit", "47", "g", NULL);
	expect_usage("--cbit 63", NULL, "--cbit", "63", "g", NULL);
}

static void test_options_choices(void **state)
{
	expect_usage("--hypercall=hvc", NULL, "--hypercall=hvc", "g", NULL);
	expect_usage("--sched=fifo", NULL, "--sched=fifo", "g", NULL);
	expect_usage("--seed -3", NULL, "--seed", "-3", "g", NULL);
	expect_usage("--inject vcpu=99", NULL, "--inject", "vcpu=99", "g", NULL);
	expect_usage("--inject", "at most 4", "--inject", "kind=all", "--inject", "kind=all",
		     "--inject", "kind=all", "--inject", "kind=all", "--inject", "kind=all", "g",
		     NULL);
}

/* Schedules as data and PCT (schedule.h): what goes with what. */
static void test_options_schedules(void **state)
{
	(void)state;
	assert_int_equal(parse("--sched=pct", "--depth", "3", "--seed", "7", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.sched, SCHED_SERIAL);
	assert_true(opts.pct);
	assert_int_equal(opts.pct_depth, 3);
	assert_int_equal(opts.pct_steps, SCHED_PCT_DEFAULT_STEPS);
	assert_int_equal(parse("--sched=pct", "--depth", "2", "--pct-steps", "900", "g", NULL),
			 OPTS_RUN);
	assert_int_equal(opts.pct_steps, 900);
	/* A replay is serial; lenient and until only with it. */
	assert_int_equal(parse("--schedule", "f.sched", "--schedule-lenient", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.sched, SCHED_SERIAL);
	assert_false(opts.pct);
	assert_true(opts.schedule_lenient);
	assert_string_equal(opts.schedule_in, "f.sched");
	assert_int_equal(parse("--sched=serial", "--seed", "1", "--schedule-out", "o", "g", NULL),
			 OPTS_RUN);
	assert_string_equal(opts.schedule_out, "o");
	assert_int_equal(parse("--schedule", "f", "--schedule-until", "40", "g", NULL), OPTS_RUN);
	assert_int_equal(opts.schedule_until, 40);
	expect_usage("--depth", NULL, "--sched=pct", "g", NULL);
	expect_usage("--depth 0", NULL, "--sched=pct", "--depth", "0", "g", NULL);
	expect_usage("--depth", "--sched=pct", "--depth", "2", "g", NULL);
	expect_usage("--pct-steps", NULL, "--sched=pct", "--depth", "2", "--pct-steps", "0", "g",
		     NULL);
	expect_usage("--schedule f", "--sched", "--sched=parallel", "--schedule", "f", "g", NULL);
	expect_usage("--schedule f", "--sched", "--sched=pct", "--depth", "2", "--schedule", "f",
		     "g", NULL);
	expect_usage("--schedule-out o", "serial", "--schedule-out", "o", "g", NULL);
	expect_usage("--schedule-lenient", NULL, "--schedule-lenient", "g", NULL);
	expect_usage("--schedule-until", NULL, "--schedule-until", "3", "g", NULL);
}

/* The mission's command: --sev alone runs the default story, checked. */
static void test_options_default_story(void **state)
{
	assert_int_equal(parse("--sev", "g", NULL), OPTS_RUN);
	assert_string_equal(opts.cmdline, OPTS_DEFAULT_STORY);
	assert_true(opts.story && opts.check);
	assert_string_equal(err_text, "");
	/* --check is accepted and changes nothing; --no-check turns checks off. */
	assert_int_equal(parse("--sev", "--check", "g", NULL), OPTS_RUN);
	assert_true(opts.story && opts.check);
	assert_int_equal(parse("--no-check", "--sev", "g", NULL), OPTS_RUN);
	assert_true(opts.story);
	assert_false(opts.check);
	assert_string_equal(opts.cmdline, OPTS_DEFAULT_STORY);
	/* The last of --check and --no-check wins. */
	assert_int_equal(parse("--sev", "--no-check", "--check", "g", NULL), OPTS_RUN);
	assert_true(opts.check);
	assert_int_equal(parse("--check", "--no-check", "--sev", "g", NULL), OPTS_RUN);
	assert_false(opts.check);
	/* A --cmdline replaces the story entirely, even an empty one; checks stay on. */
	assert_int_equal(parse("--sev", "--cmdline", "scenario=sev", "g", NULL), OPTS_RUN);
	assert_string_equal(opts.cmdline, "scenario=sev");
	assert_false(opts.story);
	assert_true(opts.check);
	assert_int_equal(parse("--sev", "--cmdline", "", "g", NULL), OPTS_RUN);
	assert_string_equal(opts.cmdline, "");
	assert_false(opts.story);
	/* Without --sev: no story, checks off unless asked for. */
	assert_int_equal(parse("--check", "g", NULL), OPTS_RUN);
	assert_true(opts.check);
	assert_false(opts.story);
	assert_null(opts.cmdline);
	assert_int_equal(parse("--no-check", "g", NULL), OPTS_RUN);
	assert_false(opts.check);
	expect_usage("--no-check", "takes no value", "--no-check=1", "g", NULL);
}

/* A guest script nothing reads is a usage error, not a silent no-op. */
static void test_options_guest_script(void **state)
{
	assert_int_equal(
		parse("--guest-script", "s.txt", "--cmdline", "scenario=script", "g", NULL),
		OPTS_RUN);
	assert_string_equal(opts.script_path, "s.txt");
	assert_int_equal(parse("--sev", "--guest-script", "s.txt", "--cmdline",
			       " io=1  scenario=script verbose=1", "g", NULL),
			 OPTS_RUN);
	expect_usage("--guest-script s.txt", "scenario=script", "--guest-script", "s.txt", "g",
		     NULL);
	/* The default story is scenario=kexec. */
	expect_usage("--guest-script s.txt", OPTS_DEFAULT_STORY, "--sev", "--guest-script", "s.txt",
		     "g", NULL);
	expect_usage("--guest-script s.txt", "'scenario=sev'", "--guest-script", "s.txt",
		     "--cmdline", "scenario=sev", "g", NULL);
	expect_usage("--guest-script", NULL, "--guest-script", "s.txt", "--cmdline",
		     "scenario=scripted", "g", NULL);
	expect_usage("--guest-script", NULL, "--guest-script", "s.txt", "--cmdline",
		     "xscenario=script", "g", NULL);
	expect_usage("--guest-script", NULL, "--guest-script", "s.txt", "--cmdline",
		     "scenario=script=1", "g", NULL);
}

static void test_options_cmdline_length(void **state)
{
	static char longer[VM_CMDLINE_MAX];

	memset(longer, 'a', sizeof(longer) - 1);
	expect_usage("--cmdline", "longer than", "--cmdline", longer, "g", NULL);
	longer[VM_CMDLINE_MAX - 65] = '\0'; /* the longest accepted */
	assert_int_equal(parse("--cmdline", longer, "g", NULL), OPTS_RUN);
	assert_int_equal(strlen(opts.cmdline), VM_CMDLINE_MAX - 65);
}

static void test_options_unknown(void **state)
{
	expect_usage("--frobnicate", "unknown option", "--frobnicate", "g", NULL);
	expect_usage("--frobnicate", NULL, "--frobnicate=3", "g", NULL);
	expect_usage("-x", "unknown option", "-x", "g", NULL);
	/* In a group of short options, the bad one is named. */
	expect_usage("-x", NULL, "-vx", "g", NULL);
	expect_usage("--dump-bitmap", "takes no value", "--dump-bitmap=1", "g", NULL);
	expect_usage("--help", "takes no value", "--help=1", "g", NULL);
}

static void test_options_missing_value(void **state)
{
	expect_usage("--log", "missing value", "g", "--log", NULL);
	expect_usage("-m", "missing value", "g", "-m", NULL);
	expect_usage("--cpus", "missing value", "g", "--cpus", NULL);
	expect_usage("-c", "missing value", "g", "-vc", NULL);
	expect_usage("--timeout", NULL, "g", "--timeout", NULL);
}

static void test_options_elf_count(void **state)
{
	expect_usage("no guest ELF", NULL, NULL);
	expect_usage("no guest ELF", NULL, "-v", "--sev", NULL);
	expect_usage("exactly one guest ELF", "'a.elf'", "a.elf", "b.elf", NULL);
	expect_usage("'b.elf'", NULL, "a.elf", "-v", "b.elf", NULL);
}

static void test_options_help_version(void **state)
{
	assert_int_equal(parse("--help", NULL), OPTS_EXIT_OK);
	assert_non_null(strstr(out_text, "usage: mini-vmm"));
	assert_non_null(strstr(out_text, "--sev"));
	assert_non_null(strstr(out_text, "--no-check"));
	assert_non_null(strstr(out_text, OPTS_DEFAULT_STORY));
	assert_non_null(strstr(out_text, "exit status"));
	assert_string_equal(err_text, "");
	assert_int_equal(parse("-h", "g", NULL), OPTS_EXIT_OK);
	assert_non_null(strstr(out_text, "usage:"));
	assert_int_equal(parse("--version", NULL), OPTS_EXIT_OK);
	assert_string_equal(out_text, "mini-vmm " MINIVMM_VERSION "\n");
	assert_int_equal(parse("-V", NULL), OPTS_EXIT_OK);
	assert_string_equal(err_text, "");
	/* --help wins over errors that come after it. */
	assert_int_equal(parse("--help", "--cpus", "0", NULL), OPTS_EXIT_OK);
}

static void test_options_reparse(void **state)
{
	/*
	 * getopt keeps its position inside "-hV" after returning 'h'; the next
	 * parse must start from scratch, not resume at 'V' in the old argv.
	 */
	assert_int_equal(parse("-hV", NULL), OPTS_EXIT_OK);
	assert_null(strstr(out_text, "mini-vmm " MINIVMM_VERSION "\n"));
	assert_int_equal(parse("g.elf", NULL), OPTS_RUN);
	assert_string_equal(out_text, "");
	assert_string_equal(opts.kernel_path, "g.elf");
	/* And after an error in the middle of a group. */
	expect_usage("-x", NULL, "-vxv", "g", NULL);
	assert_int_equal(parse("g.elf", NULL), OPTS_RUN);
	assert_int_equal(opts.verbose, 0);
	/* Results do not leak from one parse to the next. */
	assert_int_equal(parse("--sev", "-m", "1G", "g.elf", NULL), OPTS_RUN);
	assert_int_equal(parse("g.elf", NULL), OPTS_RUN);
	assert_false(opts.sev);
	assert_false(opts.story || opts.check);
	assert_null(opts.cmdline);
	assert_int_equal(opts.ram_size, 256ull << 20);
}

/* ---- util.h parsers ---- */

static void test_options_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"0", 0},
		{"4096", 4096},
		{"64K", 64ull << 10},
		{"64k", 64ull << 10},
		{"256M", 256ull << 20},
		{"256m", 256ull << 20},
		{"1G", 1ull << 30},
		{"3g", 3ull << 30},
		{"1T", 1ull << 40},
		{"16777215T", UINT64_MAX - ((1ull << 40) - 1)},
		{"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {"",	"12Q", "-1", "+1",   "0x",  "0x10", "1KB",
					  " 1", "1 ",  "K",  "1.5G", "1K ", "1e3"};
	static const char *const huge[] = {"18446744073709551616", "16777216T", "17179869184G",
					   "18014398509481984K", "99999999999999999999999"};
	uint64_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		v = 0xdead;
		if (parse_size(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("parse_size(\"%s\") -> %#lx", good[i].s, v);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 0xdead;
		if (parse_size(bad[i], &v) != -EINVAL || v != 0xdead)
			fail_msg("parse_size(\"%s\") accepted or wrong error", bad[i]);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(huge); i++)
		if (parse_size(huge[i], &v) != -ERANGE)
			fail_msg("parse_size(\"%s\") is not -ERANGE", huge[i]);
	assert_int_equal(parse_size(NULL, &v), -EINVAL);
}

static void test_options_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"0", 0},
		{"42", 42},
		{"0x2a", 42},
		{"0X2A", 42},
		{"052", 42}, /* C syntax: octal */
		{"18446744073709551615", UINT64_MAX},
		{"0xffffffffffffffff", UINT64_MAX},
	};
	static const char *const bad[] = {"",	"-1", "+1",  "0x", "12Q",
					  " 1", "1 ", "0xg", "08", "x"};
	uint64_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(good); i++) {
		v = 0xdead;
		if (parse_u64(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("parse_u64(\"%s\") -> %#lx", good[i].s, v);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 0xdead;
		if (parse_u64(bad[i], &v) != -EINVAL || v != 0xdead)
			fail_msg("parse_u64(\"%s\") accepted or wrong error", bad[i]);
	}
	assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse_u64("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(parse_u64(NULL, &v), -EINVAL);

	assert_int_equal(parse_u64_range("5", 1, 10, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_u64_range("1", 1, 10, &v), 0);
	assert_int_equal(parse_u64_range("10", 1, 10, &v), 0);
	v = 0xdead;
	assert_int_equal(parse_u64_range("0", 1, 10, &v), -ERANGE);
	assert_int_equal(parse_u64_range("11", 1, 10, &v), -ERANGE);
	assert_int_equal(v, 0xdead);
	assert_int_equal(parse_u64_range("x", 1, 10, &v), -EINVAL);
}

static void test_options_parse_inject(void **state)
{
	static const char *const bad[] = {
		"vcpu=64",   "vcpu=-1",	 "vcpu=", "kind=foo",	    "kind=",	      "prob=1.5",
		"prob=-0.1", "prob=nan", "prob=", "prob=0.5x",	    "delay=10000001", "delay=-1",
		"bogus=1",   "vcpu",	 "=1",	  "vcpu=1,,kind=x",
	};
	struct inject_rule r;
	char longspec[300];

	assert_int_equal(parse_inject("vcpu=1,kind=hypercall,prob=0.5,delay=200", &r), 0);
	assert_int_equal(r.vcpu, 1);
	assert_int_equal(r.kinds, INJ_HYPERCALL);
	assert_int_equal(r.prob_ppm, 500000);
	assert_int_equal(r.delay_us, 200);
	assert_int_equal(parse_inject("kind=ucall", &r), 0);
	assert_int_equal(r.vcpu, -1);
	assert_int_equal(r.kinds, INJ_UCALL);
	assert_int_equal(r.prob_ppm, 1000000);
	assert_int_equal(r.delay_us, 100);
	assert_int_equal(parse_inject("vcpu=63,kind=all,prob=0,delay=0", &r), 0);
	assert_int_equal(r.vcpu, 63);
	assert_int_equal(r.kinds, INJ_HYPERCALL | INJ_UCALL | INJ_MSR);
	assert_int_equal(r.prob_ppm, 0);
	assert_int_equal(parse_inject("prob=1", &r), 0);
	assert_int_equal(r.prob_ppm, 1000000);
	assert_int_equal(parse_inject("prob=0.0000004", &r), 0);
	assert_int_equal(r.prob_ppm, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse_inject(bad[i], &r) != -EINVAL)
			fail_msg("parse_inject(\"%s\") accepted", bad[i]);
	assert_int_equal(parse_inject(NULL, &r), -EINVAL);
	memset(longspec, 'a', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	assert_int_equal(parse_inject(longspec, &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_options_defaults, teardown),
		cmocka_unit_test_teardown(test_options_everything, teardown),
		cmocka_unit_test_teardown(test_options_forms, teardown),
		cmocka_unit_test_teardown(test_options_memory, teardown),
		cmocka_unit_test_teardown(test_options_cpus, teardown),
		cmocka_unit_test_teardown(test_options_timeout, teardown),
		cmocka_unit_test_teardown(test_options_sev, teardown),
		cmocka_unit_test_teardown(test_options_choices, teardown),
		cmocka_unit_test_teardown(test_options_schedules, teardown),
		cmocka_unit_test_teardown(test_options_default_story, teardown),
		cmocka_unit_test_teardown(test_options_guest_script, teardown),
		cmocka_unit_test_teardown(test_options_cmdline_length, teardown),
		cmocka_unit_test_teardown(test_options_unknown, teardown),
		cmocka_unit_test_teardown(test_options_missing_value, teardown),
		cmocka_unit_test_teardown(test_options_elf_count, teardown),
		cmocka_unit_test_teardown(test_options_help_version, teardown),
		cmocka_unit_test_teardown(test_options_reparse, teardown),
		cmocka_unit_test(test_options_parse_size),
		cmocka_unit_test(test_options_parse_u64),
		cmocka_unit_test(test_options_parse_inject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
