// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event log's hot path (log.h): lines formatted with struct
 * evlog_line are byte for byte what evlog_begin() ... evlog_end() write;
 * evlog_reserve() under a lock and evlog_commit() without it keep the
 * file in seq order with several threads and with stdio events in
 * between; the ring and its writer thread (flush, wrap-around, no thread
 * or fd left after close).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc_entries.h"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, n;
	char buf[65536];
	FILE *m;

	assert_non_null(f);
	m = open_memstream(&text, &len);
	assert_non_null(m);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(m);
	fclose(f);
	return text;
}

static void temp_path(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/tmp/test_log_hotpath_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

/* Replace the t_ns digits with T, so that two lines compare. */
static void mask_time(char *text)
{
	for (char *p = strstr(text, "\"t_ns\":"); p; p = strstr(p + 1, "\"t_ns\":")) {
		char *d = p + 7, *e = d;

		while (*e >= '0' && *e <= '9')
			e++;
		*d = 'T';
		memmove(d + 1, e, strlen(e) + 1);
	}
}

static void test_log_hotpath_same_bytes(void **state)
{
	static const char *const strs[] = {"4K", "port", "", "a\"b\\c\n\t\x01\x7f\xff"};
	char path[64];
	struct evlog log;
	struct evlog_line line;
	char *text, *half;
	uint64_t seq, t_ns;
	size_t len;

	temp_path(path, sizeof(path));
	assert_int_equal(evlog_open(&log, path), 0);
	for (unsigned int i = 0; i < 2 * (sizeof(strs) / sizeof(strs[0])); i++) {
		const char *s = strs[i / 2];
		uint64_t v = i % 2 ? UINT64_MAX : i;

		if (i % 2) {
			seq = evlog_reserve(&log, &t_ns);
			evlog_line_begin(&line, seq, t_ns, "hypercall", -1, UINT32_MAX);
			evlog_line_u64(&line, "nr", v);
			evlog_line_hex(&line, "gpa", v);
			evlog_line_hex(&line, "zero", 0);
			evlog_line_i64(&line, "ret", INT64_MIN);
			evlog_line_i64(&line, "pos", 22);
			evlog_line_bool(&line, "t", true);
			evlog_line_bool(&line, "f", false);
			evlog_line_str(&line, "s", s);
			evlog_line_str(&line, "null", NULL);
			len = evlog_line_end(&line);
			evlog_commit(&log, seq, line.buf, len);
		} else {
			evlog_begin(&log, "hypercall", -1, UINT32_MAX);
			evlog_u64(&log, "nr", UINT64_MAX);
			evlog_hex(&log, "gpa", UINT64_MAX);
			evlog_hex(&log, "zero", 0);
			evlog_i64(&log, "ret", INT64_MIN);
			evlog_i64(&log, "pos", 22);
			evlog_bool(&log, "t", true);
			evlog_bool(&log, "f", false);
			evlog_str(&log, "s", s);
			evlog_str(&log, "null", NULL);
			evlog_end(&log);
		}
	}
	evlog_close(&log);
	text = read_all(path);
	unlink(path);
	mask_time(text);
	/* Line 2k (stdio) and 2k+1 (hot path) differ only in seq. */
	for (char *p = text; *p;) {
		char *nl1 = strchr(p, '\n'), *nl2, *a, *b;

		assert_non_null(nl1);
		nl2 = strchr(nl1 + 1, '\n');
		assert_non_null(nl2);
		a = strchr(p, ',');
		b = strchr(nl1 + 1, ',');
		half = strndup(a, (size_t)(nl1 - a));
		if (strlen(half) != (size_t)(nl2 - b) || strncmp(half, b, (size_t)(nl2 - b)))
			fail_msg("stdio: %.*s\nhot path: %.*s", (int)(nl1 - p), p,
				 (int)(nl2 - nl1 - 1), nl1 + 1);
		free(half);
		p = nl2 + 1;
	}
	free(text);
}

static void test_log_hotpath_no_file(void **state)
{
	struct evlog log;
	uint64_t t_ns = 1;

	assert_int_equal(evlog_open(&log, NULL), 0);
	assert_int_equal(evlog_reserve(&log, &t_ns), 1);
	assert_int_equal(t_ns, 0);
	evlog_commit(&log, 1, NULL, 0);
	assert_int_equal(evlog_begin(&log, "a", 0, 0), 2);
	evlog_end(&log);
	assert_int_equal(evlog_reserve(&log, &t_ns), 3);
	evlog_commit(&log, 3, NULL, 0);
	evlog_flush(&log);
	evlog_close(&log);
}

/* ---- threads ------------------------------------------------------------- */

#define THREAD_EVENTS 20000

struct shared {
	struct evlog log;
	pthread_mutex_t lock; /* the VM lock */
	int id;
};

struct worker {
	struct shared *sh;
	int id;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	for (int i = 0; i < THREAD_EVENTS; i++) {
		struct evlog_line line;
		uint64_t seq, t_ns;
		size_t len;

		pthread_mutex_lock(&sh->lock);
		if (i % 1000 == 999) {
			/* A stdio event between hot-path ones. */
			evlog_begin(&sh->log, "stdio", w->id, 0);
			evlog_u64(&sh->log, "i", (uint64_t)i);
			evlog_end(&sh->log);
		}
		seq = evlog_reserve(&sh->log, &t_ns);
		pthread_mutex_unlock(&sh->lock);
		evlog_line_begin(&line, seq, t_ns, "hot", w->id, 0);
		evlog_line_u64(&line, "i", (uint64_t)i);
		len = evlog_line_end(&line);
		evlog_commit(&sh->log, seq, line.buf, len);
	}
	return NULL;
}

static void test_log_hotpath_threads_in_order(void **state)
{
	int threads0 = count_entries("/proc/self/task"), fds0 = count_entries("/proc/self/fd");
	static struct shared sh;
	struct worker w[3];
	pthread_t tid[3];
	char path[64], *text, *p;
	uint64_t last = 0, last_t = 0, lines = 0;
	int64_t last_i[3] = {-1, -1, -1};

	temp_path(path, sizeof(path));
	assert_int_equal(evlog_open(&sh.log, path), 0);
	/* The writer thread and the file. */
	assert_int_equal(count_entries("/proc/self/task"), threads0 + 1);
	pthread_mutex_init(&sh.lock, NULL);
	for (int t = 0; t < 3; t++) {
		w[t] = (struct worker){&sh, t};
		assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
	}
	for (int t = 0; t < 3; t++)
		pthread_join(tid[t], NULL);
	evlog_close(&sh.log);
	pthread_mutex_destroy(&sh.lock);
	assert_int_equal(count_entries("/proc/self/task"), threads0);
	assert_int_equal(count_entries("/proc/self/fd"), fds0);

	/* Every seq once, in file order; t_ns too; each thread's events in its order. */
	text = read_all(path);
	unlink(path);
	for (p = text; *p; p = strchr(p, '\n') + 1) {
		uint64_t seq, t;
		int vcpu;
		char *q;

		assert_int_equal(strncmp(p, "{\"seq\":", 7), 0);
		seq = strtoull(p + 7, &q, 10);
		if (seq != last + 1)
			fail_msg("seq %" PRIu64 " after %" PRIu64, seq, last);
		last = seq;
		assert_int_equal(strncmp(q, ",\"t_ns\":", 8), 0);
		t = strtoull(q + 8, NULL, 10);
		assert_true(t >= last_t);
		last_t = t;
		q = strstr(p, "\"vcpu\":");
		assert_non_null(q);
		vcpu = atoi(q + 7);
		assert_true(vcpu >= 0 && vcpu < 3);
		if (strstr(p, "\"type\":\"hot\"") == strstr(p, "\"type\"")) {
			int64_t i = atoll(strstr(p, "\"i\":") + 4);

			assert_int_equal(i, last_i[vcpu] + 1);
			last_i[vcpu] = i;
		}
		lines++;
		assert_non_null(strchr(p, '\n'));
	}
	assert_int_equal(lines, 3 * (THREAD_EVENTS + THREAD_EVENTS / 1000));
	free(text);
}

static void test_log_hotpath_flush_and_wrap(void **state)
{
	char path[64], *text;
	struct evlog log;
	struct evlog_line line;
	uint64_t seq, t_ns;
	size_t len, total = 0;

	temp_path(path, sizeof(path));
	assert_int_equal(evlog_open(&log, path), 0);
	seq = evlog_reserve(&log, &t_ns);
	evlog_line_begin(&line, seq, t_ns, "first", 0, 0);
	len = evlog_line_end(&line);
	evlog_commit(&log, seq, line.buf, len);
	evlog_begin(&log, "second", 0, 0);
	evlog_end(&log);
	/* Both in the file after evlog_flush(), before close. */
	evlog_flush(&log);
	text = read_all(path);
	assert_non_null(strstr(text, "\"type\":\"first\""));
	assert_non_null(strstr(text, "}\n{\"seq\":2,"));
	assert_non_null(strstr(text, "\"type\":\"second\""));
	free(text);
	/* Many times the ring (4 x 1 MiB): buffers wrap and wait for the writer. */
	while (total < (12u << 20)) {
		seq = evlog_reserve(&log, &t_ns);
		evlog_line_begin(&line, seq, t_ns, "fill", 1, 2);
		evlog_line_str(&line, "pad", "0123456789012345678901234567890123456789");
		len = evlog_line_end(&line);
		evlog_commit(&log, seq, line.buf, len);
		total += len;
	}
	evlog_close(&log);
	text = read_all(path);
	unlink(path);
	assert_true(strlen(text) > total);
	{
		uint64_t last = 0;

		for (char *p = text; *p; p = strchr(p, '\n') + 1) {
			uint64_t s = strtoull(p + 7, NULL, 10);

			assert_int_equal(s, last + 1);
			last = s;
		}
		assert_int_equal(last, seq);
	}
	free(text);
}

/* Numbers as printf writes them, at every digit and nibble boundary. */
static void check_numbers(uint64_t v)
{
	struct evlog_line line;
	char want[256];
	size_t len;

	evlog_line_begin(&line, v, v, "n", (int)v, (uint32_t)v);
	evlog_line_u64(&line, "u", v);
	evlog_line_i64(&line, "i", (int64_t)v);
	evlog_line_hex(&line, "x", v);
	len = evlog_line_end(&line);
	snprintf(want, sizeof(want),
		 "{\"seq\":%" PRIu64 ",\"t_ns\":%" PRIu64
		 ",\"type\":\"n\",\"vcpu\":%d,\"gen\":%" PRIu32 ",\"u\":%" PRIu64 ",\"i\":%" PRId64
		 ",\"x\":\"%#" PRIx64 "\"}\n",
		 v, v, (int)v, (uint32_t)v, v, (int64_t)v, v);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line.buf, want, len);
}

