/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mini-vmm migration stream, version 1.0: what a source sends and a
 * destination (or a snapshot file) receives. Every byte is described in
 * docs/stream.md; this header holds its constants and wire structs.
 * Freestanding: only <stdint.h> and <stddef.h> (and the ABI header).
 *
 * All integers are little-endian, every struct has explicit padding and a
 * _Static_assert on its size. Shapes taken from peers (docs/MIGRATION.md 9):
 * a magic and a version checked first and a checksum checked before a byte
 * is parsed (Firecracker's snapshot format), typed sections with ids
 * (QEMU docs/devel/migration/main.rst), one documented order the reader
 * enforces as a state machine (Cloud Hypervisor vm-migration protocol.rs).
 * Unlike QEMU and Cloud Hypervisor, every section, RAM included, is
 * length-bounded and CRC32C-checked.
 *
 * Stream = header, then sections. Section = struct mvs_section, payload of
 * `length` bytes, u32 trailer CRC. The reader (vmm/stream.c) treats all of
 * it as hostile.
 */
#ifndef MINIVMM_STREAM_H
#define MINIVMM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "minivmm/abi.h"

/* ---- stream header ---------------------------------------------------- */

/*
 * "MVMS" then CR LF SUB LF, PNG's trick: a text-mode transfer that mangles
 * line ends or a DOS type(1) stopping at ^Z breaks the magic, not a later
 * section.
 */
#define MVS_MAGIC	  "MVMS\r\n\x1a\n"
#define MVS_MAGIC_LEN	  8
#define MVS_VERSION_MAJOR 1 /* must match exactly */
#define MVS_VERSION_MINOR 0 /* a stream's minor must be <= ours */

struct mvs_header {
	uint8_t magic[MVS_MAGIC_LEN];
	uint16_t major;
	uint16_t minor;
	uint32_t flags;	   /* none defined in 1.0: must be 0 */
	uint32_t reserved; /* 0 */
	uint32_t crc;	   /* CRC32C of the 20 bytes before it */
};
_Static_assert(sizeof(struct mvs_header) == 24, "mvs_header size");
_Static_assert(offsetof(struct mvs_header, crc) == 20, "mvs_header crc");

/* ---- sections --------------------------------------------------------- */

/* Section types are four ASCII characters, so a hexdump reads them. */
#define MVS_FOURCC(a, b, c, d)                                                                     \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum mvs_section_type {
	MVS_SEC_CONFIG = MVS_FOURCC('C', 'O', 'N', 'F'),
	MVS_SEC_SESSION = MVS_FOURCC('S', 'E', 'S', 'S'),
	MVS_SEC_RAM = MVS_FOURCC('R', 'A', 'M', ' '),
	MVS_SEC_ROUND = MVS_FOURCC('R', 'N', 'D', ' '),
	MVS_SEC_BITMAP = MVS_FOURCC('B', 'M', 'A', 'P'),
	MVS_SEC_VCPU = MVS_FOURCC('V', 'C', 'P', 'U'),
	MVS_SEC_VMSTATE = MVS_FOURCC('V', 'M', 'S', 'T'),
	MVS_SEC_END = MVS_FOURCC('E', 'N', 'D', ' '),
};

/*
 * Section header. hcrc covers the 20 bytes before it, so type, id and
 * length are trusted (and a buffer sized from length) only after it
 * matched. The trailer after the payload is CRC32C(payload || hcrc): it
 * covers every payload byte and, through hcrc, binds the header to it,
 * and a writer can compute it page by page before it knows the length.
 */
struct mvs_section {
	uint32_t type;	 /* enum mvs_section_type */
	uint32_t id;	 /* instance: vCPU index, round, bitmap chunk; 0 for singletons */
	uint64_t length; /* payload bytes, bounded per type (MVS_*_MAX) */
	uint32_t seq;	 /* index of this section in the stream, from 0 */
	uint32_t hcrc;	 /* CRC32C of type, id, length, seq */
};
_Static_assert(sizeof(struct mvs_section) == 24, "mvs_section size");
_Static_assert(offsetof(struct mvs_section, hcrc) == 20, "mvs_section hcrc");
#define MVS_TRAILER_SIZE 4u

/* ---- CONFIG: everything a destination needs without the ELF ------------ */

