// SPDX-License-Identifier: GPL-2.0-only
#include "schedule.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minivmm/abi.h"
#include "util.h"

/* Where a scheduling decision is taken (docs/schedule.md). */
enum sched_site { SITE_EXIT, SITE_YIELD, SITE_PARK, SITE_INJECT, SITE_GONE, NR_SITES };
static const char *const site_names[NR_SITES] = {"exit", "yield", "park", "inject", "gone"};

enum decision_kind { DEC_PICK, DEC_INJECT, DEC_IRQ };

/* One line of a schedule file. */
struct decision {
	enum decision_kind kind;
	char word[16]; /* preempt, stay, switch, inject, irq */
	uint64_t step; /* scheduler steps taken before it */
	unsigned cpu;  /* the deciding vCPU ... */
	uint64_t exit; /* ... and its own exit count */
	unsigned site; /* pick: enum sched_site */
	unsigned arg;  /* pick: vCPU to run; inject: rule; irq: IRQ_REQ_* */
	uint64_t val;  /* inject: delay; irq: request id */
	unsigned line;
	bool used; /* lenient replay */
};

struct sched_data {
	/* PCT: priority per vCPU, higher runs; change points by step. */
	int64_t prio[VM_MAX_VCPUS];
	uint64_t change[SCHED_PCT_MAX_DEPTH];
	unsigned nr_change;
	int64_t low; /* the next "below everyone" priority (YIELD, PARK) */
	/* Replay. */
	struct decision *dec;
	size_t nr_dec, next;
	bool replay, lenient, have_end;
	uint64_t end_steps, end_exits[VM_MAX_VCPUS];
	unsigned end_cpus;
	/* Record. */
	FILE *out;
};

/* splitmix64: tiny, good enough, and the same on every host. */
uint64_t sched_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the schedule file's header: what a replay must run the same ---- */

enum {
	HDR_VERSION,
	HDR_ELF,
	HDR_CMDLINE,
	HDR_CPUS,
	HDR_RAM,
	HDR_SEV,
	HDR_CHECK,
	HDR_GEN_FILTER,
	HDR_DEVICE,
	HDR_INJECT,
	NR_HDR
};

