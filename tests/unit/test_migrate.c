// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pure helpers of vmm/migrate.c: --migrate-to / --incoming URIs and
 * --migrate-at points, every form and every rejection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "migrate.h"

static void test_migrate_uri_forms(void **state)
{
	struct migrate_uri u;
	char buf[160];

	(void)state;
	assert_int_equal(migrate_parse_uri("file:/tmp/a.snap", &u), 0);
	assert_int_equal(u.kind, MIGRATE_URI_FILE);
	assert_string_equal(u.path, "/tmp/a.snap");
	assert_string_equal(migrate_uri_str(&u, buf, sizeof(buf)), "file:/tmp/a.snap");
	assert_int_equal(migrate_parse_uri("unix:/run/m.sock", &u), 0);
	assert_int_equal(u.kind, MIGRATE_URI_UNIX);
	assert_string_equal(u.path, "/run/m.sock");
	assert_int_equal(migrate_parse_uri("tcp:127.0.0.1:4444", &u), 0);
	assert_int_equal(u.kind, MIGRATE_URI_TCP);
	assert_string_equal(u.path, "127.0.0.1");
	assert_int_equal(u.port, 4444);
	assert_string_equal(migrate_uri_str(&u, buf, sizeof(buf)), "tcp:127.0.0.1:4444");
}

static void test_migrate_uri_rejects(void **state)
{
	static const char *const bad[] = {
		"",	   "file:",	  "unix:",   "tcp:",   "tcp:host",   "tcp::80",
		"tcp:h:0", "tcp:h:65536", "tcp:h:x", "ftp:/x", "/tmp/plain", "FILE:/x",
	};
	char longpath[300];
	struct migrate_uri u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(migrate_parse_uri(bad[i], &u), -EINVAL);
		assert_int_equal(u.kind, MIGRATE_URI_NONE);
	}
	assert_int_equal(migrate_parse_uri(NULL, &u), -EINVAL);
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:", 5);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(migrate_parse_uri(longpath, &u), -EINVAL);
}

static void test_migrate_at_forms(void **state)
{
	struct migrate_at a;

	(void)state;
	assert_int_equal(migrate_parse_at("ready", &a), 0);
	assert_false(a.by_seq);
	assert_int_equal(a.tag, SYNC_READY);
	assert_int_equal(a.nth, 1);
	assert_int_equal(migrate_parse_at("ready:2", &a), 0);
	assert_int_equal(a.tag, SYNC_READY);
	assert_int_equal(a.nth, 2);
	assert_int_equal(migrate_parse_at("kexec_begin", &a), 0);
	assert_int_equal(a.tag, SYNC_KEXEC_BEGIN);
	assert_int_equal(migrate_parse_at("enc_kexec_finish:3", &a), 0);
	assert_int_equal(a.tag, SYNC_ENC_KEXEC_FINISH);
	assert_int_equal(a.nth, 3);
	assert_int_equal(migrate_parse_at("seq:42", &a), 0);
	assert_true(a.by_seq);
	assert_int_equal(a.seq, 42);
}

static void test_migrate_at_rejects(void **state)
{
	static const char *const bad[] = {
		"",	  "seq",  "seq:", "seq:0",   "seq:x",	  "ready:0", "ready:",
		"readyx", "read", "none", "invalid", "ready:1:2", "READY",   ":3",
	};
	struct migrate_at a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(migrate_parse_at(bad[i], &a), -EINVAL);
	assert_int_equal(migrate_parse_at(NULL, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_uri_forms),
		cmocka_unit_test(test_migrate_uri_rejects),
		cmocka_unit_test(test_migrate_at_forms),
		cmocka_unit_test(test_migrate_at_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
