/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * JSON Lines event log. One object per line:
 *   {"seq":N,"t_ns":T,"type":"...","vcpu":V,"gen":G, ...fields}
 * seq is monotonic over the run and doubles as the provenance sequence
 * number kept in the bitmap, so it advances even without a log file.
 * Not thread safe: the caller holds the VM lock.
 */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct evlog {
	FILE *f;      /* NULL: events only advance seq */
	bool own;     /* close f at the end */
	bool open;    /* an event is being written */
	uint64_t seq; /* last sequence number handed out */
	uint64_t t0;  /* monotonic ns at start */
	char *buf;    /* stdio buffer */
};

int evlog_open(struct evlog *log, const char *path);
void evlog_close(struct evlog *log);

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

/* Write s as a JSON string literal (with quotes) to f. */
void json_write_string(FILE *f, const char *s);

#endif