static int elf_sha256(const struct vm *vm, char hex[65])
{
	unsigned char md[32];
	unsigned len = 0;

	if (!EVP_Digest(vm->elf_buf, vm->elf_size, md, &len, EVP_sha256(), NULL) || len != 32)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Header line i of this run, as the file spells it. */
static void header_line(const struct vm *vm, const char *sha, unsigned i, char *buf, size_t n)
{
	const struct vm_opts *o = &vm->opts;
	size_t k;

	switch (i) {
	case HDR_VERSION:
		snprintf(buf, n, "version %s", MINIVMM_VERSION);
		break;
	case HDR_ELF:
		snprintf(buf, n, "elf-sha256 %s", sha);
		break;
	case HDR_CMDLINE:
		snprintf(buf, n, "cmdline %s", o->cmdline ? o->cmdline : "");
		break;
	case HDR_CPUS:
		snprintf(buf, n, "option cpus %u", o->nr_cpus);
		break;
	case HDR_RAM:
		snprintf(buf, n, "option ram %#" PRIx64, o->ram_size);
		break;
	case HDR_SEV:
		snprintf(buf, n, "option sev %u cbit %u", o->sev, o->sev ? o->cbit : 0);
		break;
	case HDR_CHECK:
		snprintf(buf, n, "option check %u", o->check);
		break;
	case HDR_GEN_FILTER:
		snprintf(buf, n, "option gen-filter %u", o->gen_filter);
		break;
	case HDR_DEVICE:
		snprintf(buf, n, "option device-rate-ppm %" PRIu32, o->device_ppm);
		break;
	default:
		k = (size_t)snprintf(buf, n, "option inject%s", o->nr_inject ? "" : " none");
		for (unsigned r = 0; r < o->nr_inject && k < n; r++)
			k += (size_t)snprintf(buf + k, n - k,
					      " vcpu=%d,kinds=%u,ppm=%" PRIu32 ",delay=%" PRIu64,
					      o->inject[r].vcpu, o->inject[r].kinds,
					      o->inject[r].prob_ppm, o->inject[r].delay_us);
		break;
	}
}

/* The key of a header line: its first word, two for "option". */
static size_t header_key_len(const char *s)
{
	size_t k = strcspn(s, " ");

	if (!strncmp(s, "option ", 7))
		k = 7 + strcspn(s + 7, " ");
	return k;
}

/*
 * What PCT drew, on one line: the schedule file's strategy line and -v.
 * Not in the log, so that a replay logs exactly what the run did.
 */
static void pct_describe(const struct vm *vm, FILE *f)
{
	const struct sched_data *s = vm->sched;

	fprintf(f, "strategy pct seed %" PRIu64 " depth %u steps %" PRIu64 " priorities",
		vm->opts.seed, vm->opts.pct_depth, vm->opts.pct_steps);
	for (unsigned i = 0; i < vm->opts.nr_cpus; i++)
		fprintf(f, "%s%" PRId64, i ? "," : " ", s->prio[i]);
	fputs(" change-points", f);
	for (unsigned i = 0; i < s->nr_change; i++)
		fprintf(f, "%s%" PRIu64, i ? "," : " ", s->change[i]);
	fputc('\n', f);
}

static void write_header(struct vm *vm, const char *sha)
{
	FILE *f = vm->sched->out;
	char buf[VM_CMDLINE_MAX + 64];

	fputs("# mini-vmm schedule (docs/schedule.md). Between the decision lines the\n"
	      "# current vCPU keeps running; at a YIELD, or when it cannot run, the next\n"
	      "# runnable vCPU in id order runs. Lines: WORD STEP CPU EXIT ...\n",
	      f);
	for (unsigned i = 0; i < NR_HDR; i++) {
		header_line(vm, sha, i, buf, sizeof(buf));
		fprintf(f, "%s\n", buf);
	}
	if (vm->opts.schedule_in)
		fprintf(f, "strategy replay %s%s\n", vm->opts.schedule_in,
			vm->opts.schedule_lenient ? " lenient" : "");
	else if (vm->opts.pct)
		pct_describe(vm, f);
	else
		fprintf(f, "strategy serial seed %" PRIu64 "\n", vm->opts.seed);
}

/* ---- reading a schedule file ---- */

static int parse_decision(struct decision *d, const char *s)
{
	char word[16], site[16], what[16];
	int n = 0;

	memset(d, 0, sizeof(*d));
	if (sscanf(s, "%15s %" SCNu64 " %u %" SCNu64 " %n", word, &d->step, &d->cpu, &d->exit,
		   &n) != 4 ||
	    d->cpu >= VM_MAX_VCPUS)
		return -EINVAL;
	s += n;
	snprintf(d->word, sizeof(d->word), "%s", word);
	if (!strcmp(word, "preempt") || !strcmp(word, "stay") || !strcmp(word, "switch")) {
		d->kind = DEC_PICK;
		if (sscanf(s, "%15s %u %n", site, &d->arg, &n) != 2 || s[n] ||
		    d->arg >= VM_MAX_VCPUS)
			return -EINVAL;
		for (d->site = 0; d->site < NR_SITES; d->site++)
			if (!strcmp(site, site_names[d->site]))
				return 0;
		return -EINVAL;
	}
	if (!strcmp(word, "inject")) {
		d->kind = DEC_INJECT;
		return sscanf(s, "%u %" SCNu64 " %n", &d->arg, &d->val, &n) == 2 && !s[n] ? 0
											  : -EINVAL;
	}
	if (!strcmp(word, "irq")) {
		d->kind = DEC_IRQ;
		if (sscanf(s, "%15s %" SCNu64 " %n", what, &d->val, &n) != 2 || s[n])
			return -EINVAL;
		d->arg = !strcmp(what, "new")	 ? IRQ_REQ_NEW
			 : !strcmp(what, "done") ? IRQ_REQ_DONE
						 : 0;
		return d->arg ? 0 : -EINVAL;
	}
	return -EINVAL;
}

static int parse_end(struct sched_data *s, const char *p)
{
	int n = 0;

	if (sscanf(p, "end %" SCNu64 " %n", &s->end_steps, &n) != 1)
		return -EINVAL;
	for (p += n; *p && s->end_cpus < VM_MAX_VCPUS; p += n) {
		if (sscanf(p, "%" SCNu64 " %n", &s->end_exits[s->end_cpus], &n) != 1)
			return -EINVAL;
		s->end_cpus++;
	}
	s->have_end = true;
	return *p ? -EINVAL : 0;
}

/* A header line of the file against this run's. */
static int check_header(const struct vm *vm, const char *sha, const char *path, unsigned lineno,
			const char *s, unsigned *seen)
{
	char ours[VM_CMDLINE_MAX + 64];
	size_t k = header_key_len(s);

	for (unsigned i = 0; i < NR_HDR; i++) {
		header_line(vm, sha, i, ours, sizeof(ours));
		if (header_key_len(ours) != k || strncmp(ours, s, k))
			continue;
		*seen |= 1u << i;
		if (!strcmp(ours, s))
			return 0;
		fprintf(stderr,
			"mini-vmm: schedule %s line %u: recorded '%s', this run has '%s': the "
			"guest or the VMM changed\n",
			path, lineno, s, ours);
		return -EPERM;
	}
	if (!strncmp(s, "strategy ", 9))
		return 0; /* how it was made: informational */
	fprintf(stderr, "mini-vmm: schedule %s line %u: unknown header line '%s'\n", path, lineno,
		s);
	return -EPERM;
}

static bool is_decision(const char *s)
{
	static const char *const words[] = {"preempt ", "stay ", "switch ", "inject ", "irq "};

	for (unsigned i = 0; i < ARRAY_SIZE(words); i++)
		if (!strncmp(s, words[i], strlen(words[i])))
			return true;
	return false;
}

static int load_schedule(struct vm *vm, const char *sha)
{
	struct sched_data *s = vm->sched;
	const char *path = vm->opts.schedule_in;
	char line[VM_CMDLINE_MAX + 128];
	unsigned lineno = 0, seen = 0;
	size_t cap = 0;
	int r = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		r = -errno;
		fprintf(stderr, "mini-vmm: schedule %s: %s\n", path, strerror(-r));
		return r;
	}
	while (!r && fgets(line, sizeof(line), f)) {
		char *p = line;
		size_t len = strlen(line);

		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		p += strspn(p, " \t");
		if (!*p || *p == '#')
			continue;
		if (s->have_end) {
			fprintf(stderr, "mini-vmm: schedule %s line %u: after the end line\n", path,
				lineno);
			r = -EINVAL;
		} else if (!strncmp(p, "end ", 4)) {
			r = parse_end(s, p);
		} else if (!is_decision(p)) {
			r = check_header(vm, sha, path, lineno, p, &seen);
		} else {
			struct decision *d;

			if (s->nr_dec == SCHED_FILE_MAX_DECISIONS) {
				fprintf(stderr, "mini-vmm: schedule %s: more than %d decisions\n",
					path, SCHED_FILE_MAX_DECISIONS);
				r = -E2BIG;
				break;
			}
			if (s->nr_dec == cap) {
				cap = cap ? 2 * cap : 256;
				d = realloc(s->dec, cap * sizeof(*d));
				if (!d) {
					r = -ENOMEM;
					break;
				}
				s->dec = d;
			}
			d = &s->dec[s->nr_dec];
			r = parse_decision(d, p);
			d->line = lineno;
			if (!r && s->nr_dec && d->step < s->dec[s->nr_dec - 1].step)
				r = -EINVAL;
			s->nr_dec++;
		}
		if (r == -EINVAL)
			fprintf(stderr, "mini-vmm: schedule %s line %u: cannot parse '%s'\n", path,
				lineno, p);
	}
	fclose(f);
	if (!r && seen != (1u << NR_HDR) - 1) {
		fprintf(stderr,
			"mini-vmm: schedule %s: header incomplete (want version, "
			"elf-sha256, cmdline and every option line)\n",
			path);
		r = -EINVAL;
	}
	return r < 0 ? -EINVAL : 0;
}

