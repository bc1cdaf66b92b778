/* SPDX-License-Identifier: GPL-2.0-only */
/* The freestanding guest's runtime. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minivmm/abi.h"
#include "minivmm/pvh.h"

#define PAGE_SIZE 4096ull
#define SZ_2M	  (1ull << 21)
#define SZ_1G	  (1ull << 30)
#define MAX_CPUS  16
/* AP n runs on [AP_STACKS_GPA + n * AP_STACK_SIZE, + AP_STACK_SIZE). */
#define AP_STACKS_GPA  0x10000ull
#define AP_STACK_SIZE  0x8000ull
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))

/* ---- lib.c ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_flush(void);
bool parse_num(const char *s, const char **end, uint64_t *out);

uint64_t ucall(uint32_t cmd, unsigned nargs, ...);
void __attribute__((noreturn)) guest_done(uint64_t status);
void __attribute__((noreturn))
guest_abort(const char *expr, const char *file, int line, uint64_t value);
void guest_sync(uint64_t tag, uint64_t arg, uint64_t flags);
/*
 * Stop this CPU for good (until a CPU_ON): back on the firmware's map,
 * then tell the others (*counter = 0 with clear, else decrement), then PARK.
 */
void __attribute__((noreturn)) cpu_park(volatile uint32_t *counter, bool clear);
/* SYNC with args[1..3] (the reboot-path events). */
void guest_sync4(uint64_t tag, uint64_t arg, uint64_t a2, uint64_t a3);
void guest_yield(void);
#define GUEST_ASSERT(e)                                                                            \
	do {                                                                                       \
		if (!(e))                                                                          \
			guest_abort(#e, __FILE__, __LINE__, 0);                                    \
	} while (0)
#define GUEST_ASSERT_EQ(a, b)                                                                      \
	do {                                                                                       \
		uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);                                 \
		if (__a != __b)                                                                    \
			guest_abort(#a " == " #b, __FILE__, __LINE__, __a);                        \
	} while (0)

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
/*
 * This CPU's number, from its stack pointer: the boot CPU runs on its own
 * stack, AP n on the n-th AP stack. The way 32-bit x86 Linux found
 * current_thread_info() (masking ESP) before per-CPU segments: no segment
 * base or TSC_AUX to trust on a hypervisor that may not virtualize them.
 */
static inline uint32_t this_cpu(void)
{
	uint64_t sp = (uint64_t)__builtin_frame_address(0);

	if (sp > AP_STACKS_GPA + AP_STACK_SIZE && sp <= AP_STACKS_GPA + MAX_CPUS * AP_STACK_SIZE)
		return (uint32_t)((sp - 1 - AP_STACKS_GPA) / AP_STACK_SIZE);
	return 0;
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* ---- boot.c ---- */
struct boot {
	const struct hvm_start_info *si;
	const char *cmdline;
	const struct minivmm_params *params;	/* NULL when not booted by mini-vmm */
	const struct hvm_modlist_entry *kernel; /* module 0: our own ELF */
	const struct hvm_modlist_entry *script;
	const struct minivmm_cpuid_table *cpuid; /* firmware CPUID table, or NULL */
	uint64_t ram_top;			 /* highest RAM address + 1 */
	uint64_t fw_cr3; /* the firmware's identity map, from the handover; 0 at first boot */
	uint32_t generation;
	uint32_t nr_cpus;
};
extern struct boot boot;
void boot_parse(uint64_t start_info);
void boot_print(void);
/*
 * CPUID as the guest kernel sees it: the firmware table's leaf when it has
 * one, else the instruction (arch/x86/kernel/sev-shared.c snp_cpuid()).
 */
void fw_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d);
bool is_ram(uint64_t gpa, uint64_t len);
/* Does [gpa, gpa+len) touch any memory-map entry (any type)? */
bool in_memmap(uint64_t gpa, uint64_t len);
/* Is every byte of [gpa, gpa+len) described by some memory-map entry? */
bool memmap_covers(uint64_t gpa, uint64_t len);

/* ---- cmdline.c ---- */
/* Every word a known key with a valid value, else a guest ABORT naming it. */
void cmdline_check(void);
/* Value of key=value on the command line, NULL when absent. */
const char *cmdline_get(const char *key, char *buf, size_t size);
uint64_t cmdline_u64(const char *key, uint64_t def);

/* ---- reboot.c: the reboot paths as Linux runs them ---- */
enum reboot_path { PATH_KEXEC = 0, PATH_CRASH = 1 };
extern bool irq_model; /* reboot=linux: interrupt points are live */
extern enum reboot_path reboot_path_sel;
extern bool device_shutdown_stop; /* device-shutdown=stop */
extern bool fix_ready_on_online;  /* fix=ready-on-online */
/* Where a real CPU could take an interrupt: device IRQs, IPIs, NMIs. */
void irq_point(enum guest_where where);
void cpu_idle(void);
bool conv_read_trylock(void);
void conv_read_unlock(void);

/* ---- mm.c ---- */
extern uint64_t cbit_mask; /* 0 without SEV */
extern uint64_t boot_cr3;  /* the VMM's page tables */
uint64_t alloc_pages(uint64_t n);
void mm_init(void);
/* Load CR3 on this CPU, remembered for flush_range (cpu_tlbstate). */
void load_cr3(uint64_t cr3);
/* This CPU came up with CR3 = cr3 (CPU_ON). */
void mm_cpu_entered(uint64_t cr3);
/* Clear/set the C-bit on [va, va + n pages) (4K or 2M leaves), then flush. */
void set_cbit_range(uint64_t va, uint64_t npages, bool encrypted);
/* The same, the TLB flush left to the caller (flush_range). */
void set_cbit_noflush(uint64_t va, uint64_t npages, bool encrypted);
void flush_range(uint64_t va, uint64_t npages);
/*
 * Call fn on every run of RAM that our page tables map C=0 in [lo, hi);
 * returns the pages found. For enc_kexec_finish (snp_kexec_finish walks
 * the kernel's direct map the same way).
 */
uint64_t mm_for_each_shared(uint64_t lo, uint64_t hi, void (*fn)(uint64_t va, uint64_t npages));
bool page_is_encrypted(uint64_t va);
uint64_t mm_cr3(void);

/* ---- verify.c: the memory check after a migration ---- */
/* A migration is planned and verify=off was not given. */
bool vpat_wanted(void);
/* This generation's migrations counter as last checked (handover). */
void vpat_arm(uint32_t seen);
/*
 * Write the pattern (boot CPU, after the boot shares, before READY):
 * shared[i] = {gpa, npages} of the pages shared at boot. No-op unless
 * vpat_wanted().
 */
void vpat_init(const uint64_t (*shared)[2], unsigned nshared);
/* Boot CPU, idle: the next pages get version + 1. */
void vpat_step(void);
/* Boot CPU: migrated since the last look? Then check and report. The counter. */
uint32_t vpat_poll(void);
uint32_t vpat_migrations(void);
/* Pool buffers (reboot.c): taken and returned under vpat_lock. */
void vpat_lock(void);
void vpat_unlock(void);
void vpat_pool_page_returned_locked(uint64_t gpa);
/* mm.c: alloc_pages must stay below limit from now on (0: none). */
void mm_set_alloc_limit(uint64_t limit);

/* ---- sev.c ---- */
extern bool sev_active;
extern uint32_t hc_transport;
void sev_detect(void);
long kvm_hypercall4(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
long map_gpa_range(uint64_t gpa, uint64_t npages, uint64_t attrs);
/*
 * As Linux's set_memory_decrypted(): page tables, flush, hypercall, with
 * an interrupt point between the steps (reboot=linux), under mem_enc_lock
 * for read. 0, or -EBUSY when enc_kexec_begin has stopped conversions.
 */
int set_memory_decrypted(uint64_t va, uint64_t npages);
int set_memory_encrypted(uint64_t va, uint64_t npages);
/* Strategy mute: the old kernel issues no MAP_GPA_RANGE any more. */
void hypercalls_mute(void);
void hypercalls_unmute(void);
void migration_ready(bool ready);

#endif
