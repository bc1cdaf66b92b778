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
 *
 * PCT (--sched=pct --depth D --seed S): serial too, but the next vCPU is
 * the runnable one of highest priority (Burckhardt et al., "A randomized
 * scheduler with probabilistic guarantees of finding bugs", ASPLOS 2010):
 * random initial priorities, D-1 change points drawn over the first K
 * steps (--pct-steps) at which the running vCPU drops to a low priority.
 * YIELD and PARK drop the caller below every other vCPU: the guest's wait
 * loops would livelock under strict priorities otherwise.
 *
 * Schedules as data (docs/schedule.md): every decision of the serial
 * schedulers (which vCPU runs, which exit an injection holds and for how
 * long, where the device raises an interrupt) is keyed by the deciding
 * vCPU and its own exit count; --schedule-out writes the decisions that
 * differ from the default ("keep running the current vCPU"; at a YIELD
 * or when it cannot run, the next runnable one in id order), --schedule
 * replays such a file exactly and stops with status 2 at the first step
 * that differs (--schedule-lenient skips what no longer applies).
 */
#ifndef MINIVMM_SCHEDULE_H
#define MINIVMM_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "vcpu.h"

#define SCHED_SPIN_LIMIT_NS	 (2ull * 1000000000ull)
#define SCHED_PCT_DEFAULT_STEPS	 400 /* about a plain 2-vCPU, 2-cycle kexec run */
#define SCHED_PCT_MAX_DEPTH	 64
#define SCHED_FILE_MAX_DECISIONS 100000

uint64_t sched_rand(uint64_t *state);
/* After the ELF is read: PCT draws, schedule file read/written. 0 or -errno. */
int sched_init(struct vm *vm);
/* The vCPU threads have ended: end line, strict replay's last check. */
void sched_finish(struct vm *vm);
void sched_destroy(struct vm *vm);
/* Block until this vCPU may enter the guest. false: the VM is stopping. */
bool sched_wait_turn(struct vcpu *vcpu);
/* After handling an exit (or a kick): maybe hand the turn to another vCPU. */
void sched_after_exit(struct vcpu *vcpu, enum vcpu_action act);
/* Between an exit and its handling: apply a matching injection rule. */
void sched_inject(struct vcpu *vcpu);
/* The vCPU thread is ending. */
void sched_vcpu_gone(struct vcpu *vcpu);

/*
 * Lock held, the device deciding at this exit of vcpu. Replaying: 1 and
 * the recorded interrupt (kind IRQ_REQ_*, request id), or 0: none here.
 * Not replaying: -1, the device draws from its own PRNG.
 */
int sched_replay_irq_locked(struct vcpu *vcpu, uint32_t *kind, uint32_t *id);
/* Lock held: the device raised (or tried to raise) an interrupt. */
void sched_record_irq_locked(struct vcpu *vcpu, uint32_t kind, uint32_t id);
/*
 * Lock held: a replayed decision does not apply to this run. Strict
 * replay stops the VM (status 2) naming the step; lenient skips it.
 */
void sched_mismatch_locked(struct vcpu *vcpu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