/* ---- init / finish ---- */

static void pct_init(struct vm *vm)
{
	struct sched_data *s = vm->sched;
	unsigned perm[VM_MAX_VCPUS], n = vm->opts.nr_cpus, d = vm->opts.pct_depth;
	uint64_t k = vm->opts.pct_steps;

	/* Distinct priorities d..d+n-1 in random order, above every dropped one. */
	for (unsigned i = 0; i < n; i++)
		perm[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(sched_rand(&vm->sched_rng) % i), t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	for (unsigned i = 0; i < n; i++)
		s->prio[perm[i]] = (int64_t)(d + i);
	s->nr_change = d - 1;
	for (unsigned i = 0; i < s->nr_change; i++)
		s->change[i] = sched_rand(&vm->sched_rng) % k;
	s->low = 0;
}

int sched_init(struct vm *vm)
{
	const struct vm_opts *o = &vm->opts;
	char sha[65];
	int r;

	vm->sched_rng = o->seed;
	vm->sched_current = 0;
	if (o->sched != SCHED_SERIAL)
		return 0;
	vm->sched = calloc(1, sizeof(*vm->sched));
	if (!vm->sched)
		return -ENOMEM;
	if (elf_sha256(vm, sha) < 0) {
		fprintf(stderr, "mini-vmm: cannot hash %s\n", o->kernel_path);
		return -EIO;
	}
	if (o->pct) {
		pct_init(vm);
		if (o->verbose) {
			fputs("mini-vmm: ", stderr);
			pct_describe(vm, stderr);
		}
	}
	if (o->schedule_in) {
		r = load_schedule(vm, sha);
		if (r < 0)
			return r;
		vm->sched->replay = true;
		vm->sched->lenient = o->schedule_lenient;
	}
	if (o->schedule_out) {
		vm->sched->out = fopen(o->schedule_out, "w");
		if (!vm->sched->out) {
			r = -errno;
			fprintf(stderr, "mini-vmm: schedule %s: %s\n", o->schedule_out,
				strerror(-r));
			return r;
		}
		write_header(vm, sha);
	}
	return 0;
}

void sched_finish(struct vm *vm)
{
	struct sched_data *s = vm->sched;
	char why[256] = "";

	if (!s)
		return;
	if (s->out) {
		fprintf(s->out, "end %" PRIu64, vm->sched_steps);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			fprintf(s->out, " %" PRIu64, vm->vcpus[i].exits);
		fputc('\n', s->out);
	}
	if (!s->replay || s->lenient || vm->opts.schedule_until || vm->exit_status == EXIT_USAGE)
		return;
	/* Strict: the run must have taken every decision and ended where it did. */
	if (s->next < s->nr_dec) {
		snprintf(why, sizeof(why), "line %u (step %" PRIu64 ") was never reached",
			 s->dec[s->next].line, s->dec[s->next].step);
	} else if (s->have_end && s->end_steps != vm->sched_steps) {
		snprintf(why, sizeof(why), "recorded %" PRIu64 " steps, this run took %" PRIu64,
			 s->end_steps, vm->sched_steps);
	} else if (s->have_end) {
		for (unsigned i = 0; i < vm->nr_vcpus && !why[0]; i++)
			if (i >= s->end_cpus || s->end_exits[i] != vm->vcpus[i].exits)
				snprintf(why, sizeof(why),
					 "vCPU %u: recorded %" PRIu64 " exits, this run %" PRIu64,
					 i, i < s->end_cpus ? s->end_exits[i] : 0,
					 vm->vcpus[i].exits);
	}
	if (!why[0])
		return;
	vm->exit_status = EXIT_USAGE;
	snprintf(vm->exit_reason, sizeof(vm->exit_reason),
		 "schedule %s diverged at the end (step %" PRIu64 "): %s", vm->opts.schedule_in,
		 vm->sched_steps, why);
}

void sched_destroy(struct vm *vm)
{
	if (!vm->sched)
		return;
	if (vm->sched->out)
		fclose(vm->sched->out);
	free(vm->sched->dec);
	free(vm->sched);
	vm->sched = NULL;
}

/* ---- replay ---- */

void sched_mismatch_locked(struct vcpu *vcpu, const char *fmt, ...)
{
	struct vm *vm = vcpu->vm;
	char why[256];
	va_list ap;

	if (vm->sched->lenient)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vm_stop_locked(vm, EXIT_USAGE, "schedule %s diverged at step %" PRIu64 ": %s",
		       vm->opts.schedule_in, vm->sched_steps, why);
}

/*
 * The recorded decision of this kind at (cpu, exit, site), or NULL: the
 * default. Strict replay takes the file in order, lenient looks it up.
 */
static struct decision *replay_find(struct sched_data *s, enum decision_kind kind, unsigned cpu,
				    uint64_t exit, unsigned site)
{
	size_t i = s->lenient ? 0 : s->next, end = s->lenient ? s->nr_dec : s->next + 1;

	for (; i < end && i < s->nr_dec; i++) {
		struct decision *d = &s->dec[i];

		if (d->used || d->kind != kind || d->cpu != cpu || d->exit != exit ||
		    (kind == DEC_PICK && d->site != site))
			continue;
		d->used = true;
		if (!s->lenient)
			s->next++;
		return d;
	}
	return NULL;
}

/* Strict: a line the run should have reached before this step. */
static bool replay_missed(struct vcpu *vcpu, uint64_t step)
{
	struct sched_data *s = vcpu->vm->sched;
	const struct decision *d = &s->dec[s->next];

	if (s->lenient || s->next >= s->nr_dec || (d->step == step && d->kind == DEC_PICK) ||
	    d->step > step)
		return false;
	sched_mismatch_locked(vcpu,
			      "line %u ('%s' at vCPU %u exit %" PRIu64
			      ") did not happen; the run is at vCPU %u exit %" PRIu64,
			      d->line, d->word, d->cpu, d->exit, vcpu->id, vcpu->exits);
	return true;
}

int sched_replay_irq_locked(struct vcpu *vcpu, uint32_t *kind, uint32_t *id)
{
	struct sched_data *s = vcpu->vm->sched;
	const struct decision *d;

	if (!s || !s->replay)
		return -1;
	d = replay_find(s, DEC_IRQ, vcpu->id, vcpu->exits, 0);
	if (!d)
		return 0;
	*kind = d->arg;
	*id = (uint32_t)d->val;
	return 1;
}

void sched_record_irq_locked(struct vcpu *vcpu, uint32_t kind, uint32_t id)
{
	struct vm *vm = vcpu->vm;

	if (vm->sched && vm->sched->out)
		fprintf(vm->sched->out, "irq %" PRIu64 " %u %" PRIu64 " %s %" PRIu32 "\n",
			vm->sched_steps, vcpu->id, vcpu->exits,
			kind == IRQ_REQ_NEW ? "new" : "done", id);
}

/* ---- picking the next vCPU ---- */

static bool runnable(const struct vcpu *v)
{
	return v->state == VCPU_RUNNING || v->state == VCPU_PENDING;
}

static bool has(const unsigned *cand, unsigned n, unsigned id)
{
	for (unsigned i = 0; i < n; i++)
		if (cand[i] == id)
			return true;
	return false;
}

/*
 * The schedule file's default: the current vCPU keeps running, unless it
 * yields or cannot run; then the next candidate in id order after it.
 */
static int default_pick(const struct vm *vm, unsigned cur, unsigned site, const unsigned *cand,
			unsigned n)
{
	if (!n)
		return -1;
	if (site != SITE_YIELD && has(cand, n, cur))
		return (int)cur;
	for (unsigned k = 1; k <= vm->nr_vcpus; k++) {
		unsigned id = (cur + k) % vm->nr_vcpus;

		if (has(cand, n, id))
			return (int)id;
	}
	return (int)cand[0];
}

static int pct_pick(struct vm *vm, unsigned cur, unsigned site, const unsigned *cand, unsigned n)
{
	struct sched_data *s = vm->sched;
	int best = -1;

	bool drop = site == SITE_YIELD || site == SITE_PARK;

	/*
	 * A change point drops the running vCPU below every other, as a YIELD
	 * does: the paper's fixed low priorities d-1..1 would sit above the
	 * ones yields have handed out, and so raise it instead.
	 */
	for (unsigned i = 0; i < s->nr_change; i++)
		drop |= s->change[i] == vm->sched_steps;
	if (drop)
		s->prio[cur] = s->low--;
	for (unsigned i = 0; i < n; i++)
		if (best < 0 || s->prio[cand[i]] > s->prio[best])
			best = (int)cand[i];
	return best;
}

static int replay_pick(struct vcpu *vcpu, unsigned site, uint64_t exit, const unsigned *cand,
		       unsigned n, int def)
{
	struct vm *vm = vcpu->vm;
	const struct decision *d;

	if (replay_missed(vcpu, vm->sched_steps))
		return -1;
	d = replay_find(vm->sched, DEC_PICK, vcpu->id, exit, site);
	if (!d) {
		const struct decision *nx = &vm->sched->dec[vm->sched->next];

		if (!vm->sched->lenient && vm->sched->next < vm->sched->nr_dec &&
		    nx->step == vm->sched_steps) {
			sched_mismatch_locked(
				vcpu,
				"the schedule's next decision (line %u) is vCPU %u at "
				"exit %" PRIu64 " (%s), the run decides at vCPU %u exit "
				"%" PRIu64 " (%s)",
				nx->line, nx->cpu, nx->exit, site_names[nx->site], vcpu->id, exit,
				site_names[site]);
			return -1;
		}
		return def;
	}
	if (!has(cand, n, d->arg)) {
		sched_mismatch_locked(vcpu, "line %u runs vCPU %u, which cannot run here", d->line,
				      d->arg);
		return vm->stopping ? -1 : def;
	}
	return (int)d->arg;
}

/* Lock held. Pick the next vCPU; held ones only if nothing else can run. */
static void pick_next_locked(struct vcpu *vcpu, unsigned site)
{
	struct vm *vm = vcpu->vm;
	struct sched_data *s = vm->sched;
	unsigned cand[VM_MAX_VCPUS], n = 0, held[VM_MAX_VCPUS], nh = 0;
	uint64_t exit = vcpu->exits + (site == SITE_INJECT);
	int next, def;

	/* Threads leave in any order once the VM stops: nothing to decide. */
	if (vm->stopping) {
		vm->sched_current = -1;
		pthread_cond_broadcast(&vm->cond);
		return;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!runnable(v))
			continue;
		if (v->inject_hold) {
			v->inject_hold--;
			held[nh++] = i;
		} else {
			cand[n++] = i;
		}
	}
	if (!n && nh) {
		for (unsigned i = 0; i < nh; i++)
			vm->vcpus[held[i]].inject_hold = 0;
		for (unsigned i = 0; i < nh; i++)
			cand[n++] = held[i];
	}
	def = default_pick(vm, vcpu->id, site, cand, n);
	/* --schedule-until: the rest of the run is the seeded serial scheduler's. */
	if (s && s->replay && vm->opts.schedule_until && vm->sched_steps >= vm->opts.schedule_until)
		s->replay = false;
	if (s && s->replay)
		next = replay_pick(vcpu, site, exit, cand, n, def);
	else if (vm->opts.pct)
		next = pct_pick(vm, vcpu->id, site, cand, n);
	else
		next = n ? (int)cand[sched_rand(&vm->sched_rng) % n] : -1;
	if (next != (int)vcpu->id || next != def) {
		/* A preemption: the current vCPU could have continued (Choi and Zeller 2002). */
		bool preempt = has(cand, n, vcpu->id) && site != SITE_YIELD;
		const char *why = next == def ? (site == SITE_YIELD ? "yield" : "forced")
				  : preempt   ? "preempt"
				  : next == (int)vcpu->id ? "stay"
							  : "switch";

		if (next != def && s && s->out)
			fprintf(s->out, "%s %" PRIu64 " %u %" PRIu64 " %s %d\n", why,
				vm->sched_steps, vcpu->id, exit, site_names[site], next);
		evlog_begin(&vm->log, "sched", (int)vcpu->id, vcpu->generation);
		evlog_u64(&vm->log, "step", vm->sched_steps);
		evlog_u64(&vm->log, "exit", exit);
		evlog_str(&vm->log, "at", site_names[site]);
		evlog_i64(&vm->log, "next", next);
		evlog_str(&vm->log, "why", why);
		evlog_end(&vm->log);
	}
	vm->sched_steps++;
	vm->sched_current = vm->stopping ? -1 : next;
	pthread_cond_broadcast(&vm->cond);
}

