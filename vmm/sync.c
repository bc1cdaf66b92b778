// SPDX-License-Identifier: GPL-2.0-only
#include "sync.h"

#include "minivmm/abi.h"
#include "util.h"

/*
 * Every SYNC tag: its name in the log and what args[2] and args[3] mean
 * (NULL: nothing), "where"/"how" fields named by value. Fine-grained
 * events (runs = false) do not repeat the bitmap's runs.
 */
static const struct sync_tag_info tags[SYNC_MAX] = {
	[SYNC_NONE] = {.name = "none", .runs = true},
	[SYNC_KEXEC_BEGIN] = {.name = "kexec_begin", .runs = true},
	[SYNC_BOOT] = {.name = "boot", .runs = true},
	[SYNC_RESET_DONE] = {.name = "reset_done", .runs = true},
	[SYNC_READY] = {.name = "ready", .runs = true},
	[SYNC_SHARED] = {.name = "shared", .runs = true},
	[SYNC_BENCH] = {.name = "bench"},
	[SYNC_NOTIFIER_TAKEN] = {.name = "notifier_taken", .arg2 = "where", .kind2 = SF_WHERE},
	[SYNC_NOTIFIER_DONE] = {.name = "notifier_done"},
	[SYNC_REQUEST_START] = {.name = "request_start",
				.arg2 = "request",
				.arg3 = "gpa",
				.kind2 = SF_U64,
				.kind3 = SF_HEX},
	[SYNC_REQUEST_DONE] = {.name = "request_done",
			       .arg2 = "request",
			       .arg3 = "gpa",
			       .kind2 = SF_U64,
			       .kind3 = SF_HEX},
	[SYNC_DEVICE_SHUTDOWN] = {.name = "device_shutdown",
				  .arg2 = "stop",
				  .kind2 = SF_U64,
				  .runs = true},
	[SYNC_STOP_CPUS] = {.name = "stop_other_cpus",
			    .arg2 = "how",
			    .kind2 = SF_HOW,
			    .runs = true},
	[SYNC_CPU_STOPPED] = {.name = "cpu_stopped",
			      .arg2 = "how",
			      .arg3 = "where",
			      .kind2 = SF_HOW,
			      .kind3 = SF_WHERE},
	[SYNC_ENC_KEXEC_BEGIN] = {.name = "enc_kexec_begin",
				  .arg2 = "in_flight",
				  .kind2 = SF_U64,
				  .runs = true},
	[SYNC_ENC_KEXEC_FINISH] = {.name = "enc_kexec_finish",
				   .arg2 = "pages",
				   .kind2 = SF_U64,
				   .runs = true},
	[SYNC_CONVERSION_REFUSED] = {.name = "conversion_refused",
				     .arg2 = "request",
				     .kind2 = SF_U64},
	[SYNC_CPU_OFFLINE] = {.name = "cpu_offline", .arg2 = "cpu", .kind2 = SF_U64, .runs = true},
	[SYNC_CPU_ONLINE] = {.name = "cpu_online", .arg2 = "cpu", .kind2 = SF_U64, .runs = true},
	[SYNC_SUSPEND] = {.name = "suspend", .runs = true},
	[SYNC_RESUME] = {.name = "resume", .runs = true},
	[SYNC_CRASH] = {.name = "crash", .runs = true},
	[SYNC_MIGRATION_VERIFY] = {.name = "migration_verify",
				   .arg2 = "checked",
				   .arg3 = "corrupted",
				   .kind2 = SF_U64,
				   .kind3 = SF_U64},
};

const struct sync_tag_info *sync_tag_info(uint64_t tag)
{
	static const struct sync_tag_info invalid = {.name = "invalid"};

	return tag < SYNC_MAX && tags[tag].name ? &tags[tag] : &invalid;
}

const char *sync_where_name(uint64_t where)
{
	static const char *const names[] = {
		[WHERE_IDLE] = "idle",
		[WHERE_CONV_PTE] = "conversion_pte_changed",
		[WHERE_CONV_FLUSHED] = "conversion_flushed",
		[WHERE_CONV_DONE] = "conversion_hypercall_done",
		[WHERE_WAITING] = "waiting",
	};

	return where < ARRAY_SIZE(names) && names[where] ? names[where] : "invalid";
}

const char *sync_tag_name(uint64_t tag)
{
	return sync_tag_info(tag)->name;
}
