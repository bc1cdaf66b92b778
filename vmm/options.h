/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MINIVMM_OPTIONS_H
#define MINIVMM_OPTIONS_H

#include <stdio.h>

#include "machine.h"

/*
 * The mission's command, `mini-vmm --sev GUEST.ELF` (issue 11 item 7): the
 * guest shares its pages, kexecs itself once with strategy upstream, and
 * the VMM checks and prints the bitmap at every reset, on the reboot path
 * as Linux runs it. The only place the default story is spelled.
 */
#define OPTS_DEFAULT_STORY "scenario=kexec strategy=upstream reboot=linux cycles=1"

enum opts_result {
	OPTS_RUN = 0,
	OPTS_EXIT_OK, /* --help, --version */
	OPTS_USAGE,   /* error, message printed */
};

/* Parse argv into opts. Messages go to err. Never exits. */
enum opts_result opts_parse(int argc, char **argv, struct vm_opts *opts, FILE *out, FILE *err);
/* A probability 0..1 as parts per million. 0 or -EINVAL. */
int parse_prob_ppm(const char *s, uint32_t *ppm);
/* "vcpu=1,kind=hypercall,prob=0.5,delay=200". 0 or -EINVAL. */
int parse_inject(const char *spec, struct inject_rule *rule);
void opts_usage(FILE *f);

#endif