bool sched_wait_turn(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go;

	if (vm->opts.sched != SCHED_SERIAL)
		return !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&vm->lock);
	/*
	 * Only the vCPU holding the turn picks the next one (after an exit, a
	 * park or its end): a waiter that picked would draw from the PRNG at
	 * a time that depends on thread timing. A waiting vCPU is quiet for a
	 * migration (vmm/migrate.h), which holds every turn while it runs.
	 */
	if (vm->sched_current != (int)vcpu->id || vm->mig_pause) {
		vcpu->active = false;
		pthread_cond_broadcast(&vm->cond);
		while (!vm->stopping && (vm->sched_current != (int)vcpu->id || vm->mig_pause))
			pthread_cond_wait(&vm->cond, &vm->lock);
	}
	go = !vm->stopping;
	vcpu->active = go;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

void sched_after_exit(struct vcpu *vcpu, enum vcpu_action act)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.sched != SCHED_SERIAL) {
		if (act == ACT_YIELD)
			sched_yield();
		return;
	}
	pthread_mutex_lock(&vm->lock);
	pick_next_locked(vcpu, act == ACT_YIELD	 ? SITE_YIELD
			       : act == ACT_PARK ? SITE_PARK
						 : SITE_EXIT);
	pthread_mutex_unlock(&vm->lock);
}

