/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ucall: the guest writes the GPA of a struct ucall to RDI and does an out
 * to MINIVMM_PORT_UCALL (the KVM selftests' idea). Every pointer is checked:
 * the struct must be 8-byte aligned and lie wholly in E820 RAM or in one
 * ucall page; strings likewise, cut at UCALL_STR_MAX bytes. Everything is
 * read through the host view (hostmem.h): under --sev a struct or string
 * in a page the guest maps private reads as ciphertext and is refused. A bad pointer stops the VM
 * with exit status 3. The result of CPU_ON goes back in RAX.
 */
#ifndef MINIVMM_UCALL_H
#define MINIVMM_UCALL_H

#include <stddef.h>
#include <stdint.h>

#include "hostmem.h"
#include "memory.h"
#include "minivmm/abi.h"
#include "vcpu.h"

/*
 * Copy and check a ucall, the caller's page tables at cr3. 0, -EFAULT (not
 * in RAM or a ucall page), -EACCES (in a private page), -EINVAL
 * (alignment, cmd).
 */
int ucall_fetch(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, struct ucall *out);
/*
 * Copy a NUL-terminated guest string (cut at size - 1, or where RAM or
 * the ucall page ends). 0, -EFAULT (first byte not visible), -EACCES (in
 * a private page), -EINVAL (size 0).
 */
int guest_read_string(const struct hostmem *hm, uint64_t cr3, uint64_t gpa, char *buf, size_t size);
const char *ucall_cmd_name(uint32_t cmd);
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
enum vcpu_action ucall_handle(struct vcpu *vcpu, uint64_t gpa);

#endif
