/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtual machine's lifecycle: create it from options, run it, destroy
 * it. Its state is machine.h's.
 */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include "machine.h"

/* Create the VM from options (everything up to the first KVM_RUN). */
int vm_create(struct vm *vm, const struct vm_opts *opts);
/* Run until the guest finishes, fails or times out. Returns exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
