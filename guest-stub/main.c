// SPDX-License-Identifier: GPL-2.0-only
/* Guest scenarios, chosen with scenario=NAME on the command line. */
#include "kexec.h"
#include "script.h"

static char decrypted_page[4096] __attribute__((section(".bss_decrypted"), aligned(4096)));

struct shared_state {
	uint64_t pv_pages;  /* one page per CPU, paravirt data */
	uint64_t bounce_2m; /* 2 MiB bounce pool */
	uint64_t bounce_4k; /* 8 single-page bounce buffers */
};
static struct shared_state shared;

static uint64_t alloc_aligned(uint64_t npages, uint64_t align)
{
	uint64_t probe = alloc_pages(0);
	uint64_t pad = (ALIGN_UP(probe, align) - probe) / PAGE_SIZE;

	if (pad)
		alloc_pages(pad);
	return alloc_pages(npages);
}

/* What a kernel shares at boot: .bss..decrypted, per-CPU pv pages, swiotlb. */
void kexec_share_boot_pages(void)
{
	set_memory_decrypted((uint64_t)decrypted_page, 1);
	shared.pv_pages = alloc_pages(boot.nr_cpus);
	for (uint32_t i = 0; i < boot.nr_cpus; i++)
		set_memory_decrypted(shared.pv_pages + i * PAGE_SIZE, 1);
	/*
	 * The single pages come from memory that is already in 4 KiB pieces,
	 * before the aligned 2 MiB block is carved out: a buddy allocator
	 * serves a small request from the smallest free block (mm/page_alloc.c
	 * __rmqueue_smallest), here the 2 MiB our image already splits, rather
	 * than breaking up another 2 MiB; so sharing them splits no fresh
	 * 2 MiB leaf (split_large_page: a new page-table page, a write to a
	 * live PMD, traps on a shadow-paging hypervisor). The conversions run
	 * in the same order as before.
	 */
	shared.bounce_4k = alloc_pages(8);
	shared.bounce_2m = alloc_aligned(512, SZ_2M);
	set_memory_decrypted(shared.bounce_2m, 512);
	set_memory_decrypted(shared.bounce_4k, 8);
}

unsigned kexec_shared_ranges(uint64_t (*out)[2])
{
	unsigned n = 0;

	if (!shared.pv_pages)
		return 0;
	out[n][0] = (uint64_t)decrypted_page;
	out[n++][1] = 1;
	out[n][0] = shared.pv_pages;
	out[n++][1] = boot.nr_cpus;
	out[n][0] = shared.bounce_2m;
	out[n++][1] = 512;
	out[n][0] = shared.bounce_4k;
	out[n++][1] = 8;
	return n;
}

void kexec_verify_init(void)
{
	uint64_t r[4][2];

	vpat_init(r, kexec_shared_ranges(r));
}

/* A device buffer that goes back to private after use. */
static void device_roundtrip(void)
{
	uint64_t tmp = alloc_pages(4);

	set_memory_decrypted(tmp, 4);
	set_memory_encrypted(tmp, 4);
}

static void scenario_hello(void)
{
	boot_print();
	printf("hello from mini-vmm guest: page tables at %#lx\n", mm_cr3());
}