static void test_log_hotpath_numbers(void **state)
{
	uint64_t p10 = 1;

	for (int k = 0; k < 64; k++) {
		uint64_t b = 1ull << k;

		check_numbers(b - 1);
		check_numbers(b);
		check_numbers(b + 1);
		check_numbers(~b);
	}
	for (int k = 0; k < 20; k++, p10 *= 10) {
		check_numbers(p10 - 1);
		check_numbers(p10);
		check_numbers(p10 + 1);
		check_numbers(-p10);
	}
	for (uint64_t v = 0; v < 100000; v += 7)
		check_numbers(v);
	check_numbers(UINT64_MAX);
	check_numbers((uint64_t)INT64_MIN);
	check_numbers(INT64_MAX);
}

static void test_log_hotpath_oversized_field(void **state)
{
	struct evlog_line line;
	char big[200];
	size_t len;

	/* A key or string beyond what callers pass is cut, never overflows. */
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	evlog_line_begin(&line, UINT64_MAX, UINT64_MAX, big, INT32_MIN, UINT32_MAX);
	for (int i = 0; i < 100; i++)
		evlog_line_str(&line, big, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01");
	len = evlog_line_end(&line);
	assert_true(len <= EVLOG_LINE_MAX);
	assert_int_equal(line.buf[len - 1], '\n');
	assert_int_equal(line.buf[len - 2], '}');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_hotpath_same_bytes),
		cmocka_unit_test(test_log_hotpath_no_file),
		cmocka_unit_test(test_log_hotpath_threads_in_order),
		cmocka_unit_test(test_log_hotpath_flush_and_wrap),
		cmocka_unit_test(test_log_hotpath_numbers),
		cmocka_unit_test(test_log_hotpath_oversized_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
