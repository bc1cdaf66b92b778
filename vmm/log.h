/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * JSON Lines event log. One object per line:
 *   {"seq":N,"t_ns":T,"type":"...","vcpu":V,"gen":G, ...fields}
 * seq is monotonic over the run and doubles as the provenance sequence
 * number kept in the bitmap, so it advances even without a log file.
 * The file holds the events in seq order.
 *
 * Two ways to write an event:
 *  - evlog_begin() ... evlog_end(), with the caller's (VM) lock held from
 *    begin to end: fields go through the stdio stream f;
 *  - the hot path (hypercalls): evlog_reserve() under the lock hands out
 *    seq and the time stamp, the caller formats the line into a struct
 *    evlog_line after unlocking and evlog_commit() hands it over; it is
 *    written after every earlier event, by whichever thread completes
 *    the sequence (an ordered merge of per-thread lines; nobody waits
 *    for a predecessor that is still formatting).
 * A log file is written by a writer thread from a ring of buffers, so
 * that no vCPU thread waits for write(2); "-" (stdout) is written through
 * stdio directly.
 */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct evlog_ring; /* private to log.c */
struct evlog_slot; /* private to log.c */

struct evlog {
	FILE *f;		  /* NULL: events only advance seq */
	bool own;		  /* close f at the end */
	bool open;		  /* an event is being written */
	uint64_t seq;		  /* last sequence number handed out */
	uint64_t written;	  /* last seq whose line is written (atomic) */
	int draining;		  /* ordered merge: the drain flag (atomic) */
	struct evlog_slot *slots; /* hot-path lines waiting for their turn */
	uint64_t t0;		  /* monotonic ns at start */
	struct evlog_ring *ring;  /* log file: buffers and writer thread */
};

int evlog_open(struct evlog *log, const char *path);
/*
 * Everything logged so far is in the file when this returns (fflush of f
 * alone reaches only the ring). Caller holds the VM lock.
 */
void evlog_flush(struct evlog *log);
void evlog_close(struct evlog *log);

/*
 * A migration's destination continues the source's log: the next event
 * gets seq + 1, and t_ns counts from t0 (monotonic ns). Before any event.
 */
void evlog_continue(struct evlog *log, uint64_t seq, uint64_t t0);
/* Start an event, returns its sequence number. vcpu < 0: VM-wide. */
uint64_t evlog_begin(struct evlog *log, const char *type, int vcpu, uint32_t gen);
void evlog_u64(struct evlog *log, const char *key, uint64_t v);
void evlog_i64(struct evlog *log, const char *key, int64_t v);
void evlog_hex(struct evlog *log, const char *key, uint64_t v);
void evlog_bool(struct evlog *log, const char *key, bool v);
void evlog_str(struct evlog *log, const char *key, const char *s);
/* Raw JSON value (caller guarantees validity). */
void evlog_raw(struct evlog *log, const char *key, const char *json);
/* Start / end a nested value by hand: evlog_key then fputs to log->f. */
void evlog_key(struct evlog *log, const char *key);
void evlog_end(struct evlog *log);
static inline bool evlog_enabled(const struct evlog *log)
{
	return log->f != NULL;
}

/*
 * Hot path. Under the caller's lock: the event's sequence number and
 * time stamp. Without it: format the line, then commit it (always, also
 * without a log file; len 0 writes nothing). A line longer than
 * EVLOG_LINE_MAX is cut.
 */
uint64_t evlog_reserve(struct evlog *log, uint64_t *t_ns);
void evlog_commit(struct evlog *log, uint64_t seq, const char *line, size_t len);

#define EVLOG_LINE_MAX 512

/* One event line, formatted as evlog_begin() ... evlog_end() would. */
struct evlog_line {
	char buf[EVLOG_LINE_MAX];
	size_t len; /* bytes of text so far */
};

/*
 * The line builder is inline: with a constant key, a field is a bounds
 * check and a few stores (the key's length and its quotes fold at
 * compile time), no call. Keys and strings are cut at 64 bytes; a field
 * that does not fit is dropped rather than overflow (callers pass short
 * constant keys and strings, far below EVLOG_LINE_MAX).
 */

/* A formatted number's most bytes: 20 digits and a sign, or "0x", 16 digits, quotes. */
#define EVLOG_NUM_MAX 24

/* strnlen(s, 64), that folds for a constant s (and does not warn then). */
static inline size_t evlog_len64_(const char *s)
{
	size_t n = strlen(s);

	return n < 64 ? n : 64;
}