/* Limits, equal to mini-vmm's own (static asserts in vmm/stream.c). */
#define MVS_MEM_MIN	  (16ull << 20)
#define MVS_MEM_MAX	  (1ull << 40)
#define MVS_MEM_ALIGN	  (1ull << 20) /* whole MiB */
#define MVS_CPUS_MAX	  64u
#define MVS_CBIT_MIN	  52u
#define MVS_CBIT_MAX	  62u
#define MVS_SLOTS_MAX	  2u /* below the PCI hole and from 4 GiB on */
#define MVS_INJECT_MAX	  4u
#define MVS_DELAY_MAX	  10000000ull /* --inject delay, us or scheduler steps */
#define MVS_PPM_MAX	  1000000u
#define MVS_TIMEOUT_MAX	  86400ull
#define MVS_SCRIPT_MAX	  (1ull << 20)
#define MVS_PAGE_SIZE	  4096u
#define MVS_VCPU_FIRMWARE 0xffffffffu /* provenance "firmware" */

#define MVS_CFG_SEV	   (1u << 0) /* emulated SEV platform (--sev) */
#define MVS_CFG_GEN_FILTER (1u << 1) /* --gen-filter */
#define MVS_CFG_CHECK	   (1u << 2) /* checks at reset and READY */
#define MVS_CFG_STORY	   (1u << 3) /* print every checked point */
#define MVS_CFG_ALL	   0xfu

enum mvs_sched {
	MVS_SCHED_PARALLEL = 0,
	MVS_SCHED_SERIAL = 1,
};

/* A memslot: guest-physical [gpa, gpa + size), backed by RAM. */
struct mvs_slot {
	uint64_t gpa;
	uint64_t size;
};

/* An --inject rule (vmm/vm.h struct inject_rule). */
struct mvs_inject {
	int32_t vcpu;	   /* -1 any, else < nr_cpus */
	uint32_t kinds;	   /* 1 hypercall | 2 ucall | 4 msr, not 0 */
	uint32_t prob_ppm; /* <= 1000000 */
	uint32_t reserved; /* 0 */
	uint64_t delay_us; /* <= MVS_DELAY_MAX */
};
_Static_assert(sizeof(struct mvs_inject) == 24, "mvs_inject size");

/* The VMM region's layout (vmm/vm.h struct vm_layout), in that order. */
enum mvs_layout_field {
	MVS_L_START_INFO,
	MVS_L_MODLIST,
	MVS_L_MEMMAP,
	MVS_L_GDT,
	MVS_L_PARAMS,
	MVS_L_CPUID_TABLE,
	MVS_L_CMDLINE,
	MVS_L_PROBE_CODE,
	MVS_L_PML4,
	MVS_L_FW_PT,
	MVS_L_MOD_KERNEL,
	MVS_L_MOD_SCRIPT,
	MVS_L_SCRIPT_SIZE, /* a size, <= MVS_SCRIPT_MAX; the others are GPAs */
	MVS_L_END,
	MVS_L_COUNT
};

struct mvs_config {
	uint64_t ram_size;		      /* bytes: MVS_MEM_MIN..MVS_MEM_MAX, whole MiB */
	uint32_t nr_cpus;		      /* 1..MVS_CPUS_MAX */
	uint32_t flags;			      /* MVS_CFG_* */
	uint32_t cbit;			      /* MVS_CBIT_MIN..MVS_CBIT_MAX */
	uint32_t transport;		      /* enum minivmm_transport, 0..3 */
	uint32_t sched;			      /* enum mvs_sched */
	uint32_t nr_slots;		      /* 1..MVS_SLOTS_MAX */
	uint64_t seed;			      /* --seed */
	uint64_t timeout_s;		      /* 1..MVS_TIMEOUT_MAX */
	struct mvs_slot slots[MVS_SLOTS_MAX]; /* unused: 0 */
	uint64_t vmm_region_gpa;	      /* inside slot 0 */
	uint64_t vmm_region_size;
	uint64_t fw_shared_gpa; /* firmware-shared window + ucall pages, inside slot 0 */
	uint64_t fw_shared_size;
	uint64_t ucall_gpa;	      /* nr_cpus ucall pages inside the firmware-shared range */
	uint64_t layout[MVS_L_COUNT]; /* GPAs inside the VMM region */
	uint32_t nr_inject;	      /* 0..MVS_INJECT_MAX */
	uint32_t reserved;	      /* 0 */
	struct mvs_inject inject[MVS_INJECT_MAX]; /* unused: 0 */
	struct minivmm_cpuid_table cpuid;	  /* the firmware CPUID table; unused entries 0 */
};
_Static_assert(sizeof(struct mvs_config) == 536, "mvs_config size");
_Static_assert(offsetof(struct mvs_config, slots) == 48, "mvs_config slots");
_Static_assert(offsetof(struct mvs_config, layout) == 120, "mvs_config layout");
_Static_assert(offsetof(struct mvs_config, inject) == 240, "mvs_config inject");
_Static_assert(offsetof(struct mvs_config, cpuid) == 336, "mvs_config cpuid");

