/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machine's state: options, KVM handles, guest memory, vCPUs and the
 * state every exit handler shares (bitmap, log, migration control), and
 * the one thing a handler may do to the whole VM: stop it. Types only, so
 * that the exit handlers depend on this and not on the VM's lifecycle
 * (vm.h) or the vCPU loop (vcpu.h), which call them: the module graph
 * stays acyclic.
 */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "device_state.h"
#include "encmap.h"
#include "hostmem.h"
#include "kvm.h"
#include "loader.h"
#include "log.h"
#include "memory.h"
#include "minivmm/abi.h"
#include "psp.h"

#define VM_MAX_VCPUS   64
#define VM_CMDLINE_MAX 4096
#define VM_SCRIPT_MAX  (1u << 20)

/* Exit statuses (DESIGN.md). */
enum {
	EXIT_OK = 0,
	EXIT_CHECK_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_GUEST_CRASH = 3,
	EXIT_TIMEOUT = 124,
};

enum transport_choice {
	TRANSPORT_AUTO = 0,
	TRANSPORT_EXIT,	   /* KVM_EXIT_HYPERCALL, vendor instruction */
	TRANSPORT_VMMCALL, /* KVM_EXIT_HYPERCALL, force vmmcall */
	TRANSPORT_VMCALL,  /* KVM_EXIT_HYPERCALL, force vmcall */
	TRANSPORT_PORT,	   /* port I/O */
};

enum sched_mode {
	SCHED_PARALLEL = 0,
	SCHED_SERIAL,
};

/* Race-window injection: delay completion of matching exits. */
enum inject_kind {
	INJ_HYPERCALL = 1 << 0,
	INJ_UCALL = 1 << 1,
	INJ_MSR = 1 << 2,
};

struct mvs_run; /* minivmm/stream.h */
struct vm;

/*
 * What vm_run calls of a planned migration (vmm/migrate.h migrate_ops,
 * set by main.c): the VM's loop does not depend on the migration code,
 * which builds on the VM's setup.
 */
struct vm_migrate_ops {
	void (*precopy_locked)(struct vm *vm); /* vm->mig_precopy was set */
	void (*source_locked)(struct vm *vm);  /* vm->mig_pause, every vCPU quiet */
};

struct inject_rule {
	int vcpu;	   /* -1: any */
	unsigned kinds;	   /* enum inject_kind mask */
	uint32_t prob_ppm; /* probability in parts per million */
	uint64_t delay_us; /* parallel: sleep; serial: scheduler steps */
};

/* --migrate-to URI (vmm/migrate.h parses it). */
enum migrate_uri_kind {
	MIGRATE_URI_NONE = 0,
	MIGRATE_URI_FILE, /* file:PATH, a snapshot */
	MIGRATE_URI_UNIX, /* unix:PATH */
	MIGRATE_URI_TCP,  /* tcp:HOST:PORT */
};

struct migrate_uri {
	enum migrate_uri_kind kind;
	char path[108]; /* file or socket path; tcp: the host */
	uint16_t port;	/* tcp */
};

/* --migrate-at WHEN: the N-th SYNC with a tag, or the first exit at or after seq. */
struct migrate_at {
	bool by_seq;
	uint64_t tag; /* enum sync_tag (minivmm/abi.h) */
	uint64_t nth; /* 1: the first */
	uint64_t seq;
};

struct vm_opts {
	const char *kernel_path;
	const char *kvm_path;
	uint64_t ram_size;
	unsigned nr_cpus;
	const char *cmdline;
	uint64_t timeout_s;
	bool sev;
	unsigned cbit;
	enum transport_choice transport;
	const char *log_path;
	const char *script_path;
	bool dump_bitmap;
	bool check;	 /* default: on with --sev (--check, --no-check) */
	bool story;	 /* --sev without --cmdline: print every checked point */
	bool gen_filter; /* drop stale generations (strategy "generation") */
	int verbose;
	enum sched_mode sched;
	uint64_t seed;
	struct inject_rule inject[4];
	unsigned nr_inject;
	uint32_t device_ppm;	       /* --device-rate, parts per million of exits */
	bool allow_emulated;	       /* kvm_pvm: do not fail when not native */
	uint64_t t_start_ns;	       /* main() entry, for start-up timing (0: vm_create) */
	struct migrate_uri migrate_to; /* kind NONE: no migration planned */
	struct migrate_at migrate_at;
	struct migrate_uri incoming; /* destination: the VM comes from here */
	/*
	 * Destination of a snapshot: its PSP's keys come from this seed
	 * (psp_soft seeded, instance 1), the target key the source sealed
	 * the snapshot's session to (vmm/migrate.c).
	 */
	bool psp_keyed;
	uint64_t psp_key;
	uint64_t migrate_wait_s; /* --migrate-wait: READY wait bound (serial: x1000 steps) */
	bool migrate_force;	 /* --migrate-force: migrate without READY */
	uint32_t migrate_rounds; /* --migrate-rounds: live rounds at most (0: none) */

