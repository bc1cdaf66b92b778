// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the exit dispatcher vcpu_handle_exit() (vcpu.h) on
 * fabricated exits, as tests/unit/test_dispatch.c does it: a struct vm set
 * up by hand (16 MiB of guest memory, bitmap, log, lock), no /dev/kvm.
 *
 * One input is a VM configuration, a few blobs written to guest RAM (so
 * ucall pointers, ABORT/PRINT strings and guest page tables point at fuzzed
 * bytes) and a sequence of up to 16 exits on up to 4 vCPUs. Each exit fills
 * struct kvm_run (reason from a table of interesting values or raw, I/O
 * fields and data area, hypercall/MSR/MMIO fields, sync regs). The VM is
 * created once and reset per input; under SEV (cfg bit 0) the host view
 * has the software PSP's cipher, as vm_create gives it.
 *
 * kvm_ioctl_raw() is wrapped (-Wl,--wrap): KVM_GET_SREGS returns a fuzzed
 * CR3 so the READY truth audit walks fuzzed page tables; every other ioctl
 * fails with -EBADF as on the fd -1 it is given.
 *
 * FUZZ_VERBOSE=1 prints how each input ended (to check seeds and crashes).
 *
 * Oracles (abort()): ACT_STOP only with vm->stopping set and a reason, the
 * VM lock released after every exit, I/O IN data all ones, the bitmap's
 * shared count equal to its runs and to its provenance intervals.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encmap.h"
#include "hostmem.h"
#include "hypercall.h"
#include "memory.h"
#include "msr.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"
#include "fuzz_input.h"

#define RUN_SIZE       (3 * 4096)
#define IO_DATA_OFFSET 4096	   /* KVM_PIO_PAGE_OFFSET * PAGE_SIZE on x86 */
#define UC_GPA	       0x200000ull /* a struct ucall in RAM */
#define STR_GPA	       0x201000ull /* strings for ABORT/PRINT */
#define PT_GPA	       0x300000ull /* guest page tables for the truth audit */
#define MAX_EXITS      16
#define MAX_BLOBS      4
#define NR_VCPUS_MAX   4

/* ---- the VM, created once ---- */

static struct vm *vm;
static struct kvm_run *run;
static FILE *log_file;
static uint64_t fuzz_cr3;
static bool fuzz_sregs_ok;
static bool verbose; /* FUZZ_VERBOSE=1: one line per input on stderr */

int __wrap_kvm_ioctl_raw(int fd, unsigned long req, void *arg);

int __wrap_kvm_ioctl_raw(int fd, unsigned long req, void *arg)
{
	(void)fd;
	if (req == KVM_GET_SREGS && fuzz_sregs_ok) {
		struct kvm_sregs *sregs = arg;

		memset(sregs, 0, sizeof(*sregs));
		sregs->cr3 = fuzz_cr3;
		return 0;
	}
	return -EBADF;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The console port and PRINT write to stdout. */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	vm = calloc(1, sizeof(*vm));
	run = aligned_alloc(4096, RUN_SIZE);
	if (!vm || !run)
		abort();
	vm->sys.vcpu_mmap_size = RUN_SIZE;
	vm->sys.has_sync_regs = true;
	vm->sys.hv_name = "fuzz";
	vm->sys.fd = -1;
	vm->fd = -1;
	vm->opts.cbit = 52;
	vm->transport = HC_TRANSPORT_PORT;
	if (mem_layout(&vm->mem, 16ull << 20, 1ull << 20) || mem_alloc(&vm->mem))
		abort();
	if (encmap_init(&vm->encmap, mem_nr_pages(&vm->mem)))
		abort();
	/*
	 * The memory controller vm_create attaches under --sev (seeded keys:
	 * a crash replays with the same ciphertext).
	 */
	if (psp_soft_create(&(struct psp_soft_opts){.seeded = 1}, &vm->psp))
		abort();
	/* A real log (formatting paths), toggled per input; /dev/null keeps it cheap. */
	if (evlog_open(&vm->log, "/dev/null"))
		abort();
	log_file = vm->log.f;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	return 0;
}

