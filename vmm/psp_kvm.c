// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hardware PSP backend (KVM_MEMORY_ENCRYPT_OP + /dev/sev), today only
 * its probe: what would be missing to run one. The probe changes nothing
 * on the host: it opens /dev/sev, asks KVM which VM types it supports, and
 * on kernels without KVM_CAP_VM_TYPES sends KVM_MEMORY_ENCRYPT_OP with an
 * unknown command id to a scratch VM (no SEV context is created).
 */
#include "psp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm.h"

/* include/uapi/linux/kvm.h (Linux 6.10): a bit mask of 1 << KVM_X86_*_VM. */
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
/* arch/x86/include/uapi/asm/kvm.h */
#ifndef KVM_X86_SEV_VM
#define KVM_X86_SEV_VM 2
#endif

static int probe_fail(int err, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return err;
}

/*
 * KVM_MEMORY_ENCRYPT_OP on a plain VM: x86.c answers ENOTTY when the
 * vendor module has no handler, and sev.c's sev_mem_enc_ioctl() ENOTTY
 * when SEV is disabled (kvm_amd sev=0); with SEV on, an unknown id is
 * EINVAL (its switch's default).
 */
static int probe_encrypt_op(int kvm_fd, char *msg, size_t msglen)
{
	struct kvm_sev_cmd cmd = {.id = 0xffff, .sev_fd = (__u32)-1};
	int vm = kvm_ioctl_raw(kvm_fd, KVM_CREATE_VM, 0), ret;

	if (vm < 0)
		return probe_fail(vm, msg, msglen, "KVM_CREATE_VM failed: %s", strerror(-vm));
	ret = kvm_ioctl_raw(vm, KVM_MEMORY_ENCRYPT_OP, &cmd);
	close(vm);
	if (ret == -ENOTTY)
		return probe_fail(-ENOTSUP, msg, msglen,
				  "KVM has no SEV support (kvm_amd sev=0 or not AMD)");
	if (ret != -EINVAL)
		return probe_fail(-ENOTSUP, msg, msglen,
				  "KVM_MEMORY_ENCRYPT_OP probe: unexpected %s", strerror(-ret));
	return 0;
}

int psp_kvm_probe(const char *sev_path, const char *kvm_path, char *msg, size_t msglen)
{
	int sev, kvm, types, ret;

	if (!msg || !msglen)
		return -EINVAL;
	sev = open(sev_path, O_RDWR | O_CLOEXEC);
	if (sev < 0) {
		int err = errno;

		if (err == ENOENT)
			return probe_fail(-ENODEV, msg, msglen,
					  "no %s (no AMD secure processor, or the ccp "
					  "driver is not loaded)",
					  sev_path);
		return probe_fail(-err, msg, msglen, "%s: %s", sev_path, strerror(err));
	}
	close(sev);
	kvm = open(kvm_path, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		int err = errno;

		return probe_fail(-err, msg, msglen, "%s: %s", kvm_path, strerror(err));
	}
	/* Refuse anything that is not KVM before sending it more ioctls. */
	if (kvm_ioctl_raw(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(kvm);
		return probe_fail(-ENODEV, msg, msglen, "%s is not a KVM device", kvm_path);
	}
	types = kvm_ioctl_raw(kvm, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_VM_TYPES);
	if (types > 0)
		ret = types & (1 << KVM_X86_SEV_VM)
			      ? 0
			      : probe_fail(-ENOTSUP, msg, msglen,
					   "KVM has no SEV support (KVM_CAP_VM_TYPES lacks "
					   "KVM_X86_SEV_VM: kvm_amd sev=0 or not AMD)");
	else
		ret = probe_encrypt_op(kvm, msg, msglen);
	close(kvm);
	if (!ret)
		snprintf(msg, msglen, "SEV present: %s and KVM SEV VMs", sev_path);
	return ret;
}
