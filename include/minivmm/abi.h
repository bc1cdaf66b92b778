/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mini-vmm guest <-> host ABI: I/O ports, ucalls, the boot parameter
 * module and the KVM paravirt constants the guest and the VMM share.
 * Freestanding: only <stdint.h>, <stddef.h> and <stdbool.h>.
 */
#ifndef MINIVMM_ABI_H
#define MINIVMM_ABI_H

#include <stddef.h>
#include <stdint.h>

/* ---- I/O ports ------------------------------------------------------- */

/* Debug console, the QEMU/Bochs "debugcon" convention: one byte per out. */
#define MINIVMM_PORT_CONSOLE 0xE9
/*
 * ucall: the guest puts the GPA of a struct ucall in RDI and does an out.
 * Both ports fit in an imm8 so that "out %al, $port" leaves RDX alone.
 */
#define MINIVMM_PORT_UCALL 0xEA
/*
 * Hypercall port transport: the guest loads RAX = nr, RBX, RCX, RDX, RSI
 * exactly as for vmmcall and does an out; the VMM writes the result to RAX.
 */
#define MINIVMM_PORT_HYPERCALL 0xEB
/*
 * The bare cost of a port exit (bench): no log, no state, but RAX = 0 is
 * written back through the sync regs as a hypercall's return is, so that
 * the hypervisor does the same work for both (bench/exitpath.sh).
 */
#define MINIVMM_PORT_NULL 0xEC

/* ---- ucall ----------------------------------------------------------- */

enum ucall_cmd {
	UCALL_NONE = 0,
	UCALL_DONE = 1,	  /* args[0] = status (0 = success) */
	UCALL_ABORT = 2,  /* args: expr GPA, file GPA, line, value */
	UCALL_SYNC = 3,	  /* args[0] = enum sync_tag, args[1..] tag specific */
	UCALL_CPU_ON = 4, /* args: cpu, rip, rsp, rdi, cr3; RAX = 0 or -errno */
	UCALL_PARK = 5,	  /* block this vCPU until the next CPU_ON for it */
	UCALL_YIELD = 6,  /* let the scheduler pick another vCPU */
	UCALL_PRINT = 7,  /* args: string GPA, length (bulk console output) */
	UCALL_MAX
};

enum sync_tag {
	SYNC_NONE = 0,
	SYNC_KEXEC_BEGIN = 1, /* args[1] = generation about to end */
	SYNC_BOOT = 2,	      /* args[1] = generation, args[2] = SYNC_BOOT_* flags */
	SYNC_RESET_DONE = 3,  /* args[1] = generation that reset */
	SYNC_READY = 4,	      /* args[1] = generation, ready to migrate */
	SYNC_SHARED = 5,      /* args[1] = generation, done sharing its pages */
	SYNC_BENCH = 6,	      /* args[1] = benchmark phase marker */
	SYNC_MAX
};

/* The strategy reset the bitmap before the jump: check it at BOOT. */
#define SYNC_BOOT_EXPECT_CLEAN (1ull << 0)

#define UCALL_MAX_ARGS 6

struct ucall {
	uint32_t cmd;
	uint32_t nargs;
	uint64_t args[UCALL_MAX_ARGS];
};
_Static_assert(sizeof(struct ucall) == 56, "struct ucall size");
_Static_assert(offsetof(struct ucall, args) == 8, "struct ucall args");

/* Strings passed by ucall (ABORT, PRINT) are cut at this many bytes. */
#define UCALL_STR_MAX 256u

/* ---- Boot parameters (a start-info module named "minivmm-params") ---- */

#define MINIVMM_PARAMS_MAGIC   0x4d564d4eu /* "NMVM" */
#define MINIVMM_PARAMS_VERSION 1u

enum minivmm_transport {
	HC_TRANSPORT_NONE = 0,	  /* no hypercall available */
	HC_TRANSPORT_VMMCALL = 1, /* KVM_EXIT_HYPERCALL through vmmcall */
	HC_TRANSPORT_VMCALL = 2,  /* KVM_EXIT_HYPERCALL through vmcall */
	HC_TRANSPORT_PORT = 3,	  /* out to MINIVMM_PORT_HYPERCALL */
};

#define MINIVMM_FLAG_SEV    (1u << 0) /* emulated SEV platform */
#define MINIVMM_FLAG_SERIAL (1u << 1) /* serial schedule: wait loops yield */

struct minivmm_params {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t transport;	/* enum minivmm_transport */
	uint32_t nr_cpus;	/* vCPUs created by the VMM */
	uint32_t cbit;		/* emulated C-bit position (0 without SEV) */
	uint64_t fw_shared_gpa; /* firmware region the VMM marked shared */
	uint64_t fw_shared_size;
	uint64_t vmm_region_gpa; /* VMM-owned reserved region */
	uint64_t vmm_region_size;
};
_Static_assert(sizeof(struct minivmm_params) == 56, "minivmm_params size");

#define MINIVMM_MOD_KERNEL "kernel"
#define MINIVMM_MOD_PARAMS "minivmm-params"
#define MINIVMM_MOD_SCRIPT "guest-script"

/* ---- KVM paravirt constants (Documentation/virt/kvm/x86/) --------- */

/* hypercalls.rst, include/uapi/linux/kvm_para.h */
#define KVM_HC_MAP_GPA_RANGE	       12
#define KVM_MAP_GPA_RANGE_PAGE_SZ_4K   0
#define KVM_MAP_GPA_RANGE_PAGE_SZ_2M   1
#define KVM_MAP_GPA_RANGE_PAGE_SZ_1G   2
#define KVM_MAP_GPA_RANGE_PAGE_SZ_MASK 0xfull
#define KVM_MAP_GPA_RANGE_ENCRYPTED    (1ull << 4)
#define KVM_MAP_GPA_RANGE_DECRYPTED    (0ull << 4)

/* include/uapi/linux/kvm_para.h: errno values returned in RAX */
#define KVM_ENOSYS     1000
#define KVM_EFAULT     14
#define KVM_EINVAL     22
#define KVM_E2BIG      7
#define KVM_EPERM      1
#define KVM_EOPNOTSUPP 95

/* cpuid.rst */
#define KVM_CPUID_SIGNATURE	      0x40000000u
#define KVM_CPUID_FEATURES	      0x40000001u
#define KVM_FEATURE_HC_MAP_GPA_RANGE  16
#define KVM_FEATURE_MIGRATION_CONTROL 17

/* msr.rst */
#define MSR_KVM_MIGRATION_CONTROL 0x4b564d08u
#define KVM_MIGRATION_READY	  (1ull << 0)

/* AMD APM vol. 2 15.34: SEV */
#define CPUID_AMD_SEV	      0x8000001Fu
#define MSR_AMD64_SEV	      0xc0010131u
#define MSR_AMD64_SEV_ENABLED (1ull << 0)

#endif
