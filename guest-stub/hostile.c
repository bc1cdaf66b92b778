// SPDX-License-Identifier: GPL-2.0-only
/*
 * scenario=hostile-NAME: guests that misbehave on purpose. Each one has a
 * documented verdict (README "Hostile guests") asserted by
 * tests/integration/hostile.sh.
 */
#include "kexec.h"

static void raw_ucall_ptr(uint64_t gpa)
{
	__asm__ volatile("outb %%al, %[port]"
			 :
			 : "a"(0), "D"(gpa), [port] "i"(MINIVMM_PORT_UCALL)
			 : "memory");
}

static void ucall_outside(void)
{
	raw_ucall_ptr(boot.ram_top + (1ull << 30)); /* beyond RAM */
}

static void ucall_straddle(void)
{
	raw_ucall_ptr(boot.ram_top - 16); /* struct ucall crosses the end of RAM */
}

static void ucall_unaligned(void)
{
	static struct ucall uc[2];

	uc[0].cmd = UCALL_DONE;
	raw_ucall_ptr((uint64_t)&uc[0] + 3);
}

static void ucall_vmm(void)
{
	raw_ucall_ptr(boot.params->vmm_region_gpa); /* the start info, VMM-owned */
}

static void ucall_badcmd(void)
{
	/* In the shared ucall page, so the host can read it and refuse the cmd. */
	struct ucall *uc = (struct ucall *)boot.params->ucall_gpa;

	*uc = (struct ucall){.cmd = 0x7777};
	raw_ucall_ptr((uint64_t)uc);
}

/*
 * A well-formed DONE ucall, but in a private page (.data, C=1) instead of
 * this CPU's shared ucall page: under SEV the host sees only ciphertext
 * there. Without SEV it is an ordinary successful DONE.
 */
static void ucall_private(void)
{
	static struct ucall uc = {.cmd = UCALL_DONE, .nargs = 1};

	raw_ucall_ptr((uint64_t)&uc);
}

/* ABORT from the shared ucall page, its expression string in a private page. */
static void ucall_private_string(void)
{
	static const char expr[] = "a string the host cannot read";
	struct ucall *uc = (struct ucall *)boot.params->ucall_gpa;

	*uc = (struct ucall){
		.cmd = UCALL_ABORT, .nargs = 4, .args = {(uint64_t)expr, (uint64_t)expr, 1, 0}};
	raw_ucall_ptr((uint64_t)uc);
}

/* Every invalid MAP_GPA_RANGE combination gets its documented return. */
static void hypercalls(void)
{
	/* End of the low memslot (RAM plus the VMM region at its top). */
	const uint64_t top = boot.params->vmm_region_gpa + boot.params->vmm_region_size;
	const uint64_t four_g = 1ull << 32;
	const struct {
		uint64_t nr, gpa, npages, attrs;
		long ret;
	} t[] = {
		{KVM_HC_MAP_GPA_RANGE, 0x100001, 1, 0, -KVM_EINVAL},		  /* unaligned */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 0, 0, -KVM_EINVAL},		  /* zero */
		{KVM_HC_MAP_GPA_RANGE, 0x1000, ~0ull, 0, -KVM_EINVAL},		  /* gfn wraps */
		{KVM_HC_MAP_GPA_RANGE, 0xfffffffffffff000ull, 2, 0, -KVM_EINVAL}, /* beyond */
		{KVM_HC_MAP_GPA_RANGE, 1ull << 40, 1, 0, -KVM_EINVAL},		  /* beyond RAM */
		{KVM_HC_MAP_GPA_RANGE, top - 0x1000, 2, 0, -KVM_EINVAL},      /* straddles end */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 1ull << 52, 0, -KVM_EINVAL}, /* huge npages */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 1, 1ull << 5, -KVM_EINVAL},  /* reserved bit 5 */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 1, 1ull << 63, -KVM_EINVAL}, /* reserved bit 63 */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 1, 3, -KVM_EINVAL},	      /* size field 3 */
		{KVM_HC_MAP_GPA_RANGE, 0x100000, 1, 15, -KVM_EINVAL},	      /* size field 15 */
		{KVM_HC_MAP_GPA_RANGE, 0x101000, 512, 1, -KVM_EINVAL},	      /* 2M hint, gpa */
		{KVM_HC_MAP_GPA_RANGE, 0x200000, 100, 1, -KVM_EINVAL},	      /* 2M hint, npages */
		{KVM_HC_MAP_GPA_RANGE, 0x200000, 512, 2, -KVM_EINVAL},	      /* 1G hint */
		{KVM_HC_MAP_GPA_RANGE, 0x200000, 512, 1, 0},		      /* valid 2M */
		{KVM_HC_MAP_GPA_RANGE, 0x200000, 512, 1 | KVM_MAP_GPA_RANGE_ENCRYPTED, 0},
		{13, 0x100000, 1, 0, -KVM_ENOSYS}, /* unknown nr */
		{0, 0, 0, 0, -KVM_ENOSYS},
		{~0ull, 0, 0, 0, -KVM_ENOSYS},
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long r;

		/* KVM answers non-12 numbers in the kernel on the exit transport too. */
		r = kvm_hypercall4(t[i].nr, t[i].gpa, t[i].npages, t[i].attrs, 0);
		if (r != t[i].ret) {
			printf("case %u: nr %lu gpa %#lx npages %#lx attrs %#lx: got %ld want "
			       "%ld\n",
			       i, t[i].nr, t[i].gpa, t[i].npages, t[i].attrs, r, t[i].ret);
			guest_abort("hypercall returned an undocumented value", __FILE__, (int)i,
				    (uint64_t)r);
		}
	}
	if (boot.ram_top > four_g)
		GUEST_ASSERT_EQ(map_gpa_range(0xc0000000ull, 1, 0), -KVM_EINVAL); /* PCI hole */
	printf("hostile-hypercall: %u cases as documented\n", (unsigned)(sizeof(t) / sizeof(t[0])));
}

