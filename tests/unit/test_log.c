// SPDX-License-Identifier: GPL-2.0-only
/*
 * JSON Lines event log (log.h): string escaping, the line format of an
 * event and its fields, and the sequence numbers that advance with or
 * without a log file.
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
#include <unistd.h>

#include "log.h"

static char *escape(const char *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	json_write_string(f, s);
	fclose(f);
	return text;
}

static void expect_escape(const char *in, const char *want)
{
	char *got = escape(in);

	if (strcmp(got, want))
		fail_msg("json_write_string: got %s, want %s", got, want);
	free(got);
}

static void test_log_escape(void **state)
{
	expect_escape("", "\"\"");
	expect_escape("plain text 123", "\"plain text 123\"");
	expect_escape("a\"b", "\"a\\\"b\"");
	expect_escape("back\\slash", "\"back\\\\slash\"");
	expect_escape("\\\"", "\"\\\\\\\"\"");
	expect_escape("line\nnext\ttab", "\"line\\nnext\\ttab\"");
	expect_escape("\r\b\f", "\"\\u000d\\u0008\\u000c\"");
	expect_escape("\x01\x1f", "\"\\u0001\\u001f\"");
	expect_escape("\x7f", "\"\\u007f\"");
	/* Bytes >= 0x80 are not trusted to be UTF-8: escaped one by one. */
	expect_escape("\x80\xff", "\"\\u0080\\u00ff\"");
	expect_escape("caf\xc3\xa9", "\"caf\\u00c3\\u00a9\"");
	expect_escape("/<>'", "\"/<>'\"");
}

static void test_log_escape_all_bytes(void **state)
{
	char in[256], *got;

	/* Every byte 1..255: the output is printable ASCII only, quotes balanced. */
	for (int i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	got = escape(in);
	assert_int_equal(got[0], '"');
	assert_int_equal(got[strlen(got) - 1], '"');
	for (size_t i = 0; got[i]; i++) {
		unsigned char c = (unsigned char)got[i];

		if (c < 0x20 || c >= 0x7f)
			fail_msg("raw byte %#x at %zu in the output", c, i);
		if (c == '"' && i && i + 1 < strlen(got) && got[i - 1] != '\\')
			fail_msg("unescaped quote at %zu", i);
	}
	free(got);
}

static void test_log_seq_without_file(void **state)
{
	struct evlog log;

	assert_int_equal(evlog_open(&log, NULL), 0);
	assert_false(evlog_enabled(&log));
	assert_int_equal(evlog_begin(&log, "a", 0, 0), 1);
	/* Fields and end are no-ops without a file. */
	evlog_u64(&log, "x", 1);
	evlog_i64(&log, "y", -1);
	evlog_hex(&log, "z", 2);
	evlog_bool(&log, "b", true);
	evlog_str(&log, "s", "t");
	evlog_raw(&log, "r", "[]");
	evlog_key(&log, "k");
	evlog_end(&log);
	assert_int_equal(evlog_begin(&log, "b", -1, 7), 2);
	evlog_end(&log);
	assert_int_equal(evlog_begin(&log, "c", 3, 1), 3);
	assert_int_equal(log.seq, 3);
	evlog_close(&log);
	evlog_close(&log); /* twice is fine */
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Replace the t_ns value by "T" so lines can be compared. */
static void mask_time(char *line)
{
	char *t = strstr(line, "\"t_ns\":"), *e;

	assert_non_null(t);
	t += 7;
	e = t;
	while (*e >= '0' && *e <= '9')
		e++;
	assert_true(e > t);
	*t = 'T';
	memmove(t + 1, e, strlen(e) + 1);
}

static void test_log_event_format(void **state)
{
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path);
	struct evlog log;
	char *text, *line, *save = NULL;
	static const char *const want[] = {
		("{\"seq\":1,\"t_ns\":T,\"type\":\"hypercall\",\"vcpu\":1,\"gen\":2,\"n\":5,"
		 "\"i\":-3,\"h\":\"0x10\",\"zero\":\"0\",\"b\":true,\"f\":false,"
		 "\"s\":\"x\\\"y\",\"null\":\"\",\"r\":[1,2],\"k\":{}}"),
		("{\"seq\":2,\"t_ns\":T,\"type\":\"exit\",\"vcpu\":-1,\"gen\":4294967295,"
		 "\"max\":18446744073709551615,\"min\":-9223372036854775808}"),
		"{\"seq\":4,\"t_ns\":T,\"type\":\"after_hidden\",\"vcpu\":0,\"gen\":0}",
	};
	unsigned n = 0;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(evlog_open(&log, path), 0);
	assert_true(evlog_enabled(&log));
	assert_int_equal(evlog_begin(&log, "hypercall", 1, 2), 1);
	evlog_u64(&log, "n", 5);
	evlog_i64(&log, "i", -3);
	evlog_hex(&log, "h", 0x10);
	evlog_hex(&log, "zero", 0);
	evlog_bool(&log, "b", true);
	evlog_bool(&log, "f", false);
	evlog_str(&log, "s", "x\"y");
	evlog_str(&log, "null", NULL);
	evlog_raw(&log, "r", "[1,2]");
	evlog_key(&log, "k");
	fputs("{}", log.f);
	evlog_end(&log);
	assert_int_equal(evlog_begin(&log, "exit", -1, UINT32_MAX), 2);
	evlog_u64(&log, "max", UINT64_MAX);
	evlog_i64(&log, "min", INT64_MIN);
	evlog_end(&log);
	evlog_end(&log); /* a second end writes nothing */
	/* An event handed a sequence number while the file is closed... */
	{
		FILE *f = log.f;

		log.f = NULL;
		assert_int_equal(evlog_begin(&log, "hidden", 0, 0), 3);
		evlog_end(&log);
		log.f = f;
	}
	/* ...leaves a gap, not a duplicate. */
	assert_int_equal(evlog_begin(&log, "after_hidden", 0, 0), 4);
	evlog_end(&log);
	evlog_close(&log);

	text = read_all(path);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(n < 3);
		mask_time(line);
		if (strcmp(line, want[n]))
			fail_msg("line %u:\n got  %s\n want %s", n + 1, line, want[n]);
		n++;
	}
	assert_int_equal(n, 3);
	free(text);
	unlink(path);
}

