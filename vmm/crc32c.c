// SPDX-License-Identifier: GPL-2.0-only
/* CRC32C: see crc32c.h. */
#include <nmmintrin.h>
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_hw = -1; /* set once by crc32c_init */

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		table[i] = c;
	}
	__builtin_cpu_init();
	use_hw = __builtin_cpu_supports("sse4.2");
}

static uint32_t crc32c_table(uint32_t c, const uint8_t *p, size_t len)
{
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&table_once, crc32c_init);
	return ~crc32c_table(~crc, buf, len);
}

/*
 * One 8-byte crc32 instruction per word: about 8 bytes per 3 cycles on
 * current cores, enough for a stream that a socket carries.
 */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p,
							    size_t len)
{
	uint64_t c64 = c;

	for (; len && ((uintptr_t)p & 7); len--)
		c64 = _mm_crc32_u8((uint32_t)c64, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c64 = _mm_crc32_u64(c64, w);
	}
	for (; len; len--)
		c64 = _mm_crc32_u8((uint32_t)c64, *p++);
	return (uint32_t)c64;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&table_once, crc32c_init);
	if (use_hw)
		return ~crc32c_hw(~crc, buf, len);
	return ~crc32c_table(~crc, buf, len);
}