static bool rule_matches(const struct vcpu *vcpu, const struct inject_rule *r)
{
	const struct kvm_run *run = vcpu->run;
	unsigned kind = 0;

	if (r->vcpu >= 0 && (unsigned)r->vcpu != vcpu->id)
		return false;
	switch (run->exit_reason) {
	case KVM_EXIT_HYPERCALL:
		kind = INJ_HYPERCALL;
		break;
	case KVM_EXIT_IO:
		if (run->io.port == MINIVMM_PORT_HYPERCALL)
			kind = INJ_HYPERCALL;
		else if (run->io.port == MINIVMM_PORT_UCALL)
			kind = INJ_UCALL;
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		kind = INJ_MSR;
		break;
	default:
		break;
	}
	return (kind & r->kinds) != 0;
}

/*
 * Lock held. Serial: wait for the held exit's turn. A migration's stop
 * ends the hold sooner, so that no stream carries a half-handled exit: a
 * real VMM's vCPU thread finishes the exit it is handling before it counts
 * as stopped (QEMU: pause_all_vcpus() waits for every vCPU thread to leave
 * its exit handler; KVM completes the exit at the next KVM_RUN, which the
 * stop's immediate_exit round issues). The exit is then handled at the
 * stop, as part of it: no device turn, no scheduling point of its own
 * (vcpu_thread), and the turn stays where the last pick put it.
 */
