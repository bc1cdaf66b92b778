// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reboot paths as Linux runs them (reboot=linux, DESIGN.md "Reboot
 * paths, as Linux runs them"): interrupt points, the bounce-buffer device's
 * driver, IPIs that return, device shutdown, stop_other_cpus, the crash
 * path and CPU offline/suspend.
 *
 * Interrupts are delivered cooperatively: a CPU takes them at its
 * interrupt points (irq_point), wherever a real CPU could take one, which
 * includes every step of a page conversion. Under the serial schedule an
 * interrupt point is also a scheduling point (a YIELD exit), so that the
 * other CPUs can run there as they would on real SMP hardware.
 *
 * Sources: kernel/reboot.c kernel_restart_prepare, kernel/kexec_core.c
 * kernel_kexec, arch/x86/kernel/reboot.c native_machine_shutdown,
 * arch/x86/kernel/smp.c native_stop_other_cpus, arch/x86/kernel/crash.c
 * native_machine_crash_shutdown and crash_setup_memmap_entries,
 * arch/x86/kernel/kvm.c (kvm_pv_guest_cpu_reboot, kvm_guest_cpu_offline,
 * kvm_crash_shutdown, kvm_cpu_down_prepare, kvm_suspend, kvm_resume),
 * arch/x86/mm/pat/set_memory.c (__set_memory_enc_dec,
 * set_memory_enc_stop_conversion), arch/x86/coco/sev/core.c
 * (snp_kexec_begin, snp_kexec_finish), kernel/dma/direct.c.
 */
#include "kexec.h"

#define WORK_SLOTS 32
#define REQ_SLOTS  32
#define POOL_PAGES 16
/* native_stop_other_cpus waits a second for REBOOT_VECTOR: here, idle rounds. */
#define STOP_WAIT_ROUNDS 2000

enum work_op { WORK_NONE = 0, WORK_ALLOC, WORK_FREE };
enum req_state { REQ_FREE = 0, REQ_ALLOCATING, REQ_SHARED, REQ_FREEING };
enum ipi_kind { IPI_CALL = 1u << 0, IPI_STOP = 1u << 1 };

struct work {
	uint32_t op, id;
};

struct cpu {
	volatile uint32_t ipi; /* enum ipi_kind bits pending */
	volatile uint32_t nmi; /* an NMI is pending: stop */
	volatile uint32_t online;
	uint32_t in_irq;
	uint32_t irqs_off;     /* local_irq_disable(): only an NMI gets through */
	uint32_t was_offlined; /* taken down by cpu_offline (hotplug, suspend) */
	enum guest_where where;
	uint32_t work_head, work_tail;
	struct work work[WORK_SLOTS];
};

struct request {
	uint32_t id;
	uint32_t state;
	uint64_t buf;
};

bool irq_model;
enum reboot_path reboot_path_sel;
bool device_shutdown_stop = true;
bool fix_ready_on_online;

static struct cpu cpus[MAX_CPUS];
static struct request reqs[REQ_SLOTS];
static uint64_t pool_gpa;
static uint32_t pool_used[POOL_PAGES];
static volatile uint32_t pool_lock, req_lock;
static volatile uint32_t device_driver_on;
static volatile uint64_t requests_done;

/* on_each_cpu(fn, wait=1) */
static void (*volatile call_fn)(uint32_t cpu);
static volatile uint32_t call_pending;

/* mem_enc_lock: readers are conversions, the writer enc_kexec_begin. */
static volatile uint32_t conv_readers, conv_writer;

static void spin_lock(volatile uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		guest_yield();
}

