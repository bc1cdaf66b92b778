/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vCPU threads and exit handling. vcpu_handle_exit() is a function of the
 * vCPU's struct kvm_run and the VM state only: it issues no ioctl, so unit
 * tests drive it with fabricated exits.
 */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include "machine.h"

int vcpu_create(struct vm *vm, unsigned id);
void vcpu_destroy(struct vcpu *vcpu);
/* Load long-mode state and registers for a (re)start at rip. */
int vcpu_load_start_state(struct vcpu *vcpu);
int vcpu_start_thread(struct vcpu *vcpu);

enum vcpu_action vcpu_handle_exit(struct vcpu *vcpu);
enum vcpu_action vcpu_handle_io(struct vcpu *vcpu);

/* Kick a vCPU out of KVM_RUN (immediate_exit + signal). */

#endif