static void wait_held_locked(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	vcpu->active = false;
	pthread_cond_broadcast(&vm->cond);
	while (!vm->stopping && vm->sched_current != (int)vcpu->id &&
	       !(vm->mig_pause && vm->mig_finish == vcpu->id + 1))
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (!vm->stopping && vm->sched_current != (int)vcpu->id) {
		evlog_begin(&vm->log, "inject_end", (int)vcpu->id, vcpu->generation);
		evlog_str(&vm->log, "why", "migration");
		evlog_u64(&vm->log, "hold_left", vcpu->inject_hold);
		evlog_u64(&vm->log, "exit_reason", vcpu->run->exit_reason);
		evlog_end(&vm->log);
		vcpu->inject_hold = 0;
		vcpu->finish_at_stop = true;
	}
	vcpu->held = false;
	vcpu->active = !vm->stopping;
}

/* Lock held on entry, dropped on return: hold this exit for delay. */
static void inject_apply(struct vcpu *vcpu, unsigned rule, uint64_t delay)
{
	struct vm *vm = vcpu->vm;

	evlog_begin(&vm->log, "inject", (int)vcpu->id, vcpu->generation);
	evlog_u64(&vm->log, "rule", rule);
	evlog_u64(&vm->log, "exit_reason", vcpu->run->exit_reason);
	evlog_u64(&vm->log, "delay", delay);
	evlog_end(&vm->log);
	if (vm->opts.sched == SCHED_SERIAL) {
		/* A destination has no sched_data: rules come with the stream's config. */
		if (vm->sched && vm->sched->out)
			fprintf(vm->sched->out,
				"inject %" PRIu64 " %u %" PRIu64 " %u %" PRIu64 "\n",
				vm->sched_steps, vcpu->id, vcpu->exits + 1, rule, delay);
		vcpu->inject_hold = delay;
		vcpu->held = true;
		pick_next_locked(vcpu, SITE_INJECT);
		wait_held_locked(vcpu);
		pthread_mutex_unlock(&vm->lock);
	} else {
		/* Active while it sleeps: a migration's stop waits for the exit. */
		pthread_mutex_unlock(&vm->lock);
		usleep((useconds_t)delay);
	}
}

