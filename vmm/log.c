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

/*
 * The hot path (one hypercall event per exit) formats by hand and writes
 * with the unlocked stdio calls: every caller holds the VM lock.
 */
static char *fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put_str(FILE *f, const char *s)
{
	fputs_unlocked(s, f);
}

static void put_u64(FILE *f, uint64_t v)
{
	char buf[24], *p = fmt_u64(buf + sizeof(buf), v);

	fwrite_unlocked(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

static void put_i64(FILE *f, int64_t v)
{
	if (v < 0) {
		putc_unlocked('-', f);
		put_u64(f, -(uint64_t)v);
	} else {
		put_u64(f, (uint64_t)v);
	}
}

static void put_key(FILE *f, const char *key)
{
	putc_unlocked(',', f);
	putc_unlocked('"', f);
	fputs_unlocked(key, f);
	putc_unlocked('"', f);
	putc_unlocked(':', f);
}

uint64_t evlog_begin(struct evlog *log, const char *type, int vcpu, uint32_t gen)
{
	uint64_t seq = ++log->seq;
	FILE *f = log->f;

	if (!f)
		return seq;
	log->open = true;
	put_str(f, "{\"seq\":");
	put_u64(f, seq);
	put_str(f, ",\"t_ns\":");
	put_u64(f, now_ns() - log->t0);
	put_str(f, ",\"type\":\"");
	put_str(f, type);
	put_str(f, "\",\"vcpu\":");
	put_i64(f, vcpu);
	put_str(f, ",\"gen\":");
	put_u64(f, gen);
	return seq;
}

void evlog_key(struct evlog *log, const char *key)
{
	if (log->f)
		put_key(log->f, key);
}

void evlog_u64(struct evlog *log, const char *key, uint64_t v)
{
	if (!log->f)
		return;
	put_key(log->f, key);
	put_u64(log->f, v);
}

void evlog_i64(struct evlog *log, const char *key, int64_t v)
{
	if (!log->f)
		return;
	put_key(log->f, key);
	put_i64(log->f, v);
}

void evlog_hex(struct evlog *log, const char *key, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	if (!log->f)
		return;
	put_key(log->f, key);
	/* As printf("%#lx"): "0" for zero, "0x..." otherwise. */
	do {
		*--p = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	if (p[0] != '0' || p + 1 != buf + sizeof(buf)) {
		*--p = 'x';
		*--p = '0';
	}
	putc_unlocked('"', log->f);
	fwrite_unlocked(p, 1, (size_t)(buf + sizeof(buf) - p), log->f);
	putc_unlocked('"', log->f);
}

void evlog_bool(struct evlog *log, const char *key, bool v)
{
	if (!log->f)
		return;
	put_key(log->f, key);
	put_str(log->f, v ? "true" : "false");
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
	if (!log->f)
		return;
	put_key(log->f, key);
	put_str(log->f, json);
}

void evlog_end(struct evlog *log)
{
	if (log->f && log->open)
		fputs_unlocked("}\n", log->f);
	log->open = false;
}
