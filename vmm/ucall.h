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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostmem.h"
#include "memory.h"
#include "minivmm/abi.h"
#include "machine.h"

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
enum vcpu_action ucall_handle(struct vcpu *vcpu, uint64_t gpa);
/*
 * Is the vCPU's pending exit the guest's memory check (SYNC
 * MIGRATION_VERIFY), which ucall_handle() answers with ACT_QUIET? For the
 * injection, which must not hold an exit the unmigrated run does not have.
 */
bool ucall_exit_is_quiet(const struct vcpu *vcpu);

#endif
