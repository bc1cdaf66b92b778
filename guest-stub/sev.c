// SPDX-License-Identifier: GPL-2.0-only
/*
 * SEV detection as Linux's sme_enable() does it (CPUID 0x8000001F, then
 * MSR_AMD64_SEV), the KVM paravirt features (CPUID 0x40000000/1), and
 * KVM_HC_MAP_GPA_RANGE on the transport the VMM announced. CPUID leaves
 * come from the firmware table where it has them (fw_cpuid).
 */
#include "guest.h"

bool sev_active;
uint32_t hc_transport;

/*
 * The VMM's probe saw the instruction return the table's values: the table
 * must then tell the guest nothing the hypervisor does not.
 */
static void cpuid_check_table(void)
{
	for (uint32_t i = 0; boot.cpuid && i < boot.cpuid->count; i++) {
		const struct minivmm_cpuid_fn *f = &boot.cpuid->fn[i];
		uint32_t a, b, c, d;

		cpuid(f->eax_in, f->ecx_in, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(a, f->eax);
		GUEST_ASSERT_EQ(b, f->ebx);
		GUEST_ASSERT_EQ(c, f->ecx);
		GUEST_ASSERT_EQ(d, f->edx);
	}
}

void sev_detect(void)
{
	uint32_t a, b, c, d;
	char sig[13];

	cbit_mask = 0;
	sev_active = false;
	if (boot.params && (boot.params->flags & MINIVMM_FLAG_CPUID_AGREES))
		cpuid_check_table();
	fw_cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < CPUID_AMD_SEV)
		return;
	fw_cpuid(CPUID_AMD_SEV, 0, &a, &b, &c, &d);
	if (!(a & (1u << 1)))
		return;
	if (!(rdmsr(MSR_AMD64_SEV) & MSR_AMD64_SEV_ENABLED))
		return;
	cbit_mask = 1ull << (b & 0x3f);
	sev_active = true;

	fw_cpuid(KVM_CPUID_SIGNATURE, 0, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	GUEST_ASSERT(!memcmp(sig, "KVMKVMKVM", 9));
	fw_cpuid(KVM_CPUID_FEATURES, 0, &a, &b, &c, &d);
	GUEST_ASSERT(a & (1u << KVM_FEATURE_HC_MAP_GPA_RANGE));
	GUEST_ASSERT(a & (1u << KVM_FEATURE_MIGRATION_CONTROL));
	hc_transport = boot.params ? boot.params->transport : HC_TRANSPORT_VMMCALL;
}

long kvm_hypercall4(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	long ret;

	switch (hc_transport) {
	case HC_TRANSPORT_VMMCALL:
		__asm__ volatile("vmmcall"
				 : "=a"(ret)
				 : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3)
				 : "memory");
		return ret;
	case HC_TRANSPORT_VMCALL:
		__asm__ volatile("vmcall"
				 : "=a"(ret)
				 : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3)
				 : "memory");
		return ret;
	case HC_TRANSPORT_PORT:
		__asm__ volatile("outb %%al, %[port]"
				 : "=a"(ret)
				 : "a"(nr), "b"(a0), "c"(a1), "d"(a2),
				   "S"(a3), [port] "i"(MINIVMM_PORT_HYPERCALL)
				 : "memory");
		return ret;
	default:
		return -KVM_ENOSYS;
	}
}

static uint64_t generation_arg(void)
{
	return boot.generation;
}

long map_gpa_range(uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	return kvm_hypercall4(KVM_HC_MAP_GPA_RANGE, gpa, npages, attrs, generation_arg());
}

static volatile uint32_t hc_muted;

void hypercalls_mute(void)
{
	hc_muted = 1;
}

void hypercalls_unmute(void)
{
	hc_muted = 0;
}

/*
 * arch/x86/mm/pat/set_memory.c: __set_memory_enc_dec holds mem_enc_lock
 * for read (a trylock: -EBUSY once enc_kexec_begin holds it for write)
 * around __set_memory_enc_pgtable: change the PTEs, flush, then tell the
 * hypervisor (enc_status_change_finish -> notify_range_enc_status_changed
 * -> kvm_sev_hc_page_enc_status: MAP_GPA_RANGE). A CPU can take an
 * interrupt between any two steps.
 */
static int set_memory_enc_dec(uint64_t va, uint64_t npages, bool enc)
{
	uint64_t size = KVM_MAP_GPA_RANGE_PAGE_SZ_4K;
	long r;

	if (!sev_active)
		return 0;
	if (!conv_read_trylock())
		return -16; /* -EBUSY */
	set_cbit_noflush(va, npages, enc);
	irq_point(WHERE_CONV_PTE);
	flush_range(va, npages);
	irq_point(WHERE_CONV_FLUSHED);
	if (!(va & (SZ_2M - 1)) && !(npages & 511))
		size = KVM_MAP_GPA_RANGE_PAGE_SZ_2M;
	/* Strategy mute checks its flag first: the window is check-then-call. */
	if (!hc_muted) {
		irq_point(WHERE_CONV_FLUSHED);
		/* Identity map: gpa == va. */
		r = map_gpa_range(va, npages, size | (enc ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0));
		GUEST_ASSERT_EQ(r, 0);
	}
	irq_point(WHERE_CONV_DONE);
	conv_read_unlock();
	return 0;
}

int set_memory_decrypted(uint64_t va, uint64_t npages)
{
	return set_memory_enc_dec(va, npages, false);
}

int set_memory_encrypted(uint64_t va, uint64_t npages)
{
	return set_memory_enc_dec(va, npages, true);
}

void migration_ready(bool ready)
{
	if (sev_active)
		wrmsr(MSR_KVM_MIGRATION_CONTROL, ready ? KVM_MIGRATION_READY : 0);
}
