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
	/*
	 * The reboot paths as Linux runs them (README "Reboot-path events").
	 * args[1] = generation unless said otherwise; "where" is enum
	 * guest_where: what the CPU was doing when it took the event.
	 */
	SYNC_NOTIFIER_TAKEN = 7,      /* args[2] = where: reboot notifier IPI taken */
	SYNC_NOTIFIER_DONE = 8,	      /* the callback returned; the CPU resumes */
	SYNC_REQUEST_START = 9,	      /* args[2] = request id, args[3] = buffer GPA: shared */
	SYNC_REQUEST_DONE = 10,	      /* args[2] = request id, args[3] = buffer GPA: private */
	SYNC_DEVICE_SHUTDOWN = 11,    /* args[2] = 1 stop (driver .shutdown), 0 none */
	SYNC_STOP_CPUS = 12,	      /* args[2] = enum guest_stop_how: stop_other_cpus sends */
	SYNC_CPU_STOPPED = 13,	      /* args[2] = enum guest_stop_how, args[3] = where */
	SYNC_ENC_KEXEC_BEGIN = 14,    /* args[2] = conversions found or waited for in flight */
	SYNC_ENC_KEXEC_FINISH = 15,   /* args[2] = pages made private again */
	SYNC_CONVERSION_REFUSED = 16, /* args[2] = request id: conversions are stopped */
	SYNC_CPU_OFFLINE = 17,	      /* args[2] = cpu (kvm_cpu_down_prepare) */
	SYNC_CPU_ONLINE = 18,	      /* args[2] = cpu (kvm_cpu_online) */
	SYNC_SUSPEND = 19,	      /* kvm_suspend on the boot CPU */
	SYNC_RESUME = 20,	      /* kvm_resume on the boot CPU */
	SYNC_CRASH = 21,	      /* crash kexec begins (kvm_crash_shutdown) */
	/*
	 * The guest checked its memory after a migration: args[2] = pages
	 * checked, args[3] = pages corrupted; the corrupted runs are a
	 * struct minivmm_verify_report at MINIVMM_UCALL_DATA of this vCPU's
	 * ucall page (README "Migration events").
	 */
	SYNC_MIGRATION_VERIFY = 22,
	SYNC_MAX
};

/* What a CPU was doing when it took an IPI or NMI (SYNC args "where"). */
enum guest_where {
	WHERE_IDLE = 0,		/* between requests */
	WHERE_CONV_PTE = 1,	/* a conversion changed the PTE, no flush yet */
	WHERE_CONV_FLUSHED = 2, /* PTE changed and flushed, hypercall not issued */
	WHERE_CONV_DONE = 3,	/* hypercall returned, bookkeeping left */
	WHERE_WAITING = 4,	/* waiting for other CPUs (IPI, stop) */
};

enum guest_stop_how {
	STOP_REBOOT_VECTOR = 0, /* maskable IPI, taken at an interrupt point */
	STOP_NMI = 1,		/* NMI: taken anywhere, interrupts masked or not */
};

/* The strategy reset the bitmap before the jump: check it at BOOT. */
#define SYNC_BOOT_EXPECT_CLEAN (1ull << 0)
/* This kernel has a driver for the bounce-buffer device: it probes it. */
#define SYNC_BOOT_DEVICE_DRIVER (1ull << 1)

#define UCALL_MAX_ARGS 6

struct ucall {
	uint32_t cmd;
	uint32_t nargs;
	uint64_t args[UCALL_MAX_ARGS];
};
_Static_assert(sizeof(struct ucall) == 56, "struct ucall size");
_Static_assert(offsetof(struct ucall, args) == 8, "struct ucall args");

/* Strings passed by ucall (ABORT) are cut at this many bytes. */
#define UCALL_STR_MAX 256u
/* A PRINT ucall passes at most this many bytes. */
#define UCALL_PRINT_MAX 2048u

/*
 * Each vCPU has a ucall page (params.ucall_gpa + cpu * 4 KiB) that the
 * firmware shares before boot and the guest maps with C=0, as the GHCB on
 * real SEV: under --sev the host reads only shared pages in plaintext. The
 * struct ucall sits at offset 0, the strings and buffers it passes from
 * MINIVMM_UCALL_DATA on.
 */
#define MINIVMM_UCALL_DATA 64u
/*
 * The device's interrupt queue for this vCPU, at MINIVMM_IRQ_QUEUE in its
 * ucall page: the VMM appends (head) while the vCPU is in an exit, the
 * guest consumes (tail) at its interrupt points. A slot names a request:
 * IRQ_REQ_NEW asks the driver for a bounce buffer, IRQ_REQ_DONE says the
 * device finished with it (DMA completion: free it).
 */
#define MINIVMM_IRQ_QUEUE 2176u
#define MINIVMM_IRQ_SLOTS 16u

enum minivmm_irq_kind {
	IRQ_NONE = 0,
	IRQ_REQ_NEW = 1,
	IRQ_REQ_DONE = 2,
};

struct minivmm_irq_slot {
	uint32_t kind; /* enum minivmm_irq_kind */
	uint32_t id;   /* request id */
};

struct minivmm_irq_queue {
	uint32_t head; /* written by the VMM */
	uint32_t tail; /* written by the guest */
	struct minivmm_irq_slot slot[MINIVMM_IRQ_SLOTS];
};
_Static_assert(sizeof(struct minivmm_irq_queue) == 136, "irq queue size");

/*
 * Migration (issue 13): in vCPU 0's ucall page, at MINIVMM_MIGRATION_INFO,
 * the destination VMM adds one to migrations before the guest runs again:
 * the guest's sign that it was migrated and should check its memory.
 */
