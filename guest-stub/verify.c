// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest checks its own memory after a migration (issue 13), the way
 * QEMU's migration test guest does (tests/qtest/migration: its boot block
 * keeps changing one byte in every page, and the test checks every page
 * at the destination), made to catch what SEV does to a page sent the
 * wrong way: a private page carried as plaintext reads, through the
 * destination's key, as garbage; a shared page sent through the secure
 * processor reads as ciphertext.
 *
 * When the VMM says a migration is planned (MINIVMM_FLAG_MIGRATION) and
 * the command line does not say verify=off, the boot CPU writes a pattern
 * into every RAM page it does not otherwise use (all of E820 RAM above a
 * reserve after its allocations, not below 1 MiB, the device pool's free
 * buffers) and into the pages it shared at boot. Three 24-byte slots per
 * page (offsets 0, 2048, 4072) hold the GPA, generation and version and a
 * mix of the three: a page decrypted with the wrong key or not at all
 * changes every 16-byte block, so three slots see it. The version makes
 * the guest keep dirtying memory while a pre-copy runs: at every idle
 * point the boot CPU rewrites the next VPAT_STEP pages with version + 1
 * (a cursor over all of them; pages before it hold version + 1).
 *
 * After a migration the destination VMM adds one to the migrations counter
 * in vCPU 0's ucall page (abi.h MINIVMM_MIGRATION_INFO); the boot CPU
 * looks at it at its interrupt points, at a kexec and at the end, checks
 * every page, and reports with SYNC_MIGRATION_VERIFY.
 */
#include "kexec.h"

#define VPAT_RANGES  48
#define VPAT_RESERVE (4ull << 20) /* allocations after vpat_init stay below it */
#define VPAT_STEP    32
#define SLOT_WORDS   3

static const uint32_t slot_off[] = {0, 2048, 4072};

enum vrange_kind { VR_PRIVATE, VR_SHARED, VR_POOL };

struct vrange {
	uint64_t gpa, npages;
	uint64_t first; /* index of its first page among all pattern pages */
	enum vrange_kind kind;
};

static struct {
	bool active;
	uint32_t nranges;
	struct vrange r[VPAT_RANGES];
	uint64_t total, cursor, version;
	uint32_t cur_range; /* the range and page of cursor */
	uint64_t cur_off;
	bool armed;    /* seen is this generation's */
	uint32_t seen; /* the migrations counter as last checked */
} vp;
static volatile uint32_t vpat_spin;

