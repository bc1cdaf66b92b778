// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm_probe: a standalone raw-ioctl check that a guest hypercall reaches
 * userspace as KVM_EXIT_HYPERCALL. Built statically for the nested kvm_amd
 * harness (tests/nested/), no project dependencies.
 *
 *   kvm_probe vmmcall|vmcall [real|long] [timeout_s]
 *
 * The guest (1 vCPU, real mode or 64-bit long mode) runs
 *   mov $12,%eax; mov $0x1000,%ebx; mov $1,%ecx; mov $0,%edx; VMMCALL|VMCALL; hlt
 * with KVM_CAP_EXIT_HYPERCALL enabled for KVM_HC_MAP_GPA_RANGE (1 << 12).
 * Expected: KVM_EXIT_HYPERCALL with nr 12, args 0x1000, 1, 0 and the
 * long-mode flag matching the mode; the probe sets hypercall.ret, then
 * expects KVM_EXIT_HLT with that value in RAX.
 *
 * Exit status: 0 all seen as expected, 1 an unexpected exit or value (or no
 * exit before the timeout), 2 setup failure (no /dev/kvm, ioctl refused).
 */
#define _GNU_SOURCE /* sigaction, MAP_ANONYMOUS under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef KVM_CAP_EXIT_HYPERCALL
#define KVM_CAP_EXIT_HYPERCALL 201
#endif
#ifndef KVM_EXIT_HYPERCALL
#define KVM_EXIT_HYPERCALL 3
#endif
#define HC_MAP_GPA_RANGE 12 /* KVM_HC_MAP_GPA_RANGE, linux/kvm_para.h */

#define MEM_SIZE  0x200000ul /* 2 MiB, identity mapped in long mode */
#define PML4_ADDR 0x1000ul   /* odd frames: also native on kvm_pvm */
#define PDPT_ADDR 0x3000ul
#define PD_ADDR	  0x5000ul
#define CODE_ADDR 0x8000ul
#define HC_RET	  0x600dcafeul /* fits 32 bits: real mode truncates ret */

/* Guest code. The assembler picks the operand-size prefixes per mode. */
#define GUEST_BODY(insn)                                                                           \
	"mov $12, %eax\n\tmov $0x1000, %ebx\n\tmov $1, %ecx\n\tmov $0, %edx\n\t" insn "\n\thlt\n"  \
	"\t"
__asm__(".pushsection .rodata\n"
	".code16\n"
	"g16_vmmcall: " GUEST_BODY(
		"vmmcall") "g16_vmmcall_end:\n"
			   "g16_vmcall: " GUEST_BODY(
				   "vmcall") "g16_vmcall_end:\n"
					     ".code64\n"
					     "g64_vmmcall: " GUEST_BODY(
						     "vmmcall") "g64_vmmcall_end:\n"
								"g64_vmcall: " GUEST_BODY(
									"vmcall") "g64_vmcall_end:"
										  "\n"
										  ".popsection\n");
extern const uint8_t g16_vmmcall[], g16_vmmcall_end[], g16_vmcall[], g16_vmcall_end[];
extern const uint8_t g64_vmmcall[], g64_vmmcall_end[], g64_vmcall[], g64_vmcall_end[];

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		fprintf(stderr, "kvm_probe: %s: %s\n", what, strerror(errno));
	return r;
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN:
		return "UNKNOWN";
	case KVM_EXIT_EXCEPTION:
		return "EXCEPTION";
	case KVM_EXIT_IO:
		return "IO";
	case KVM_EXIT_HYPERCALL:
		return "HYPERCALL";
	case KVM_EXIT_HLT:
		return "HLT";
	case KVM_EXIT_MMIO:
		return "MMIO";
	case KVM_EXIT_SHUTDOWN:
		return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "FAIL_ENTRY";
	case KVM_EXIT_INTR:
		return "INTR";
	case KVM_EXIT_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	default:
		return "?";
	}
}