#define MINIVMM_MIGRATION_INFO 2320u

struct minivmm_migration_info {
	uint32_t migrations; /* written by the destination VMM */
	uint32_t reserved;
};

/*
 * The guest's memory check, written where SYNC_MIGRATION_VERIFY's caller
 * passes data (MINIVMM_UCALL_DATA): every page it checked, the corrupted
 * ones as GPA-sorted runs (the first MINIVMM_VERIFY_RUNS_MAX; truncated
 * says more were found).
 */
#define MINIVMM_VERIFY_RUNS_MAX 120u

struct minivmm_verify_run {
	uint64_t gpa;
	uint64_t npages;
};

struct minivmm_verify_report {
	uint64_t checked;
	uint64_t corrupted;
	uint32_t nruns;
	uint32_t truncated;
	uint32_t migrations; /* the counter the guest saw */
	uint32_t flags;	     /* 0 (reserved) */
	struct minivmm_verify_run run[MINIVMM_VERIFY_RUNS_MAX];
};
_Static_assert(sizeof(struct minivmm_verify_report) == 32 + 16 * MINIVMM_VERIFY_RUNS_MAX,
	       "verify report size");

_Static_assert(MINIVMM_UCALL_DATA + 2 * UCALL_STR_MAX <= 4096 &&
		       MINIVMM_UCALL_DATA + UCALL_PRINT_MAX <= MINIVMM_IRQ_QUEUE &&
		       MINIVMM_UCALL_DATA + sizeof(struct minivmm_verify_report) <=
			       MINIVMM_IRQ_QUEUE &&
		       MINIVMM_IRQ_QUEUE + sizeof(struct minivmm_irq_queue) <=
			       MINIVMM_MIGRATION_INFO &&
		       MINIVMM_MIGRATION_INFO + sizeof(struct minivmm_migration_info) <= 4096,
	       "ucall page layout");

/* ---- Boot parameters (a start-info module named "minivmm-params") ---- */

#define MINIVMM_PARAMS_MAGIC   0x4d564d4eu /* "NMVM" */
#define MINIVMM_PARAMS_VERSION 2u

enum minivmm_transport {
	HC_TRANSPORT_NONE = 0,	  /* no hypercall available */
	HC_TRANSPORT_VMMCALL = 1, /* KVM_EXIT_HYPERCALL through vmmcall */
	HC_TRANSPORT_VMCALL = 2,  /* KVM_EXIT_HYPERCALL through vmcall */
	HC_TRANSPORT_PORT = 3,	  /* out to MINIVMM_PORT_HYPERCALL */
};

#define MINIVMM_FLAG_SEV    (1u << 0) /* emulated SEV platform */
#define MINIVMM_FLAG_SERIAL (1u << 1) /* serial schedule: wait loops yield */
/*
 * The start-up probe found that the CPUID instruction returns what the
 * firmware CPUID table says for every leaf the table has: the guest then
 * checks that they agree.
 */
#define MINIVMM_FLAG_CPUID_AGREES (1u << 2)
/* The bounce-buffer device exists (--device-rate above 0). */
#define MINIVMM_FLAG_DEVICE (1u << 3)
/*
 * A migration is planned (--migrate-to): the guest keeps a pattern in the
 * RAM it does not otherwise use and checks it after each migration, unless
 * its command line says verify=off.
 */
#define MINIVMM_FLAG_MIGRATION (1u << 4)

struct minivmm_params {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t transport;	/* enum minivmm_transport */
	uint32_t nr_cpus;	/* vCPUs created by the VMM */
	uint32_t cbit;		/* emulated C-bit position (0 without SEV) */
	uint64_t fw_shared_gpa; /* pages the firmware shared (window + ucall pages) */
	uint64_t fw_shared_size;
	uint64_t vmm_region_gpa; /* VMM-owned reserved region */
	uint64_t vmm_region_size;
	uint64_t ucall_gpa; /* ucall page of vCPU 0; one page per vCPU follows */
};
_Static_assert(sizeof(struct minivmm_params) == 64, "minivmm_params size");

/*
 * ---- Firmware CPUID table (a start-info module named "minivmm-cpuid") ----
 *
 * The leaves the VMM defines (KVM signature and features, the SEV leaf and
 * the extended maximum), exactly as it gives them to KVM_SET_CPUID2. The
 * guest reads a leaf here first and executes CPUID only for the others, as
 * an SEV-SNP guest does with the firmware's CPUID page
 * (arch/x86/kernel/sev-shared.c snp_cpuid()). Needed because some kvm_pvm
 * hosts do not virtualize CPUID at all: the instruction then returns the
 * outer host's values (docs/pvm-notes.md).
 */
#define MINIVMM_CPUID_MAGIC 0x44495043u /* "CPID" */
#define MINIVMM_CPUID_MAX   8u

struct minivmm_cpuid_fn {
	uint32_t eax_in; /* leaf */
	uint32_t ecx_in; /* subleaf */
	uint32_t eax, ebx, ecx, edx;
};
_Static_assert(sizeof(struct minivmm_cpuid_fn) == 24, "minivmm_cpuid_fn size");

struct minivmm_cpuid_table {
	uint32_t magic;
	uint32_t count; /* valid entries in fn[] */
	struct minivmm_cpuid_fn fn[MINIVMM_CPUID_MAX];
};
_Static_assert(sizeof(struct minivmm_cpuid_table) == 200, "minivmm_cpuid_table size");

#define MINIVMM_MOD_KERNEL "kernel"
#define MINIVMM_MOD_PARAMS "minivmm-params"
#define MINIVMM_MOD_SCRIPT "guest-script"
#define MINIVMM_MOD_CPUID  "minivmm-cpuid"

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
