/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * psp: the AMD secure processor's SEV guest interface, as the VMM sees it.
 *
 * One `struct psp` is one guest context (one SEV "handle"). The front end
 * in psp.c owns the guest state machine and the policy checks that do not
 * depend on the backend; a backend (struct psp_ops) does the cryptography:
 *
 *   psp_soft  software, OpenSSL libcrypto 3.0 (vmm/psp_soft.c)
 *   psp_kvm   later: KVM_MEMORY_ENCRYPT_OP + /dev/sev; today only
 *             psp_kvm_probe() (vmm/psp_kvm.c)
 *
 * Return values of every command: 0, a SEV firmware status code
 * (enum psp_status, > 0), or -errno for a host error (allocation, libcrypto
 * failure). Nothing here exits. A command refused with a status code
 * changes nothing: state, keys, digest and packet sequence are as before.
 * Threads: the commands of one context come from one thread at a time (the
 * VMM's launch or migration thread); psp_mem_encrypt/decrypt may be called
 * from any thread at any time (vCPU threads reading the host view).
 *
 * Facts followed: AMD SEV API (doc. 55766), read through AMD's sev-tool
 * (AMDESE/sev-tool src/sevapi.h, src/commands.cpp) and Linux
 * (include/uapi/linux/psp-sev.h, arch/x86/include/uapi/asm/kvm.h). Where
 * the emulation departs or adds its own rule it says "ours".
 */
#ifndef MINIVMM_PSP_H
#define MINIVMM_PSP_H

#include <stddef.h>
#include <stdint.h>

/* Every wire struct below is little-endian with no padding: x86 hosts. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "psp wire structs are little-endian");

/*
 * SEV firmware status codes: include/uapi/linux/psp-sev.h `sev_ret_code`
 * (= sev-tool sevapi.h SEV_ERROR_CODE, SEV API chapter 4.4). Only the
 * values this emulation can return, plus their neighbours for reference.
 */
enum psp_status {
	PSP_SUCCESS = 0x00,
	PSP_INVALID_PLATFORM_STATE = 0x01,
	PSP_INVALID_GUEST_STATE = 0x02,
	PSP_INVALID_CONFIG = 0x03,
	PSP_INVALID_LEN = 0x04,
	PSP_ALREADY_OWNED = 0x05,
	PSP_INVALID_CERTIFICATE = 0x06,
	PSP_POLICY_FAILURE = 0x07,
	PSP_INACTIVE = 0x08,
	PSP_INVALID_ADDRESS = 0x09,
	PSP_BAD_SIGNATURE = 0x0A,
	PSP_BAD_MEASUREMENT = 0x0B,
	PSP_INVALID_COMMAND = 0x11,
	PSP_UNSUPPORTED = 0x15,
	PSP_INVALID_PARAM = 0x16,
	PSP_RESOURCE_LIMIT = 0x17,
};

/* "SEV_RET_..."-style name of a status, or "?" (for messages). */
const char *psp_status_name(int status);

/*
 * Guest states: sev-tool sevapi.h SEV_GUEST_STATE (SEV API 6.1.1 GSTATE),
 * same values. PSP_GSTATE_SENT is ours: after SEND_FINISH the firmware
 * keeps the context only to be decommissioned; the guest cannot run again.
 */
enum psp_gstate {
	PSP_GSTATE_UNINIT = 0,
	PSP_GSTATE_LUPDATE = 1,
	PSP_GSTATE_LSECRET = 2,
	PSP_GSTATE_RUNNING = 3,
	PSP_GSTATE_SUPDATE = 4,
	PSP_GSTATE_RUPDATE = 5,
	PSP_GSTATE_SENT = 6,
	PSP_GSTATE_NR,
};

const char *psp_gstate_name(enum psp_gstate s);

/*
 * Commands, each allowed in exactly one state (sevapi.h "Allowed Guest
 * Commands"; SEND_CANCEL: Documentation/virt/kvm/x86/amd-memory-encryption.rst):
 *
 *   LAUNCH_START         UNINIT  -> LUPDATE
 *   LAUNCH_UPDATE_DATA   LUPDATE
 *   LAUNCH_MEASURE       LUPDATE -> LSECRET
 *   LAUNCH_FINISH        LSECRET -> RUNNING
 *   SEND_START           RUNNING -> SUPDATE  (POLICY_FAILURE with NOSEND)
 *   SEND_UPDATE_DATA     SUPDATE
 *   SEND_FINISH          SUPDATE -> SENT
 *   SEND_CANCEL          SUPDATE -> RUNNING  (session forgotten)
 *   RECEIVE_START        UNINIT  -> RUPDATE
 *   RECEIVE_UPDATE_DATA  RUPDATE
 *   RECEIVE_FINISH       RUPDATE -> RUNNING
 */
enum psp_cmd {
	PSP_CMD_LAUNCH_START,
	PSP_CMD_LAUNCH_UPDATE_DATA,
	PSP_CMD_LAUNCH_MEASURE,
	PSP_CMD_LAUNCH_FINISH,
	PSP_CMD_SEND_START,
	PSP_CMD_SEND_UPDATE_DATA,
	PSP_CMD_SEND_FINISH,
	PSP_CMD_SEND_CANCEL,
	PSP_CMD_RECEIVE_START,
	PSP_CMD_RECEIVE_UPDATE_DATA,
	PSP_CMD_RECEIVE_FINISH,
	PSP_CMD_NR,
};

const char *psp_cmd_name(enum psp_cmd cmd);
/* The one state cmd is accepted in, and the state it leaves behind. */
enum psp_gstate psp_cmd_from(enum psp_cmd cmd);
enum psp_gstate psp_cmd_to(enum psp_cmd cmd);

/*
 * Guest policy (sevapi.h SEV_POLICY, SEV API chapter 3). NOSEND: no SEND_*
 * at all. DOMAIN and SEV restrict the target by its certificate chain,
 * which the software PSP does not have: accepted, not enforced (ours).
 * API_MAJOR/MINOR: the lowest firmware API the guest may run on; a policy
 * above PSP_API_MAJOR.PSP_API_MINOR is refused with POLICY_FAILURE.
 */
#define PSP_POLICY_NODBG	(1u << 0)
#define PSP_POLICY_NOKS		(1u << 1)
#define PSP_POLICY_ES		(1u << 2)
#define PSP_POLICY_NOSEND	(1u << 3)
#define PSP_POLICY_DOMAIN	(1u << 4)
#define PSP_POLICY_SEV		(1u << 5)
#define PSP_POLICY_RESERVED	0x0000ffc0u /* bits 15:6 must be zero */
#define PSP_POLICY_API_MAJOR(p) (((p) >> 16) & 0xff)
#define PSP_POLICY_API_MINOR(p) (((p) >> 24) & 0xff)

/* The firmware version the emulation claims (PLATFORM_STATUS, measurement). */
#define PSP_API_MAJOR 0
#define PSP_API_MINOR 24
#define PSP_BUILD     1

#define PSP_PAGE_SIZE 4096u

/* ---- byte layouts (each also a wire format: LE, no holes) ---- */

/*
 * PDH public key: an uncompressed P-384 point, 0x04 || X(48) || Y(48)
 * (SEC 1 2.3.3). Real SEV carries it in a SEV_CERT (sevapi.h
 * SEV_ECDH_PUBKEY, 0x404 bytes with QX/QY little-endian); the software PSP
 * has no certificates, so the bare point goes (ours).
 */
#define PSP_PDH_PUB_LEN 97
struct psp_pdh_pub {
	uint8_t point[PSP_PDH_PUB_LEN];
};
_Static_assert(sizeof(struct psp_pdh_pub) == 97, "PDH point");

/*
 * Session blob: sevapi.h SEV_SESSION_BUF (128 bytes). wrap_tk = TEK || TIK
 * under AES-128-CTR(KEK, wrap_iv); wrap_mac = HMAC-SHA-256(KIK, wrap_tk);
 * policy_mac = HMAC-SHA-256(TIK, policy as u32 LE), as sev-tool's
 * build_session_buffer() computes them.
 */
struct psp_session {
	uint8_t nonce[16];   /* context of the master-secret KDF */
	uint8_t wrap_tk[32]; /* TEK || TIK, encrypted */
	uint8_t wrap_iv[16];
	uint8_t wrap_mac[32];
	uint8_t policy_mac[32];
};
_Static_assert(sizeof(struct psp_session) == 128, "session blob");
_Static_assert(offsetof(struct psp_session, wrap_tk) == 16, "session blob");
_Static_assert(offsetof(struct psp_session, wrap_iv) == 48, "session blob");
_Static_assert(offsetof(struct psp_session, wrap_mac) == 64, "session blob");
_Static_assert(offsetof(struct psp_session, policy_mac) == 96, "session blob");

/*
 * Packet header of SEND/RECEIVE_UPDATE_DATA: sevapi.h SEV_HDR_BUF (52
 * bytes). No flag bit is defined here (what the real ones mean is not
 * public); RECEIVE refuses any set bit with INVALID_PARAM.
 *
 * Our MAC rule (the real MAC's coverage is not public):
 *   mac = HMAC-SHA-256(TIK, flags u32 LE || iv[16] || trans_len u32 LE ||
 *                            trans[trans_len] || gpa u64 LE || seq u64 LE)
 * where seq counts the packets of this migration from 0. So a packet
 * replayed, reordered, dropped, duplicated, moved to another GPA, altered,
 * or taken from another session fails the MAC (BAD_MEASUREMENT).
 */
#define PSP_PKT_FLAGS_KNOWN 0u
struct psp_packet_hdr {
	uint32_t flags;
	uint8_t iv[16];
	uint8_t mac[32];
};
_Static_assert(sizeof(struct psp_packet_hdr) == 52, "packet header");
_Static_assert(offsetof(struct psp_packet_hdr, iv) == 4, "packet header");
_Static_assert(offsetof(struct psp_packet_hdr, mac) == 20, "packet header");

/*
 * LAUNCH_MEASURE output: sevapi.h SEV_MEASURE_BUF (measurement, mnonce)
 * plus the launch digest it was computed from. ld = SHA-256 over every
 * LAUNCH_UPDATE_DATA as gpa u64 LE || len u64 LE || data (ours: hardware
 * hashes the encrypted pages). measurement = HMAC-SHA-256(TIK, 0x04 ||
 * API_MAJOR || API_MINOR || BUILD || policy u32 LE || ld || mnonce): the
 * SEV API's formula as sev-tool calculate_measurement() applies it
 * (meas_ctx 0x04 for API >= 0.17).
 */
struct psp_measure {
	uint8_t measurement[32];
	uint8_t mnonce[16];
	uint8_t ld[32];
};
_Static_assert(sizeof(struct psp_measure) == 80, "measure");
#define PSP_MEASURE_CTX 0x04

/* ---- backends ---- */

struct psp;

struct psp_ops {
	const char *name;
	void (*destroy)(struct psp *psp);
	int (*launch_start)(struct psp *psp, uint32_t policy);
	int (*launch_update_data)(struct psp *psp, uint64_t gpa, const void *data, size_t len);
	int (*launch_measure)(struct psp *psp, struct psp_measure *out);
	int (*pdh_export)(struct psp *psp, struct psp_pdh_pub *out);
	int (*send_start)(struct psp *psp, const struct psp_pdh_pub *target,
			  struct psp_session *session, struct psp_pdh_pub *source);
	int (*send_update_data)(struct psp *psp, uint64_t gpa, const void *dram,
				struct psp_packet_hdr *hdr, void *trans);
	void (*send_forget)(struct psp *psp); /* SEND_FINISH / SEND_CANCEL */
	int (*receive_start)(struct psp *psp, uint32_t policy, const struct psp_pdh_pub *source,
			     const struct psp_session *session);
	int (*receive_update_data)(struct psp *psp, uint64_t gpa, const struct psp_packet_hdr *hdr,
				   const void *trans, void *guest_plain);
	void (*receive_forget)(struct psp *psp); /* RECEIVE_FINISH */
	/* The memory controller; NULL where the hardware does it. */
	int (*mem_crypt)(struct psp *psp, int enc, uint64_t gpa, const void *in, void *out,
			 size_t len);
};

/* Embedded first in every backend's context. */
struct psp {
	const struct psp_ops *ops;
	enum psp_gstate state;
	uint32_t policy;
};

/*
 * Software backend. A NULL or zero psp_soft_opts draws every key and nonce
 * from the OS (RAND_bytes). seeded = 1 derives all of them from seed
 * instead (for --sched=serial --seed S runs: same seed, same keys, same
 * blobs and packets): stream key = HMAC-SHA-256(key = seed u64 LE,
 * "mini-vmm psp seed"); draw k = psp_kdf(stream key, "mini-vmm psp rng",
 * instance u32 LE || k u64 LE). Source (instance 0) and destination
 * (instance 1) of one run so get different VEKs and PDH keys. Only
 * creation and the commands draw (the host view never does), so the
 * stream follows the command sequence.
 */
struct psp_soft_opts {
	int seeded;
	uint64_t seed;
	uint32_t instance;
};

/* New context in UNINIT with its VEK and PDH key. 0 or -errno. */
int psp_soft_create(const struct psp_soft_opts *opts, struct psp **out);
/*
 * The launch TIK, which on real SEV the guest owner supplied with
 * LAUNCH_START and so can verify LAUNCH_MEASURE with (tests use it). 0, or
 * INVALID_GUEST_STATE before LAUNCH_START.
 */
int psp_soft_guest_owner_tik(const struct psp *psp, uint8_t tik[16]);

/*
 * Hardware backend probe: is SEV usable through sev_path (normally
 * /dev/sev) and kvm_path? 0 if so; else -ENODEV / -ENOTSUP / -EACCES /
 * -errno with what is missing in msg (always written, NUL-terminated).
 */
int psp_kvm_probe(const char *sev_path, const char *kvm_path, char *msg, size_t msglen);

/* ---- commands ---- */

void psp_destroy(struct psp *psp);
static inline enum psp_gstate psp_state(const struct psp *psp)
{
	return psp->state;
}

int psp_launch_start(struct psp *psp, uint32_t policy);
/* Any length and GPA: the data is measured as given. */
int psp_launch_update_data(struct psp *psp, uint64_t gpa, const void *data, size_t len);
int psp_launch_measure(struct psp *psp, struct psp_measure *out);
int psp_launch_finish(struct psp *psp);

/* This context's PDH public key (PDH_CERT_EXPORT without the chain). */
int psp_pdh_export(struct psp *psp, struct psp_pdh_pub *out);

/*
 * ECDH with target's PDH, master secret = KDF(shared x, "sev-master-secret",
 * fresh nonce), KEK = KDF(master, "sev-kek"), KIK = KDF(master, "sev-kik");
 * fresh TEK/TIK for this migration (not the launch ones: a migration's keys
 * should not outlive it). Writes the session blob and our PDH public key
 * (source) that RECEIVE_START needs. INVALID_CERTIFICATE: target is no
 * point on P-384. POLICY_FAILURE: NOSEND.
 */
int psp_send_start(struct psp *psp, const struct psp_pdh_pub *target, struct psp_session *session,
		   struct psp_pdh_pub *source);
/*
 * dram: the 4096-byte page at gpa as DRAM holds it (the host view; for a
 * private page, XTS ciphertext under the VEK). It is decrypted with the VEK
 * (a page that was really shared comes out as garbage, as on hardware),
 * then encrypted with AES-128-CTR(TEK, fresh IV) into trans (4096 bytes).
 * INVALID_ADDRESS: gpa not page-aligned.
 */
int psp_send_update_data(struct psp *psp, uint64_t gpa, const void *dram,
			 struct psp_packet_hdr *hdr, void *trans);
int psp_send_finish(struct psp *psp);
int psp_send_cancel(struct psp *psp);

/*
 * On a fresh (UNINIT) context: ECDH with our PDH private key and source,
 * the same KDF, then BAD_SIGNATURE if wrap_mac fails, POLICY_FAILURE if
 * policy_mac does not match policy (or the policy is not acceptable),
 * INVALID_CERTIFICATE if source is no point on P-384.
 */
int psp_receive_start(struct psp *psp, uint32_t policy, const struct psp_pdh_pub *source,
		      const struct psp_session *session);
/*
 * Checks and refusals, in this order: INVALID_LEN (len != 4096),
 * INVALID_ADDRESS (gpa not page-aligned), INVALID_PARAM (unknown flag
 * bits), BAD_MEASUREMENT (MAC, recomputed with the next expected sequence
 * number). Then decrypts into guest_plain (the destination's guest RAM
 * keeps plaintext) and only then advances the expected sequence number.
 */
int psp_receive_update_data(struct psp *psp, uint64_t gpa, const struct psp_packet_hdr *hdr,
			    const void *trans, size_t len, void *guest_plain);
int psp_receive_finish(struct psp *psp);

/*
 * The memory controller: host view of private pages. len a multiple of
 * 4096, gpa page-aligned; each page is one AES-128-XTS data unit under the
 * VEK with tweak = gpa as a 16-byte little-endian number (real SEV tweaks
 * with the host physical address: ours). -EINVAL on a bad gpa/len,
 * -EOPNOTSUPP for a backend without one. Any state, thread-safe.
 */
int psp_mem_encrypt(struct psp *psp, uint64_t gpa, const void *plain, void *out, size_t len);
int psp_mem_decrypt(struct psp *psp, uint64_t gpa, const void *cipher, void *out, size_t len);

#endif
