// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host side of one MAP_GPA_RANGE, in-process: hypercall_handle(), the
 * function the exit dispatcher calls for both transports (vcpu.c), on a
 * struct vm built without /dev/kvm by the VMM's own init functions (memory
 * layout, encmap, event log). What is timed is what a guest's call costs
 * the VMM after KVM_RUN returns: validation, generation filter, bitmap and
 * provenance update, and the JSON log line written to a file.
 *
 *   fragmented  single-page calls: pages 0, 2, 4, ... shared (one
 *               provenance interval each, never merged), then made private
 *               again in the same order
 *   contiguous  2 MiB calls (512 pages, 2M hint) over consecutive slots,
 *               shared then private
 *
 * One thread: each repetition times one whole cycle (share + private),
 * the figure is the median ns per call over the repetitions, with the log
 * to a file and without a log. Two threads: two vCPUs call concurrently
 * on disjoint halves; the figure is the aggregate calls per second (median
 * over repetitions of total calls / wall time, from the workers' own
 * clocks), next to one thread's rate measured the same way, with and
 * without the log. With the log, a third thread (the log's writer) copies
 * the lines into the page cache: on a 2-core host that copy, not the VM
 * lock, bounds the aggregate. After every run the log is read back: one line
 * per call, seq strictly increasing.
 *
 * Usage: bench_hypercall [--quick] [--check] [--json FILE]
 * Environment: TMPDIR (log files, default /tmp).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "encmap.h"
#include "hypercall.h"
#include "log.h"
#include "memory.h"
#include "util.h"
#include "vm.h"

#define RAM_SIZE (2ull << 30) /* below the PCI hole: one memslot */
#define MAX_REPS 64
#define NTHREADS 2

struct sizes {
	uint64_t frag_pages;   /* fragmented: calls per half cycle */
	uint64_t contig_slots; /* contiguous: 2 MiB calls per half cycle */
	unsigned int reps;
	unsigned int mt_cycles; /* cycles per thread per two-thread repetition */
};

static const struct sizes full_sizes = {4096, 256, 31, 8};
static const struct sizes quick_sizes = {1024, 64, 7, 2};

enum workload { FRAGMENTED, CONTIGUOUS };

static const char *const workload_names[] = {"fragmented", "contiguous"};

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_hypercall: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(2);
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the VM, as vm_create() sets up the parts the handler reads --------- */

struct bench_vm {
	struct vm *vm;
	char log_path[256];
};

static void bvm_init(struct bench_vm *b, bool with_log)
{
	const char *dir = getenv("TMPDIR");
	struct vm *vm = calloc(1, sizeof(*vm));
	int r, fd;

	if (!vm)
		die("calloc", ENOMEM);
	b->vm = vm;
	vm->fd = vm->sys.fd = -1;
	vm->opts.sev = true;
	vm->transport = HC_TRANSPORT_PORT;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	r = mem_layout(&vm->mem, RAM_SIZE, 1ull << 20);
	if (r)
		die("mem_layout", r);
	r = encmap_init(&vm->encmap, mem_nr_pages(&vm->mem));
	if (r)
		die("encmap_init", r);
	b->log_path[0] = '\0';
	if (with_log) {
		snprintf(b->log_path, sizeof(b->log_path), "%s/bench_hypercall_XXXXXX",
			 dir && *dir ? dir : "/tmp");
		fd = mkstemp(b->log_path);
		if (fd < 0)
			die(b->log_path, errno);
		close(fd);
	}
	r = evlog_open(&vm->log, with_log ? b->log_path : NULL);
	if (r)
		die("evlog_open", r);
	vm->nr_vcpus = NTHREADS;
	for (unsigned int i = 0; i < NTHREADS; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
		vm->vcpus[i].generation = 1;
		vm->vcpus[i].state = VCPU_RUNNING;
	}
}

/*
 * Close the log and read it back: one line per call, seq strictly
 * increasing from 1 (the file order is the sequence order).
 */
static void bvm_destroy(struct bench_vm *b, uint64_t calls)
{
	struct vm *vm = b->vm;
	uint64_t lines = 0, last = 0;
	char line[1024];
	FILE *f;

	if (vm->hypercall_errors)
		die("refused calls", EPROTO);
	evlog_close(&vm->log);
	if (b->log_path[0]) {
		f = fopen(b->log_path, "r");
		if (!f)
			die(b->log_path, errno);
		while (fgets(line, sizeof(line), f)) {
			uint64_t seq = strtoull(line + 7, NULL, 10);

			if (strncmp(line, "{\"seq\":", 7) || seq != last + 1)
				die("log: seq out of order", EPROTO);
			last = seq;
			lines++;
		}
		fclose(f);
		unlink(b->log_path);
		if (lines != calls)
			die("log: line count", EPROTO);
	}
	encmap_destroy(&vm->encmap);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}

/* ---- workloads ---------------------------------------------------------- */

struct worker {
	struct bench_vm *b;
	struct vcpu *vcpu;
	enum workload wl;
	uint64_t base_gpa; /* this worker's half of RAM */
	uint64_t count;	   /* calls per half cycle */
	unsigned int cycles;
	pthread_barrier_t *start;
	double t_start, t_end; /* this worker's own clock: the main thread may not run */
};

/* One cycle: count shares then count privates. */
static void run_cycle(const struct worker *w)
{
	struct hc_call c = {.nr = KVM_HC_MAP_GPA_RANGE, .transport = HC_TRANSPORT_PORT};

	for (int half = 0; half < 2; half++) {
		uint64_t enc = half ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0;

		for (uint64_t i = 0; i < w->count; i++) {
			if (w->wl == FRAGMENTED) {
				c.args[0] = w->base_gpa + 2 * i * PAGE_SIZE;
				c.args[1] = 1;
				c.args[2] = KVM_MAP_GPA_RANGE_PAGE_SZ_4K | enc;
			} else {
				c.args[0] = w->base_gpa + i * SZ_2M;
				c.args[1] = 512;
				c.args[2] = KVM_MAP_GPA_RANGE_PAGE_SZ_2M | enc;
			}
			if (hypercall_handle(w->vcpu, &c))
				die("hypercall refused", EPROTO);
		}
	}
}

static uint64_t workload_count(enum workload wl, const struct sizes *sz)
{
	return wl == FRAGMENTED ? sz->frag_pages : sz->contig_slots;
}

/* Median ns per call on one thread. */
static double bench_one_thread(enum workload wl, bool with_log, const struct sizes *sz)
{
	struct bench_vm b;
	double per_call[MAX_REPS];
	struct worker w;

	bvm_init(&b, with_log);
	w = (struct worker){.b = &b,
			    .vcpu = &b.vm->vcpus[0],
			    .wl = wl,
			    .base_gpa = SZ_2M,
			    .count = workload_count(wl, sz)};
	run_cycle(&w); /* warm-up: bitmap pages and log buffer resident */
	for (unsigned int r = 0; r < sz->reps; r++) {
		double t0 = mono_ns();

		run_cycle(&w);
		per_call[r] = (mono_ns() - t0) / (double)(2 * w.count);
	}
	bvm_destroy(&b, 2 * w.count * (sz->reps + 1));
	return median(per_call, sz->reps);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	w->t_start = mono_ns();
	for (unsigned int i = 0; i < w->cycles; i++)
		run_cycle(w);
	w->t_end = mono_ns();
	return NULL;
}

/* Median aggregate calls per second of nthreads vCPU threads. */
static double bench_threads(enum workload wl, unsigned int nthreads, bool with_log,
			    const struct sizes *sz)
{
	struct worker w[NTHREADS];
	pthread_t tid[NTHREADS];
	pthread_barrier_t start;
	double rate[MAX_REPS];
	struct bench_vm b;
	uint64_t calls = 0;

	bvm_init(&b, with_log);
	pthread_barrier_init(&start, NULL, nthreads + 1);
	for (unsigned int t = 0; t < nthreads; t++)
		w[t] = (struct worker){.b = &b,
				       .vcpu = &b.vm->vcpus[t],
				       .wl = wl,
				       .base_gpa = SZ_2M + t * (RAM_SIZE / 2),
				       .count = workload_count(wl, sz),
				       .cycles = sz->mt_cycles,
				       .start = &start};
	run_cycle(&w[0]);
	calls += 2 * w[0].count;
	for (unsigned int r = 0; r < sz->reps; r++) {
		double t0 = 0, t1 = 0;

		for (unsigned int t = 0; t < nthreads; t++) {
			int e = pthread_create(&tid[t], NULL, worker_main, &w[t]);

			if (e)
				die("pthread_create", e);
		}
		pthread_barrier_wait(&start);
		for (unsigned int t = 0; t < nthreads; t++) {
			pthread_join(tid[t], NULL);
			t0 = t == 0 || w[t].t_start < t0 ? w[t].t_start : t0;
			t1 = w[t].t_end > t1 ? w[t].t_end : t1;
		}
		rate[r] = (double)(nthreads * sz->mt_cycles * 2 * w[0].count) / ((t1 - t0) / 1e9);
		calls += nthreads * sz->mt_cycles * 2 * w[0].count;
	}
	pthread_barrier_destroy(&start);
	bvm_destroy(&b, calls);
	return median(rate, sz->reps);
}

/* ---- output ------------------------------------------------------------- */

struct figure {
	char name[128];
	double value;
	const char *unit;
	const char *target; /* NULL: none */
	bool met;
};

static int write_json(const char *path, const struct figure *f, int nf, bool quick,
		      const struct sizes *sz)
{
	FILE *out = fopen(path, "w");

	if (!out)
		return -errno;
	fprintf(out, "{\n  \"benchmark\": \"hypercall\",\n  \"quick\": %s,\n",
		quick ? "true" : "false");
	fprintf(out,
		"  \"what\": \"hypercall_handle() in-process: validation, bitmap, provenance, "
		"JSON log line to a file; median over %u repetitions\",\n",
		sz->reps);
	fprintf(out,
		"  \"sizes\": {\"fragmented_calls\": %" PRIu64 ", \"contiguous_calls\": %" PRIu64
		", \"reps\": %u, \"two_thread_cycles\": %u},\n",
		2 * sz->frag_pages, 2 * sz->contig_slots, sz->reps, sz->mt_cycles);
	fprintf(out, "  \"figures\": [\n");
	for (int i = 0; i < nf; i++) {
		fprintf(out, "    {\"figure\": \"%s\", \"value\": %.4g, \"unit\": \"%s\"",
			f[i].name, f[i].value, f[i].unit);
		if (f[i].target)
			fprintf(out, ", \"target\": \"%s\", \"met\": %s", f[i].target,
				f[i].met ? "true" : "false");
		fprintf(out, "}%s\n", i + 1 < nf ? "," : "");
	}
	fprintf(out, "  ]\n}\n");
	return fclose(out) ? -errno : 0;
}

int main(int argc, char **argv)
{
	const struct sizes *sz;
	struct bench_args args;
	bool all_met = true;
	struct figure fig[16];
	int nf = 0;

	memset(fig, 0, sizeof(fig));
	if (bench_parse_args(argc, argv, &args))
		return 2;
	sz = args.quick ? &quick_sizes : &full_sizes;

	for (int wl = FRAGMENTED; wl <= CONTIGUOUS; wl++) {
		for (int with_log = 1; with_log >= 0; with_log--) {
			struct figure *f = &fig[nf++];
			double limit = with_log ? 300 : 100;

			f->value = bench_one_thread((enum workload)wl, with_log, sz);
			snprintf(f->name, sizeof(f->name), "one MAP_GPA_RANGE, %s, %s, 1 thread",
				 workload_names[wl], with_log ? "log to a file" : "no log");
			f->unit = "ns";
			f->target = with_log ? "<= 300 ns (median)" : "<= 100 ns (median)";
			f->met = f->value <= limit;
		}
	}
	for (int wl = FRAGMENTED; wl <= CONTIGUOUS; wl++) {
		for (int with_log = 1; with_log >= 0; with_log--) {
			const char *what = with_log ? "log" : "no log";
			double one = bench_threads((enum workload)wl, 1, with_log, sz);
			double two = bench_threads((enum workload)wl, NTHREADS, with_log, sz);
			struct figure *f = &fig[nf];

			snprintf(f[0].name, sizeof(f[0].name), "%s, %s, 1 thread: rate",
				 workload_names[wl], what);
			f[0].value = one / 1e6;
			f[0].unit = "Mcalls/s";
			snprintf(f[1].name, sizeof(f[1].name),
				 "%s, %s, %d vCPU threads: aggregate rate", workload_names[wl],
				 what, NTHREADS);
			f[1].value = two / 1e6;
			f[1].unit = "Mcalls/s";
			snprintf(f[2].name, sizeof(f[2].name), "%s, %s, %d threads / 1 thread",
				 workload_names[wl], what, NTHREADS);
			f[2].value = two / one;
			f[2].unit = "x";
			nf += 3;
		}
	}

	for (int i = 0; i < nf; i++) {
		printf("%-62s %10.4g %-8s", fig[i].name, fig[i].value, fig[i].unit);
		if (fig[i].target)
			printf("  target %s: %s", fig[i].target, fig[i].met ? "met" : "MISSED");
		printf("\n");
		if (fig[i].target && !fig[i].met)
			all_met = false;
	}
	if (args.json) {
		int r = write_json(args.json, fig, nf, args.quick, sz);

		if (r)
			die(args.json, r);
	}
	printf("targets: %s\n", all_met ? "all met" : "some MISSED");
	return args.check && !all_met ? 1 : 0;
}
