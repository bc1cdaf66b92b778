/* SPDX-License-Identifier: GPL-2.0-only */
/* Self-kexec, reset strategies and the device-servicing APs. */
#ifndef GUEST_KEXEC_H
#define GUEST_KEXEC_H

#include "guest.h"

#define HANDOVER_GPA   0x1000ull
#define TRAMPOLINE_GPA 0x2000ull
#define HANDOVER_MAGIC 0x4b455845u /* "EXEK" */
/* The kdump kernel's start info and memory map (path=crash). */
#define KDUMP_START_INFO_GPA   0x3000ull
#define MEM_HIGH_RAM_GPA       0x100000ull
#define KDUMP_CRASHKERNEL_SIZE (7ull << 20) /* crashkernel=7M@1M */
/* reboot=linux: idle rounds the boot CPU waits for io requests at most. */
#define IO_ROUNDS_MAX  400
#define KEXEC_MAX_SEGS 8

struct kexec_seg {
	uint64_t src, dst, filesz, memsz;
};

/* Written by the old instance at HANDOVER_GPA, read by the new one. */
struct handover {
	uint32_t magic;
	uint32_t generation; /* of the new instance */
	uint64_t cycles_left;
	uint64_t start_info;
	uint64_t entry;
	uint64_t nsegs;
	struct kexec_seg seg[KEXEC_MAX_SEGS];
	/* After seg[]: the trampoline reads the fields above at fixed offsets. */
	uint64_t fw_cr3;	  /* the firmware's identity map the jump runs on */
	uint32_t migrations_seen; /* verify.c: the counter the old instance checked */
	uint32_t reserved;
};

enum strategy {
	STRAT_NONE = 0,
	STRAT_V12,
	STRAT_EVERY_CPU,
	STRAT_LAST_CPU,
	STRAT_MSR_OFF,
	STRAT_MUTE,
	STRAT_GENERATION,
	STRAT_UPSTREAM,
	STRAT_STOP_UNSHARE,
	STRAT_MAX
};

extern enum strategy strategy;
/* The v12 reset loop: MAP_GPA_RANGE(encrypted) over every E820 RAM entry. */
void reset_all_ram(void);

/* reboot.c, reboot=linux */
void device_probe(void);
/* The pool's pages [*lo, *hi); is this pool page free (not a buffer)? */
void device_pool_range(uint64_t *lo, uint64_t *hi);
bool device_pool_page_free(uint64_t gpa);
/* The VMM offers the bounce-buffer device (params). */
bool device_present(void);
uint64_t device_requests_done(void);
bool run_work(void);
void __attribute__((noreturn)) linux_ap_main(uint32_t cpu);
void linux_kexec(void);
void linux_crash(void);
void linux_stop_aps(void);
bool ap_online(uint32_t cpu);
void enc_kexec_finish(void);
void cpu_offline(uint32_t cpu);
void cpu_online_report(uint32_t cpu);
void kvm_suspend(void);
void kvm_resume(void);
void start_ap(uint32_t cpu);
void device_reset_requests_done(void);
void scenario_hotplug(void);
void scenario_suspend(void);

/* Indexed by enum strategy, NULL-terminated: the values of strategy=. */
extern const char *const strategy_names[STRAT_MAX + 1];
/* Is NAME a value of scenario= (main.c, hostile.c)? */
bool scenario_known(const char *name);
bool hostile_known(const char *name);
void scenario_kexec(void);
void kexec_share_boot_pages(void);
/* What kexec_share_boot_pages shared, as {gpa, npages}; returns how many. */
unsigned kexec_shared_ranges(uint64_t (*out)[2]);
/* vpat_init with the boot shares. */
void kexec_verify_init(void);
bool hostile_run(const char *name);
void hostile_ap_spin(void);
extern char ap_entry[];
void kexec_ap_main(uint64_t cpu);
/* From entry.S */
extern char kexec_trampoline[], kexec_trampoline_end[];

#endif