/* A flood of valid calls: the host's memory must stay bounded. */
static void flood(void)
{
	uint64_t n = cmdline_u64("flood", 100000), base = 0x1000000;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t gpa = base + ((i * 2) % 8192) * PAGE_SIZE;

		GUEST_ASSERT_EQ(
			map_gpa_range(gpa, 1, (i / 4096) & 1 ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0), 0);
	}
	printf("hostile-flood: %lu calls\n", n);
}

/*
 * A memory-check report (abi.h struct minivmm_verify_report) that lies:
 * too many runs, then runs outside guest memory, wrapping around and
 * empty. The VMM logs each as what it is (README "Hostile guests") and
 * never reads past its own arrays.
 */
static void verify_lies(void)
{
	struct minivmm_verify_report *rep =
		(struct minivmm_verify_report *)(boot.params->ucall_gpa + MINIVMM_UCALL_DATA);

	memset(rep, 0xff, sizeof(*rep));
	ucall(UCALL_SYNC, 4, (uint64_t)SYNC_MIGRATION_VERIFY, 1ull, 1ull, 1ull);
	memset(rep, 0, sizeof(*rep));
	rep->checked = rep->corrupted = 3;
	rep->nruns = 3;
	rep->run[0] = (struct minivmm_verify_run){~0ull << 12, 1};
	rep->run[1] = (struct minivmm_verify_run){0x100000, ~0ull};
	rep->run[2] = (struct minivmm_verify_run){0x100000, 0};
	ucall(UCALL_SYNC, 4, (uint64_t)SYNC_MIGRATION_VERIFY, 1ull, 3ull, 3ull);
	printf("hostile-verify: lying reports sent\n");
}

static void msr_values(void)
{
	for (int i = 0; i < 1000; i++) {
		wrmsr(MSR_KVM_MIGRATION_CONTROL, i & 1);
		GUEST_ASSERT_EQ(rdmsr(MSR_KVM_MIGRATION_CONTROL), (uint64_t)(i & 1));
	}
	printf("hostile-msr-values: 1000 writes read back\n");
}

static void msr_reserved(void)
{
	wrmsr(MSR_KVM_MIGRATION_CONTROL, 1ull << 1); /* #GP */
}

static void msr_unknown(void)
{
	(void)rdmsr(0x4b564dfe); /* nobody handles it: #GP */
}

static void msr_sev_write(void)
{
	wrmsr(MSR_AMD64_SEV, 0); /* read-only: #GP */
}

