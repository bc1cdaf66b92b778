/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading a fuzz input as a stream of integers: zeros once it is used up. */
#ifndef MINIVMM_FUZZ_INPUT_H
#define MINIVMM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline void take(struct input *in, void *out, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

#define FUZZ_READER(name, type)                                                                    \
	static inline type name(struct input *in)                                                  \
	{                                                                                          \
		type v;                                                                            \
                                                                                                   \
		take(in, &v, sizeof(v));                                                           \
		return v;                                                                          \
	}

FUZZ_READER(u8, uint8_t)
FUZZ_READER(u16, uint16_t)
FUZZ_READER(u32, uint32_t)
FUZZ_READER(u64, uint64_t)

#endif