static void spin_unlock(volatile uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static bool serial(void)
{
	return boot.params && (boot.params->flags & MINIVMM_FLAG_SERIAL);
}

/* A HLT-like exit: the CPU waits, the VMM (and its device) get a turn. */
void cpu_idle(void)
{
	if (!serial())
		__asm__ volatile("outb %%al, %[port]" : : "a"(0), [port] "i"(MINIVMM_PORT_NULL));
}

static struct minivmm_irq_queue *irq_queue(uint32_t cpu)
{
	return (struct minivmm_irq_queue *)(boot.params->ucall_gpa + cpu * PAGE_SIZE +
					    MINIVMM_IRQ_QUEUE);
}

/* The device's interrupt handler: it only queues work (process context). */
static void device_irq(uint32_t cpu)
{
	struct minivmm_irq_queue *q = irq_queue(cpu);
	struct cpu *c = &cpus[cpu];

	while (*(volatile uint32_t *)&q->tail != *(volatile uint32_t *)&q->head) {
		struct minivmm_irq_slot s = q->slot[q->tail % MINIVMM_IRQ_SLOTS];

		*(volatile uint32_t *)&q->tail = q->tail + 1;
		/* After the driver's .shutdown nobody listens to the device. */
		if (!device_driver_on || c->work_head - c->work_tail >= WORK_SLOTS)
			continue;
		c->work[c->work_head % WORK_SLOTS] =
			(struct work){s.kind == IRQ_REQ_NEW ? WORK_ALLOC : WORK_FREE, s.id};
		c->work_head++;
	}
}

/* stop_this_cpu(): the CPU leaves the online mask and halts for good. */
static void __attribute__((noreturn)) stop_this_cpu(uint32_t cpu, enum guest_stop_how how)
{
	struct cpu *c = &cpus[cpu];

	guest_sync4(SYNC_CPU_STOPPED, boot.generation, how, c->where);
	cpu_park(&c->online, true);
}

void irq_point(enum guest_where where)
{
	uint32_t cpu;
	struct cpu *c;
	enum guest_where saved;

	if (!irq_model)
		return;
	vpat_poll();
	cpu = this_cpu();
	c = &cpus[cpu];
	saved = c->where;
	c->where = where;
	if (serial())
		ucall(UCALL_YIELD, 0); /* the other CPUs run here too */
	if (c->nmi)
		stop_this_cpu(cpu, STOP_NMI);
	if (c->in_irq || c->irqs_off)
		goto out;
	c->in_irq = 1;
	device_irq(cpu);
	if (c->ipi & IPI_STOP)
		stop_this_cpu(cpu, STOP_REBOOT_VECTOR);
	if (c->ipi & IPI_CALL) {
		__atomic_and_fetch(&c->ipi, ~(uint32_t)IPI_CALL, __ATOMIC_SEQ_CST);
		guest_sync4(SYNC_NOTIFIER_TAKEN, boot.generation, c->where, 0);
		call_fn(cpu);
		guest_sync4(SYNC_NOTIFIER_DONE, boot.generation, 0, 0);
		__atomic_sub_fetch(&call_pending, 1, __ATOMIC_SEQ_CST);
	}
	c->in_irq = 0;
out:
	c->where = saved;
}

/* ---- conversions: __set_memory_enc_dec under mem_enc_lock ---- */

bool conv_read_trylock(void)
{
	if (conv_writer)
		return false;
	__atomic_add_fetch(&conv_readers, 1, __ATOMIC_SEQ_CST);
	if (conv_writer) {
		__atomic_sub_fetch(&conv_readers, 1, __ATOMIC_SEQ_CST);
		return false;
	}
	return true;
}

void conv_read_unlock(void)
{
	__atomic_sub_fetch(&conv_readers, 1, __ATOMIC_SEQ_CST);
}

/* ---- the device's driver: dma_alloc_coherent / dma_free_coherent ---- */

static uint64_t pool_alloc(void)
{
	uint64_t buf = 0;

	spin_lock(&pool_lock);
	/* Under vpat_lock: a memory check never sees a buffer half taken. */
	vpat_lock();
	for (unsigned i = 0; i < POOL_PAGES; i++)
		if (!pool_used[i]) {
			pool_used[i] = 1;
			buf = pool_gpa + i * PAGE_SIZE;
			break;
		}
	vpat_unlock();
	spin_unlock(&pool_lock);
	return buf;
}

/* The buffer is private again (or never was shared): it holds the pattern again. */
static void pool_free(uint64_t buf)
{
	spin_lock(&pool_lock);
	vpat_lock();
	vpat_pool_page_returned_locked(buf);
	pool_used[(buf - pool_gpa) / PAGE_SIZE] = 0;
	vpat_unlock();
	spin_unlock(&pool_lock);
}

void device_pool_range(uint64_t *lo, uint64_t *hi)
{
	*lo = pool_gpa;
	*hi = pool_gpa + POOL_PAGES * PAGE_SIZE;
}

/* Called under vpat_lock, so that pool_alloc/pool_free are atomic to it. */
bool device_pool_page_free(uint64_t gpa)
{
	return gpa >= pool_gpa && gpa < pool_gpa + POOL_PAGES * PAGE_SIZE &&
	       !pool_used[(gpa - pool_gpa) / PAGE_SIZE];
}

static struct request *req_find(uint32_t id)
{
	for (unsigned i = 0; i < REQ_SLOTS; i++)
		if (reqs[i].state != REQ_FREE && reqs[i].id == id)
			return &reqs[i];
	return NULL;
}

static void dma_alloc(uint32_t id)
{
	struct request *r = NULL;
	uint64_t buf = pool_alloc();

	if (!buf)
		return; /* no buffer: the request waits on the device side */
	spin_lock(&req_lock);
	for (unsigned i = 0; i < REQ_SLOTS && !r; i++)
		if (reqs[i].state == REQ_FREE)
			r = &reqs[i];
	if (r)
		*r = (struct request){id, REQ_ALLOCATING, buf};
	spin_unlock(&req_lock);
	if (!r) {
		pool_free(buf);
		return;
	}
	if (set_memory_decrypted(buf, 1) < 0) {
		/* Conversions are stopped (kexec): the driver gives up on it. */
		guest_sync4(SYNC_CONVERSION_REFUSED, boot.generation, id, 0);
		r->state = REQ_FREE;
		pool_free(buf);
		return;
	}
	r->state = REQ_SHARED;
	guest_sync4(SYNC_REQUEST_START, boot.generation, id, buf);
}

/* false: not yet (still being allocated elsewhere): try again later. */
static bool dma_free(uint32_t id)
{
	struct request *r;
	uint64_t buf;

	spin_lock(&req_lock);
	r = req_find(id);
	if (r && r->state == REQ_SHARED)
		r->state = REQ_FREEING;
	spin_unlock(&req_lock);
	if (!r)
		return true; /* never allocated (no buffer then): nothing to free */
	if (r->state != REQ_FREEING)
		return false;
	buf = r->buf;
	if (set_memory_encrypted(buf, 1) < 0) {
		/* kernel/dma/direct.c: a buffer that cannot be re-encrypted is leaked. */
		guest_sync4(SYNC_CONVERSION_REFUSED, boot.generation, id, 0);
		r->state = REQ_FREE;
		return true;
	}
	r->state = REQ_FREE;
	pool_free(buf);
	__atomic_add_fetch(&requests_done, 1, __ATOMIC_SEQ_CST);
	guest_sync4(SYNC_REQUEST_DONE, boot.generation, id, buf);
	return true;
}

/* Process context: run what the interrupt handler queued. Any work done? */
bool run_work(void)
{
	struct cpu *c = &cpus[this_cpu()];
	uint32_t n = c->work_head - c->work_tail;

	for (uint32_t i = 0; i < n; i++) {
		struct work w = c->work[c->work_tail % WORK_SLOTS];

		c->work_tail++;
		if (w.op == WORK_ALLOC) {
			dma_alloc(w.id);
		} else if (!dma_free(w.id) && c->work_head - c->work_tail < WORK_SLOTS) {
			c->work[c->work_head % WORK_SLOTS] = w; /* again later */
			c->work_head++;
		}
	}
	return n != 0;
}

/*
 * Probe: the pool sits at the top of low RAM, as memblock puts swiotlb.
 * The pool is the driver's: without the device (MINIVMM_FLAG_DEVICE clear)
 * the driver core never matches it and never calls its probe
 * (really_probe), so no pool is set up and no 2 MiB leaf split for it
 * (a split, a flush and fresh page-table pages: traps on a shadow-paging
 * hypervisor). The CPUs' state is reset either way.
 */
static void pool_setup(void)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;
	uint64_t top = 0;

	for (uint32_t i = 0; i < boot.si->memmap_entries; i++) {
		uint64_t end = mm[i].addr + mm[i].size;

		if (mm[i].type == E820_TYPE_RAM && end <= (1ull << 32) && end > top)
			top = end & ~(PAGE_SIZE - 1);
	}
	pool_gpa = top - POOL_PAGES * PAGE_SIZE;
	GUEST_ASSERT(is_ram(pool_gpa, POOL_PAGES * PAGE_SIZE));
	set_cbit_range(pool_gpa, POOL_PAGES, true); /* 4 KiB leaves from now on */
}

