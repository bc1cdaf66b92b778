/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM_HC_MAP_GPA_RANGE, one handler for both transports
 * (Documentation/virt/kvm/x86/hypercalls.rst, section 8).
 */
#ifndef MINIVMM_HYPERCALL_H
#define MINIVMM_HYPERCALL_H

#include <stdint.h>

#include "memory.h"
#include "minivmm/abi.h"

struct vcpu;

struct hc_call {
	uint64_t nr;
	uint64_t args[4]; /* RBX, RCX, RDX, RSI */
	enum minivmm_transport transport;
};

/*
 * Verdicts. The first four are KVM's own checks (arch/x86/kvm/x86.c,
 * kvm_emulate_hypercall / __kvm_emulate_hypercall): on the exit transport
 * KVM answers them itself and the VMM never sees the call.
 */
enum hc_verdict {
	HC_OK = 0,
	HC_UNKNOWN_NR,	    /* -KVM_ENOSYS: not KVM_HC_MAP_GPA_RANGE */
	HC_NOT_ENABLED,	    /* -KVM_ENOSYS: no --sev, the VMM did not enable it */
	HC_GPA_UNALIGNED,   /* -KVM_EINVAL: gpa not 4 KiB aligned (KVM) */
	HC_ZERO_PAGES,	    /* -KVM_EINVAL: npages == 0 (KVM) */
	HC_WRAP,	    /* -KVM_EINVAL: gfn + npages wraps (KVM) */
	HC_OUTSIDE_MEMORY,  /* -KVM_EINVAL: not inside one memslot (mini-vmm) */
	HC_RESERVED_ATTR,   /* -KVM_EINVAL: attrs bits 63:5 set (mini-vmm) */
	HC_BAD_PAGE_SIZE,   /* -KVM_EINVAL: page size field > 1G (mini-vmm) */
	HC_SIZE_MISALIGNED, /* -KVM_EINVAL: 2M/1G hint vs gpa/npages (mini-vmm) */
	HC_STALE_GEN,	    /* -KVM_EPERM: older generation (--gen-filter) */
	HC_NOMEM,	    /* -KVM_EFAULT: bitmap provenance allocation failed */
	HC_VERDICT_MAX
};

const char *hc_verdict_name(enum hc_verdict v);
/* The value returned to the guest for a verdict. */
int64_t hc_verdict_ret(enum hc_verdict v);
/*
 * Pure validation of a call against the memory layout (no generation
 * check). sev: whether the VMM offers the hypercall.
 */
enum hc_verdict hc_validate(const struct guest_mem *mem, bool sev, const struct hc_call *c);
/* Validate, update the bitmap, log. Returns the value for the guest's RAX. */
int64_t hypercall_handle(struct vcpu *vcpu, const struct hc_call *call);

#endif