	/* Serial schedules (schedule.h): PCT and schedules as data. */
	bool pct;		  /* --sched=pct: serial, priority-driven */
	unsigned pct_depth;	  /* --depth D */
	uint64_t pct_steps;	  /* --pct-steps K, 0: SCHED_PCT_DEFAULT_STEPS */
	const char *schedule_in;  /* --schedule FILE: replay */
	const char *schedule_out; /* --schedule-out FILE: record */
	bool schedule_lenient;	  /* --schedule-lenient: skip what no longer applies */
	uint64_t schedule_until;  /* --schedule-until STEP: then draw from --seed */
};

struct vm_layout {
	uint64_t start_info;
	uint64_t modlist;
	uint64_t memmap;
	uint64_t gdt;
	uint64_t params;
	uint64_t cpuid_table;
	uint64_t cmdline;
	uint64_t probe_code;
	uint64_t pml4;
	uint64_t fw_pt; /* 4 KiB table of the 2 MiB block the firmware shares in */
	uint64_t mod_kernel;
	uint64_t mod_script;
	uint64_t script_size;
	uint64_t end;
};

enum vcpu_state {
	VCPU_OFF = 0, /* never started or parked: waiting for CPU_ON */
	VCPU_PENDING, /* CPU_ON received, thread about to load state */
	VCPU_RUNNING,
	VCPU_DEAD, /* thread finished */
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	enum vcpu_state state; /* protected by vm->lock */
	uint64_t start_rip, start_rsp, start_rdi, start_cr3;
	uint64_t migration_ctl; /* MSR_KVM_MIGRATION_CONTROL as written */
	uint32_t generation;	/* boot generation of the code it runs */
	uint64_t exits;
	uint64_t vmcall_spins; /* consecutive EINTR at the same RIP */
	uint64_t last_intr_rip;
	uint64_t rng;	      /* injection PRNG state */
	uint64_t inject_hold; /* serial: steps left before completing */
	bool active;	      /* its thread is outside every wait (vm->lock) */
	/*
	 * Serial: waiting in an injection with its exit not yet handled
	 * (vm->lock). Such a vCPU is not quiet for a migration: the stop ends
	 * its hold and it handles the exit first (vmm/schedule.c).
	 */
	bool held;
	bool finish_at_stop; /* the exit being handled is one a stop ended the hold of */
};

struct migration_state {
	bool ready; /* VM-wide verdict, see msr.c */
	uint64_t last_change_ns;
	uint64_t blocked_since_seq;
	uint64_t blocked_ns; /* total time not migratable */
	uint64_t blocked_events;
	uint64_t windows;	/* number of not-migratable windows */
	uint64_t points;	/* SYNC points seen while migratable */
	uint64_t unsafe_points; /* ... where bitmap != guest truth */
	uint64_t first_unsafe_seq;
};

struct vm {
	struct vm_opts opts;
	struct kvm_sys sys;
	int fd;
	struct guest_mem mem;
	struct vm_layout layout;
	void *elf_buf;
	size_t elf_size;
	struct elf_image elf;
	void *script_buf;
	size_t script_size;
	struct kvm_cpuid2 *cpuid;
	bool is_amd;
	bool native;  /* kvm_pvm native mode enabled and verified */
	bool pvm_msr; /* the native-mode MSR exists */
	uint64_t probe_loop_ns;
	uint64_t insn_emulation; /* vCPU statistic, summed at exit */
	uint64_t kvm_exits;	 /* vCPU statistic "exits" (in-kernel + userspace) */
	uint64_t userspace_exits;
	int64_t probe_hc_rax;
	bool cpuid_agrees; /* the probe's CPUID saw the table KVM got */
	enum minivmm_transport transport;
	unsigned nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	uint64_t t_start_ns;	 /* process start (main) */
	uint64_t t_first_run_ns; /* first KVM_RUN of the guest */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	int exit_status;
	char exit_reason[512];

	/*
	 * --sev: the VM's secure-processor context (software PSP), created
	 * and launched by vm_create; its memory controller is hostmem's
	 * cipher. NULL without --sev.
	 */
	struct psp *psp;
	struct psp_measure launch; /* LAUNCH_MEASURE's output */

