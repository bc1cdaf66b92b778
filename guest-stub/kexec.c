// SPDX-License-Identifier: GPL-2.0-only
/*
 * scenario=kexec: a guest kernel that shares its pages, lets its APs
 * service device requests through bounce buffers, and kexecs into a fresh
 * copy of itself, resetting the host's encryption bitmap with one of the
 * strategies of DESIGN.md.
 *
 * The old instance: KEXEC_BEGIN, the strategy's reboot path on the boot CPU
 * (v12/msr-off/mute/every-cpu reset here, while the APs are still
 * servicing devices, as the reboot notifier of the v12 patch does), then
 * stop_other_cpus: every AP runs its per-CPU hook (every-cpu: reset;
 * last-cpu: count down, the last one resets; msr-off/upstream: MSR 0) and
 * parks wherever it was in its request, as an NMI-stopped CPU does. Then
 * the image is copied from module 0 by a trampoline and entered.
 *
 * The new instance: BOOT(gen) (the VMM checks a clean bitmap for the
 * strategies that reset before the jump), upstream resets all E820 RAM in
 * early boot, shares its own pages (at generation-dependent addresses, as a
 * relocated kernel would), writes READY, SYNC READY (the VMM checks), starts
 * its APs, and lets them work before the next cycle.
 */
#include "kexec.h"

#define EI_NIDENT 16
struct elf64_ehdr {
	uint8_t ident[EI_NIDENT];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

const char *const strategy_names[STRAT_MAX + 1] = {
	[STRAT_NONE] = "none",
	[STRAT_V12] = "v12",
	[STRAT_EVERY_CPU] = "every-cpu",
	[STRAT_LAST_CPU] = "last-cpu",
	[STRAT_MSR_OFF] = "msr-off",
	[STRAT_MUTE] = "mute",
	[STRAT_GENERATION] = "generation",
	[STRAT_UPSTREAM] = "upstream",
	[STRAT_STOP_UNSHARE] = "stop-unshare",
};

enum strategy strategy;
static uint64_t io_per_cycle;
static volatile uint32_t stop_request;
static volatile uint32_t hc_muted; /* reboot=offline's mute flag */
static volatile uint32_t cpus_up;  /* last-cpu count-down */
static volatile uint32_t aps_running;
static volatile uint64_t ap_requests[MAX_CPUS];
static uint64_t ap_buf[MAX_CPUS];

static enum strategy parse_strategy(void)
{
	char name[32];

	if (!cmdline_get("strategy", name, sizeof(name)))
		return STRAT_UPSTREAM;
	for (unsigned i = 0; i < STRAT_MAX; i++)
		if (!strcmp(name, strategy_names[i]))
			return (enum strategy)i;
	GUEST_ASSERT(!"strategy= passed cmdline_check() but is not a strategy");
	return STRAT_NONE;
}

/* The v12 reset loop: MAP_GPA_RANGE(encrypted) for every E820 RAM entry. */
void reset_all_ram(void)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;

	for (uint32_t i = 0; i < boot.si->memmap_entries; i++) {
		uint64_t s = ALIGN_UP(mm[i].addr, PAGE_SIZE),
			 e = (mm[i].addr + mm[i].size) & ~(PAGE_SIZE - 1);
		long r;

		if (mm[i].type != E820_TYPE_RAM || e <= s)
			continue;
		r = map_gpa_range(s, (e - s) / PAGE_SIZE,
				  KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K);
		GUEST_ASSERT_EQ(r, 0);
	}
}

/* A device request on a bounce buffer, stoppable between every step. */
static bool ap_hypercalls_allowed(void)
{
	return !(strategy == STRAT_MUTE && hc_muted);
}

static void ap_reboot_hook(uint64_t cpu)
{
	switch (strategy) {
	case STRAT_EVERY_CPU:
		reset_all_ram();
		break;
	case STRAT_LAST_CPU:
		if (__atomic_sub_fetch(&cpus_up, 1, __ATOMIC_SEQ_CST) == 0)
			reset_all_ram();
		break;
	case STRAT_MSR_OFF:
	case STRAT_UPSTREAM:
		migration_ready(false);
		break;
	default:
		break;
	}
	(void)cpu;
}