static const enum minivmm_transport transports[] = {HC_TRANSPORT_PORT, HC_TRANSPORT_VMMCALL,
						    HC_TRANSPORT_VMCALL, HC_TRANSPORT_NONE};

static void vm_reset(uint8_t cfg, unsigned nr_vcpus, unsigned cbit)
{
	vm->stopping = false;
	vm->exit_status = 0;
	vm->exit_reason[0] = '\0';
	encmap_reset(&vm->encmap);
	vm->generation = 0;
	vm->hc_generation = 0;
	vm->checked_generation = 0;
	memset(&vm->mig, 0, sizeof(vm->mig));
	vm->hypercalls = 0;
	vm->hypercall_errors = 0;
	vm->checks_run = 0;
	vm->checks_failed = 0;
	vm->opts.sev = cfg & 1;
	vm->opts.check = cfg & 2;
	vm->opts.gen_filter = cfg & 4;
	vm->sys.has_sync_regs = !(cfg & 8);
	vm->log.f = (cfg & 16) ? log_file : NULL;
	vm->log.open = false;
	vm->transport = transports[(cfg >> 5) & 3];
	vm->opts.cbit = cbit;
	/* The host view as vm_create sets it (without it every ucall read faults). */
	vm->hostmem =
		(struct hostmem){.mem = &vm->mem, .cbit_mask = vm->opts.sev ? 1ull << cbit : 0};
	if (vm->opts.sev)
		hostmem_attach_psp(&vm->hostmem, vm->psp);
	vm->nr_vcpus = nr_vcpus;
	if (mem_set_ucall_pages(&vm->mem, nr_vcpus))
		abort();
	/* The host view: ciphertext-less under SEV, so private pages are refused. */
	vm->hostmem =
		(struct hostmem){.mem = &vm->mem, .cbit_mask = vm->opts.sev ? 1ull << cbit : 0};
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct vcpu *v = &vm->vcpus[i];

		memset(v, 0, sizeof(*v));
		v->vm = vm;
		v->id = i;
		v->fd = -1;
		v->run = run;
	}
	vm->vcpus[0].state = VCPU_RUNNING;
}

static const uint32_t reasons[] = {
	KVM_EXIT_IO,	       KVM_EXIT_IO,	   KVM_EXIT_IO,		KVM_EXIT_IO,
	KVM_EXIT_HYPERCALL,    KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR,	KVM_EXIT_MMIO,
	KVM_EXIT_HLT,	       KVM_EXIT_SHUTDOWN,  KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR,
	KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_UNKNOWN,   KVM_EXIT_DEBUG,
};

static uint64_t pick_gpa(struct input *in)
{
	static const uint64_t bases[] = {UC_GPA, STR_GPA, PT_GPA, 0};
	uint8_t sel = u8(in);

	if (sel < 0x80)
		return bases[sel % ARRAY_SIZE(bases)] + 8 * (sel / ARRAY_SIZE(bases));
	if (sel < 0xf0)
		return u32(in) % vm->mem.ram_size;
	return u64(in);
}

static void fill_io(struct input *in, uint8_t flags)
{
	static const uint8_t sizes[] = {1, 2, 4, 8};
	static const uint16_t ports[] = {MINIVMM_PORT_CONSOLE, MINIVMM_PORT_UCALL,
					 MINIVMM_PORT_HYPERCALL, 0x80};
	uint8_t sel = u8(in);
	uint64_t len;

	run->io.direction = (flags & 1) ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = (sel & 0x80) ? u8(in) : sizes[sel & 3];
	run->io.port = (sel & 0x40) ? u16(in) : ports[(sel >> 2) & 3];
	if (sel & 0x20)
		run->io.count = u32(in);
	else
		run->io.count = (sel & 0x10) ? 1u + (u8(in) & 15) : 1u;
	run->io.data_offset = (flags & 2) ? u64(in) : IO_DATA_OFFSET;
	len = (uint64_t)run->io.size * run->io.count;
	if (len > 64)
		len = 64;
	if (range_within(run->io.data_offset, len, 0, RUN_SIZE))
		take(in, (uint8_t *)run + run->io.data_offset, len);
}

