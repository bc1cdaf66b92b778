// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define EVLOG_BUFSZ (1u << 20)

int evlog_open(struct evlog *log, const char *path)
{
	memset(log, 0, sizeof(*log));
	log->t0 = now_ns();
	if (!path)
		return 0;
	if (strcmp(path, "-") == 0) {
		/*
		 * stdout outlives the log (glibc keeps using a buffer handed to
		 * setvbuf until the stream is closed, and setvbuf(NULL, _IOLBF)
		 * does not take it back), so its buffer is never freed.
		 */
		static char stdout_buf[EVLOG_BUFSZ];

		log->f = stdout;
		setvbuf(log->f, stdout_buf, _IOFBF, sizeof(stdout_buf));
		return 0;
	}
	log->f = fopen(path, "we");
	if (!log->f)
		return -errno;
	log->own = true;
	log->buf = malloc(EVLOG_BUFSZ);
	if (log->buf)
		setvbuf(log->f, log->buf, _IOFBF, EVLOG_BUFSZ);
	return 0;
}

void evlog_close(struct evlog *log)
{
	if (log->f) {
		fflush(log->f);
		if (log->own)
			fclose(log->f); /* before its buffer goes */
	}
	free(log->buf);
	log->f = NULL;
	log->buf = NULL;
}

void json_write_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p >= 0x7f) {
				/* Not UTF-8 validated: escape every non-ASCII byte. */
				fputs("\\u00", f);
				putc(hex[*p >> 4], f);
				putc(hex[*p & 15], f);
			} else {
				putc(*p, f);
			}
		}
	}
	putc('"', f);
}

uint64_t evlog_begin(struct evlog *log, const char *type, int vcpu, uint32_t gen)
{
	uint64_t seq = ++log->seq;

	if (!log->f)
		return seq;
	log->open = true;
	fprintf(log->f,
		"{\"seq\":%" PRIu64 ",\"t_ns\":%" PRIu64 ",\"type\":\"%s\",\"vcpu\":%d,\"gen\":%u",
		seq, now_ns() - log->t0, type, vcpu, gen);
	return seq;
}

void evlog_key(struct evlog *log, const char *key)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":", key);
}

void evlog_u64(struct evlog *log, const char *key, uint64_t v)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":%" PRIu64, key, v);
}

void evlog_i64(struct evlog *log, const char *key, int64_t v)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":%" PRId64, key, v);
}

void evlog_hex(struct evlog *log, const char *key, uint64_t v)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":\"%#" PRIx64 "\"", key, v);
}

void evlog_bool(struct evlog *log, const char *key, bool v)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":%s", key, v ? "true" : "false");
}

void evlog_str(struct evlog *log, const char *key, const char *s)
{
	if (!log->f)
		return;
	evlog_key(log, key);
	json_write_string(log->f, s ? s : "");
}

void evlog_raw(struct evlog *log, const char *key, const char *json)
{
	if (log->f)
		fprintf(log->f, ",\"%s\":%s", key, json);
}

void evlog_end(struct evlog *log)
{
	if (log->f && log->open)
		fputs("}\n", log->f);
	log->open = false;
}