void kexec_ap_main(uint64_t cpu)
{
	uint64_t buf = ap_buf[cpu];

	mm_cpu_entered(mm_cr3()); /* start_ap's CPU_ON gave it our page tables */
	if (irq_model)
		linux_ap_main((uint32_t)cpu);

	while (!stop_request) {
		/* dma_map: make the bounce buffer shared */
		if (ap_hypercalls_allowed()) {
			set_cbit_range(buf, 1, false);
			GUEST_ASSERT_EQ(map_gpa_range(buf, 1, KVM_MAP_GPA_RANGE_PAGE_SZ_4K), 0);
		}
		if (stop_request)
			break; /* stopped mid-request: the page stays shared */
		((volatile uint64_t *)buf)[cpu] = ap_requests[cpu]; /* the device I/O */
		guest_yield();
		if (stop_request)
			break;
		/* dma_unmap: private again */
		set_cbit_range(buf, 1, true);
		if (ap_hypercalls_allowed())
			GUEST_ASSERT_EQ(map_gpa_range(buf, 1, KVM_MAP_GPA_RANGE_ENCRYPTED), 0);
		ap_requests[cpu]++;
		guest_yield();
	}
	ap_reboot_hook(cpu);
	cpu_park(&aps_running, false);
}

/* cpu_up(): CPU_ON, and under reboot=linux wait until the AP is online. */
void start_ap(uint32_t cpu)
{
	uint64_t sp = AP_STACKS_GPA + (cpu + 1) * AP_STACK_SIZE;
	int64_t r;

	GUEST_ASSERT(sp <= 0x90000);
	ap_requests[cpu] = 0;
	/* A CPU stopped by the previous kernel may still be on its way to PARK. */
	while ((r = (int64_t)ucall(UCALL_CPU_ON, 5, (uint64_t)cpu, (uint64_t)ap_entry, sp,
				   (uint64_t)cpu, mm_cr3())) == -16 /* EBUSY */)
		guest_yield();
	GUEST_ASSERT_EQ(r, 0);
	while (irq_model && !ap_online(cpu))
		guest_yield();
}

static void start_aps(void)
{
	aps_running = boot.nr_cpus - 1;
	cpus_up = boot.nr_cpus;
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		start_ap(cpu);
}

static void stop_other_cpus(void)
{
	stop_request = 1;
	while (aps_running)
		guest_yield();
}

static void prepare_handover(struct handover *h)
{
	const struct elf64_ehdr *eh = (const void *)boot.kernel->paddr;
	const struct elf64_phdr *ph;

	GUEST_ASSERT(boot.kernel && boot.kernel->size >= sizeof(*eh));
	GUEST_ASSERT(!memcmp(eh->ident, "\177ELF", 4));
	GUEST_ASSERT(eh->phoff + (uint64_t)eh->phnum * sizeof(*ph) <= boot.kernel->size);
	ph = (const void *)(boot.kernel->paddr + eh->phoff);
	h->magic = HANDOVER_MAGIC;
	h->generation = boot.generation + 1;
	h->start_info = (uint64_t)boot.si;
	h->entry = eh->entry;
	h->fw_cr3 = boot_cr3;
	h->nsegs = 0;
	for (uint16_t i = 0; i < eh->phnum; i++) {
		if (ph[i].type != 1 /* PT_LOAD */ || !ph[i].memsz)
			continue;
		GUEST_ASSERT(h->nsegs < KEXEC_MAX_SEGS);
		GUEST_ASSERT(ph[i].offset + ph[i].filesz <= boot.kernel->size);
		h->seg[h->nsegs++] = (struct kexec_seg){boot.kernel->paddr + ph[i].offset,
							ph[i].paddr, ph[i].filesz, ph[i].memsz};
	}
}

static uint64_t kdump_start_info(void);

static void __attribute__((noreturn)) kexec_jump(uint64_t cycles_left)
{
	struct handover *h = (struct handover *)HANDOVER_GPA;
	void (*tramp)(struct handover *);

	prepare_handover(h);
	h->cycles_left = cycles_left;
	/* The old kernel's last look at its memory, then the new one goes on. */
	h->migrations_seen = vpat_poll();
	if (reboot_path_sel == PATH_CRASH)
		h->start_info = kdump_start_info();
	console_flush();
	/* Back on the VMM's identity map: our own page tables are about to go. */
	load_cr3(boot_cr3);
	memcpy((void *)TRAMPOLINE_GPA, kexec_trampoline,
	       (size_t)(kexec_trampoline_end - kexec_trampoline));
	tramp = (void (*)(struct handover *))TRAMPOLINE_GPA;
	tramp(h);
	__builtin_unreachable();
}

static bool resets_before_jump(void)
{
	/* On the crash path the notifier callbacks do not run. */
	if (reboot_path_sel == PATH_CRASH)
		return strategy == STRAT_STOP_UNSHARE;
	return strategy == STRAT_V12 || strategy == STRAT_EVERY_CPU || strategy == STRAT_LAST_CPU ||
	       strategy == STRAT_MSR_OFF || strategy == STRAT_MUTE ||
	       strategy == STRAT_STOP_UNSHARE;
}

