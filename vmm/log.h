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
	char *p; /* end of the text so far */
};

void evlog_line_begin(struct evlog_line *l, uint64_t seq, uint64_t t_ns, const char *type, int vcpu,
		      uint32_t gen);
void evlog_line_u64(struct evlog_line *l, const char *key, uint64_t v);
void evlog_line_i64(struct evlog_line *l, const char *key, int64_t v);
void evlog_line_hex(struct evlog_line *l, const char *key, uint64_t v);
void evlog_line_bool(struct evlog_line *l, const char *key, bool v);
/* s: a short string (keys and values of at most 64 bytes each). */
void evlog_line_str(struct evlog_line *l, const char *key, const char *s);
/* Close the object and the line; returns its length. */
size_t evlog_line_end(struct evlog_line *l);

/* Write s as a JSON string literal (with quotes) to f. */
void json_write_string(FILE *f, const char *s);

#endif