static void vmcall(void)
{
	long ret;

	/* The hypercall instruction the hypervisor may not support. */
	__asm__ volatile("vmcall"
			 : "=a"(ret)
			 : "a"(KVM_HC_MAP_GPA_RANGE), "b"(0), "c"(1), "d"(0)
			 : "memory");
	printf("vmcall returned %ld\n", ret);
}

/*
 * The same after switching to page tables on an even frame: kvm_pvm then
 * emulates every instruction (docs/PVM.md) and re-executes vmcall forever.
 */
static void vmcall_emulated(void)
{
	uint64_t pml4 = alloc_pages(2);

	if ((pml4 >> 12) & 1)
		pml4 += PAGE_SIZE;
	memcpy((void *)pml4, (void *)mm_cr3(), PAGE_SIZE);
	write_cr3(pml4);
	vmcall();
}

static void ap_fault_entry(void)
{
	*(volatile uint64_t *)0x8000000000000000ull = 1;
}

static volatile uint64_t spin_forever;

static void ap_fault(void)
{
	static uint8_t stack[4096] __attribute__((aligned(16)));
	int64_t r = (int64_t)ucall(UCALL_CPU_ON, 5, 1ull, (uint64_t)ap_fault_entry,
				   (uint64_t)stack + sizeof(stack), 1ull, mm_cr3());

	GUEST_ASSERT_EQ(r, 0);
	for (;;)
		guest_yield(); /* the BSP keeps running while vCPU 1 triple-faults */
}

static void cpu_on(void)
{
	static uint8_t stack[4096] __attribute__((aligned(16)));
	uint64_t sp = (uint64_t)stack + sizeof(stack);

	GUEST_ASSERT_EQ(ucall(UCALL_CPU_ON, 5, 99ull, (uint64_t)ap_entry, sp, 1ull, mm_cr3()),
			(uint64_t)-22); /* no such CPU */
	GUEST_ASSERT_EQ(ucall(UCALL_CPU_ON, 5, 0ull, (uint64_t)ap_entry, sp, 0ull, mm_cr3()),
			(uint64_t)-22); /* itself */
	GUEST_ASSERT_EQ(ucall(UCALL_CPU_ON, 5, 1ull, (uint64_t)ap_entry, sp, 1ull, 0x123ull),
			(uint64_t)-14); /* CR3 not a page in memory */
	if (boot.nr_cpus > 1) {
		GUEST_ASSERT_EQ(
			ucall(UCALL_CPU_ON, 5, 1ull, (uint64_t)hostile_ap_spin, sp, 1ull, mm_cr3()),
			0);
		GUEST_ASSERT_EQ(
			ucall(UCALL_CPU_ON, 5, 1ull, (uint64_t)hostile_ap_spin, sp, 1ull, mm_cr3()),
			(uint64_t)-16); /* already running */
	}
	printf("hostile-cpu-on: refusals as documented\n");
}

void hostile_ap_spin(void)
{
	for (;;)
		guest_yield();
}

static void noyield(void)
{
	for (;;)
		spin_forever++;
}

static const struct {
	const char *name;
	void (*fn)(void);
} hostile[] = {
	{"hostile-ucall-outside", ucall_outside},
	{"hostile-ucall-straddle", ucall_straddle},
	{"hostile-ucall-unaligned", ucall_unaligned},
	{"hostile-ucall-vmm", ucall_vmm},
	{"hostile-ucall-badcmd", ucall_badcmd},
	{"hostile-ucall-private", ucall_private},
	{"hostile-ucall-private-string", ucall_private_string},
	{"hostile-hypercall", hypercalls},
	{"hostile-flood", flood},
	{"hostile-msr-values", msr_values},
	{"hostile-verify", verify_lies},
	{"hostile-msr-reserved", msr_reserved},
	{"hostile-msr-unknown", msr_unknown},
	{"hostile-msr-sev-write", msr_sev_write},
	{"hostile-vmcall", vmcall},
	{"hostile-vmcall-emulated", vmcall_emulated},
	{"hostile-ap-fault", ap_fault},
	{"hostile-cpu-on", cpu_on},
	{"hostile-noyield", noyield},
};

static int hostile_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		if (!strcmp(name, hostile[i].name))
			return (int)i;
	return -1;
}

bool hostile_known(const char *name)
{
	return hostile_find(name) >= 0;
}

bool hostile_run(const char *name)
{
	int i = hostile_find(name);

	if (i < 0)
		return false;
	hostile[i].fn();
	return true;
}