static void scenario_sev(void)
{
	bool want = boot.params && (boot.params->flags & MINIVMM_FLAG_SEV);
	char name[32];
	uint64_t v;

	GUEST_ASSERT_EQ(sev_active, want);
	guest_sync(SYNC_BOOT, boot.generation, 0);
	boot_print();
	if (!sev_active) {
		printf("no SEV: sharing nothing\n");
		return;
	}
	printf("SEV active, C-bit %u, transport %u\n", __builtin_ctzll(cbit_mask), hc_transport);
	kexec_share_boot_pages();
	device_roundtrip();
	/* The shared pages are really mapped without the C-bit, and usable. */
	GUEST_ASSERT(!page_is_encrypted((uint64_t)decrypted_page));
	GUEST_ASSERT(page_is_encrypted((uint64_t)&shared));
	memset(decrypted_page, 0x5a, sizeof(decrypted_page));
	GUEST_ASSERT_EQ(decrypted_page[4095], 0x5a);
	memset((void *)shared.bounce_2m, 0xa5, SZ_2M);
	GUEST_ASSERT_EQ(((volatile uint8_t *)shared.bounce_2m)[SZ_2M - 1], 0xa5);
	/* Fault injection for the truth audit: lie to the host one way or the other. */
	if (cmdline_get("fault", name, sizeof(name))) {
		uint64_t page = alloc_pages(1);

		if (!strcmp(name, "silent-share")) {
			set_cbit_range(page, 1, false); /* guest-shared, host never told */
		} else if (!strcmp(name, "unmapped-share")) {
			/* host told shared, the page keeps its C-bit */
			GUEST_ASSERT_EQ(map_gpa_range(page, 1, KVM_MAP_GPA_RANGE_PAGE_SZ_4K), 0);
		} else {
			GUEST_ASSERT(!"fault= passed cmdline_check() but is not a fault");
		}
		printf("fault %s injected at %#lx\n", name, page);
	}
	v = rdmsr(MSR_KVM_MIGRATION_CONTROL);
	GUEST_ASSERT_EQ(v, 0);
	migration_ready(true);
	GUEST_ASSERT_EQ(rdmsr(MSR_KVM_MIGRATION_CONTROL), KVM_MIGRATION_READY);
	guest_sync(SYNC_READY, boot.generation, 0);
	printf("shared: .bss..decrypted %p, pv %#lx x%u, bounce 2M %#lx, bounce 4K %#lx x8\n",
	       decrypted_page, shared.pv_pages, boot.nr_cpus, shared.bounce_2m, shared.bounce_4k);
}

/* One hypercall per line: "map GPA NPAGES ATTRS [GEN] [expect RET]" (script.c). */
static void scenario_script(void)
{
	const char *p, *end;
	unsigned lineno = 0, calls = 0;

	GUEST_ASSERT(boot.script);
	p = (const char *)boot.script->paddr;
	end = p + boot.script->size;
	while (p < end) {
		const char *nl = p;
		struct script_call call;
		enum script_result res;
		long r;

		while (nl < end && *nl != '\n')
			nl++;
		lineno++;
		res = script_parse_line(p, (size_t)(nl - p), &call);
		p = nl + 1;
		if (res == SCRIPT_EMPTY)
			continue;
		if (res != SCRIPT_CALL) {
			printf("script line %u: %s\n", lineno, script_result_name(res));
			guest_abort("malformed guest script line", "guest-script", (int)lineno,
				    res);
		}
		r = kvm_hypercall4(KVM_HC_MAP_GPA_RANGE, call.gpa, call.npages, call.attrs,
				   call.gen);
		calls++;
		printf("script line %u: map %#lx %lu %#lx gen %lu -> %ld\n", lineno, call.gpa,
		       call.npages, call.attrs, call.gen, r);
		if (call.has_expect && r != call.expect) {
			printf("script line %u: expected %ld, got %ld\n", lineno, (long)call.expect,
			       r);
			guest_abort("hypercall return differs from 'expect'", "guest-script",
				    (int)lineno, (uint64_t)r);
		}
	}
	printf("script: %u call(s)\n", calls);
}

/*
 * scenario=bench-exit n=N: N bare port exits (port 0xEC: the VMM only writes
 * RAX = 0 back, as for a hypercall),
 * then N MAP_GPA_RANGE calls through the full handler, each phase between
 * SYNC(BENCH) markers whose log time stamps bench/exitpath.sh reads.
 */
/*
 * scenario=dirty: keep writing n pages (default 256), rounds passes
 * (default 4000), one NULL-port exit a pass, after SYNC BENCH 0: a guest
 * that dirties memory all through a live migration's pre-copy.
 */
static void scenario_dirty(void)
{
	uint64_t n = cmdline_u64("n", 256), rounds = cmdline_u64("rounds", 4000);
	uint64_t base = alloc_pages(n);

	GUEST_ASSERT(n && is_ram(base, n * PAGE_SIZE));
	vpat_init(NULL, 0);
	guest_sync(SYNC_BENCH, 0, 0);
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t rax = 0;

		for (uint64_t i = 0; i < n; i++)
			((volatile uint64_t *)(base + i * PAGE_SIZE))[r % 512] = r;
		__asm__ volatile("outb %%al, %1" : "+a"(rax) : "i"(MINIVMM_PORT_NULL));
		vpat_step();
		vpat_poll();
	}
	/* What was written last is still there. */
	for (uint64_t i = 0; i < n; i++)
		GUEST_ASSERT_EQ(((volatile uint64_t *)(base + i * PAGE_SIZE))[(rounds - 1) % 512],
				rounds - 1);
	guest_sync(SYNC_BENCH, 1, 0);
}