static void fill_exit(struct input *in, uint32_t reason)
{
	uint8_t flags = u8(in);

	run->exit_reason = reason;
	switch (reason) {
	case KVM_EXIT_IO:
		fill_io(in, flags);
		break;
	case KVM_EXIT_HYPERCALL:
		run->hypercall.nr = (flags & 1) ? u64(in) : KVM_HC_MAP_GPA_RANGE;
		run->hypercall.args[0] = (flags & 2) ? u64(in) : (uint64_t)u16(in) << PAGE_SHIFT;
		run->hypercall.args[1] = (flags & 4) ? u64(in) : u8(in);
		run->hypercall.args[2] = (flags & 8) ? u64(in) : u8(in);
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		run->msr.index = (flags & 1)   ? u32(in)
				 : (flags & 2) ? MSR_AMD64_SEV
					       : MSR_KVM_MIGRATION_CONTROL;
		run->msr.data = (flags & 4) ? u64(in) : (flags >> 3) & 1;
		run->msr.reason = u8(in);
		break;
	case KVM_EXIT_MMIO:
		run->mmio.phys_addr = u64(in);
		run->mmio.len = u8(in) & 15;
		run->mmio.is_write = flags & 1;
		take(in, run->mmio.data, sizeof(run->mmio.data));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		run->fail_entry.hardware_entry_failure_reason = u64(in);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		run->internal.suberror = u32(in);
		run->internal.ndata = u32(in);
		run->internal.data[0] = u64(in);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		run->system_event.type = u32(in);
		break;
	default:
		break;
	}
}

static void fill_regs(struct input *in)
{
	struct kvm_regs *r = &run->s.regs.regs;
	uint8_t sel = u8(in);

	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	/* RAX: the hypercall number on the port transport. */
	r->rax = (sel & 1) ? u64(in) : KVM_HC_MAP_GPA_RANGE;
	r->rbx = (sel & 2) ? u64(in) : (uint64_t)u16(in) << PAGE_SHIFT;
	r->rcx = (sel & 4) ? u64(in) : u8(in);
	r->rdx = (sel & 8) ? u64(in) : u8(in);
	r->rsi = (sel & 16) ? u64(in) : u8(in);
	r->rdi = (sel & 32) ? pick_gpa(in) : UC_GPA;
	r->rip = (sel & 64) ? u64(in) : 0x100000;
}

static void check_bitmap(void)
{
	struct encmap_run r;
	struct encmap_prov_run pr;
	uint64_t from = 0, pages = 0, prov_pages = 0;

	while (encmap_next_run(&vm->encmap, from, &r)) {
		if (r.start >= r.end || r.start < from || r.end > vm->encmap.npages)
			abort();
		pages += r.end - r.start;
		from = r.end;
	}
	from = 0;
	while (encmap_next_prov_run(&vm->encmap, from, &pr)) {
		if (pr.start >= pr.end || pr.start < from || pr.end > vm->encmap.npages)
			abort();
		prov_pages += pr.end - pr.start;
		from = pr.end;
	}
	if (pages != encmap_count_shared(&vm->encmap) || prov_pages != pages)
		abort();
}