	/* Protected by lock. */
	struct encmap encmap;
	struct hostmem hostmem; /* the host view of guest memory */
	struct device device;	/* protected by lock */
	struct evlog log;
	uint32_t generation;	/* newest boot generation (SYNC BOOT) */
	uint32_t hc_generation; /* newest generation in hypercalls (--gen-filter) */
	uint32_t checked_generation;
	struct migration_state mig;
	uint64_t hypercalls;
	uint64_t hypercall_errors;
	uint64_t checks_run;
	uint64_t checks_failed;

	/*
	 * Migration source (vmm/migrate.c), protected by lock: pause asks
	 * every vCPU thread to wait outside KVM_RUN; sync_hits counts the
	 * SYNCs that matched --migrate-at.
	 */
	const struct vm_migrate_ops *mig_ops; /* NULL: no migration planned */
	bool mig_pause;
	/*
	 * Serial: the vCPU (id + 1; 0 none) whose held exit a stop lets be
	 * handled now. One at a time, lowest id first, once every other
	 * thread waits: the stop is then as reproducible as the schedule.
	 */
	unsigned mig_finish;
	bool mig_done;
	uint64_t mig_sync_hits;
	uint64_t mig_stop_real_ns;    /* destination: the source's stop (CLOCK_REALTIME) */
	uint64_t t_first_run_real_ns; /* CLOCK_REALTIME of the first KVM_RUN */
	bool mig_requested;	      /* the --migrate-at point came (never cleared) */
	bool mig_precopy;	      /* main thread: start pre-copy rounds */
	/*
	 * During pre-copy: pages the VMM itself dirtied (hostmem_write) or
	 * whose bitmap bit a MAP_GPA_RANGE changed, one bit a page frame;
	 * NULL otherwise. KVM's dirty log covers the guest's own writes.
	 */
	uint64_t *mig_dirty;
	uint32_t *mig_sent_crc;	 /* pre-copy: CRC32C of each page's host view as sent */
	uint64_t *mig_sent_ct;	 /* pre-copy: that view was ciphertext (a bit a page) */
	uint64_t *mig_sent_map;	 /* pre-copy: the pages with a mig_sent_crc (a bit a page) */
	uint64_t *mig_sent_sum;	 /* a bit a word of mig_sent_map that holds one */
	uint64_t mig_unlogged;	 /* pages whose host view changed without a logged write */
	bool mig_waiting;	 /* the point came, the guest is not READY yet */
	uint64_t mig_wait_until; /* ns (parallel) or scheduler steps (serial) */
	bool mig_arrival_logged; /* destination: migration_done written */
	uint64_t mig_t_begin_ns; /* source: migration_start */
	uint64_t mig_bytes, mig_pages_shared, mig_pages_private, mig_rounds;
	/*
	 * Destination, for the guest's memory check (vmm/verify.c): how each
	 * page frame arrived (mig_got[1]: through RECEIVE_UPDATE_DATA,
	 * mig_got[0]: as a plain record; neither: not sent), and the shared
	 * runs of the bitmap as it came, with their provenance: the entries
	 * that decided how each page was sent.
	 */
	uint64_t *mig_got[2];
	struct mvs_run *mig_arrival_runs;
	uint32_t mig_arrival_nruns;
	uint32_t mig_count;	      /* migrations this guest went through */
	uint64_t mig_verify_reports;  /* SYNC_MIGRATION_VERIFY reports handled */
	uint64_t mig_corrupted_pages; /* summed over them */

	/* Serial schedule. */
	uint64_t sched_rng;
	int sched_current; /* vCPU allowed to run, -1: pick */
	uint64_t sched_steps;
	struct sched_data *sched; /* PCT, replay and record state (schedule.c) */
};

/* The guest console's stream (and the story's): stdout, unless the log is there. */
static inline FILE *vm_console(const struct vm *vm)
{
	return vm->log.f == stdout ? stderr : stdout;
}

/* What an exit handler tells the vCPU loop. */
enum vcpu_action {
	ACT_CONTINUE = 0, /* re-enter the guest */
	ACT_STOP,	  /* the VM is stopping */
	ACT_PARK,	  /* wait for the next CPU_ON */
	ACT_YIELD,	  /* serial schedule: let another vCPU run */
	ACT_SHUTDOWN,	  /* triple fault: caller collects events and stops */
	/*
	 * Re-enter the guest as if the exit had not been: no scheduling
	 * point, no device turn, not counted in exits. For the guest's memory
	 * check after a migration, instrumentation that the unmigrated run
	 * does not have: the schedule stays the one it would have been.
	 */
	ACT_QUIET,
};

/* Get the vCPU out of KVM_RUN soon (immediate_exit and a signal). */
void vcpu_kick(struct vcpu *vcpu);

/* Stop the whole VM with a status (first caller wins). Takes the lock. */
void vm_stop(struct vm *vm, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with the lock already held. */
void vm_stop_locked(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
