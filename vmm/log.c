// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define EVLOG_BUFSZ (1u << 20)
/* Ring: enough that the writer keeps up with bursts (4 MiB per log). */
#define RING_BUFS  4
#define RING_BUFSZ (1u << 20)

/* Hot-path lines in flight: more than vCPU threads can have formatted. */
#define EVLOG_SLOTS 256

struct evlog_slot {
	uint64_t seq; /* the event whose line this is, once ready (atomic) */
	size_t len;
	char line[EVLOG_LINE_MAX];
};

/*
 * A log file's ring. Lines are appended to data[fill] by whoever holds
 * the drain flag (see drain_some); a full buffer is queued, and the writer thread
 * writes queued buffers in order. lock guards head/nqueued/closing only
 * and is never held across write(2).
 */
struct evlog_ring {
	int fd;
	pthread_t writer;
	pthread_mutex_t lock;
	pthread_cond_t queued_cond; /* writer: a buffer was queued, or closing */
	pthread_cond_t space_cond;  /* appender: a buffer was written */
	char *data[RING_BUFS];
	size_t used[RING_BUFS];
	unsigned int fill;    /* appended to; owned by the turn holder */
	unsigned int head;    /* next to write; owned by the writer */
	unsigned int nqueued; /* full buffers not written yet */
	bool closing;
	int error; /* first write error (-errno), reported at close */
};