void sched_inject(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	const struct decision *d;

	if (!vm->opts.nr_inject)
		return;
	if (vm->sched && vm->sched->replay) {
		pthread_mutex_lock(&vm->lock);
		/* The exit being handled is counted once it is: exits + 1. */
		d = replay_find(vm->sched, DEC_INJECT, vcpu->id, vcpu->exits + 1, 0);
		if (!d) {
			pthread_mutex_unlock(&vm->lock);
			return;
		}
		if (d->arg >= vm->opts.nr_inject || !rule_matches(vcpu, &vm->opts.inject[d->arg])) {
			sched_mismatch_locked(vcpu,
					      "line %u: injection rule %u does not match vCPU %u's "
					      "exit (reason %u)",
					      d->line, d->arg, vcpu->id, vcpu->run->exit_reason);
			pthread_mutex_unlock(&vm->lock);
			return;
		}
		inject_apply(vcpu, d->arg, d->val);
		return;
	}
	for (unsigned i = 0; i < vm->opts.nr_inject; i++) {
		const struct inject_rule *r = &vm->opts.inject[i];

		if (!rule_matches(vcpu, r))
			continue;
		if (sched_rand(&vcpu->rng) % 1000000 >= r->prob_ppm)
			continue;
		pthread_mutex_lock(&vm->lock);
		inject_apply(vcpu, i, r->delay_us);
		return;
	}
}

void sched_vcpu_gone(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vm->opts.sched != SCHED_SERIAL)
		return;
	pthread_mutex_lock(&vm->lock);
	if (vm->sched_current == (int)vcpu->id)
		pick_next_locked(vcpu, SITE_GONE);
	pthread_mutex_unlock(&vm->lock);
}