static void test_log_time_monotonic(void **state)
{
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path);
	struct evlog log;
	char *text, *p;
	unsigned long long last = 0;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(evlog_open(&log, path), 0);
	for (int i = 0; i < 100; i++) {
		evlog_begin(&log, "tick", 0, 0);
		evlog_end(&log);
	}
	evlog_close(&log);
	text = read_all(path);
	for (p = strstr(text, "\"t_ns\":"); p; p = strstr(p + 1, "\"t_ns\":")) {
		unsigned long long t = strtoull(p + 7, NULL, 10);

		assert_true(t >= last);
		last = t;
	}
	free(text);
	unlink(path);
}

static void test_log_open_errors(void **state)
{
	struct evlog log;

	assert_int_equal(evlog_open(&log, "/nonexistent-dir/x/log.jsonl"), -ENOENT);
	assert_false(evlog_enabled(&log));
	assert_int_equal(evlog_begin(&log, "a", 0, 0), 1); /* still counts */
	evlog_close(&log);
}

static void test_log_stdout(void **state)
{
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path), saved;
	struct evlog log;
	char *text;

	/* "-" logs to stdout; stdout stays usable after the log is closed. */
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	assert_int_equal(evlog_open(&log, "-"), 0);
	assert_ptr_equal(log.f, stdout);
	assert_false(log.own);
	evlog_begin(&log, "to_stdout", 0, 0);
	evlog_end(&log);
	evlog_close(&log);
	assert_null(log.f);
	printf("after close\n");
	fflush(stdout);
	/* Twice, as a second run in the same process would. */
	assert_int_equal(evlog_open(&log, "-"), 0);
	evlog_begin(&log, "again", 0, 0);
	evlog_end(&log);
	evlog_close(&log);
	printf("end\n");
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	text = read_all(path);
	unlink(path);
	if (!strstr(text, "\"type\":\"to_stdout\"") || !strstr(text, "}\nafter close\n{") ||
	    !strstr(text, "\"type\":\"again\"") || !strstr(text, "}\nend\n"))
		fail_msg("stdout got: %s", text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_log_escape_all_bytes),
		cmocka_unit_test(test_log_seq_without_file),
		cmocka_unit_test(test_log_event_format),
		cmocka_unit_test(test_log_time_monotonic),
		cmocka_unit_test(test_log_open_errors),
		cmocka_unit_test(test_log_stdout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