static void *ring_writer(void *arg)
{
	struct evlog_ring *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		unsigned int b;
		int err;

		while (!r->nqueued && !r->closing)
			pthread_cond_wait(&r->queued_cond, &r->lock);
		if (!r->nqueued)
			break;
		b = r->head;
		pthread_mutex_unlock(&r->lock);
		err = write_all(r->fd, r->data[b], r->used[b], false);
		pthread_mutex_lock(&r->lock);
		if (err && !r->error)
			r->error = err;
		r->used[b] = 0;
		r->head = (b + 1) % RING_BUFS;
		r->nqueued--;
		pthread_cond_signal(&r->space_cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Hand the fill buffer to the writer; waits only when every buffer is queued. */
static void ring_submit(struct evlog_ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->nqueued++;
	pthread_cond_signal(&r->queued_cond);
	while (r->nqueued == RING_BUFS)
		pthread_cond_wait(&r->space_cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	r->fill = (r->fill + 1) % RING_BUFS;
}

static void ring_append(struct evlog_ring *r, const char *p, size_t len)
{
	while (len) {
		size_t room = RING_BUFSZ - r->used[r->fill], n = len < room ? len : room;

		memcpy(r->data[r->fill] + r->used[r->fill], p, n);
		r->used[r->fill] += n;
		p += n;
		len -= n;
		if (r->used[r->fill] == RING_BUFSZ)
			ring_submit(r);
	}
}

/* stdio stream of a log file: the evlog_begin() ... evlog_end() events. */
static ssize_t ring_cookie_write(void *cookie, const char *p, size_t len)
{
	ring_append(cookie, p, len);
	return (ssize_t)len;
}

/* Everything appended so far written to the file. */
static void ring_drain(struct evlog_ring *r)
{
	if (r->used[r->fill])
		ring_submit(r);
	pthread_mutex_lock(&r->lock);
	while (r->nqueued)
		pthread_cond_wait(&r->space_cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

static int ring_close(struct evlog_ring *r)
{
	int err;

	if (r->used[r->fill])
		ring_submit(r);
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_signal(&r->queued_cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->writer, NULL);
	err = r->error;
	if (close(r->fd) && !err)
		err = -errno;
	for (unsigned int i = 0; i < RING_BUFS; i++)
		free(r->data[i]);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->queued_cond);
	pthread_cond_destroy(&r->space_cond);
	free(r);
	return err;
}

static int ring_open(struct evlog_ring **out, const char *path)
{
	struct evlog_ring *r = calloc(1, sizeof(*r));
	sigset_t all, old;
	int err;

	if (!r)
		return -ENOMEM;
	/* As fopen(path, "we"). */
	r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (r->fd < 0) {
		err = -errno;
		free(r);
		return err;
	}
	for (unsigned int i = 0; i < RING_BUFS; i++) {
		r->data[i] = malloc(RING_BUFSZ);
		if (!r->data[i]) {
			err = -ENOMEM;
			goto err_data;
		}
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->queued_cond, NULL);
	pthread_cond_init(&r->space_cond, NULL);
	/* The writer takes no signal: vCPU kicks and the watchdog's are not for it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&r->writer, NULL, ring_writer, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->queued_cond);
		pthread_cond_destroy(&r->space_cond);
		goto err_data;
	}
	*out = r;
	return 0;
err_data:
	for (unsigned int i = 0; i < RING_BUFS; i++)
		free(r->data[i]);
	close(r->fd);
	free(r);
	return err;
}

static void turn_take(struct evlog *log, uint64_t seq);
static void turn_give(struct evlog *log, uint64_t seq);

int evlog_open(struct evlog *log, const char *path)
{
	static const cookie_io_functions_t ring_io = {.write = ring_cookie_write};
	int err;

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

		log->slots = calloc(EVLOG_SLOTS, sizeof(*log->slots));
		if (!log->slots)
			return -ENOMEM;
		log->f = stdout;
		setvbuf(log->f, stdout_buf, _IOFBF, sizeof(stdout_buf));
		return 0;
	}
	log->slots = calloc(EVLOG_SLOTS, sizeof(*log->slots));
	if (!log->slots)
		return -ENOMEM;
	err = ring_open(&log->ring, path);
	if (err)
		goto err_slots;
	log->f = fopencookie(log->ring, "w", ring_io);
	if (!log->f) {
		err = -ENOMEM;
		goto err_ring;
	}
	log->own = true;
	return 0;
err_ring:
	ring_close(log->ring);
	log->ring = NULL;
err_slots:
	free(log->slots);
	log->slots = NULL;
	return err;
}

void evlog_flush(struct evlog *log)
{
	if (!log->f)
		return;
	/* As an event after every one handed out so far, that writes nothing. */
	turn_take(log, log->seq + 1);
	fflush(log->f);
	if (log->ring)
		ring_drain(log->ring);
	turn_give(log, log->seq);
}

void evlog_close(struct evlog *log)
{
	if (log->f) {
		turn_take(log, log->seq + 1);
		fflush(log->f);
		if (log->own)
			fclose(log->f); /* into the ring, before it goes */
	}
	if (log->ring)
		ring_close(log->ring);
	free(log->slots);
	log->f = NULL;
	log->ring = NULL;
	log->slots = NULL;
}

/* JSON escape of one byte into out (at most 6 bytes); returns the length. */
static size_t json_escape_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
	case '\\':
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	default:
		if (c < 0x20 || c >= 0x7f) {
			/* Not UTF-8 validated: escape every non-ASCII byte. */
			memcpy(out, "\\u00", 4);
			out[4] = hex[c >> 4];
			out[5] = hex[c & 15];
			return 6;
		}
		out[0] = (char)c;
		return 1;
	}
}

void json_write_string(FILE *f, const char *s)
{
	char esc[6];

	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fwrite(esc, 1, json_escape_byte(*p, esc), f);
	putc('"', f);
}

/*
 * The stdio path writes with the unlocked calls: its callers hold the
 * VM lock. Numbers are formatted as on the line path (log.h).
 */
static void put_str(FILE *f, const char *s)
{
	fputs_unlocked(s, f);
}

static void put_u64(FILE *f, uint64_t v)
{
	char buf[EVLOG_NUM_MAX];

	fwrite_unlocked(buf, 1, (size_t)(evlog_fmt_u64_(buf, v) - buf), f);
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

/*
 * Ordered merge. Hot-path events leave their line in slot seq %
 * EVLOG_SLOTS; whoever holds the drain flag appends ready slots to the
 * sink in seq order and advances written. A thread whose predecessor is
 * still formatting (or preempted) does not wait: the predecessor drains
 * both when it is done. stdio events (evlog_begin ... evlog_end) hold the
 * drain flag for the whole event, after every earlier event is written.
 *
 * A hot-path event that is next in order when it commits (written is
 * seq - 1: one vCPU thread, or calls that do not overlap) skips the slot
 * and the flag: it appends its line and advances written, then drains
 * the slots that became ready meanwhile. Nothing else appends then: a
 * drainer appends only a ready slot, and this event's slot is never
 * marked; later events are not next until written moves; a stdio event
 * waits for written, and no hot-path event is handed out during one.
 * written hands the sink over (release, acquire); the seq_cst store
 * of written and load of the next slot pair with the producer's seq_cst
 * store of its slot and its drain attempt, as the flag's release and
 * re-check do.
 */
static void sink_append(struct evlog *log, const char *p, size_t len)
{
	if (log->ring)
		ring_append(log->ring, p, len);
	else
		fwrite_unlocked(p, 1, len, log->f);
}

static bool drain_try_acquire(struct evlog *log)
{
	int idle = 0;

	return __atomic_compare_exchange_n(&log->draining, &idle, 1, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/* Drain flag held: append every ready slot that is next in order. */
static void drain_ready(struct evlog *log)
{
	for (;;) {
		uint64_t next = __atomic_load_n(&log->written, __ATOMIC_SEQ_CST) + 1;
		struct evlog_slot *s = &log->slots[next % EVLOG_SLOTS];

		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != next)
			return;
		sink_append(log, s->line, s->len);
		__atomic_store_n(&log->written, next, __ATOMIC_RELEASE);
	}
}

static bool next_ready(struct evlog *log)
{
	uint64_t next = __atomic_load_n(&log->written, __ATOMIC_SEQ_CST) + 1;

	return __atomic_load_n(&log->slots[next % EVLOG_SLOTS].seq, __ATOMIC_SEQ_CST) == next;
}

/*
 * Drain unless another thread is draining. A slot made ready while the
 * holder was releasing the flag is seen by the holder's re-check or by
 * its producer's own attempt (both sides use seq_cst).
 */
static void drain_some(struct evlog *log)
{
	while (drain_try_acquire(log)) {
		drain_ready(log);
		__atomic_store_n(&log->draining, 0, __ATOMIC_SEQ_CST);
		if (!next_ready(log))
			return;
	}
}

/* Spin briefly, then yield: on two cores the thread waited for may be preempted. */
static void backoff(unsigned int *spins)
{
	if ((*spins)++ < 64)
		__builtin_ia32_pause();
	else
		sched_yield();
}

/*
 * The drain flag, held, with every event before seq written. A stdio
 * event's caller holds the VM lock, so it waits only for hot-path events
 * handed out before it that are being formatted right now.
 */
static void turn_take(struct evlog *log, uint64_t seq)
{
	for (unsigned int spins = 0;; backoff(&spins)) {
		if (!drain_try_acquire(log))
			continue;
		drain_ready(log);
		if (__atomic_load_n(&log->written, __ATOMIC_ACQUIRE) == seq - 1)
			return;
		__atomic_store_n(&log->draining, 0, __ATOMIC_SEQ_CST);
	}
}

/* Event seq is written: release the flag and drain what became ready. */
static void turn_give(struct evlog *log, uint64_t seq)
{
	__atomic_store_n(&log->written, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&log->draining, 0, __ATOMIC_SEQ_CST);
	if (next_ready(log))
		drain_some(log);
}

uint64_t evlog_begin(struct evlog *log, const char *type, int vcpu, uint32_t gen)
{
	uint64_t seq = ++log->seq;
	FILE *f = log->f;

	if (!log->slots) {
		/* No file: every event is handed out and written under the VM lock. */
		__atomic_store_n(&log->written, seq, __ATOMIC_RELEASE);
		return seq;
	}
	/* Until evlog_end(): the caller holds the VM lock, no later seq exists. */
	turn_take(log, seq);
	log->open = true;
	if (!f)
		return seq;
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
	char buf[EVLOG_NUM_MAX];

	if (!log->f)
		return;
	put_key(log->f, key);
	fwrite_unlocked(buf, 1, (size_t)(evlog_fmt_hex_quoted_(buf, v) - buf), log->f);
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
	if (!log->open)
		return;
	if (log->f) {
		fputs_unlocked("}\n", log->f);
		/* A log file's line goes into the ring now, in its turn. */
		if (log->ring)
			fflush_unlocked(log->f);
	}
	log->open = false;
	turn_give(log, log->seq);
}

/* ---- hot path ------------------------------------------------------------ */

uint64_t evlog_reserve(struct evlog *log, uint64_t *t_ns)
{
	uint64_t seq = ++log->seq;

	if (!log->slots) {
		/* Nothing to write: every event commits under the lock, in order. */
		__atomic_store_n(&log->written, seq, __ATOMIC_RELEASE);
		*t_ns = 0;
		return seq;
	}
	*t_ns = now_ns() - log->t0;
	return seq;
}

void evlog_commit(struct evlog *log, uint64_t seq, const char *line, size_t len)
{
	struct evlog_slot *s;

	if (!log->slots)
		return; /* committed by evlog_reserve() */
	len = len < EVLOG_LINE_MAX ? len : EVLOG_LINE_MAX;
	if (__atomic_load_n(&log->written, __ATOMIC_ACQUIRE) + 1 == seq) {
		/* Next in order: straight to the sink (see sink_append). */
		sink_append(log, line, len);
		__atomic_store_n(&log->written, seq, __ATOMIC_SEQ_CST);
		if (next_ready(log))
			drain_some(log);
		return;
	}
	s = &log->slots[seq % EVLOG_SLOTS];
	/* The slot's previous event (seq - EVLOG_SLOTS) must be written first. */
	for (unsigned int spins = 0;
	     __atomic_load_n(&log->written, __ATOMIC_ACQUIRE) + EVLOG_SLOTS < seq; backoff(&spins))
		drain_some(log);
	memcpy(s->line, line, len);
	s->len = len;
	__atomic_store_n(&s->seq, seq, __ATOMIC_SEQ_CST);
	drain_some(log);
}

void evlog_line_str_escaped_(struct evlog_line *l, const unsigned char *s, size_t n)
{
	l->buf[l->len++] = '"';
	for (size_t i = 0; i < n; i++)
		l->len += json_escape_byte(s[i], l->buf + l->len);
	l->buf[l->len++] = '"';
}

void evlog_continue(struct evlog *log, uint64_t seq, uint64_t t0)
{
	log->seq = seq;
	__atomic_store_n(&log->written, seq, __ATOMIC_RELEASE);
	log->t0 = t0;
}
