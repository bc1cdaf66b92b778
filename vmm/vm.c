// SPDX-License-Identifier: GPL-2.0-only
#include "verify.h"
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "device.h"
#include "migrate_hook.h"
#include "msr.h"
#include "schedule.h"
#include "util.h"
#include "vcpu.h"
#include "x86.h"

#define PROBE_LOOPS	  4096
#define PROBE_EMULATED_NS 1000000ull /* 4096 loops + 1 exit: ~30 us native, ~9 ms emulated */
#define PROBE_TIMEOUT_US  20000
#define PROBE_REARMS	  50 /* at most 1 s of a slow host before the hypercall */
#define WATCHDOG_TICK_MS  50

/* ---- layout of the VMM region ---- */

static uint64_t vmm_region_size(const struct vm *vm, uint64_t top)
{
	uint64_t sz = 3 * PAGE_SIZE; /* start info+GDT+params, cmdline, probe */
	/* +1: PML4 on an odd frame; +1: the 4 KiB table of the shared block */
	sz += (x86_pt_pages(top) + 2) * PAGE_SIZE;
	sz += ALIGN_UP(vm->elf_size, PAGE_SIZE);
	sz += ALIGN_UP(vm->script_size, PAGE_SIZE);
	return ALIGN_UP(sz, 64 * 1024);
}

static void layout_region(struct vm *vm)
{
	struct vm_layout *l = &vm->layout;
	uint64_t p = vm->mem.vmm_gpa;

	l->start_info = p;
	l->modlist = p + 0x100;
	l->memmap = p + 0x200;
	l->gdt = p + 0x800;
	l->params = p + 0x900;
	l->cpuid_table = p + 0xa00;
	l->cmdline = p + PAGE_SIZE;
	l->probe_code = p + 2 * PAGE_SIZE;
	p += 3 * PAGE_SIZE;
	/* docs/PVM.md: CR3 must point at an odd 4 KiB frame to run natively. */
	if (!((p >> PAGE_SHIFT) & 1))
		p += PAGE_SIZE;
	l->pml4 = p;
	p += x86_pt_pages(vm->mem.top) * PAGE_SIZE;
	l->fw_pt = p;
	p += PAGE_SIZE;
	l->mod_kernel = p;
	p += ALIGN_UP(vm->elf_size, PAGE_SIZE);
	l->mod_script = p;
	l->script_size = vm->script_size;
	p += ALIGN_UP(vm->script_size, PAGE_SIZE);
	l->end = p;
}

static int write_boot_info(struct vm *vm)
{
	/* Module names, NUL-separated, at the end of the command-line page. */
	static const char mod_names[] = MINIVMM_MOD_KERNEL
		"\0" MINIVMM_MOD_PARAMS "\0" MINIVMM_MOD_CPUID "\0" MINIVMM_MOD_SCRIPT;
	const uint64_t names_off = VM_CMDLINE_MAX - 64;
	const uint64_t name_kernel = 0, name_params = name_kernel + sizeof(MINIVMM_MOD_KERNEL),
		       name_cpuid = name_params + sizeof(MINIVMM_MOD_PARAMS),
		       name_script = name_cpuid + sizeof(MINIVMM_MOD_CPUID);
	struct guest_mem *mem = &vm->mem;
	struct vm_layout *l = &vm->layout;
	struct hvm_start_info *si = mem_gpa_to_hva(mem, l->start_info, PAGE_SIZE);
	struct hvm_modlist_entry *mods = mem_gpa_to_hva(mem, l->modlist, 4 * sizeof(*mods));
	struct hvm_memmap_table_entry *mm =
		mem_gpa_to_hva(mem, l->memmap, MEM_E820_MAX * sizeof(*mm));
	struct minivmm_params *params = mem_gpa_to_hva(mem, l->params, sizeof(*params));
	struct minivmm_cpuid_table *cpuid =
		mem_gpa_to_hva(mem, l->cpuid_table, sizeof(struct minivmm_cpuid_table));
	char *cmdline = mem_gpa_to_hva(mem, l->cmdline, PAGE_SIZE);
	uint64_t names = l->cmdline + names_off;
	unsigned nmods = 0;

	_Static_assert(sizeof(mod_names) <= 64, "module names fit");
	if (!si || !mods || !mm || !params || !cpuid || !cmdline ||
	    l->end > mem->vmm_gpa + mem->vmm_size)
		return -EFAULT;
	memset(si, 0, PAGE_SIZE);
	memcpy(mem_gpa_to_hva(mem, l->gdt, sizeof(x86_gdt)), x86_gdt, sizeof(x86_gdt));
	snprintf(cmdline, names_off, "%s", vm->opts.cmdline ? vm->opts.cmdline : "");
	memcpy(cmdline + names_off, mod_names, sizeof(mod_names));
	for (unsigned i = 0; i < mem->nr_e820; i++)
		mm[i] = (struct hvm_memmap_table_entry){mem->e820[i].addr, mem->e820[i].size,
							mem->e820[i].type, 0};

	memcpy(mem_gpa_to_hva(mem, l->mod_kernel, vm->elf_size), vm->elf_buf, vm->elf_size);
	mods[nmods++] =
		(struct hvm_modlist_entry){l->mod_kernel, vm->elf_size, names + name_kernel, 0};
	*params = (struct minivmm_params){
		.magic = MINIVMM_PARAMS_MAGIC,
		.version = MINIVMM_PARAMS_VERSION,
		.flags =
			(vm->opts.sev ? MINIVMM_FLAG_SEV : 0) |
			(vm->opts.sched == SCHED_SERIAL ? MINIVMM_FLAG_SERIAL : 0) |
			(vm->cpuid_agrees ? MINIVMM_FLAG_CPUID_AGREES : 0) |
			(vm->opts.device_ppm ? MINIVMM_FLAG_DEVICE : 0) |
			(vm->opts.migrate_to.kind != MIGRATE_URI_NONE ? MINIVMM_FLAG_MIGRATION : 0),
		.transport = vm->opts.sev ? vm->transport : HC_TRANSPORT_NONE,
		.nr_cpus = vm->nr_vcpus,
		.cbit = vm->opts.sev ? vm->opts.cbit : 0,
		.fw_shared_gpa = MEM_FW_SHARED_GPA,
		.fw_shared_size = mem->fw_shared_end - MEM_FW_SHARED_GPA,
		.vmm_region_gpa = mem->vmm_gpa,
		.vmm_region_size = mem->vmm_size,
		.ucall_gpa = MEM_UCALL_GPA,
	};
	mods[nmods++] =
		(struct hvm_modlist_entry){l->params, sizeof(*params), names + name_params, 0};
	x86_cpuid_fw_table(vm->cpuid, cpuid);
	mods[nmods++] =
		(struct hvm_modlist_entry){l->cpuid_table, sizeof(*cpuid), names + name_cpuid, 0};
	if (vm->script_size) {
		memcpy(mem_gpa_to_hva(mem, l->mod_script, vm->script_size), vm->script_buf,
		       vm->script_size);
		mods[nmods++] = (struct hvm_modlist_entry){l->mod_script, vm->script_size,
							   names + name_script, 0};
	}
	*si = (struct hvm_start_info){
		.magic = HVM_START_MAGIC_VALUE,
		.version = HVM_START_INFO_VERSION,
		.nr_modules = nmods,
		.modlist_paddr = l->modlist,
		.cmdline_paddr = l->cmdline,
		.memmap_paddr = l->memmap,
		.memmap_entries = mem->nr_e820,
	};
	return 0;
}