void device_probe(void)
{
	if (device_present())
		pool_setup();
	memset(pool_used, 0, sizeof(pool_used));
	memset(reqs, 0, sizeof(reqs));
	memset(cpus, 0, sizeof(cpus));
	conv_readers = conv_writer = 0;
	requests_done = 0;
	device_driver_on = 1;
	cpus[0].online = 1;
}

bool device_present(void)
{
	return boot.params && (boot.params->flags & MINIVMM_FLAG_DEVICE);
}

uint64_t device_requests_done(void)
{
	return requests_done;
}

void device_reset_requests_done(void)
{
	requests_done = 0;
}

bool ap_online(uint32_t cpu)
{
	return cpus[cpu].online;
}

static uint32_t online_aps(void)
{
	uint32_t n = 0;

	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		n += cpus[cpu].online;
	return n;
}

/* A CPU that waits: it takes interrupts, it runs no work (it is busy). */
static void wait_round(void)
{
	irq_point(WHERE_WAITING);
	cpu_idle();
}

/* An AP's life under reboot=linux: take interrupts, run the queued work. */
void __attribute__((noreturn)) linux_ap_main(uint32_t cpu)
{
	struct cpu *c = &cpus[cpu];

	/* A CPU that comes back starts afresh (it died inside the IPI). */
	c->in_irq = c->irqs_off = 0;
	c->ipi = c->nmi = 0;
	c->work_tail = c->work_head;
	c->where = WHERE_IDLE;
	/* cpuhp: kvm_cpu_online runs on the CPU coming back up. */
	if (c->was_offlined)
		cpu_online_report(cpu);
	c->online = 1;
	for (;;) {
		irq_point(WHERE_IDLE);
		if (!run_work())
			cpu_idle();
	}
}

