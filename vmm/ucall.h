/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ucall: the guest writes the GPA of a struct ucall to RDI and does an out
 * to MINIVMM_PORT_UCALL (the KVM selftests' idea). Every pointer is checked:
 * the struct must be 8-byte aligned and lie wholly in E820 RAM; strings must
 * lie in RAM and are cut at UCALL_STR_MAX bytes. A bad pointer stops the VM
 * with exit status 3. The result of CPU_ON goes back in RAX.
 */
#ifndef MINIVMM_UCALL_H
#define MINIVMM_UCALL_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "minivmm/abi.h"
#include "vcpu.h"

/* Copy and check a ucall. 0, -EFAULT (not in RAM), -EINVAL (alignment, cmd). */
int ucall_fetch(const struct guest_mem *mem, uint64_t gpa, struct ucall *out);
/* Copy a NUL-terminated guest string (cut at size - 1). 0 or -EFAULT. */
int guest_read_string(const struct guest_mem *mem, uint64_t gpa, char *buf, size_t size);
const char *ucall_cmd_name(uint32_t cmd);
const char *sync_tag_name(uint64_t tag);
enum vcpu_action ucall_handle(struct vcpu *vcpu, uint64_t gpa);

#endif