/* ---- probing the hypervisor ---- */

static volatile sig_atomic_t probe_alarm;

static void on_kick(int sig)
{
	(void)sig;
	probe_alarm = 1;
}

/*
 * Run a few instructions on vCPU 0 before the guest: a counted loop (is
 * the guest native or emulated?) and one KVM_HC_MAP_GPA_RANGE(0, 1, 0)
 * through the vendor instruction (does the hypervisor deliver
 * KVM_EXIT_HYPERCALL?). The arguments must pass KVM's own checks
 * (arch/x86/kvm/x86.c: aligned gpa, npages > 0) or KVM answers -EINVAL
 * in the kernel; the VMM answers -KVM_EINVAL and changes nothing.
 * docs/PVM.md: on kvm_pvm vmmcall returns -1 and vmcall spins, so a timer
 * kicks the vCPU.
 */
static int probe(struct vm *vm)
{
	struct vcpu *vcpu = &vm->vcpus[0];
	uint8_t *code = mem_gpa_to_hva(&vm->mem, vm->layout.probe_code, PAGE_SIZE);
	bool amd = vm->opts.transport == TRANSPORT_VMMCALL ||
		   (vm->opts.transport != TRANSPORT_VMCALL && vm->is_amd);
	const uint8_t head[] = {
		0xe6,
		0x80, /* out %al, $0x80 */
		0xb9,
		PROBE_LOOPS & 0xff,
		PROBE_LOOPS >> 8,
		0,
		0, /* mov $PROBE_LOOPS, %ecx */
		0xe2,
		0xfe, /* 1: loop 1b */
		0xe6,
		0x80, /* out %al, $0x80 */
	};
	const uint8_t tail[] = {
		0xb8,
		KVM_HC_MAP_GPA_RANGE,
		0,
		0,
		0, /* mov $12, %eax */
		0x31,
		0xdb,
		0x31,
		0xd2, /* xor %ebx, %ebx; xor %edx, %edx */
		0xb9,
		1,
		0,
		0,
		0, /* mov $1, %ecx */
		0x0f,
		0x01,
		(uint8_t)(amd ? 0xd9 : 0xc1), /* vmmcall / vmcall */
		0xe6,
		0x80, /* out %al, $0x80 */
		0xf4, /* hlt */
	};
	/*
	 * Between the two: one CPUID per firmware-table leaf, each followed by
	 * an out whose exit shows the result registers (sync regs). The table
	 * is trusted only if every leaf agrees: some kvm_pvm hosts let CPUID
	 * run unvirtualized at CPL 3 (docs/pvm-notes.md).
	 */
	struct minivmm_cpuid_table table;
	uint8_t *pc = code;
	unsigned cpuid_outs, cpuid_agree = 0;
	struct itimerval limit = {.it_value = {0, PROBE_TIMEOUT_US}}, off = {{0, 0}, {0, 0}};
	struct sigaction sa, old;
	uint64_t t0 = 0, t_loop = 0;
	bool got_hypercall = false, done = false;
	uint64_t emulated = 0;
	int r = 0, outs = 0, rearms = 0;

	if (!code)
		return -EFAULT;
	x86_cpuid_fw_table(vm->cpuid, &table);
	cpuid_outs = table.count;
	memcpy(pc, head, sizeof(head));
	pc += sizeof(head);
	for (unsigned i = 0; i < table.count; i++) {
		const uint8_t step[] = {
			0xb8,
			(uint8_t)table.fn[i].eax_in,
			(uint8_t)(table.fn[i].eax_in >> 8),
			(uint8_t)(table.fn[i].eax_in >> 16),
			(uint8_t)(table.fn[i].eax_in >> 24),
			0x31,
			0xc9, /* xor %ecx, %ecx */
			0x0f,
			0xa2, /* cpuid */
			0xe6,
			0x80, /* out %al, $0x80 */
		};
		memcpy(pc, step, sizeof(step));
		pc += sizeof(step);
	}
	memcpy(pc, tail, sizeof(tail));
	vcpu->start_rip = vm->layout.probe_code;
	vcpu->start_cr3 = vm->layout.pml4;
	vcpu->start_rsp = 0;
	vcpu->start_rdi = 0;
	r = vcpu_load_start_state(vcpu);
	if (r < 0)
		return r;
	/*
	 * Only this thread exists yet: a process timer (SIGALRM, no
	 * SA_RESTART) interrupts a KVM_RUN that spins on vmcall. No helper
	 * thread: creating and cancelling one costs more than the probe.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &limit, NULL);
	t0 = now_ns();
	while (!done) {
		struct kvm_run *run = vcpu->run;

		r = kvm_ioctl_raw(vcpu->fd, KVM_RUN, NULL);
		/*
		 * The timer is for a hypercall instruction that spins inside
		 * KVM_RUN, the last step. Before it a loaded host may just be
		 * slow: rearm (bounded), or a busy machine would look emulated.
		 */
		if (r == -EINTR && outs < 2 + (int)cpuid_outs && ++rearms < PROBE_REARMS) {
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			probe_alarm = 0;
			setitimer(ITIMER_REAL, &limit, NULL);
			continue;
		}
		if (r < 0) {
			r = (r == -EINTR) ? 0 : r;
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			/* Time the loop between two exits: the first entry is slow. */
			if (++outs == 1)
				t0 = now_ns();
			else if (outs == 2)
				t_loop = now_ns() - t0;
			if (outs > 2 && outs <= 2 + (int)cpuid_outs) {
				const struct kvm_regs *g = &run->s.regs.regs;
				const struct minivmm_cpuid_fn *f = &table.fn[outs - 3];

				cpuid_agree +=
					(uint32_t)g->rax == f->eax && (uint32_t)g->rbx == f->ebx &&
					(uint32_t)g->rcx == f->ecx && (uint32_t)g->rdx == f->edx;
			} else if (outs == 3 + (int)cpuid_outs) {
				vm->probe_hc_rax = (int64_t)run->s.regs.regs.rax;
				done = true;
			}
			break;
		case KVM_EXIT_HYPERCALL:
			got_hypercall = run->hypercall.nr == KVM_HC_MAP_GPA_RANGE;
			run->hypercall.ret = (uint64_t)-KVM_EINVAL;
			break;
		default:
			done = true;
			break;
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	probe_alarm = 0;
	if (r < 0)
		return r;
	vm->probe_loop_ns = t_loop;
	vm->cpuid_agrees = cpuid_agree == cpuid_outs;
	/*
	 * The vCPU statistic is exact; the loop time is only a fallback (a
	 * busy host can stretch 30 us past the threshold).
	 */
	if (kvm_read_stat(vcpu->fd, "insn_emulation", &emulated) == 0)
		vm->native = outs >= 2 && emulated < PROBE_LOOPS;
	else
		vm->native = t_loop && t_loop < PROBE_EMULATED_NS;
	if (vm->opts.transport == TRANSPORT_PORT || !vm->opts.sev)
		vm->transport = HC_TRANSPORT_PORT;
	else if (got_hypercall)
		vm->transport = amd ? HC_TRANSPORT_VMMCALL : HC_TRANSPORT_VMCALL;
	else if (vm->opts.transport != TRANSPORT_AUTO) {
		fprintf(stderr,
			"mini-vmm: --hypercall=%s: this hypervisor (%s) does not deliver "
			"KVM_EXIT_HYPERCALL (probe: RAX=%" PRId64 ")\n",
			amd ? "vmmcall" : "vmcall", vm->sys.hv_name, vm->probe_hc_rax);
		return -ENOTSUP;
	} else
		vm->transport = HC_TRANSPORT_PORT;
	return 0;
}

static const char *transport_name(enum minivmm_transport t)
{
	switch (t) {
	case HC_TRANSPORT_VMMCALL:
		return "vmmcall";
	case HC_TRANSPORT_VMCALL:
		return "vmcall";
	case HC_TRANSPORT_PORT:
		return "port";
	default:
		return "none";
	}
}

static int set_memslots(struct vm *vm, uint32_t flags)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.flags = flags,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.low_size,
		.userspace_addr = (uintptr_t)vm->mem.host,
	};
	int r = kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot);

	if (r < 0 || !vm->mem.high_size)
		return r;
	slot.slot = 1;
	slot.guest_phys_addr = MEM_4G;
	slot.memory_size = vm->mem.high_size;
	slot.userspace_addr = (uintptr_t)(vm->mem.host + vm->mem.low_size);
	return kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot);
}