/*
 * The kdump kernel's memory map (crash_setup_memmap_entries): the low
 * 1 MiB and the crashkernel region, everything that is not RAM as it was.
 * Our image is not relocatable: the crashkernel region is where it loads,
 * [1 MiB, 1 MiB + KDUMP_CRASHKERNEL_SIZE); the first kernel keeps its
 * device pool at the top of RAM, outside it.
 */
static uint64_t kdump_start_info(void)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;
	struct hvm_memmap_table_entry out[16];
	const uint64_t ck_lo = MEM_HIGH_RAM_GPA, ck_hi = MEM_HIGH_RAM_GPA + KDUMP_CRASHKERNEL_SIZE;
	struct hvm_start_info *si = (struct hvm_start_info *)KDUMP_START_INFO_GPA;
	uint32_t n = 0;

	for (uint32_t i = 0; i < boot.si->memmap_entries && n + 2 <= 16; i++) {
		uint64_t lo = mm[i].addr, hi = mm[i].addr + mm[i].size;

		if (mm[i].type != E820_TYPE_RAM) {
			out[n++] = mm[i];
			continue;
		}
		if (lo < MEM_HIGH_RAM_GPA)
			out[n++] = (struct hvm_memmap_table_entry){
				lo, (hi < MEM_HIGH_RAM_GPA ? hi : MEM_HIGH_RAM_GPA) - lo,
				E820_TYPE_RAM, 0};
		if (hi > ck_lo && lo < ck_hi) {
			uint64_t a = lo > ck_lo ? lo : ck_lo, b = hi < ck_hi ? hi : ck_hi;

			out[n++] = (struct hvm_memmap_table_entry){a, b - a, E820_TYPE_RAM, 0};
		}
	}
	*si = *boot.si;
	memcpy((void *)(KDUMP_START_INFO_GPA + 0x100), out, n * sizeof(out[0]));
	si->memmap_paddr = KDUMP_START_INFO_GPA + 0x100;
	si->memmap_entries = n;
	return KDUMP_START_INFO_GPA;
}

static void parse_reboot_options(void)
{
	char v[32];

	irq_model = !cmdline_get("reboot", v, sizeof(v)) || !strcmp(v, "linux");
	reboot_path_sel =
		cmdline_get("path", v, sizeof(v)) && !strcmp(v, "crash") ? PATH_CRASH : PATH_KEXEC;
	device_shutdown_stop = !cmdline_get("device-shutdown", v, sizeof(v)) || !strcmp(v, "stop");
	fix_ready_on_online = cmdline_get("fix", v, sizeof(v)) && !strcmp(v, "ready-on-online");
	if (reboot_path_sel == PATH_CRASH && !irq_model)
		guest_abort("path=crash needs reboot=linux (no notifiers run on it anyway)",
			    __FILE__, __LINE__, 0);
}

/* Until io requests completed (a bound in case the device is slow). */
static void let_device_work(void)
{
	if (!device_present())
		return;
	for (uint32_t round = 0; device_requests_done() < io_per_cycle && round < IO_ROUNDS_MAX;
	     round++) {
		irq_point(WHERE_IDLE);
		vpat_step();
		if (!run_work())
			cpu_idle();
	}
}

