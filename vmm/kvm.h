/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /dev/kvm access: file descriptors, capabilities and checked ioctls.
 * Every ioctl goes through kvm_ioctl(), which names the ioctl and errno
 * on failure (the KVM selftests' idea) and returns -errno, never exits.
 */
#ifndef MINIVMM_KVM_H
#define MINIVMM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Raw: returns the ioctl's result or -errno, silently. */
int kvm_ioctl_raw(int fd, unsigned long req, void *arg);
/* Checked: as raw, but prints "mini-vmm: NAME failed: strerror" on error. */
int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name);
#define kvm_ioctl(fd, req, arg) kvm_ioctl_named((fd), (req), (arg), #req)

enum hv_kind {
	HV_UNKNOWN = 0,
	HV_PVM,	  /* kvm_pvm: software hypervisor, see docs/PVM.md */
	HV_AMD,	  /* kvm_amd */
	HV_INTEL, /* kvm_intel */
};

struct kvm_sys {
	int fd;
	int api_version;
	int vcpu_mmap_size;
	int max_vcpus;
	enum hv_kind hv;
	const char *hv_name;
	bool has_sync_regs;
	bool has_exit_hypercall;
	bool has_user_msr;
	bool has_msr_filter;
};

/* Opens path (normally /dev/kvm). Returns 0 or -errno with a message. */
int kvm_sys_open(struct kvm_sys *sys, const char *path);
void kvm_sys_close(struct kvm_sys *sys);
int kvm_check_cap(const struct kvm_sys *sys, long cap);
const char *hv_kind_name(enum hv_kind kind);
const char *kvm_exit_reason_name(uint32_t reason);

#endif

/*
 * Read one statistic (KVM_GET_STATS_FD, api.rst 4.133) from a VM or vCPU
 * fd by name, e.g. "insn_emulation". 0 or -errno (-ENOENT: no such stat).
 */
int kvm_read_stat(int fd, const char *name, uint64_t *value);
/* Print every non-zero statistic of fd as "prefix name value" lines. */
void kvm_dump_stats(int fd, const char *prefix, FILE *f);
