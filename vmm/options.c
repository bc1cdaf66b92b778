// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "psp.h"
#include "schedule.h"
#include "util.h"

void opts_usage(FILE *f)
{
	fputs("usage: mini-vmm [options] GUEST.ELF\n"
	      "       mini-vmm [--log FILE] [-v] --incoming URI\n"
	      "\n"
	      "Boot a freestanding 64-bit ELF guest on /dev/kvm and record what it does to the\n"
	      "host's page-encryption bitmap (AMD SEV live-migration experiments).\n"
	      "\n"
	      "  -m, --memory SIZE        guest RAM, K/M/G/T suffix (default 256M, 16M..1T)\n"
	      "  -c, --cpus N             vCPUs (default 1, at most what KVM reports, <= 64)\n"
	      "      --cmdline STR        guest command line (e.g. 'scenario=sev'); default with\n"
	      "                           --sev: '" OPTS_DEFAULT_STORY "',\n"
	      "                           its shared runs printed at every reset\n"
	      "      --timeout SEC        stop a stuck guest after SEC seconds (default 60)\n"
	      "      --sev[=emulated|hw]  emulated SEV platform; hw is not implemented yet\n"
	      "      --cbit N             emulated C-bit position, 52..62 (default 52)\n"
	      "      --hypercall=MODE     auto|exit|vmmcall|vmcall|port (default auto: probe)\n"
	      "      --log FILE           JSON Lines event log ('-' = stdout)\n"
	      "      --guest-script FILE  hypercall script that scenario=script runs\n"
	      "      --dump-bitmap        print the final shared runs at exit\n"
	      "      --check              check the bitmap after every reset (exit 1 on failure);\n"
	      "                           the default with --sev\n"
	      "      --no-check           do not check the bitmap, even with --sev\n"
	      "      --gen-filter         host side of strategy 'generation': drop stale gens\n"
	      "      --sched=MODE         parallel (default), serial (one vCPU at a time, the\n"
	      "                           next drawn at random) or pct (serial, by priority)\n"
	      "      --seed N             PRNG seed for --sched=serial|pct and --inject\n"
	      "      --depth D            --sched=pct: bug depth, D-1 priority change points\n"
	      "      --pct-steps K        --sched=pct: change points among the first K steps\n"
	      "                           (default 400; a plain run's schedule end line says)\n"
	      "      --schedule-out FILE  serial: write every scheduling decision to FILE\n"
	      "      --schedule FILE      replay FILE's decisions exactly (exit 2 if the run\n"
	      "                           diverges); implies --sched=serial\n"
	      "      --schedule-lenient   with --schedule: skip decisions that do not apply\n"
	      "      --schedule-until N   with --schedule: replay N steps, then draw the rest\n"
	      "                           as --sched=serial --seed does\n"
	      "      --inject SPEC        delay exits: vcpu=N,kind=hypercall|ucall|msr|all,\n"
	      "                           prob=P (0..1),delay=D (us; serial: steps); repeatable\n"
	      "      --device-rate P      probability (0..1) that a vCPU exit raises a device\n"
	      "                           interrupt once a guest driver probed it (default 0.05)\n"
	      "      --allow-emulated     run even if kvm_pvm would emulate every instruction\n"
	      "      --kvm PATH           KVM device (default /dev/kvm)\n"
	      "      --migrate-to URI     migrate the guest at --migrate-at: file:PATH (a\n"
	      "                           snapshot), unix:PATH, tcp:IPV4:PORT; exit 0 once\n"
	      "                           the destination has it all\n"
	      "      --migrate-at WHEN    TAG[:N] (the N-th SYNC with that tag: ready, boot,\n"
	      "                           kexec_begin, ...) or seq:N (first exit at or after\n"
	      "                           log sequence N)\n"
	      "      --migrate-wait SEC   under --sev wait at most SEC for the guest's READY\n"
	      "                           (default 10; --sched=serial: SEC x 1000 steps)\n"
	      "      --migrate-force      migrate without the guest's READY (logged)\n"
	      "      --migrate-rounds N   live pre-copy rounds at most over a socket (default\n"
	      "                           8; 0: stop at the point and copy, as a snapshot:\n"
	      "                           under --sched=serial the same pages every time)\n"
	      "      --incoming URI       destination: the VM comes from URI (no GUEST.ELF)\n"
	      "  -v, --verbose            print what was probed\n"
	      "  -h, --help               this text\n"
	      "  -V, --version            version\n"
	      "\n"
	      "exit status: 0 guest finished and every check passed; 1 a check failed;\n"
	      "2 usage or setup error (bad option, invalid ELF, no /dev/kvm); 3 guest crashed\n"
	      "(triple fault, guest assert, unexpected exit); 124 timeout.\n",
	      f);
}