/*
 * scenario=idle: boot as a kernel does (the boot shares, the memory
 * pattern when a migration is planned, READY), then idle: rounds HLT-like
 * exits (default 20000) and nothing else. An idle guest for migration
 * benchmarks (bench/migrate.sh), as QEMU's halted one.
 */
static void scenario_idle(void)
{
	uint64_t rounds = cmdline_u64("rounds", 20000);

	guest_sync(SYNC_BOOT, boot.generation, 0);
	if (sev_active)
		kexec_share_boot_pages();
	kexec_verify_init();
	if (sev_active)
		migration_ready(true);
	guest_sync(SYNC_READY, boot.generation, 0);
	for (uint64_t r = 0; r < rounds; r++) {
		__asm__ volatile("outb %%al, %[port]" : : "a"(0), [port] "i"(MINIVMM_PORT_NULL));
		vpat_step();
		vpat_poll();
	}
}

static void scenario_bench_exit(void)
{
	uint64_t n = cmdline_u64("n", 10000), rounds = cmdline_u64("rounds", 20);
	uint64_t base = alloc_pages(1024), i = 0;

	GUEST_ASSERT(sev_active && rounds && n >= rounds);
	/* Interleaved rounds, so that drift on a noisy host hits both phases. */
	for (uint64_t r = 0; r < rounds; r++) {
		guest_sync(SYNC_BENCH, 0, r);
		for (uint64_t k = 0; k < n / rounds; k++) {
			uint64_t rax = 0;

			__asm__ volatile("outb %%al, %1" : "+a"(rax) : "i"(MINIVMM_PORT_NULL));
		}
		guest_sync(SYNC_BENCH, 1, r);
		for (uint64_t k = 0; k < n / rounds; k++, i++) {
			/* Walk 1024 pages: shared on the way up, private on the way back. */
			uint64_t page = i % 1024;
			uint64_t attrs = (i / 1024) & 1 ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0;

			GUEST_ASSERT_EQ(map_gpa_range(base + page * PAGE_SIZE, 1, attrs), 0);
		}
	}
	guest_sync(SYNC_BENCH, 2, rounds);
}

static void scenario_fault(void)
{
	/* A write to a non-canonical address: #GP, a triple fault without an IDT. */
	printf("faulting on purpose\n");
	console_flush();
	*(volatile uint64_t *)0x8000000000000000ull = 1;
}

static void scenario_spin(void)
{
	console_flush();
	for (;;)
		cpu_relax();
}

struct scenario {
	const char *name;
	void (*fn)(void);
};

static const struct scenario scenarios[] = {
	{"hello", scenario_hello},
	{"sev", scenario_sev},
	{"script", scenario_script},
	{"fault", scenario_fault},
	{"spin", scenario_spin},
	{"kexec", scenario_kexec},
	{"bench-exit", scenario_bench_exit},
	{"hotplug", scenario_hotplug},
	{"suspend", scenario_suspend},
	{"dirty", scenario_dirty},
	{"idle", scenario_idle},
};

static const struct scenario *scenario_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

bool scenario_known(const char *name)
{
	return scenario_find(name) || hostile_known(name);
}

void ap_main(uint64_t cpu)
{
	kexec_ap_main(cpu);
}

void guest_main(uint64_t start_info, uint64_t handover)
{
	char name[40];
	const struct scenario *sc;
	const char *s;

	const struct handover *h = (const void *)handover;

	boot_parse(start_info);
	boot.generation = 1;
	if (h && h->magic == HANDOVER_MAGIC) {
		boot.generation = h->generation;
		boot.fw_cr3 = h->fw_cr3;
	}
	/* Before anything reads a key: a typo must not turn into a default. */
	cmdline_check();
	/* A kexec'd instance goes on from what the old one had checked. */
	vpat_arm(h && h->magic == HANDOVER_MAGIC ? h->migrations_seen : 0);
	sev_detect();
	mm_init();
	s = cmdline_get("scenario", name, sizeof(name));
	if (!s)
		s = "hello";
	sc = scenario_find(s);
	if (sc) {
		sc->fn();
		guest_done(0);
	}
	if (hostile_run(s))
		guest_done(0);
	GUEST_ASSERT(!"scenario= passed cmdline_check() but is not a scenario");
}