/* ---- kernel_restart_prepare ---- */

/* on_each_cpu(fn, NULL, 1): every online CPU, this one included, runs fn. */
static void on_each_cpu(void (*fn)(uint32_t cpu))
{
	struct cpu *me = &cpus[0];

	call_fn = fn;
	call_pending = online_aps();
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		if (cpus[cpu].online)
			__atomic_or_fetch(&cpus[cpu].ipi, IPI_CALL, __ATOMIC_SEQ_CST);
	/*
	 * The local call runs with interrupts off (smp_call_function_many).
	 * Its SYNC pair is our instrumentation, not a step of Linux: it orders
	 * the call against the other CPUs' calls and against device work. With
	 * no other CPU online and no device (MINIVMM_FLAG_DEVICE clear: no
	 * driver, no interrupt) nothing can run beside or between them, so the
	 * pair would say nothing the log does not already (kexec_begin just
	 * before, the callback's own exits inside): leave it out there, and
	 * keep it wherever it orders something (and its scheduling points).
	 */
	bool alone = !call_pending && !device_present();

	me->irqs_off = 1;
	if (!alone)
		guest_sync4(SYNC_NOTIFIER_TAKEN, boot.generation, me->where, 0);
	fn(0);
	if (!alone)
		guest_sync4(SYNC_NOTIFIER_DONE, boot.generation, 0, 0);
	me->irqs_off = 0;
	/* csd_lock_wait: spin until every other CPU ran it. */
	while (call_pending)
		wait_round();
}