int parse_prob_ppm(const char *s, uint32_t *ppm)
{
	char *end;
	double p;

	errno = 0;
	p = strtod(s, &end);
	if (errno || *end || end == s || !(p >= 0.0 && p <= 1.0))
		return -EINVAL;
	*ppm = (uint32_t)(p * 1000000.0 + 0.5);
	return 0;
}

int parse_inject(const char *spec, struct inject_rule *rule)
{
	char buf[256], *save = NULL, *tok;

	if (!spec || strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	*rule = (struct inject_rule){
		.vcpu = -1, .kinds = INJ_HYPERCALL, .prob_ppm = 1000000, .delay_us = 100};
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (!strcmp(tok, "vcpu")) {
			if (parse_u64_range(eq, 0, VM_MAX_VCPUS - 1, &v))
				return -EINVAL;
			rule->vcpu = (int)v;
		} else if (!strcmp(tok, "kind")) {
			if (!strcmp(eq, "hypercall"))
				rule->kinds = INJ_HYPERCALL;
			else if (!strcmp(eq, "ucall"))
				rule->kinds = INJ_UCALL;
			else if (!strcmp(eq, "msr"))
				rule->kinds = INJ_MSR;
			else if (!strcmp(eq, "all"))
				rule->kinds = INJ_HYPERCALL | INJ_UCALL | INJ_MSR;
			else
				return -EINVAL;
		} else if (!strcmp(tok, "prob")) {
			if (parse_prob_ppm(eq, &rule->prob_ppm))
				return -EINVAL;
		} else if (!strcmp(tok, "delay")) {
			if (parse_u64_range(eq, 0, 10000000, &v))
				return -EINVAL;
			rule->delay_us = v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

enum {
	OPT_CMDLINE = 256,
	OPT_TIMEOUT,
	OPT_SEV,
	OPT_CBIT,
	OPT_HYPERCALL,
	OPT_LOG,
	OPT_SCRIPT,
	OPT_DUMP,
	OPT_CHECK,
	OPT_NO_CHECK,
	OPT_GEN_FILTER,
	OPT_SCHED,
	OPT_SEED,
	OPT_INJECT,
	OPT_ALLOW_EMULATED,
	OPT_KVM,
	OPT_DEVICE_RATE,
	OPT_MIGRATE_TO,
	OPT_MIGRATE_AT,
	OPT_INCOMING,
	OPT_MIGRATE_WAIT,
	OPT_MIGRATE_FORCE,
	OPT_MIGRATE_ROUNDS,
	OPT_DEPTH,
	OPT_PCT_STEPS,
	OPT_SCHEDULE,
	OPT_SCHEDULE_OUT,
	OPT_SCHEDULE_LENIENT,
	OPT_SCHEDULE_UNTIL,
};

static const struct option long_opts[] = {
	{"memory", required_argument, NULL, 'm'},
	{"cpus", required_argument, NULL, 'c'},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"sev", optional_argument, NULL, OPT_SEV},
	{"cbit", required_argument, NULL, OPT_CBIT},
	{"hypercall", required_argument, NULL, OPT_HYPERCALL},
	{"log", required_argument, NULL, OPT_LOG},
	{"guest-script", required_argument, NULL, OPT_SCRIPT},
	{"dump-bitmap", no_argument, NULL, OPT_DUMP},
	{"check", no_argument, NULL, OPT_CHECK},
	{"no-check", no_argument, NULL, OPT_NO_CHECK},
	{"gen-filter", no_argument, NULL, OPT_GEN_FILTER},
	{"sched", required_argument, NULL, OPT_SCHED},
	{"seed", required_argument, NULL, OPT_SEED},
	{"inject", required_argument, NULL, OPT_INJECT},
	{"allow-emulated", no_argument, NULL, OPT_ALLOW_EMULATED},
	{"kvm", required_argument, NULL, OPT_KVM},
	{"device-rate", required_argument, NULL, OPT_DEVICE_RATE},
	{"migrate-to", required_argument, NULL, OPT_MIGRATE_TO},
	{"migrate-at", required_argument, NULL, OPT_MIGRATE_AT},
	{"incoming", required_argument, NULL, OPT_INCOMING},
	{"migrate-wait", required_argument, NULL, OPT_MIGRATE_WAIT},
	{"migrate-force", no_argument, NULL, OPT_MIGRATE_FORCE},
	{"migrate-rounds", required_argument, NULL, OPT_MIGRATE_ROUNDS},
	{"depth", required_argument, NULL, OPT_DEPTH},
	{"pct-steps", required_argument, NULL, OPT_PCT_STEPS},
	{"schedule", required_argument, NULL, OPT_SCHEDULE},
	{"schedule-out", required_argument, NULL, OPT_SCHEDULE_OUT},
	{"schedule-lenient", no_argument, NULL, OPT_SCHEDULE_LENIENT},
	{"schedule-until", required_argument, NULL, OPT_SCHEDULE_UNTIL},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

#define BAD(...)                                                                                   \
	do {                                                                                       \
		fprintf(err, "mini-vmm: " __VA_ARGS__);                                            \
		fputc('\n', err);                                                                  \
		return OPTS_USAGE;                                                                 \
	} while (0)

/* Is word a blank-separated word of the guest command line? */
static bool cmdline_has_word(const char *cmdline, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = cmdline; p && *p; p += strcspn(p, " ")) {
		p += strspn(p, " ");
		if (!strncmp(p, word, n) && (p[n] == ' ' || p[n] == '\0'))
			return true;
	}
	return false;
}

enum opts_result opts_parse(int argc, char **argv, struct vm_opts *o, FILE *out, FILE *err)
{
	int check = -1; /* not given: on with --sev */
	bool have_at = false;
	bool sched_given = false, until_given = false;
	uint64_t v;
	int c;

	*o = (struct vm_opts){
		.kvm_path = "/dev/kvm",
		.ram_size = 256ull << 20,
		.nr_cpus = 1,
		.timeout_s = 60,
		.cbit = 52,
		.device_ppm = DEVICE_DEFAULT_PPM,
		.migrate_wait_s = 10,
		.migrate_rounds = 8,
	};
	/*
	 * 0, not 1: glibc then re-initialises all of getopt's state, including
	 * the position inside a group of short options ("-vh") that an earlier
	 * call may have returned from (it would point into the old argv).
	 */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:c:vhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &v) || v < MEM_MIN_SIZE || v > MEM_MAX_SIZE ||
			    !IS_ALIGNED(v, SZ_1M))
				BAD("-m %s: want a whole number of MiB from 16M to 1T", optarg);
			o->ram_size = v;
			break;
		case 'c':
			if (parse_u64_range(optarg, 1, VM_MAX_VCPUS, &v))
				BAD("--cpus %s: want a number from 1 to %d", optarg, VM_MAX_VCPUS);
			o->nr_cpus = (unsigned)v;
			break;
		case OPT_CMDLINE:
			if (strlen(optarg) >= VM_CMDLINE_MAX - 64)
				BAD("--cmdline: longer than %d bytes", VM_CMDLINE_MAX - 65);
			o->cmdline = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_u64_range(optarg, 1, 86400, &v))
				BAD("--timeout %s: want seconds from 1 to 86400", optarg);
			o->timeout_s = v;
			break;
		case OPT_SEV:
			if (!optarg || !strcmp(optarg, "emulated"))
				o->sev = true;
			else if (!strcmp(optarg, "hw")) {
				/* Say what this host lacks, too (vmm/psp_kvm.c). */
				char why[160];

				psp_kvm_probe("/dev/sev", o->kvm_path, why, sizeof(why));
				BAD("--sev=hw: the hardware SEV backend is not implemented; "
				    "this host: %s; use --sev",
				    why);
			} else
				BAD("--sev=%s: want 'emulated' or 'hw'", optarg);
			break;
		case OPT_CBIT:
			if (parse_u64_range(optarg, 52, 62, &v))
				BAD("--cbit %s: want a software-available PTE bit, 52..62", optarg);
			o->cbit = (unsigned)v;
			break;
		case OPT_HYPERCALL:
			if (!strcmp(optarg, "auto"))
				o->transport = TRANSPORT_AUTO;
			else if (!strcmp(optarg, "exit"))
				o->transport = TRANSPORT_EXIT;
			else if (!strcmp(optarg, "vmmcall"))
				o->transport = TRANSPORT_VMMCALL;
			else if (!strcmp(optarg, "vmcall"))
				o->transport = TRANSPORT_VMCALL;
			else if (!strcmp(optarg, "port"))
				o->transport = TRANSPORT_PORT;
			else
				BAD("--hypercall=%s: want auto, exit, vmmcall, vmcall or port",
				    optarg);
			break;
		case OPT_LOG:
			o->log_path = optarg;
			break;
		case OPT_SCRIPT:
			o->script_path = optarg;
			break;
		case OPT_DUMP:
			o->dump_bitmap = true;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_NO_CHECK:
			check = 0;
			break;
		case OPT_GEN_FILTER:
			o->gen_filter = true;
			break;
		case OPT_SCHED:
			if (!strcmp(optarg, "parallel"))
				o->sched = SCHED_PARALLEL;
			else if (!strcmp(optarg, "serial"))
				o->sched = SCHED_SERIAL;
			else if (!strcmp(optarg, "pct"))
				o->sched = SCHED_SERIAL;
			else
				BAD("--sched=%s: want parallel, serial or pct", optarg);
			sched_given = true;
			o->pct = !strcmp(optarg, "pct");
			break;
		case OPT_DEPTH:
			if (parse_u64_range(optarg, 1, SCHED_PCT_MAX_DEPTH, &v))
				BAD("--depth %s: want a number from 1 to %d", optarg,
				    SCHED_PCT_MAX_DEPTH);
			o->pct_depth = (unsigned)v;
			break;
		case OPT_PCT_STEPS:
			if (parse_u64_range(optarg, 1, UINT32_MAX, &v))
				BAD("--pct-steps %s: want a positive number of steps", optarg);
			o->pct_steps = v;
			break;
		case OPT_SCHEDULE:
			o->schedule_in = optarg;
			break;
		case OPT_SCHEDULE_OUT:
			o->schedule_out = optarg;
			break;
		case OPT_SCHEDULE_LENIENT:
			o->schedule_lenient = true;
			break;
		case OPT_SCHEDULE_UNTIL:
			if (parse_u64(optarg, &v))
				BAD("--schedule-until %s: want a step number", optarg);
			o->schedule_until = v;
			until_given = true;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &v))
				BAD("--seed %s: want a non-negative integer", optarg);
			o->seed = v;
			break;
		case OPT_INJECT:
			if (o->nr_inject == ARRAY_SIZE(o->inject))
				BAD("--inject: at most %zu rules", ARRAY_SIZE(o->inject));
			if (parse_inject(optarg, &o->inject[o->nr_inject]))
				BAD("--inject %s: want vcpu=N,kind=hypercall|ucall|msr|all,prob=P,"
				    "delay=D",
				    optarg);
			o->nr_inject++;
			break;
		case OPT_ALLOW_EMULATED:
			o->allow_emulated = true;
			break;
		case OPT_KVM:
			o->kvm_path = optarg;
			break;
		case OPT_DEVICE_RATE:
			if (parse_prob_ppm(optarg, &o->device_ppm))
				BAD("--device-rate %s: want a probability from 0 to 1", optarg);
			break;
		case OPT_MIGRATE_TO:
			if (migrate_parse_uri(optarg, &o->migrate_to))
				BAD("--migrate-to %s: want file:PATH, unix:PATH or tcp:HOST:PORT",
				    optarg);
			break;
		case OPT_MIGRATE_AT:
			if (migrate_parse_at(optarg, &o->migrate_at))
				BAD("--migrate-at %s: want TAG[:N] (a SYNC tag: ready, boot, "
				    "kexec_begin, ...; N >= 1) or seq:N",
				    optarg);
			have_at = true;
			break;
		case OPT_MIGRATE_WAIT:
			if (parse_u64_range(optarg, 0, 86400, &v))
				BAD("--migrate-wait %s: want seconds from 0 to 86400", optarg);
			o->migrate_wait_s = v;
			break;
		case OPT_MIGRATE_FORCE:
			o->migrate_force = true;
			break;
		case OPT_MIGRATE_ROUNDS:
			if (parse_u64_range(optarg, 0, 64, &v))
				BAD("--migrate-rounds %s: want 0 to 64", optarg);
			o->migrate_rounds = (uint32_t)v;
			break;
		case OPT_INCOMING:
			if (migrate_parse_uri(optarg, &o->incoming))
				BAD("--incoming %s: want file:PATH, unix:PATH or tcp:HOST:PORT",
				    optarg);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			opts_usage(out);
			return OPTS_EXIT_OK;
		case 'V':
			fprintf(out, "mini-vmm %s\n", MINIVMM_VERSION);
			return OPTS_EXIT_OK;
		case ':':
		default: {
			/*
			 * The element just scanned is argv[optind - 1]: "--name[=v]"
			 * for long options, else a group of short ones. glibc sets
			 * optopt to the short option, the long option's val, or 0.
			 */
			const char *arg = argv[optind - 1];
			int len = (int)strcspn(arg, "=");

			if (strncmp(arg, "--", 2) != 0)
				BAD("%s -%c (see --help)",
				    c == ':' ? "missing value for option" : "unknown option",
				    optopt);
			if (c == ':')
				BAD("missing value for option %.*s (see --help)", len, arg);
			if (optopt)
				BAD("option %.*s takes no value (see --help)", len, arg);
			BAD("unknown option %.*s (see --help)", len, arg);
		}
		}
	}
	if (o->incoming.kind != MIGRATE_URI_NONE) {
		/* Everything else comes in the stream's CONFIG. */
		if (optind < argc)
			BAD("--incoming: the guest comes in the stream; no GUEST.ELF ('%s')",
			    argv[optind]);
		if (o->migrate_to.kind != MIGRATE_URI_NONE || have_at)
			BAD("--incoming with --migrate-to/--migrate-at: migrate the destination "
			    "again in a second step");
		return OPTS_RUN;
	}
	if ((o->migrate_to.kind != MIGRATE_URI_NONE) != have_at)
		BAD("--migrate-to and --migrate-at go together");
	if (optind >= argc)
		BAD("no guest ELF given (see --help)");
	if (optind != argc - 1)
		BAD("exactly one guest ELF expected, got %d ('%s', '%s'%s) (see --help)",
		    argc - optind, argv[optind], argv[optind + 1],
		    argc - optind > 2 ? ", ..." : "");
	o->kernel_path = argv[optind];
	if (o->sched == SCHED_SERIAL && o->timeout_s == 0)
		BAD("--timeout must be positive");
	if (o->schedule_in && sched_given && (o->sched != SCHED_SERIAL || o->pct))
		BAD("--schedule %s replays the serial decisions it holds: drop --sched",
		    o->schedule_in);
	if (o->schedule_in)
		o->sched = SCHED_SERIAL;
	if ((o->schedule_lenient || until_given) && !o->schedule_in)
		BAD("--schedule-lenient and --schedule-until: only with --schedule FILE");
	if (until_given && !o->schedule_until)
		o->schedule_in = NULL; /* nothing replayed: a plain seeded run */
	if (o->schedule_out && o->sched != SCHED_SERIAL)
		BAD("--schedule-out %s: only the serial schedulers decide (--sched=serial|pct)",
		    o->schedule_out);
	if (o->pct && !o->pct_depth)
		BAD("--sched=pct: give the depth (--depth D)");
	if ((o->pct_depth || o->pct_steps) && !o->pct)
		BAD("--depth and --pct-steps: only with --sched=pct");
	if (o->pct && !o->pct_steps)
		o->pct_steps = SCHED_PCT_DEFAULT_STEPS;
	o->check = check < 0 ? o->sev : check;
	if (o->sev && !o->cmdline) {
		o->cmdline = OPTS_DEFAULT_STORY;
		o->story = true;
	}
	/* Only scenario=script reads the script: anything else would run without it. */
	if (o->script_path && !cmdline_has_word(o->cmdline, "scenario=script"))
		BAD("--guest-script %s: only scenario=script reads it; add --cmdline "
		    "'scenario=script' (guest command line: '%s')",
		    o->script_path, o->cmdline ? o->cmdline : "");
	return OPTS_RUN;
}
