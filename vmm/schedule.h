/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vCPU scheduling and race-window injection.
 *
 * Parallel (default): every vCPU thread runs freely; injection sleeps
 * delay_us microseconds between an exit and its handling, so the exit's
 * effect (a bitmap update, say) lands late.
 *
 * Serial (--sched=serial --seed=S): one vCPU runs at a time. After every
 * exit the next vCPU is drawn from a PRNG seeded with S among the runnable
 * ones, so a seed fixes the interleaving. Injection holds the matching exit
 * for delay_us scheduling steps (other vCPUs run meanwhile). A vCPU that
 * runs for SCHED_SPIN_LIMIT_NS without any exit stops the VM (status 3):
 * guest wait loops must YIELD in this mode.
 */
#ifndef MINIVMM_SCHEDULE_H
#define MINIVMM_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "vcpu.h"

#define SCHED_SPIN_LIMIT_NS (2ull * 1000000000ull)

uint64_t sched_rand(uint64_t *state);
void sched_init(struct vm *vm);
/* Block until this vCPU may enter the guest. false: the VM is stopping. */
bool sched_wait_turn(struct vcpu *vcpu);
/* After handling an exit (or a kick): maybe hand the turn to another vCPU. */
void sched_after_exit(struct vcpu *vcpu, enum vcpu_action act);
/* Between an exit and its handling: apply a matching injection rule. */
void sched_inject(struct vcpu *vcpu);
/* The vCPU thread is ending. */
void sched_vcpu_gone(struct vcpu *vcpu);

#endif