/* ---- SESSION: what RECEIVE_START needs (docs/MIGRATION.md 1) ---------- */

/*
 * Sizes of the PSP's blobs (sev-tool PACKET_HDR: u32 flags, IV[16],
 * MAC[32]; session: nonce, wrapped TEK||TIK, IV, MACs; PDH: uncompressed
 * P-384 point 0x04||X||Y). They must equal vmm/psp.h's: a later merge adds
 * a _Static_assert there.
 */
#define MVS_PSP_PACKET_HDR_SIZE 52u
#define MVS_PSP_SESSION_SIZE	128u
#define MVS_PSP_PDH_SIZE	97u

struct mvs_session {
	uint32_t policy;		       /* guest policy, in clear */
	uint32_t reserved;		       /* 0 */
	uint8_t session[MVS_PSP_SESSION_SIZE]; /* SEND_START's session blob */
	uint8_t pdh[MVS_PSP_PDH_SIZE];	       /* the source's PDH public key */
	uint8_t pad[7];			       /* 0 */
};
_Static_assert(sizeof(struct mvs_session) == 240, "mvs_session size");

/* ---- RAM: a batch of page records; ROUND closes a pre-copy round ------ */

enum mvs_page_kind {
	MVS_PAGE_SHARED_PLAIN = 1, /* 4096 bytes: the host view as-is */
	MVS_PAGE_PRIVATE_PSP = 2,  /* 52-byte packet header + 4096 bytes of transport ciphertext */
	MVS_PAGE_ZERO = 3,	   /* no data: the page is all zero */
};

/* Followed by 0, 4096 or 4148 bytes of data (by kind). */
struct mvs_page {
	uint64_t gpa;	   /* page aligned, inside a slot, increasing in a batch */
	uint32_t kind;	   /* enum mvs_page_kind */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct mvs_page) == 16, "mvs_page size");

#define MVS_PAGE_DATA_PSP (MVS_PSP_PACKET_HDR_SIZE + MVS_PAGE_SIZE)
/* Pages in one RAM section: 2 MiB of payload at most, one reader buffer. */
#define MVS_RAM_BATCH_PAGES 512u
#define MVS_RAM_MAX	    ((uint64_t)MVS_RAM_BATCH_PAGES * (sizeof(struct mvs_page) + MVS_PAGE_DATA_PSP))

#define MVS_ROUND_FINAL (1u << 0) /* stop-and-copy: the last round, VM stopped */

struct mvs_round {
	uint64_t pages;	   /* page records in this round's RAM sections */
	uint32_t flags;	   /* MVS_ROUND_FINAL */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct mvs_round) == 16, "mvs_round size");

/* ---- BITMAP: the shared runs with provenance (vmm/encmap.h) ------------ */

struct mvs_run {
	uint64_t start_page; /* page frame numbers: [start_page, end_page) */
	uint64_t end_page;
	uint32_t vcpu; /* vCPU index or MVS_VCPU_FIRMWARE */
	uint32_t generation;
	uint64_t seq; /* event sequence number */
};
_Static_assert(sizeof(struct mvs_run) == 32, "mvs_run size");
#define MVS_BITMAP_RUNS_MAX 4096u
#define MVS_BITMAP_MAX	    ((uint64_t)MVS_BITMAP_RUNS_MAX * sizeof(struct mvs_run))

/* ---- VCPU: mini-vmm's per-vCPU state, then KVM's state items ---------- */

enum mvs_ap_state {
	MVS_AP_OFF = 0,	    /* never started or parked */
	MVS_AP_PENDING = 1, /* CPU_ON received: start_* hold its entry */
	MVS_AP_RUNNING = 2,
};