static inline char *evlog_put_(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define evlog_put_lit_(p, s) evlog_put_((p), (s), sizeof(s) - 1)

/* v in decimal at p; returns the end. */
static inline char *evlog_fmt_u64_(char *p, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	static const uint64_t powers10[20] = {1ull,
					      10ull,
					      100ull,
					      1000ull,
					      10000ull,
					      100000ull,
					      1000000ull,
					      10000000ull,
					      100000000ull,
					      1000000000ull,
					      10000000000ull,
					      100000000000ull,
					      1000000000000ull,
					      10000000000000ull,
					      100000000000000ull,
					      1000000000000000ull,
					      10000000000000000ull,
					      100000000000000000ull,
					      1000000000000000000ull,
					      10000000000000000000ull};
	/* floor(log10(v)) + 1 digits: 1233 / 4096 ~ log10(2). */
	uint64_t u = v | 1; /* as many digits as v, and one for zero */
	unsigned int t = (unsigned int)(64 - __builtin_clzll(u)) * 1233 >> 12;
	char *end = p + t + (u >= powers10[t]), *q = end;

	while (v >= 100) {
		q -= 2;
		memcpy(q, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(q - 2, pairs + 2 * v, 2);
	else
		q[-1] = (char)('0' + v);
	return end;
}

static inline char *evlog_fmt_i64_(char *p, int64_t v)
{
	if (v < 0)
		*p++ = '-';
	return evlog_fmt_u64_(p, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* As printf("\"%#lx\""): "0" for zero, "0x..." otherwise, quoted; returns the end. */
static inline char *evlog_fmt_hex_quoted_(char *p, uint64_t v)
{
	unsigned int n = v ? (unsigned int)(67 - __builtin_clzll(v)) / 4 : 1;
	char *q;

	*p++ = '"';
	if (v)
		p = evlog_put_lit_(p, "0x");
	q = p + n;
	*q = '"';
	do {
		*--q = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	return p + n + 1;
}

/* ,"key": with room after it for a value of vmax bytes and the line's end. */
static inline bool evlog_line_key_(struct evlog_line *l, const char *key, size_t vmax)
{
	size_t n = evlog_len64_(key), need = 4 + n + vmax + 2;
	char *p;

	/* As room < need, in a form that bounds len for the compiler. */
	if (need > sizeof(l->buf) || l->len > sizeof(l->buf) - need)
		return false;
	p = evlog_put_lit_(l->buf + l->len, ",\"");
	p = evlog_put_(p, key, n);
	p = evlog_put_lit_(p, "\":");
	l->len = (size_t)(p - l->buf);
	return true;
}

static inline void evlog_line_begin(struct evlog_line *l, uint64_t seq, uint64_t t_ns,
				    const char *type, int vcpu, uint32_t gen)
{
	char *p = evlog_put_lit_(l->buf, "{\"seq\":");

	p = evlog_fmt_u64_(p, seq);
	p = evlog_put_lit_(p, ",\"t_ns\":");
	p = evlog_fmt_u64_(p, t_ns);
	p = evlog_put_lit_(p, ",\"type\":\"");
	p = evlog_put_(p, type, evlog_len64_(type));
	p = evlog_put_lit_(p, "\",\"vcpu\":");
	p = evlog_fmt_i64_(p, vcpu);
	p = evlog_put_lit_(p, ",\"gen\":");
	l->len = (size_t)(evlog_fmt_u64_(p, gen) - l->buf);
}

static inline void evlog_line_u64(struct evlog_line *l, const char *key, uint64_t v)
{
	if (evlog_line_key_(l, key, EVLOG_NUM_MAX))
		l->len = (size_t)(evlog_fmt_u64_(l->buf + l->len, v) - l->buf);
}

static inline void evlog_line_i64(struct evlog_line *l, const char *key, int64_t v)
{
	if (evlog_line_key_(l, key, EVLOG_NUM_MAX))
		l->len = (size_t)(evlog_fmt_i64_(l->buf + l->len, v) - l->buf);
}

static inline void evlog_line_hex(struct evlog_line *l, const char *key, uint64_t v)
{
	if (evlog_line_key_(l, key, EVLOG_NUM_MAX))
		l->len = (size_t)(evlog_fmt_hex_quoted_(l->buf + l->len, v) - l->buf);
}

static inline void evlog_line_bool(struct evlog_line *l, const char *key, bool v)
{
	if (!evlog_line_key_(l, key, 5))
		return;
	if (v)
		l->len = (size_t)(evlog_put_lit_(l->buf + l->len, "true") - l->buf);
	else
		l->len = (size_t)(evlog_put_lit_(l->buf + l->len, "false") - l->buf);
}

/* The n bytes at s, quoted, some of them escaped (log.c). */
void evlog_line_str_escaped_(struct evlog_line *l, const unsigned char *s, size_t n);

/* s: a short string (keys and values of at most 64 bytes each). */
static inline void evlog_line_str(struct evlog_line *l, const char *key, const char *s)
{
	const unsigned char *str = (const unsigned char *)(s ? s : "");
	size_t n = evlog_len64_((const char *)str);
	char *p;

	if (!evlog_line_key_(l, key, 2 + 6 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		/* Anything json_escape_byte() would change: the slow path. */
		if (str[i] < 0x20 || str[i] >= 0x7f || str[i] == '"' || str[i] == '\\') {
			evlog_line_str_escaped_(l, str, n);
			return;
		}
	}
	p = l->buf + l->len;
	*p++ = '"';
	p = evlog_put_(p, (const char *)str, n);
	*p++ = '"';
	l->len = (size_t)(p - l->buf);
}

/* Close the object and the line; returns its length. */
static inline size_t evlog_line_end(struct evlog_line *l)
{
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	return l->len;
}

/* Write s as a JSON string literal (with quotes) to f. */
void json_write_string(FILE *f, const char *s);

#endif