static void device_shutdown(void)
{
	/*
	 * device_shutdown() walks the devices bound to a driver and calls each
	 * one's .shutdown. Without the device (MINIVMM_FLAG_DEVICE clear) our
	 * driver never bound: there is no .shutdown to run and nothing to
	 * report, so no SYNC (the VMM's device is off since BOOT anyway).
	 */
	if (!device_present())
		return;
	guest_sync4(SYNC_DEVICE_SHUTDOWN, boot.generation, device_shutdown_stop, 0);
	if (device_shutdown_stop)
		device_driver_on = 0;
}

/* ---- machine_shutdown: native_machine_shutdown ---- */

/* NMI every AP still online and wait until they all stopped. */
static void nmi_other_cpus(void)
{
	guest_sync4(SYNC_STOP_CPUS, boot.generation, STOP_NMI, 0);
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		if (cpus[cpu].online)
			cpus[cpu].nmi = 1;
	while (online_aps())
		wait_round();
}

static void stop_other_cpus(void)
{
	uint32_t rounds = 0;

	if (!online_aps())
		return;
	guest_sync4(SYNC_STOP_CPUS, boot.generation, STOP_REBOOT_VECTOR, 0);
	for (uint32_t cpu = 1; cpu < boot.nr_cpus; cpu++)
		if (cpus[cpu].online)
			__atomic_or_fetch(&cpus[cpu].ipi, IPI_STOP, __ATOMIC_SEQ_CST);
	while (online_aps() && rounds++ < STOP_WAIT_ROUNDS)
		wait_round();
	/* Some AP did not answer the maskable IPI: NMI it. */
	if (online_aps())
		nmi_other_cpus();
}

/* crash_smp_send_stop: NMIs, no maskable IPI first. */
static void crash_stop_other_cpus(void)
{
	if (online_aps())
		nmi_other_cpus();
}

/*
 * enc_kexec_begin (snp_kexec_begin -> set_memory_enc_stop_conversion):
 * take mem_enc_lock for write and keep it. kexec waits for the
 * conversions in flight; crash can only try.
 */
static void enc_kexec_begin(bool crash)
{
	uint32_t in_flight;

	if (strategy != STRAT_STOP_UNSHARE)
		return;
	conv_writer = 1;
	in_flight = conv_readers;
	guest_sync4(SYNC_ENC_KEXEC_BEGIN, boot.generation, in_flight, 0);
	if (crash)
		return; /* a trylock: what is in flight stays in flight */
	while (conv_readers)
		wait_round();
}

static uint64_t unshared_pages;

static void make_private(uint64_t va, uint64_t npages)
{
	set_cbit_range(va, npages, true);
	GUEST_ASSERT_EQ(map_gpa_range(va, npages, KVM_MAP_GPA_RANGE_ENCRYPTED), 0);
	unshared_pages += npages;
}

/*
 * enc_kexec_finish (snp_kexec_finish -> unshare_all_memory): walk our own
 * page tables, make every shared mapping of RAM private again. What the
 * firmware shares is not RAM (reserved): it stays.
 */
void enc_kexec_finish(void)
{
	if (strategy != STRAT_STOP_UNSHARE)
		return;
	unshared_pages = 0;
	mm_for_each_shared(0, boot.ram_top, make_private);
	guest_sync4(SYNC_ENC_KEXEC_FINISH, boot.generation, unshared_pages, 0);
}

/* ---- the strategies' notifier callback (kvm_pv_guest_cpu_reboot) ---- */

static volatile uint32_t cpus_up; /* last-cpu count-down */

static void reboot_callback(uint32_t cpu)
{
	switch (strategy) {
	case STRAT_V12:
		if (cpu == 0)
			reset_all_ram();
		break;
	case STRAT_EVERY_CPU:
		reset_all_ram();
		break;
	case STRAT_LAST_CPU:
		if (__atomic_sub_fetch(&cpus_up, 1, __ATOMIC_SEQ_CST) == 0)
			reset_all_ram();
		break;
	case STRAT_MSR_OFF:
		migration_ready(false);
		if (cpu == 0)
			reset_all_ram();
		break;
	case STRAT_MUTE:
		if (cpu == 0) {
			reset_all_ram();
			hypercalls_mute();
		}
		break;
	case STRAT_UPSTREAM:
		/* Linux 5.16: kvm_guest_cpu_offline(), MIGRATION_CONTROL = 0. */
		migration_ready(false);
		break;
	default: /* generation, stop-unshare, none: nothing here */
		break;
	}
}