struct mvs_vcpu_state {
	uint64_t migration_ctl; /* MSR_KVM_MIGRATION_CONTROL as written: 0 or 1 */
	uint32_t ap_state;	/* enum mvs_ap_state */
	uint32_t generation;	/* boot generation of the code it runs */
	uint64_t start_rip;	/* the four start_*: 0 unless PENDING */
	uint64_t start_rsp;
	uint64_t start_rdi;
	uint64_t start_cr3;
	uint64_t inject_rng;  /* injection PRNG state */
	uint64_t inject_hold; /* serial: steps left before completing an exit */
};
_Static_assert(sizeof(struct mvs_vcpu_state) == 64, "mvs_vcpu_state size");

/*
 * Then items, each struct mvs_item and `length` bytes of a <linux/kvm.h>
 * struct (x86-64 layout) padded with zeros to 8 bytes, in restore order
 * (docs/MIGRATION.md 5, Firecracker vcpu.rs): REGS, SREGS2 or SREGS,
 * XSAVE, XCRS, DEBUGREGS, MSRS, VCPU_EVENTS.
 */
enum mvs_item_tag {
	MVS_ITEM_REGS = 1,	  /* struct kvm_regs, 144 */
	MVS_ITEM_SREGS = 2,	  /* struct kvm_sregs, 312 */
	MVS_ITEM_SREGS2 = 3,	  /* struct kvm_sregs2, 320 */
	MVS_ITEM_XSAVE = 4,	  /* 4096..MVS_XSAVE_MAX, multiple of 4 (KVM_CAP_XSAVE2 size) */
	MVS_ITEM_XCRS = 5,	  /* struct kvm_xcrs, 392 */
	MVS_ITEM_DEBUGREGS = 6,	  /* struct kvm_debugregs, 128 */
	MVS_ITEM_MSRS = 7,	  /* struct kvm_msrs + nmsrs struct kvm_msr_entry */
	MVS_ITEM_VCPU_EVENTS = 8, /* struct kvm_vcpu_events, 64 */
};

struct mvs_item {
	uint32_t tag;	 /* enum mvs_item_tag */
	uint32_t length; /* bytes that follow, before padding */
};
_Static_assert(sizeof(struct mvs_item) == 8, "mvs_item size");

#define MVS_XSAVE_MIN 4096u
#define MVS_XSAVE_MAX 65536u
#define MVS_MSRS_MAX  256u
#define MVS_VCPU_MAX  (80u * 1024) /* >= the largest valid payload (vmm/stream.c) */

/* ---- VMSTATE: VM-wide state ----------------------------------------- */

#define MVS_VM_MIGRATION_READY (1u << 0) /* the VM-wide verdict of msr.c */
#define MVS_SCHED_WORDS_MAX    64u
#define MVS_DEVICE_MAX	       65536u

/* Followed by nr_sched_words u64, then device_len bytes padded with 0 to 8. */
struct mvs_vmstate {
	uint64_t log_seq; /* last event sequence number handed out */
	uint64_t t_ns;	  /* source's time since its start when state was saved */
	uint32_t generation;
	uint32_t hc_generation; /* --gen-filter: newest generation seen in hypercalls */
	uint32_t checked_generation;
	uint32_t flags; /* MVS_VM_* */
	uint64_t mig_last_change_ns;
	uint64_t mig_blocked_since_seq;
	uint64_t mig_blocked_ns;
	uint64_t mig_blocked_events;
	uint64_t mig_windows;
	uint64_t mig_points;
	uint64_t mig_unsafe_points;
	uint64_t mig_first_unsafe_seq;
	uint64_t hypercalls;
	uint64_t hypercall_errors; /* <= hypercalls */
	uint64_t checks_run;
	uint64_t checks_failed;	 /* <= checks_run */
	uint32_t nr_sched_words; /* scheduler and PRNG states, opaque, <= MVS_SCHED_WORDS_MAX */
	uint32_t device_len;	 /* device state, opaque, <= MVS_DEVICE_MAX */
};
_Static_assert(sizeof(struct mvs_vmstate) == 136, "mvs_vmstate size");
#define MVS_VMSTATE_MAX (sizeof(struct mvs_vmstate) + 8u * MVS_SCHED_WORDS_MAX + MVS_DEVICE_MAX)

/* ---- END: count and chain of everything before it --------------------- */

/*
 * chain = CRC32C over the little-endian u32s: the header's crc, then every
 * section's trailer CRC in stream order. A dropped, duplicated or swapped
 * section changes it, yet no payload byte is checksummed twice.
 */
struct mvs_end {
	uint64_t sections; /* sections before END */
	uint32_t chain;
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct mvs_end) == 16, "mvs_end size");

#endif
