// SPDX-License-Identifier: GPL-2.0-only
#include "verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "minivmm/stream.h"
#include "util.h"

enum sent_kind { SENT_NONE, SENT_PLAIN, SENT_PSP };

static enum sent_kind sent_of(const struct vm *vm, uint64_t pfn)
{
	uint64_t w = pfn / 64, bit = 1ull << (pfn % 64);

	if (vm->mig_got[1] && (vm->mig_got[1][w] & bit))
		return SENT_PSP;
	if (vm->mig_got[0] && (vm->mig_got[0][w] & bit))
		return SENT_PLAIN;
	return SENT_NONE;
}

/* The arrival bitmap's shared run holding pfn, or NULL (private there). */
static const struct mvs_run *arrival_run(const struct vm *vm, uint64_t pfn)
{
	uint32_t lo = 0, hi = vm->mig_arrival_nruns;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct mvs_run *r = &vm->mig_arrival_runs[mid];

		if (pfn < r->start_page)
			hi = mid;
		else if (pfn >= r->end_page)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static const char *sent_name(enum sent_kind k)
{
	return k == SENT_PSP ? "private" : k == SENT_PLAIN ? "shared" : "not_sent";
}

/*
 * [pfn, end) split where how the page was sent or its bitmap entry
 * changes: one piece, its end returned.
 */
static uint64_t piece(const struct vm *vm, uint64_t pfn, uint64_t end, enum sent_kind *kind,
		      const struct mvs_run **run)
{
	uint64_t p = pfn + 1;

	*kind = sent_of(vm, pfn);
	*run = arrival_run(vm, pfn);
	while (p < end && sent_of(vm, p) == *kind && arrival_run(vm, p) == *run)
		p++;
	return p;
}

static void log_piece(FILE *f, bool *first, uint64_t pfn, uint64_t end, enum sent_kind kind,
		      const struct mvs_run *run, FILE *con)
{
	if (f) {
		fprintf(f,
			"%s{\"start\":\"%#" PRIx64 "\",\"end\":\"%#" PRIx64 "\",\"pages\":%" PRIu64
			",\"sent\":\"%s\",\"entry\":\"%s\"",
			*first ? "" : ",", pfn << PAGE_SHIFT, end << PAGE_SHIFT, end - pfn,
			sent_name(kind), run ? "shared" : "private");
		if (run && run->vcpu == MVS_VCPU_FIRMWARE)
			fputs(",\"by\":\"firmware\"", f);
		else if (run)
			fprintf(f, ",\"by\":%u", run->vcpu);
		if (run)
			fprintf(f, ",\"gen\":%u,\"seq\":%" PRIu64, run->generation, run->seq);
		fputc('}', f);
	}
	*first = false;
	if (!con)
		return;
	fprintf(con, "mini-vmm:   [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64 " page(s) sent %s",
		pfn << PAGE_SHIFT, end << PAGE_SHIFT, end - pfn,
		kind == SENT_NONE ? "not at all" : sent_name(kind));
	if (run && run->vcpu == MVS_VCPU_FIRMWARE)
		fprintf(con, ": the bitmap said shared, by the firmware\n");
	else if (run)
		fprintf(con,
			": the bitmap said shared, since the MAP_GPA_RANGE of event #%" PRIu64
			" (vCPU %u, generation %u)\n",
			run->seq, run->vcpu, run->generation);
	else
		fputs(": the bitmap said private\n", con);
}

void verify_report_locked(struct vcpu *vcpu, const struct minivmm_verify_report *rep, int read_err)
{
	struct vm *vm = vcpu->vm;
	uint64_t top = vm->mem.top >> PAGE_SHIFT;
	FILE *con = NULL, *f = evlog_enabled(&vm->log) ? vm->log.f : NULL;
	bool first = true;

	vm->mig_verify_reports++;
	evlog_begin(&vm->log, "migration_verify", (int)vcpu->id, vcpu->generation);
	evlog_bool(&vm->log, "reported", true);
	if (read_err < 0 || rep->nruns > MINIVMM_VERIFY_RUNS_MAX) {
		/* The guest's report is input like any other: refuse it, loudly. */
		evlog_str(&vm->log, "error",
			  read_err < 0 ? "the report could not be read"
				       : "the report has too many runs");
		evlog_end(&vm->log);
		vm->mig_corrupted_pages++;
		fprintf(vm_console(vm),
			"mini-vmm: migration verify: a malformed report from vCPU %u\n", vcpu->id);
		return;
	}
	evlog_u64(&vm->log, "migrations", rep->migrations);
	evlog_u64(&vm->log, "checked", rep->checked);
	evlog_u64(&vm->log, "corrupted", rep->corrupted);
	evlog_bool(&vm->log, "truncated", rep->truncated != 0);
	if (rep->corrupted) {
		con = vm_console(vm);
		fprintf(con,
			"mini-vmm: migration corrupted guest memory: %" PRIu64 " of %" PRIu64
			" pages the guest checked read wrong%s\n",
			rep->corrupted, rep->checked, rep->truncated ? " (the first runs)" : "");
	}
	if (f) {
		evlog_key(&vm->log, "runs");
		fputc('[', f);
	}
	for (uint32_t i = 0; (f || con) && i < rep->nruns; i++) {
		uint64_t pfn = rep->run[i].gpa >> PAGE_SHIFT, n = rep->run[i].npages, end;

		if (!n || pfn >= top || n > top - pfn)
			continue; /* nonsense from the guest: nothing of ours to name */
		for (end = pfn + n; pfn < end;) {
			enum sent_kind kind;
			const struct mvs_run *run;
			uint64_t e = piece(vm, pfn, end, &kind, &run);

			log_piece(f, &first, pfn, e, kind, run, con);
			pfn = e;
		}
	}
	if (f)
		fputc(']', f);
	evlog_end(&vm->log);
	vm->mig_corrupted_pages += rep->corrupted;
}

void verify_finish_locked(struct vm *vm)
{
	if (vm->opts.incoming.kind == MIGRATE_URI_NONE)
		return;
	if (!vm->mig_verify_reports) {
		evlog_begin(&vm->log, "migration_verify", -1, vm->generation);
		evlog_bool(&vm->log, "reported", false);
		evlog_str(&vm->log, "reason",
			  "the guest did not check its memory (verify=off, a scenario without "
			  "the pattern, or it ended before it looked)");
		evlog_end(&vm->log);
	}
	if (vm->exit_status == EXIT_OK && vm->mig_corrupted_pages) {
		vm->exit_status = EXIT_CHECK_FAILED;
		snprintf(vm->exit_reason, sizeof(vm->exit_reason),
			 "guest finished, but the migration corrupted %" PRIu64 " of its pages",
			 vm->mig_corrupted_pages);
	}
}

void verify_free(struct vm *vm)
{
	free(vm->mig_got[0]);
	free(vm->mig_got[1]);
	free(vm->mig_arrival_runs);
	vm->mig_got[0] = vm->mig_got[1] = NULL;
	vm->mig_arrival_runs = NULL;
	vm->mig_arrival_nruns = 0;
}