static struct vcpu *pick_vcpu(uint8_t sel)
{
	for (unsigned k = 0; k < vm->nr_vcpus; k++) {
		struct vcpu *v = &vm->vcpus[(sel + k) % vm->nr_vcpus];

		/* A PENDING vCPU loads its start state and runs (vcpu.c). */
		if (v->state == VCPU_PENDING)
			v->state = VCPU_RUNNING;
		if (v->state == VCPU_RUNNING)
			return v;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct {
		uint8_t *hva;
		size_t len;
	} blobs[MAX_BLOBS];
	unsigned nblobs, nexits;
	uint8_t cfg = u8(&in);
	unsigned nr_vcpus = 1 + u8(&in) % NR_VCPUS_MAX;
	unsigned cbit = 52 + u8(&in) % 11;

	vm_reset(cfg, nr_vcpus, cbit);
	fuzz_sregs_ok = !(cfg & 0x80);
	fuzz_cr3 = (u8(&in) & 1) ? u64(&in) : PT_GPA;

	nblobs = u8(&in) % (MAX_BLOBS + 1);
	for (unsigned i = 0; i < nblobs; i++) {
		uint64_t gpa = pick_gpa(&in);
		size_t len = u16(&in) % 4097;

		blobs[i].hva = NULL;
		blobs[i].len = 0;
		if (gpa >= vm->mem.low_size)
			continue;
		if (len > vm->mem.low_size - gpa)
			len = vm->mem.low_size - gpa;
		blobs[i].hva = mem_gpa_to_hva(&vm->mem, gpa, len);
		blobs[i].len = len;
		take(&in, blobs[i].hva, len);
	}

	nexits = 1 + u8(&in) % MAX_EXITS;
	for (unsigned i = 0; i < nexits; i++) {
		struct vcpu *vcpu = pick_vcpu(u8(&in));
		uint8_t rsel = u8(&in);
		enum vcpu_action act;
		__typeof__(run->io) io;

		if (!vcpu)
			break;
		memset(run, 0, RUN_SIZE);
		fill_regs(&in);
		fill_exit(&in, rsel < ARRAY_SIZE(reasons) * 16 ? reasons[rsel % ARRAY_SIZE(reasons)]
							       : u32(&in));
		/* Saved: a data_offset into the kvm_run header gets overwritten. */
		io = run->io;
		act = vcpu_handle_exit(vcpu);

		if (pthread_mutex_trylock(&vm->lock) != 0)
			abort(); /* a handler returned with the lock held */
		pthread_mutex_unlock(&vm->lock);
		/* ACT_QUIET: the guest's memory check after a migration (a SYNC). */
		if (act > ACT_QUIET || (act == ACT_QUIET && run->exit_reason != KVM_EXIT_IO))
			abort();
		if (act == ACT_STOP && (!vm->stopping || !vm->exit_reason[0]))
			abort();
		if (run->exit_reason == KVM_EXIT_IO && io.direction == KVM_EXIT_IO_IN &&
		    act == ACT_CONTINUE) {
			const uint8_t *d = (const uint8_t *)run + io.data_offset;

			if (!range_within(io.data_offset, (uint64_t)io.size * io.count, 0,
					  RUN_SIZE))
				abort();
			for (uint64_t j = 0; j < (uint64_t)io.size * io.count; j++)
				if (d[j] != 0xff)
					abort();
		}
		check_bitmap();
		/* vcpu.c: the thread leaves its loop on STOP, SHUTDOWN or stopping. */
		if (act == ACT_STOP || act == ACT_SHUTDOWN || vm->stopping)
			break;
		if (act == ACT_PARK && vcpu->state != VCPU_OFF)
			abort();
	}

	if (verbose)
		fprintf(stderr,
			"fuzz_dispatch: %u exit(s), %s (status %d, %s), %lu shared page(s)\n",
			nexits, vm->stopping ? "stopped" : "running", vm->exit_status,
			vm->exit_reason, encmap_count_shared(&vm->encmap));
	for (unsigned i = 0; i < nblobs; i++)
		if (blobs[i].hva)
			memset(blobs[i].hva, 0, blobs[i].len);
	return 0;
}
