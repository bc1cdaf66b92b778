/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MINIVMM_OPTIONS_H
#define MINIVMM_OPTIONS_H

#include <stdio.h>

#include "vm.h"

/*
 * The mission's command, `mini-vmm --sev GUEST.ELF` (issue 11 item 7): the
 * guest shares its pages, kexecs itself once with strategy upstream, and
 * the VMM checks and prints the bitmap at every reset. The only place the
 * default story is spelled: reboot=linux joins it once the guest knows
 * that key (the guest rejects keys it does not know).
 */
#define OPTS_DEFAULT_STORY "scenario=kexec strategy=upstream cycles=1"

enum opts_result {
	OPTS_RUN = 0,
	OPTS_EXIT_OK, /* --help, --version */
	OPTS_USAGE,   /* error, message printed */
};

/* Parse argv into opts. Messages go to err. Never exits. */
enum opts_result opts_parse(int argc, char **argv, struct vm_opts *opts, FILE *out, FILE *err);
/* "vcpu=1,kind=hypercall,prob=0.5,delay=200". 0 or -EINVAL. */
int parse_inject(const char *spec, struct inject_rule *rule);
void opts_usage(FILE *f);

#endif
