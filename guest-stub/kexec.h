/* SPDX-License-Identifier: GPL-2.0-only */
/* Self-kexec, reset strategies and the device-servicing APs. */
#ifndef GUEST_KEXEC_H
#define GUEST_KEXEC_H

#include "guest.h"

#define HANDOVER_GPA   0x1000ull
#define TRAMPOLINE_GPA 0x2000ull
#define HANDOVER_MAGIC 0x4b455845u /* "EXEK" */
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
	STRAT_MAX
};

/* Indexed by enum strategy, NULL-terminated: the values of strategy=. */
extern const char *const strategy_names[STRAT_MAX + 1];
/* Is NAME a value of scenario= (main.c, hostile.c)? */
bool scenario_known(const char *name);
bool hostile_known(const char *name);
void scenario_kexec(void);
void kexec_share_boot_pages(void);
bool hostile_run(const char *name);
void hostile_ap_spin(void);
extern char ap_entry[];
void kexec_ap_main(uint64_t cpu);
/* From entry.S */
extern char kexec_trampoline[], kexec_trampoline_end[];

#endif
