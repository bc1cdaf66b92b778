/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The SYNC tags of the guest ABI (minivmm/abi.h) as the log names them:
 * each tag's name, what its arguments mean and whether its event carries
 * the bitmap's runs. Shared by the ucall decoder and the checks.
 */
#ifndef MINIVMM_SYNC_H
#define MINIVMM_SYNC_H

#include <stdbool.h>
#include <stdint.h>

/* How a SYNC argument is logged. */
enum sync_field {
	SF_NONE = 0,
	SF_U64,	  /* a number */
	SF_HEX,	  /* an address */
	SF_WHERE, /* enum guest_where, as its name */
	SF_HOW,	  /* enum guest_stop_how, as its name */
};

struct sync_tag_info {
	const char *name;
	const char *arg2, *arg3;      /* log field names of args[2], args[3] */
	enum sync_field kind2, kind3; /* SF_NONE: the argument is not logged */
	bool runs;		      /* the sync event carries the bitmap's runs */
};
const struct sync_tag_info *sync_tag_info(uint64_t tag);
const char *sync_tag_name(uint64_t tag);
/* enum guest_where as a log string. */
const char *sync_where_name(uint64_t where);

#endif
