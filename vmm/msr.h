/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MSRs the VMM emulates through the MSR filter (KVM_X86_SET_MSR_FILTER,
 * Documentation/virt/kvm/api.rst 4.126/KVM_CAP_X86_USER_SPACE_MSR):
 *
 * MSR_KVM_MIGRATION_CONTROL (msr.rst): bit 0 READY, other bits reserved
 * (#GP on write, as kvm_set_msr_common() in arch/x86/kvm/x86.c). For a
 * guest with encrypted memory KVM itself only accepts 0, so the VMM must
 * trap it. Kept per vCPU; the VM-wide verdict is "migratable" iff the most
 * recent write by any vCPU set READY: a write of 0 by any vCPU blocks
 * migration again until a later READY (QEMU's unmerged patch kept one value
 * and never re-blocked on 0). Reads return the vCPU's own value.
 *
 * MSR_AMD64_SEV: read-only, bit 0 with --sev.
 */
#ifndef MINIVMM_MSR_H
#define MINIVMM_MSR_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct vm;

enum msr_result {
	MSR_RES_OK = 0,
	MSR_RES_GP, /* inject #GP */
};

/* Pure policy: the result of a guest access and (for reads) the value. */
enum msr_result msr_policy(bool sev, uint32_t index, bool write, uint64_t data, uint64_t vcpu_value,
			   uint64_t *read_value);
void msr_handle_exit(struct vcpu *vcpu);
/* Install the filter on the VM fd. 0 or -errno. */
int msr_install_filter(struct vm *vm);

#endif