/* Run once; returns the exit reason, or -1 on error/timeout. */
static int run_vcpu(int vcpu, struct kvm_run *run, unsigned timeout_s)
{
	timed_out = 0;
	alarm(timeout_s);
	int r = ioctl(vcpu, KVM_RUN, 0);
	int err = errno;
	alarm(0);
	if (r < 0) {
		if (err == EINTR && timed_out)
			fprintf(stderr,
				"kvm_probe: KVM_RUN gave no exit within %u s "
				"(hypercall not delivered to userspace?)\n",
				timeout_s);
		else
			fprintf(stderr, "kvm_probe: KVM_RUN: %s\n", strerror(err));
		return -1;
	}
	printf("kvm_probe: exit %u (%s)\n", run->exit_reason, exit_name(run->exit_reason));
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		printf("kvm_probe:   internal error suberror %u\n", run->internal.suberror);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		printf("kvm_probe:   fail entry reason 0x%llx\n",
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	return (int)run->exit_reason;
}

static int set_cpuid(int kvm, int vcpu)
{
	int n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	if (!c)
		return -1;
	c->nent = n;
	if (xioctl(kvm, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID") < 0 ||
	    xioctl(vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2") < 0) {
		free(c);
		return -1;
	}
	free(c);
	return 0;
}

static int setup_real(int vcpu)
{
	struct kvm_sregs s;
	if (xioctl(vcpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS") < 0)
		return -1;
	s.cs.base = 0;
	s.cs.selector = 0;
	return xioctl(vcpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS");
}

static int setup_long(int vcpu, uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(mem + PD_ADDR);
	pml4[0] = PDPT_ADDR | 0x7; /* P|RW|US */
	pdpt[0] = PD_ADDR | 0x7;
	pd[0] = 0x0 | 0x87; /* 2 MiB page, P|RW|US|PS */

	struct kvm_sregs s;
	if (xioctl(vcpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS") < 0)
		return -1;
	struct kvm_segment cs = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = 0x08,
		.type = 0xb,
		.present = 1,
		.dpl = 0,
		.db = 0,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment ds = cs;
	ds.selector = 0x10;
	ds.type = 0x3;
	ds.l = 0;
	ds.db = 1;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.cr3 = PML4_ADDR;
	s.cr4 = 0x620;	    /* PAE | OSFXSR | OSXMMEXCPT */
	s.cr0 = 0x80050033; /* PG | AM | WP | NE | ET | MP | PE */
	s.efer = 0x501;	    /* SCE | LME | LMA */
	return xioctl(vcpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS");
}

static void usage(void)
{
	fprintf(stderr, "usage: kvm_probe vmmcall|vmcall [real|long] [timeout_s]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || argc > 4)
		usage();
	int use_vmcall;
	if (!strcmp(argv[1], "vmmcall"))
		use_vmcall = 0;
	else if (!strcmp(argv[1], "vmcall"))
		use_vmcall = 1;
	else
		usage();
	int longmode = 0;
	if (argc >= 3) {
		if (!strcmp(argv[2], "long"))
			longmode = 1;
		else if (strcmp(argv[2], "real"))
			usage();
	}
	unsigned timeout_s = argc >= 4 ? (unsigned)strtoul(argv[3], NULL, 0) : 30;
	if (!timeout_s)
		timeout_s = 30;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIGALRM, &sa, NULL);

	const uint8_t *code, *code_end;
	if (longmode) {
		code = use_vmcall ? g64_vmcall : g64_vmmcall;
		code_end = use_vmcall ? g64_vmcall_end : g64_vmmcall_end;
	} else {
		code = use_vmcall ? g16_vmcall : g16_vmmcall;
		code_end = use_vmcall ? g16_vmcall_end : g16_vmmcall_end;
	}
	size_t code_len = (size_t)(code_end - code);
	size_t insn_off = code_len - 4; /* the 3-byte hypercall insn, then hlt */
	printf("kvm_probe: mode=%s insn=%s\n", longmode ? "long" : "real", argv[1]);

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_probe: /dev/kvm: %s\n", strerror(errno));
		return 2;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "kvm_probe: KVM API %d, want %d\n", api, KVM_API_VERSION);
		return 2;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm_probe: KVM_CREATE_VM: %s\n", strerror(errno));
		return 2;
	}
	int mask = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
	printf("kvm_probe: KVM_CAP_EXIT_HYPERCALL mask 0x%x\n", mask < 0 ? 0 : mask);
	if (mask < 0 || !(mask & (1 << HC_MAP_GPA_RANGE))) {
		fprintf(stderr, "kvm_probe: KVM_HC_MAP_GPA_RANGE exit not offered\n");
		return 2;
	}
	struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_HYPERCALL};
	cap.args[0] = 1ull << HC_MAP_GPA_RANGE;
	if (xioctl(vm, KVM_ENABLE_CAP, &cap, "KVM_ENABLE_CAP(EXIT_HYPERCALL)") < 0)
		return 2;
	/* Needed for real mode on VMX; harmless on SVM. */
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);

	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("kvm_probe: mmap");
		return 2;
	}
	memcpy(mem + CODE_ADDR, code, code_len);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION") < 0)
		return 2;

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fprintf(stderr, "kvm_probe: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 2;
	}
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		fprintf(stderr, "kvm_probe: KVM_GET_VCPU_MMAP_SIZE failed\n");
		return 2;
	}
	struct kvm_run *run =
		mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		perror("kvm_probe: mmap kvm_run");
		return 2;
	}
	if (set_cpuid(kvm, vcpu) < 0)
		return 2;
	if ((longmode ? setup_long(vcpu, mem) : setup_real(vcpu)) < 0)
		return 2;
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rflags = 0x2;
	if (xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS") < 0)
		return 2;

	int fail = 0;
	int r = run_vcpu(vcpu, run, timeout_s);
	if (r != KVM_EXIT_HYPERCALL) {
		fprintf(stderr, "kvm_probe: FAIL: expected KVM_EXIT_HYPERCALL\n");
		return 1;
	}
	printf("kvm_probe:   hypercall nr=%llu args=0x%llx,0x%llx,0x%llx longmode=%u\n",
	       (unsigned long long)run->hypercall.nr, (unsigned long long)run->hypercall.args[0],
	       (unsigned long long)run->hypercall.args[1],
	       (unsigned long long)run->hypercall.args[2], run->hypercall.longmode);
	if (run->hypercall.nr != HC_MAP_GPA_RANGE || run->hypercall.args[0] != 0x1000 ||
	    run->hypercall.args[1] != 1 || run->hypercall.args[2] != 0) {
		fprintf(stderr, "kvm_probe: FAIL: want nr=12 args=0x1000,0x1,0x0\n");
		fail = 1;
	}
	if (!!(run->hypercall.longmode & 1) != longmode) {
		fprintf(stderr, "kvm_probe: FAIL: longmode flag %u, want %d\n",
			run->hypercall.longmode, longmode);
		fail = 1;
	}
	run->hypercall.ret = HC_RET;

	r = run_vcpu(vcpu, run, timeout_s);
	if (r != KVM_EXIT_HLT) {
		fprintf(stderr, "kvm_probe: FAIL: expected KVM_EXIT_HLT\n");
		return 1;
	}
	if (xioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS") < 0)
		return 2;
	printf("kvm_probe:   after hlt rax=0x%llx rip=0x%llx\n", (unsigned long long)regs.rax,
	       (unsigned long long)regs.rip);
	if (regs.rax != HC_RET) {
		fprintf(stderr, "kvm_probe: FAIL: rax 0x%llx, want hypercall.ret 0x%lx\n",
			(unsigned long long)regs.rax, HC_RET);
		fail = 1;
	}
	if (regs.rip != CODE_ADDR + code_len) {
		fprintf(stderr, "kvm_probe: FAIL: rip 0x%llx, want 0x%lx (past hlt)\n",
			(unsigned long long)regs.rip, CODE_ADDR + code_len);
		fail = 1;
	}
	const uint8_t *now = mem + CODE_ADDR + insn_off;
	int patched = memcmp(now, code + insn_off, 3) != 0;
	printf("kvm_probe:   hypercall insn bytes now %02x %02x %02x%s\n", now[0], now[1], now[2],
	       patched ? " (rewritten by KVM)" : "");

	printf("kvm_probe: %s mode=%s insn=%s\n", fail ? "FAIL" : "PASS",
	       longmode ? "long" : "real", argv[1]);
	return fail;
}