int vm_set_dirty_log(struct vm *vm, bool on)
{
	return set_memslots(vm, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

static unsigned bits_for(uint64_t top)
{
	unsigned b = 36;

	while (b < 52 && (1ull << b) < top)
		b++;
	return b;
}

static void log_start(struct vm *vm)
{
	struct evlog *log = &vm->log;

	evlog_begin(log, "start", -1, 0);
	evlog_str(log, "version", MINIVMM_VERSION);
	evlog_str(log, "kernel", vm->opts.kernel_path);
	evlog_str(log, "cmdline", vm->opts.cmdline ? vm->opts.cmdline : "");
	evlog_hex(log, "ram", vm->mem.ram_size);
	evlog_u64(log, "cpus", vm->nr_vcpus);
	evlog_str(log, "hypervisor", vm->sys.hv_name);
	evlog_bool(log, "native", vm->native);
	evlog_u64(log, "probe_loop_ns", vm->probe_loop_ns);
	evlog_str(log, "transport", transport_name(vm->transport));
	evlog_str(log, "cpuid", vm->cpuid_agrees ? "agrees" : "differs");
	evlog_bool(log, "sev", vm->opts.sev);
	evlog_u64(log, "cbit", vm->opts.sev ? vm->opts.cbit : 0);
	evlog_bool(log, "check", vm->opts.check);
	evlog_bool(log, "gen_filter", vm->opts.gen_filter);
	evlog_str(log, "sched", vm->opts.sched == SCHED_SERIAL ? "serial" : "parallel");
	evlog_u64(log, "seed", vm->opts.seed);
	if (evlog_enabled(log)) {
		evlog_key(log, "inject");
		fputc('[', log->f);
		for (unsigned i = 0; i < vm->opts.nr_inject; i++) {
			const struct inject_rule *r = &vm->opts.inject[i];

			fprintf(log->f,
				"%s{\"vcpu\":%d,\"kinds\":%u,\"ppm\":%u,\"delay\":%" PRIu64 "}",
				i ? "," : "", r->vcpu, r->kinds, r->prob_ppm, r->delay_us);
		}
		fputc(']', log->f);
		evlog_key(log, "e820");
		fputc('[', log->f);
		for (unsigned i = 0; i < vm->mem.nr_e820; i++)
			fprintf(log->f,
				"%s{\"addr\":\"%#" PRIx64 "\",\"size\":\"%#" PRIx64
				"\",\"type\":%u}",
				i ? "," : "", vm->mem.e820[i].addr, vm->mem.e820[i].size,
				vm->mem.e820[i].type);
		fputc(']', log->f);
	}
	evlog_end(log);
}

/* ---- SEV launch ---- */

/*
 * The guest policy of every launch: NODBG (no DBG_DECRYPT/DBG_ENCRYPT of
 * its memory) | NOKS (no key sharing with another guest), lowest firmware
 * API = the one the emulation implements (SEV API chapter 3; psp.h). Not
 * NOSEND: the guest is migrated.
 */
#define VM_LAUNCH_POLICY                                                                           \
	(PSP_POLICY_NODBG | PSP_POLICY_NOKS | ((uint32_t)PSP_API_MAJOR << 16) |                    \
	 ((uint32_t)PSP_API_MINOR << 24))
#define VM_LAUNCH_REGIONS (ELF_MAX_SEGMENTS + 6)

struct launch_region {
	uint64_t gpa, len;
};

static int launch_region_cmp(const void *a, const void *b)
{
	const struct launch_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/*
 * Everything the VMM placed in guest memory, as GPA-sorted contiguous
 * regions (one LAUNCH_UPDATE_DATA each): the PT_LOAD segments as placed
 * (p_memsz, .bss zeros included), the start-info page (memmap, GDT,
 * params, CPUID table), the command-line page (with the module names),
 * the identity map, the firmware's 4 KiB table, the kernel-image and
 * script modules (whole pages: what the guest can read there).
 *
 * Not measured: the probe's code page, VMM-owned scratch that only the
 * probe executes, before launch (a departure: real SEV runs no guest code
 * before LAUNCH_FINISH, so there the probe would need a VM of its own).
 * The guest never reads it, so its bytes are not part of what it is
 * launched with. Returns the number of regions.
 */
static unsigned launch_regions(const struct vm *vm, struct launch_region *r)
{
	const struct vm_layout *l = &vm->layout;
	unsigned n = 0, out = 0;

	for (unsigned i = 0; i < vm->elf.nr_segments; i++)
		if (vm->elf.seg[i].memsz)
			r[n++] = (struct launch_region){vm->elf.seg[i].paddr, vm->elf.seg[i].memsz};
	r[n++] = (struct launch_region){l->start_info, PAGE_SIZE};
	r[n++] = (struct launch_region){l->cmdline, PAGE_SIZE};
	r[n++] = (struct launch_region){l->pml4, x86_pt_pages(vm->mem.top) * PAGE_SIZE};
	r[n++] = (struct launch_region){l->fw_pt, PAGE_SIZE};
	r[n++] = (struct launch_region){l->mod_kernel, ALIGN_UP(vm->elf_size, PAGE_SIZE)};
	if (l->script_size)
		r[n++] = (struct launch_region){l->mod_script, ALIGN_UP(l->script_size, PAGE_SIZE)};
	qsort(r, n, sizeof(*r), launch_region_cmp);
	for (unsigned i = 0; i < n; i++) {
		if (out && r[out - 1].gpa + r[out - 1].len == r[i].gpa)
			r[out - 1].len += r[i].len;
		else
			r[out++] = r[i];
	}
	return out;
}

/*
 * DESIGN.md "SEV platform emulation", Launch: LAUNCH_START, one
 * LAUNCH_UPDATE_DATA per region, LAUNCH_MEASURE, LAUNCH_FINISH (KVM's
 * order, Documentation/virt/kvm/x86/amd-memory-encryption.rst). There is
 * no guest owner to check the measurement and inject secrets in between
 * (LAUNCH_SECRET): we log it instead. Guest RAM keeps its plaintext (the
 * host view encrypts on read), so nothing is encrypted in place.
 *
 * After this the VMM writes only shared pages, through hostmem_write
 * (device.c, the interrupt queue in the ucall page). Audit of vm.c,
 * vcpu.c, ucall.c, device.c: write_boot_info (twice), the probe's code,
 * the page tables and elf_load all run before this; a kexec re-writes
 * nothing (the guest copies its own module 0); CPU_ON, ucall results and
 * I/O-in data go to registers and struct kvm_run, not guest memory.
 * Returns 0, a psp_status (> 0) or -errno.
 */
static int vm_launch(struct vm *vm)
{
	struct launch_region r[VM_LAUNCH_REGIONS];
	unsigned n = launch_regions(vm, r);
	int ret = psp_launch_start(vm->psp, VM_LAUNCH_POLICY);

	for (unsigned i = 0; i < n && !ret; i++) {
		const void *data = mem_gpa_to_hva(&vm->mem, r[i].gpa, r[i].len);

		ret = data ? psp_launch_update_data(vm->psp, r[i].gpa, data, r[i].len) : -EFAULT;
	}
	if (!ret)
		ret = psp_launch_measure(vm->psp, &vm->launch);
	if (!ret)
		ret = psp_launch_finish(vm->psp);
	return ret;
}

static void hex_string(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The launch event (README "Event log schema"); -v: the same on one line. */
static void log_launch(struct vm *vm)
{
	struct evlog *log = &vm->log;
	char ld[2 * sizeof(vm->launch.ld) + 1], meas[2 * sizeof(vm->launch.measurement) + 1],
		mnonce[2 * sizeof(vm->launch.mnonce) + 1];

	hex_string(ld, vm->launch.ld, sizeof(vm->launch.ld));
	hex_string(meas, vm->launch.measurement, sizeof(vm->launch.measurement));
	hex_string(mnonce, vm->launch.mnonce, sizeof(vm->launch.mnonce));
	evlog_begin(log, "launch", -1, 0);
	evlog_hex(log, "policy", vm->psp->policy);
	evlog_str(log, "ld", ld);
	evlog_str(log, "measurement", meas);
	evlog_str(log, "mnonce", mnonce);
	evlog_end(log);
	if (vm->opts.verbose)
		fprintf(stderr,
			"mini-vmm: launch policy %#" PRIx32 " ld %s measurement %s mnonce %s\n",
			vm->psp->policy, ld, meas, mnonce);
}

void vm_init_empty(struct vm *vm, const struct vm_opts *opts)
{
	memset(vm, 0, sizeof(*vm));
	vm->opts = *opts;
	vm->fd = -1;
	vm->sys.fd = -1;
	vm->t_start_ns = opts->t_start_ns ? opts->t_start_ns : now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
}

int vm_setup_kvm(struct vm *vm)
{
	const struct vm_opts *opts = &vm->opts;
	struct cpuid_opts copts;
	struct sigaction sa;
	int r;

	if (kvm_sys_open(&vm->sys, opts->kvm_path) < 0)
		return EXIT_USAGE;
	if (!vm->sys.has_sync_regs) {
		fprintf(stderr, "mini-vmm: KVM lacks KVM_CAP_SYNC_REGS\n");
		return EXIT_USAGE;
	}
	if (opts->nr_cpus > (unsigned)vm->sys.max_vcpus || opts->nr_cpus > VM_MAX_VCPUS) {
		fprintf(stderr, "mini-vmm: --cpus %u: KVM supports at most %d vCPUs here\n",
			opts->nr_cpus,
			vm->sys.max_vcpus < VM_MAX_VCPUS ? vm->sys.max_vcpus : VM_MAX_VCPUS);
		return EXIT_USAGE;
	}
	vm->nr_vcpus = opts->nr_cpus;
	if (mem_set_ucall_pages(&vm->mem, vm->nr_vcpus) < 0) {
		fprintf(stderr, "mini-vmm: --cpus %u: at most %llu ucall pages\n", opts->nr_cpus,
			(unsigned long long)MEM_UCALL_MAX);
		return EXIT_USAGE;
	}
	vm->hostmem = (struct hostmem){
		.mem = &vm->mem,
		.cbit_mask = opts->sev ? 1ull << opts->cbit : 0,
	};
	if (opts->sev) {
		/*
		 * --sched=serial: every key and nonce from --seed, so a seeded
		 * run repeats byte for byte (psp.h psp_soft_opts); instance 0,
		 * the VM launched here, 1 a migration's destination. Otherwise
		 * from the OS.
		 */
		struct psp_soft_opts popts = {
			.seeded = opts->sched == SCHED_SERIAL || opts->psp_keyed,
			.seed = opts->psp_keyed ? opts->psp_key : opts->seed,
			.instance = opts->incoming.kind != MIGRATE_URI_NONE,
		};

		r = psp_soft_create(&popts, &vm->psp);
		if (r) {
			fprintf(stderr, "mini-vmm: cannot create the software PSP: %s\n",
				strerror(-r));
			return EXIT_USAGE;
		}
		hostmem_attach_psp(&vm->hostmem, vm->psp);
	}
	r = mem_alloc(&vm->mem);
	if (r < 0) {
		fprintf(stderr, "mini-vmm: cannot map %" PRIu64 " bytes of guest RAM: %s\n",
			opts->ram_size, strerror(-r));
		return EXIT_USAGE;
	}
	vm->fd = kvm_ioctl(vm->sys.fd, KVM_CREATE_VM, (void *)0);
	if (vm->fd < 0)
		return EXIT_USAGE;
	if (set_memslots(vm, 0) < 0)
		return EXIT_USAGE;
	copts = (struct cpuid_opts){opts->sev, opts->cbit, bits_for(vm->mem.top)};
	vm->cpuid = x86_build_cpuid(vm->sys.fd, &copts);
	if (!vm->cpuid)
		return EXIT_USAGE;
	vm->is_amd = x86_cpuid_is_amd(vm->cpuid);
	if (msr_install_filter(vm) < 0)
		return EXIT_USAGE;
	if (vm->sys.has_exit_hypercall) {
		struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_HYPERCALL,
					     .args = {1ull << KVM_HC_MAP_GPA_RANGE}};

		if (kvm_ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
			return EXIT_USAGE;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_create(vm, i);
		if (r < 0)
			return EXIT_USAGE;
		/* docs/PVM.md: MSR 0x4b564d10 = 1 lets a 64-bit guest run natively. */
		r = x86_set_msr(vm->vcpus[i].fd, MSR_PVM_NATIVE, 1);
		if (i == 0)
			vm->pvm_msr = r == 1;
		else if (vm->pvm_msr && r != 1)
			return EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	return 0;
}

int vm_setup_runtime(struct vm *vm)
{
	int r = encmap_init(&vm->encmap, mem_nr_pages(&vm->mem));

	if (r < 0) {
		fprintf(stderr, "mini-vmm: cannot allocate the encryption bitmap\n");
		return EXIT_USAGE;
	}
	if (evlog_open(&vm->log, vm->opts.log_path) < 0) {
		fprintf(stderr, "mini-vmm: cannot open log %s: %s\n", vm->opts.log_path,
			strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_opts *opts)
{
	char err[256];
	uint64_t top_guess;
	int r;

	vm_init_empty(vm, opts);
	/* Inputs first: a bad ELF is a usage error even without /dev/kvm. */
	r = read_file(opts->kernel_path, ELF_MAX_FILE_SIZE, &vm->elf_buf, &vm->elf_size);
	if (r < 0) {
		fprintf(stderr, "mini-vmm: %s: %s\n", opts->kernel_path,
			r == -EFBIG ? "file too large" : strerror(-r));
		return EXIT_USAGE;
	}
	if (elf_parse(vm->elf_buf, vm->elf_size, &vm->elf, err, sizeof(err)) < 0) {
		fprintf(stderr, "mini-vmm: %s: %s\n", opts->kernel_path, err);
		return EXIT_USAGE;
	}
	if (opts->script_path) {
		r = read_file(opts->script_path, VM_SCRIPT_MAX, &vm->script_buf, &vm->script_size);
		if (r < 0) {
			fprintf(stderr, "mini-vmm: %s: %s\n", opts->script_path,
				r == -EFBIG ? "file too large (max 1 MiB)" : strerror(-r));
			return EXIT_USAGE;
		}
	}
	top_guess = opts->ram_size > MEM_PCI_HOLE_START
			    ? opts->ram_size + (MEM_4G - MEM_PCI_HOLE_START)
			    : opts->ram_size;
	r = mem_layout(&vm->mem, opts->ram_size, vmm_region_size(vm, top_guess));
	if (r < 0) {
		fprintf(stderr,
			"mini-vmm: -m %" PRIu64 ": no room for the guest and the VMM region\n",
			opts->ram_size);
		return EXIT_USAGE;
	}
	layout_region(vm);
	if (elf_check_placement(&vm->elf, &vm->mem, err, sizeof(err)) < 0) {
		fprintf(stderr, "mini-vmm: %s: %s\n", opts->kernel_path, err);
		return EXIT_USAGE;
	}
	r = vm_setup_kvm(vm);
	if (r)
		return r;
	if (x86_build_identity_map(&vm->mem, vm->layout.pml4, vm->mem.top) < 0 ||
	    (opts->sev && x86_identity_map_encrypt(&vm->mem, vm->layout.pml4, vm->mem.top,
						   1ull << opts->cbit, MEM_FW_SHARED_GPA,
						   vm->mem.fw_shared_end, vm->layout.fw_pt) < 0) ||
	    write_boot_info(vm) < 0) {
		fprintf(stderr, "mini-vmm: VMM region does not fit\n");
		return EXIT_USAGE;
	}

	r = probe(vm);
	if (r < 0) {
		if (r != -ENOTSUP)
			fprintf(stderr, "mini-vmm: hypervisor probe failed: %s\n", strerror(-r));
		return EXIT_USAGE;
	}
	if (vm->pvm_msr && !vm->native && !opts->allow_emulated) {
		fprintf(stderr,
			"mini-vmm: the guest runs emulated on %s (probe loop %" PRIu64
			" ns): refusing; --allow-emulated to run anyway\n",
			vm->sys.hv_name, vm->probe_loop_ns);
		return EXIT_USAGE;
	}
	/* Rewrite params: the transport is known only now. */
	if (write_boot_info(vm) < 0)
		return EXIT_USAGE;
	if (elf_load(&vm->elf, &vm->mem) < 0)
		return EXIT_USAGE;
	if (opts->sev) {
		r = vm_launch(vm);
		if (r) {
			fprintf(stderr, "mini-vmm: SEV launch failed: %s\n",
				r > 0 ? psp_status_name(r) : strerror(-r));
			return EXIT_USAGE;
		}
	}

	r = vm_setup_runtime(vm);
	if (r)
		return r;
	if (opts->sev) {
		/*
		 * As OVMF would: the firmware window and the ucall pages (our
		 * GHCBs) are shared from the start.
		 */
		struct encmap_prov fw = {ENCMAP_VCPU_FIRMWARE, 0, 0};

		encmap_set_shared(&vm->encmap, MEM_FW_SHARED_GPA >> PAGE_SHIFT,
				  (vm->mem.fw_shared_end - MEM_FW_SHARED_GPA) >> PAGE_SHIFT, &fw);
	}
	log_start(vm);
	if (opts->sev) {
		log_launch(vm);
		pthread_mutex_lock(&vm->lock);
		check_snapshot_locked(vm, NULL, "firmware");
		pthread_mutex_unlock(&vm->lock);
	}
	if (opts->verbose)
		fprintf(stderr,
			"mini-vmm: hypervisor %s, %s (probe loop %" PRIu64
			" ns), hypercall transport %s, CPUID %s, %u vCPU(s), %" PRIu64 " MiB\n",
			vm->sys.hv_name, vm->native ? "native" : "emulated", vm->probe_loop_ns,
			transport_name(vm->transport),
			vm->cpuid_agrees ? "agrees with the firmware table"
					 : "differs from the firmware table (not virtualized here)",
			vm->nr_vcpus, vm->mem.ram_size >> 20);

	vm->vcpus[0].start_rip = vm->elf.entry;
	vm->vcpus[0].start_rsp = 0;
	vm->vcpus[0].start_rdi = vm->layout.start_info;
	vm->vcpus[0].start_cr3 = vm->layout.pml4;
	vm->vcpus[0].state = VCPU_PENDING;
	/* msr.rst: a guest with encrypted memory starts not migratable. */
	vm->mig.last_change_ns = now_ns();
	vm->mig.windows = opts->sev ? 1 : 0;
	device_init(&vm->device, opts->seed, opts->device_ppm);
	if (sched_init(vm) < 0)
		return EXIT_USAGE;
	return 0;
}

static void watchdog(struct vm *vm, uint64_t *last_exits, uint64_t *stuck_ticks)
{
	bool any_alive = false;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->state == VCPU_RUNNING || v->state == VCPU_PENDING)
			any_alive = true;
		if (v->state != VCPU_RUNNING) {
			stuck_ticks[i] = 0;
			continue;
		}
		if (v->exits == last_exits[i]) {
			stuck_ticks[i]++;
			vcpu_kick(v);
		} else {
			stuck_ticks[i] = 0;
		}
		last_exits[i] = v->exits;
		if (vm->opts.sched == SCHED_SERIAL &&
		    stuck_ticks[i] * WATCHDOG_TICK_MS * 1000000ull >= SCHED_SPIN_LIMIT_NS)
			vm_stop_locked(vm, EXIT_GUEST_CRASH,
				       "vCPU %u ran %llu ms without an exit under --sched=serial: "
				       "guest wait loops must YIELD",
				       i, (unsigned long long)(SCHED_SPIN_LIMIT_NS / 1000000));
	}
	if (!any_alive)
		vm_stop_locked(vm, EXIT_GUEST_CRASH, "every vCPU is parked: nothing left to run");
}

int vm_run(struct vm *vm)
{
	uint64_t deadline = now_ns() + vm->opts.timeout_s * 1000000000ull;
	uint64_t last_exits[VM_MAX_VCPUS] = {0}, stuck[VM_MAX_VCPUS] = {0};

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vcpu_start_thread(&vm->vcpus[i]) < 0) {
			vm_stop(vm, EXIT_USAGE, "cannot start vCPU threads");
			break;
		}
	pthread_mutex_lock(&vm->lock);
	while (!vm->stopping) {
		struct timespec ts;
		uint64_t now = now_ns(), wake = now + WATCHDOG_TICK_MS * 1000000ull;

		if (vm->mig_precopy && vm->mig_ops) {
			vm->mig_ops->precopy_locked(vm);
			continue;
		}
		/* Before waiting: the last vCPU may have stopped before we got here. */
		if (vm->mig_pause && vm->mig_ops && migrate_quiet_locked(vm)) {
			vm->mig_ops->source_locked(vm);
			continue;
		}
		if (now >= deadline) {
			vm_stop_locked(vm, EXIT_TIMEOUT, "timeout after %" PRIu64 " s",
				       vm->opts.timeout_s);
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCHDOG_TICK_MS * 1000000l;
		if (ts.tv_nsec >= 1000000000l) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000l;
		}
		pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		/* No watchdog while a migration holds the vCPUs. */
		if (vm->mig_pause)
			continue;
		if (vm->opts.sched != SCHED_SERIAL)
			migrate_check_wait_locked(vm);
		if (!vm->stopping && now_ns() >= wake)
			watchdog(vm, last_exits, stuck);
	}
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		while (v->thread_started) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
				break;
			vcpu_kick(v);
		}
		v->thread_started = false;
	}

	/* docs/PVM.md: only this statistic shows a fall back to emulation. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		uint64_t n = 0;

		vm->userspace_exits += vm->vcpus[i].exits;
		if (kvm_read_stat(vm->vcpus[i].fd, "insn_emulation", &n) == 0)
			vm->insn_emulation += n;
		if (kvm_read_stat(vm->vcpus[i].fd, "exits", &n) == 0)
			vm->kvm_exits += n;
	}
	if (vm->opts.verbose > 1)
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			char prefix[32];

			snprintf(prefix, sizeof(prefix), "mini-vmm: vcpu%u stat ", i);
			kvm_dump_stats(vm->vcpus[i].fd, prefix, stderr);
		}
	if (vm->opts.verbose)
		fprintf(stderr,
			"mini-vmm: first guest instruction after %" PRIu64 " us, %" PRIu64
			" instructions emulated\n",
			(vm->t_first_run_ns - vm->t_start_ns) / 1000, vm->insn_emulation);
	pthread_mutex_lock(&vm->lock);
	verify_finish_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	if (vm->exit_status == EXIT_OK && vm->checks_failed) {
		vm->exit_status = EXIT_CHECK_FAILED;
		snprintf(vm->exit_reason, sizeof(vm->exit_reason),
			 "guest finished, but %" PRIu64 " of %" PRIu64 " bitmap checks failed",
			 vm->checks_failed, vm->checks_run);
	}
	sched_finish(vm);
	pthread_mutex_lock(&vm->lock);
	migrate_check_wait_locked(vm);
	if (vm->mig_done) {
		/* The run goes on at the destination, whose log ends it. */
		pthread_mutex_unlock(&vm->lock);
		return vm->exit_status;
	}
	if (vm->opts.sev) {
		check_snapshot_locked(vm, NULL, "exit");
		check_migration_summary(vm);
	}
	evlog_begin(&vm->log, "exit", -1, vm->generation);
	evlog_u64(&vm->log, "status", (uint64_t)vm->exit_status);
	evlog_str(&vm->log, "reason", vm->exit_reason);
	evlog_u64(&vm->log, "hypercalls", vm->hypercalls);
	evlog_u64(&vm->log, "hypercall_errors", vm->hypercall_errors);
	evlog_u64(&vm->log, "checks_run", vm->checks_run);
	evlog_u64(&vm->log, "checks_failed", vm->checks_failed);
	evlog_u64(&vm->log, "first_run_ns", vm->t_first_run_ns - vm->t_start_ns);
	evlog_u64(&vm->log, "insn_emulation", vm->insn_emulation);
	evlog_u64(&vm->log, "kvm_exits", vm->kvm_exits);
	evlog_u64(&vm->log, "userspace_exits", vm->userspace_exits);
	evlog_end(&vm->log);
	pthread_mutex_unlock(&vm->lock);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		if (vm->vcpus[i].vm)
			vcpu_destroy(&vm->vcpus[i]);
	if (vm->fd >= 0)
		close(vm->fd);
	kvm_sys_close(&vm->sys);
	mem_free(&vm->mem);
	/* The VM's keys go with it (psp_destroy wipes them). */
	vm->hostmem = (struct hostmem){.mem = NULL};
	psp_destroy(vm->psp);
	vm->psp = NULL;
	encmap_destroy(&vm->encmap);
	verify_free(vm);
	sched_destroy(vm);
	evlog_close(&vm->log);
	free(vm->cpuid);
	free(vm->elf_buf);
	free(vm->script_buf);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
}
