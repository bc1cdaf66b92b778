/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtual machine's lifecycle: create it from options, run it, destroy
 * it. Its state is machine.h's.
 */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <stdbool.h>

#include "machine.h"

/* Create the VM from options (everything up to the first KVM_RUN). */
int vm_create(struct vm *vm, const struct vm_opts *opts);
/*
 * The parts vm_create shares with a migration destination (vmm/migrate.c),
 * which builds the VM from a stream's CONFIG instead of an ELF:
 * vm_init_empty first; vm_setup_kvm once vm->mem is laid out (and
 * vm->layout set): KVM, memory, memslots, CPUID, MSR filter, vCPUs;
 * vm_setup_runtime: bitmap and log. Each returns 0 or an exit status.
 */
void vm_init_empty(struct vm *vm, const struct vm_opts *opts);
/* KVM dirty logging (KVM_MEM_LOG_DIRTY_PAGES) on every memslot, or off. 0 or -errno. */
int vm_set_dirty_log(struct vm *vm, bool on);
int vm_setup_kvm(struct vm *vm);
int vm_setup_runtime(struct vm *vm);
/* Run until the guest finishes, fails or times out. Returns exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
