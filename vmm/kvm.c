// SPDX-License-Identifier: GPL-2.0-only
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_ioctl_raw(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EAGAIN && req != KVM_RUN);
	return r < 0 ? -errno : r;
}

int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name)
{
	int r = kvm_ioctl_raw(fd, req, arg);

	if (r < 0)
		fprintf(stderr, "mini-vmm: ioctl %s failed: %s\n", name, strerror(-r));
	return r;
}

int kvm_check_cap(const struct kvm_sys *sys, long cap)
{
	int r = ioctl(sys->fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

const char *hv_kind_name(enum hv_kind kind)
{
	switch (kind) {
	case HV_PVM:
		return "kvm_pvm";
	case HV_AMD:
		return "kvm_amd";
	case HV_INTEL:
		return "kvm_intel";
	default:
		return "unknown";
	}
}

/*
 * Which module provides /dev/kvm: informational only. Behaviour (native
 * mode, hypercall transport) is decided by probing it, see x86.c/vm.c.
 */
static enum hv_kind detect_module(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return HV_PVM;
	if (access("/sys/module/kvm_amd", F_OK) == 0)
		return HV_AMD;
	if (access("/sys/module/kvm_intel", F_OK) == 0)
		return HV_INTEL;
	return HV_UNKNOWN;
}

int kvm_sys_open(struct kvm_sys *sys, const char *path)
{
	memset(sys, 0, sizeof(*sys));
	sys->fd = open(path, O_RDWR | O_CLOEXEC);
	if (sys->fd < 0) {
		int e = errno;

		fprintf(stderr, "mini-vmm: cannot open %s: %s\n", path, strerror(e));
		return -e;
	}
	sys->api_version = ioctl(sys->fd, KVM_GET_API_VERSION, 0);
	if (sys->api_version != KVM_API_VERSION) {
		fprintf(stderr, "mini-vmm: %s: KVM API version %d, need %d\n", path,
			sys->api_version, KVM_API_VERSION);
		kvm_sys_close(sys); /* and forget the fd: the caller closes again */
		return -ENOTSUP;
	}
	sys->vcpu_mmap_size = ioctl(sys->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sys->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		fprintf(stderr, "mini-vmm: KVM_GET_VCPU_MMAP_SIZE returned %d\n",
			sys->vcpu_mmap_size);
		kvm_sys_close(sys);
		return -ENOTSUP;
	}
	sys->max_vcpus = kvm_check_cap(sys, KVM_CAP_MAX_VCPUS);
	if (sys->max_vcpus <= 0)
		sys->max_vcpus = kvm_check_cap(sys, KVM_CAP_NR_VCPUS);
	if (sys->max_vcpus <= 0)
		sys->max_vcpus = 1;
	sys->has_sync_regs = (kvm_check_cap(sys, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) != 0;
	sys->has_exit_hypercall = kvm_check_cap(sys, KVM_CAP_EXIT_HYPERCALL) != 0;
	sys->has_user_msr = kvm_check_cap(sys, KVM_CAP_X86_USER_SPACE_MSR) != 0;
	sys->has_msr_filter = kvm_check_cap(sys, KVM_CAP_X86_MSR_FILTER) != 0;
	sys->hv = detect_module();
	sys->hv_name = hv_kind_name(sys->hv);
	return 0;
}

void kvm_sys_close(struct kvm_sys *sys)
{
	if (sys->fd >= 0)
		close(sys->fd);
	sys->fd = -1;
}

const char *kvm_exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
		[KVM_EXIT_HYPERV] = "HYPERV",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
		[KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
		[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
		[KVM_EXIT_XEN] = "XEN",
		[KVM_EXIT_NOTIFY] = "NOTIFY",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "UNKNOWN_REASON";
}

/*
 * Call fn(name, value, ctx) for every single-valued statistic of a VM or
 * vCPU fd (KVM_GET_STATS_FD, api.rst 4.133) until fn returns non-zero.
 * Returns fn's value, 0, or -errno.
 */
static int kvm_stats_foreach(int fd, int (*fn)(const char *name, uint64_t value, void *ctx),
			     void *ctx)
{
	struct kvm_stats_header h;
	size_t desc_size, data_len = 0;
	char *descs = NULL;
	uint64_t *data = NULL;
	int sfd = ioctl(fd, KVM_GET_STATS_FD, NULL), r = 0;

	if (sfd < 0)
		return -errno;
	if (pread(sfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.num_desc > 4096 ||
	    h.name_size == 0 || h.name_size > 4096) {
		r = -EIO;
		goto out;
	}
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(desc_size * h.num_desc);
	if (!descs) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(sfd, descs, desc_size * h.num_desc, h.desc_offset) !=
	    (ssize_t)(desc_size * h.num_desc)) {
		r = -EIO;
		goto out;
	}
	/*
	 * The values lie together from data_offset, each at its descriptor's
	 * offset (api.rst 4.133): one read for all of them, not one each.
	 */
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (void *)(descs + i * desc_size);
		size_t end = (size_t)d->offset + (size_t)d->size * sizeof(uint64_t);

		if (d->offset % sizeof(uint64_t) || d->size > 4096 || d->offset > (1u << 20)) {
			r = -EIO;
			goto out;
		}
		if (end > data_len)
			data_len = end;
	}
	data = malloc(data_len ? data_len : 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(sfd, data, data_len, h.data_offset) != (ssize_t)data_len) {
		r = -EIO;
		goto out;
	}
	for (uint32_t i = 0; i < h.num_desc && !r; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * desc_size);

		if (d->size != 1)
			continue;
		d->name[h.name_size - 1] = '\0';
		r = fn(d->name, data[d->offset / sizeof(uint64_t)], ctx);
	}
out:
	free(data);
	free(descs);
	close(sfd);
	return r;
}

struct stat_lookup {
	const char *name;
	uint64_t *value;
};

static int stat_match(const char *name, uint64_t value, void *ctx)
{
	struct stat_lookup *l = ctx;

	if (strcmp(name, l->name))
		return 0;
	*l->value = value;
	return 1;
}

int kvm_read_stat(int fd, const char *name, uint64_t *value)
{
	struct stat_lookup l = {name, value};
	int r = kvm_stats_foreach(fd, stat_match, &l);

	return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}

struct stat_dump {
	const char *prefix;
	FILE *f;
};

static int stat_print(const char *name, uint64_t value, void *ctx)
{
	struct stat_dump *d = ctx;

	if (value)
		fprintf(d->f, "%s%s %llu\n", d->prefix, name, (unsigned long long)value);
	return 0;
}

void kvm_dump_stats(int fd, const char *prefix, FILE *f)
{
	struct stat_dump d = {prefix, f};

	kvm_stats_foreach(fd, stat_print, &d);
}
