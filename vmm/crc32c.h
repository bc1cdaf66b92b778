/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init and final
 * xor 0xffffffff; RFC 3720 B.4, the iSCSI and ext4 checksum): the
 * migration stream's checksum. SSE4.2's crc32 instruction when the CPU has
 * it (checked at run time), a byte table otherwise; both give the same
 * value. Debian ships no C CRC32C library this fits: ISA-L (libisal-dev)
 * has one but no static archive, and mini-vmm-static must link. zlib's
 * crc32 is CRC-32/IEEE, a different code.
 */
#ifndef MINIVMM_CRC32C_H
#define MINIVMM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 for a fresh one) over buf: crc32c(b, crc32c(a, 0)) == crc32c(a || b). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table path alone, for tests that compare the two. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