/* Taken only around code without exits: never held across a yield. */
static void vp_lock(void)
{
	while (__atomic_exchange_n(&vpat_spin, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void vp_unlock(void)
{
	__atomic_store_n(&vpat_spin, 0, __ATOMIC_RELEASE);
}

static volatile struct minivmm_migration_info *mig_info(void)
{
	return (volatile struct minivmm_migration_info *)(boot.params->ucall_gpa +
							  MINIVMM_MIGRATION_INFO);
}

uint32_t vpat_migrations(void)
{
	return boot.params ? mig_info()->migrations : 0;
}

static uint64_t mix(uint64_t gpa, uint64_t tag)
{
	uint64_t z = gpa * 0x9e3779b97f4a7c15ull ^ tag;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void slot_words(uint64_t gpa, uint64_t version, uint64_t w[SLOT_WORDS])
{
	uint64_t tag = ((uint64_t)boot.generation << 32) | (uint32_t)version;

	w[0] = gpa;
	w[1] = tag;
	w[2] = mix(gpa, tag);
}

static void write_page(uint64_t gpa, uint64_t version)
{
	uint64_t w[SLOT_WORDS];

	slot_words(gpa, version, w);
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < SLOT_WORDS; i++)
			((volatile uint64_t *)(gpa + slot_off[s]))[i] = w[i];
}

static bool page_ok(uint64_t gpa, uint64_t version)
{
	uint64_t w[SLOT_WORDS];

	slot_words(gpa, version, w);
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < SLOT_WORDS; i++)
			if (((volatile uint64_t *)(gpa + slot_off[s]))[i] != w[i])
				return false;
	return true;
}

/* The version page index i holds: the cursor has passed it or not. */
static uint64_t version_of(uint64_t index)
{
	return vp.version + (index < vp.cursor);
}

/* Does the pattern cover this page now? (Pool buffers in use do not.) */
static bool covered(const struct vrange *r, uint64_t gpa)
{
	return r->kind != VR_POOL || device_pool_page_free(gpa);
}

static void add_range(uint64_t gpa, uint64_t npages, enum vrange_kind kind)
{
	if (!npages)
		return;
	GUEST_ASSERT(vp.nranges < VPAT_RANGES);
	vp.r[vp.nranges++] = (struct vrange){gpa, npages, vp.total, kind};
	vp.total += npages;
}

/* RAM in [lo, hi) outside the pool, in E820 order. */
static void add_ram(uint64_t lo, uint64_t pool_lo, uint64_t pool_hi)
{
	const struct hvm_memmap_table_entry *mm = (const void *)boot.si->memmap_paddr;

	for (uint32_t i = 0; i < boot.si->memmap_entries; i++) {
		uint64_t s = ALIGN_UP(mm[i].addr, PAGE_SIZE),
			 e = (mm[i].addr + mm[i].size) & ~(PAGE_SIZE - 1);

		if (mm[i].type != E820_TYPE_RAM)
			continue;
		if (s < lo)
			s = lo;
		if (e <= s)
			continue;
		if (pool_hi > pool_lo && s < pool_hi && e > pool_lo) {
			if (s < pool_lo)
				add_range(s, (pool_lo - s) / PAGE_SIZE, VR_PRIVATE);
			if (e > pool_hi)
				add_range(pool_hi, (e - pool_hi) / PAGE_SIZE, VR_PRIVATE);
			continue;
		}
		add_range(s, (e - s) / PAGE_SIZE, VR_PRIVATE);
	}
}

bool vpat_wanted(void)
{
	char v[8];

	if (!boot.params || !(boot.params->flags & MINIVMM_FLAG_MIGRATION))
		return false;
	return !cmdline_get("verify", v, sizeof(v)) || strcmp(v, "off");
}

void vpat_arm(uint32_t seen)
{
	vp.seen = seen;
	vp.armed = true;
}

void vpat_init(const uint64_t (*shared)[2], unsigned nshared)
{
	uint64_t base, pool_lo = 0, pool_hi = 0;

	if (!vpat_wanted())
		return;
	base = ALIGN_UP(alloc_pages(0), PAGE_SIZE) + VPAT_RESERVE;
	mm_set_alloc_limit(base);
	if (device_present())
		device_pool_range(&pool_lo, &pool_hi);
	vp.nranges = 0;
	vp.total = vp.cursor = vp.version = 0;
	vp.cur_range = 0;
	vp.cur_off = 0;
	for (unsigned i = 0; i < nshared; i++)
		add_range(shared[i][0], shared[i][1], VR_SHARED);
	add_ram(base, pool_lo, pool_hi);
	if (pool_hi > pool_lo)
		add_range(pool_lo, (pool_hi - pool_lo) / PAGE_SIZE, VR_POOL);
	vp_lock();
	for (uint32_t ri = 0; ri < vp.nranges; ri++)
		for (uint64_t p = 0; p < vp.r[ri].npages; p++) {
			uint64_t gpa = vp.r[ri].gpa + p * PAGE_SIZE;

			if (covered(&vp.r[ri], gpa))
				write_page(gpa, 0);
		}
	vp.active = vp.total != 0;
	vp_unlock();
	if (boot.generation == 1 || cmdline_u64("verbose", 0))
		printf("verify: pattern in %lu pages (%u ranges)\n", vp.total, vp.nranges);
}

void vpat_lock(void)
{
	vp_lock();
}

void vpat_unlock(void)
{
	vp_unlock();
}

void vpat_pool_page_returned_locked(uint64_t gpa)
{
	if (!vp.active)
		return;
	for (uint32_t ri = 0; ri < vp.nranges; ri++) {
		const struct vrange *r = &vp.r[ri];

		if (r->kind == VR_POOL && gpa >= r->gpa && gpa < r->gpa + r->npages * PAGE_SIZE) {
			write_page(gpa, version_of(r->first + (gpa - r->gpa) / PAGE_SIZE));
			break;
		}
	}
}

void vpat_step(void)
{
	if (!vp.active || this_cpu() != 0)
		return;
	vp_lock();
	for (unsigned k = 0; k < VPAT_STEP; k++) {
		const struct vrange *r = &vp.r[vp.cur_range];
		uint64_t gpa = r->gpa + vp.cur_off * PAGE_SIZE;

		if (covered(r, gpa))
			write_page(gpa, vp.version + 1);
		vp.cursor++;
		if (++vp.cur_off == r->npages) {
			vp.cur_off = 0;
			vp.cur_range++;
		}
		if (vp.cursor == vp.total) {
			vp.cursor = 0;
			vp.version++;
			vp.cur_range = 0;
		}
	}
	vp_unlock();
}

static void report_run(struct minivmm_verify_report *rep, uint64_t gpa)
{
	struct minivmm_verify_run *last = rep->nruns ? &rep->run[rep->nruns - 1] : NULL;

	rep->corrupted++;
	if (last && last->gpa + last->npages * PAGE_SIZE == gpa) {
		last->npages++;
		return;
	}
	if (rep->nruns == MINIVMM_VERIFY_RUNS_MAX) {
		rep->truncated = 1;
		return;
	}
	rep->run[rep->nruns++] = (struct minivmm_verify_run){gpa, 1};
}

/* Check every page now; the report goes to the VMM with a SYNC. */
static void vpat_check(uint32_t migrations)
{
	struct minivmm_verify_report *rep =
		(struct minivmm_verify_report *)(boot.params->ucall_gpa + MINIVMM_UCALL_DATA);

	console_flush(); /* it passes its text where the report goes */
	vp_lock();
	memset(rep, 0, sizeof(*rep));
	rep->migrations = migrations;
	for (uint32_t ri = 0; ri < vp.nranges; ri++) {
		const struct vrange *r = &vp.r[ri];

		for (uint64_t p = 0; p < r->npages; p++) {
			uint64_t gpa = r->gpa + p * PAGE_SIZE;

			if (!covered(r, gpa))
				continue;
			rep->checked++;
			if (!page_ok(gpa, version_of(r->first + p)))
				report_run(rep, gpa);
		}
	}
	vp_unlock();
	ucall(UCALL_SYNC, 4, (uint64_t)SYNC_MIGRATION_VERIFY, (uint64_t)boot.generation,
	      rep->checked, rep->corrupted);
}

uint32_t vpat_poll(void)
{
	uint32_t m;

	if (!boot.params || !vp.armed || this_cpu() != 0)
		return vp.seen;
	m = mig_info()->migrations;
	if (m != vp.seen) {
		vp.seen = m;
		/*
		 * Without a pattern in this kernel (verify=off, no migration
		 * planned, a scenario that keeps none, or it came before this
		 * kernel wrote it) there is nothing to check and no report: the
		 * destination logs that the guest never checked.
		 */
		if (vp.active)
			vpat_check(m);
	}
	return vp.seen;
}