void scenario_kexec(void)
{
	struct handover *h = (struct handover *)HANDOVER_GPA;
	uint64_t cycles_left, verbose = cmdline_u64("verbose", 0), flags = 0;

	strategy = parse_strategy();
	parse_reboot_options();
	io_per_cycle = cmdline_u64("io", 2);
	GUEST_ASSERT(sev_active);
	if (boot.generation == 1)
		cycles_left = cmdline_u64("cycles", 1);
	else
		cycles_left = h->cycles_left;
	if (irq_model) {
		device_probe();
		if (device_present())
			flags |= SYNC_BOOT_DEVICE_DRIVER;
	}
	if (resets_before_jump())
		flags |= SYNC_BOOT_EXPECT_CLEAN;
	guest_sync(SYNC_BOOT, boot.generation, flags);
	if (boot.generation == 1 || verbose)
		printf("kexec: generation %u, strategy %s, %lu cycle(s) left, %u cpu(s), "
		       "reboot=%s path=%s\n",
		       boot.generation, strategy_names[strategy], cycles_left, boot.nr_cpus,
		       irq_model ? "linux" : "offline",
		       reboot_path_sel == PATH_CRASH ? "crash" : "kexec");

	/* Linux 5.16 (upstream): the new kernel resets all RAM in early boot. */
	if (strategy == STRAT_UPSTREAM)
		reset_all_ram();
	kexec_share_boot_pages();
	if (!irq_model)
		for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++) {
			ap_buf[cpu] = alloc_pages(1);
			set_cbit_range(ap_buf[cpu], 1, true); /* split now, APs only flip bits */
		}
	kexec_verify_init();
	migration_ready(true);
	guest_sync(SYNC_READY, boot.generation, 0);

	stop_request = 0;
	hc_muted = 0;
	start_aps();
	if (irq_model) {
		let_device_work();
	} else {
		/* Let every AP service a few requests. */
		for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
			while (ap_requests[cpu] < io_per_cycle && aps_running == boot.nr_cpus - 1) {
				vpat_step();
				guest_yield();
			}
	}

	if (!cycles_left) {
		if (irq_model)
			linux_stop_aps();
		else
			stop_other_cpus();
		printf("kexec: done after generation %u\n", boot.generation);
		return;
	}

	/* The reboot path of the old kernel. */
	guest_sync(SYNC_KEXEC_BEGIN, boot.generation, 0);
	if (irq_model) {
		if (reboot_path_sel == PATH_CRASH)
			linux_crash();
		else
			linux_kexec();
		guest_sync(SYNC_RESET_DONE, boot.generation, 0);
		kexec_jump(cycles_left - 1);
	}
	switch (strategy) {
	case STRAT_MUTE:
		hc_muted = 1;
		reset_all_ram();
		break;
	case STRAT_MSR_OFF:
		migration_ready(false);
		reset_all_ram();
		break;
	case STRAT_V12:
	case STRAT_EVERY_CPU:
		reset_all_ram();
		break;
	case STRAT_UPSTREAM:
		migration_ready(false);
		break;
	default:
		break;
	}
	stop_other_cpus();
	if (strategy == STRAT_LAST_CPU && __atomic_sub_fetch(&cpus_up, 1, __ATOMIC_SEQ_CST) == 0)
		reset_all_ram();
	/* stop-unshare, idealised: nothing is in flight once the APs left their loops. */
	if (strategy == STRAT_STOP_UNSHARE)
		enc_kexec_finish();
	guest_sync(SYNC_RESET_DONE, boot.generation, 0);
	kexec_jump(cycles_left - 1);
}

/*
 * A kernel's boot under reboot=linux for the CPU offline and suspend
 * scenarios: the device probed, upstream's early reset, the boot shares,
 * READY (kvm_init_platform), the APs up and working.
 */
static void linux_boot_and_work(void)
{
	strategy = parse_strategy();
	parse_reboot_options();
	GUEST_ASSERT(irq_model && reboot_path_sel == PATH_KEXEC);
	io_per_cycle = cmdline_u64("io", 2);
	GUEST_ASSERT(sev_active);
	GUEST_ASSERT(boot.nr_cpus >= 2);
	device_probe();
	guest_sync(SYNC_BOOT, boot.generation, device_present() ? SYNC_BOOT_DEVICE_DRIVER : 0);
	if (strategy == STRAT_UPSTREAM)
		reset_all_ram();
	kexec_share_boot_pages();
	kexec_verify_init();
	migration_ready(true);
	guest_sync(SYNC_READY, boot.generation, 0);
	start_aps();
	let_device_work();
}

/*
 * scenario=hotplug: take AP 1 down as cpuhp does (kvm_cpu_down_prepare on
 * the dying CPU: kvm_guest_cpu_offline, MIGRATION_CONTROL = 0), go on
 * working, bring it back (kvm_cpu_online: no READY, unless
 * fix=ready-on-online), go on working.
 */
void scenario_hotplug(void)
{
	linux_boot_and_work();
	cpu_offline(1);
	printf("hotplug: cpu 1 offline\n");
	device_reset_requests_done();
	let_device_work();
	start_ap(1);
	printf("hotplug: cpu 1 online again\n");
	device_reset_requests_done();
	let_device_work();
	linux_stop_aps();
}

/*
 * scenario=suspend (S3): freeze_secondary_cpus takes every AP down
 * (kvm_cpu_down_prepare each), syscore_suspend runs kvm_suspend on the
 * boot CPU, then kvm_resume and the APs come back (kvm_cpu_online).
 */
void scenario_suspend(void)
{
	linux_boot_and_work();
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		cpu_offline(cpu);
	kvm_suspend();
	printf("suspend: S3, %u cpu(s) down\n", boot.nr_cpus - 1);
	kvm_resume();
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		start_ap(cpu);
	printf("suspend: resumed\n");
	device_reset_requests_done();
	let_device_work();
	linux_stop_aps();
}