/* The old kernel's way to the jump, reboot=linux, path=kexec. */
void linux_kexec(void)
{
	cpus_up = 1 + online_aps();
	/* kernel_restart_prepare: the reboot notifier chain (SYS_RESTART)... */
	on_each_cpu(reboot_callback);
	/*
	 * ...usermodehelper_disable() sleeps: the work queued on this CPU
	 * runs now (kworkers), before device_shutdown().
	 */
	run_work();
	device_shutdown();
	/* migrate_to_reboot_cpu, syscore_shutdown; machine_shutdown: */
	enc_kexec_begin(false);
	stop_other_cpus();
	enc_kexec_finish();
}

/*
 * The crash path, path=crash: native_machine_crash_shutdown. No notifiers,
 * no device shutdown. kvm_crash_shutdown runs kvm_guest_cpu_offline on
 * this CPU only: the MSR write is upstream's (Linux 5.16); the v12-era
 * callbacks are reboot-notifier code and do not run here.
 */
void linux_crash(void)
{
	guest_sync4(SYNC_CRASH, boot.generation, 0, 0);
	cpus[0].irqs_off = 1; /* the crashing CPU has interrupts off */
	if (strategy == STRAT_UPSTREAM)
		migration_ready(false);
	crash_stop_other_cpus();
	enc_kexec_begin(true);
	enc_kexec_finish();
}

/* When the old kernel is done, with no kexec to follow: stop the APs. */
void linux_stop_aps(void)
{
	stop_other_cpus();
}

/* ---- CPU offline and suspend ---- */

/* kvm_cpu_down_prepare -> kvm_guest_cpu_offline(false) on the dying CPU. */
static void cpu_down_callback(uint32_t cpu)
{
	guest_sync4(SYNC_CPU_OFFLINE, boot.generation, cpu, 0);
	migration_ready(false);
}

static void (*volatile down_fn)(uint32_t cpu);

static void cpu_down_ipi(uint32_t cpu)
{
	if (cpu == 0)
		return;
	down_fn(cpu);
	cpus[cpu].was_offlined = 1;
	/* The CPU is dead to the kernel from here: it parks. */
	__atomic_sub_fetch(&call_pending, 1, __ATOMIC_SEQ_CST);
	cpu_park(&cpus[cpu].online, true);
}

/*
 * Take one AP down as cpuhp does: the AP runs kvm_cpu_down_prepare on
 * itself (a teardown callback) and parks.
 */
void cpu_offline(uint32_t cpu)
{
	down_fn = cpu_down_callback;
	call_fn = cpu_down_ipi;
	call_pending = 1;
	__atomic_or_fetch(&cpus[cpu].ipi, IPI_CALL, __ATOMIC_SEQ_CST);
	while (cpus[cpu].online)
		wait_round();
}

/* kvm_cpu_online -> kvm_guest_cpu_init: no READY (that is boot-only). */
void cpu_online_report(uint32_t cpu)
{
	guest_sync4(SYNC_CPU_ONLINE, boot.generation, cpu, 0);
	if (fix_ready_on_online)
		migration_ready(true);
}

/* kvm_suspend (syscore): kvm_guest_cpu_offline(false) on the boot CPU. */
void kvm_suspend(void)
{
	guest_sync4(SYNC_SUSPEND, boot.generation, 0, 0);
	migration_ready(false);
}

/* kvm_resume: kvm_cpu_online(boot CPU); READY only with the fix. */
void kvm_resume(void)
{
	guest_sync4(SYNC_RESUME, boot.generation, 0, 0);
	if (fix_ready_on_online)
		migration_ready(true);
}
