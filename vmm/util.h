/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MINIVMM_UTIL_H
#define MINIVMM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define PAGE_SIZE	 4096ull
#define PAGE_SHIFT	 12
#define SZ_1M		 (1ull << 20)
#define SZ_2M		 (1ull << 21)
#define SZ_1G		 (1ull << 30)
#define ALIGN_UP(x, a)	 (((x) + (a)-1) & ~((uint64_t)(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((uint64_t)(a)-1)) == 0)

/*
 * "256M", "1G", "4096", "64K": a byte count with an optional K/M/G/T
 * suffix (powers of 1024). Returns 0 or -EINVAL (malformed) / -ERANGE.
 */
int parse_size(const char *s, uint64_t *out);
/* A whole number in C syntax (0x.., 0.., decimal), no sign, no junk. */
int parse_u64(const char *s, uint64_t *out);
/* As parse_u64 but bounded to [min, max]; -ERANGE outside. */
int parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * write(2) all len bytes (a regular file takes everything unless it
 * fails), or with sock send(MSG_NOSIGNAL), so that a peer that went away
 * is -EPIPE and no SIGPIPE. 0 or -errno.
 */
int write_all(int fd, const void *buf, size_t len, bool sock);

/* Monotonic nanoseconds. */
uint64_t now_ns(void);
/* CLOCK_REALTIME nanoseconds: comparable between two processes on one host. */
uint64_t now_real_ns(void);

/* Does [a, a+alen) lie inside [b, b+blen)? Overflow safe. */
static inline bool range_within(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a >= b && alen <= blen && a - b <= blen - alen;
}

/* Do [a, a+alen) and [b, b+blen) overlap? Inputs must not wrap. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

#endif
