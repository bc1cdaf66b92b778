/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bounce-buffer device (DESIGN.md "Architecture", issue 11): a DMA
 * device the VMM emulates. At vCPU exits drawn from its own PRNG stream
 * (seeded from --seed, apart from the scheduler's, so --device-rate 0
 * changes nothing else) it raises an interrupt on the exiting vCPU, any
 * online vCPU the boot CPU included, by appending to the interrupt queue
 * in that vCPU's shared ucall page (minivmm/abi.h). An interrupt either
 * starts a request (the driver must allocate a bounce buffer and share
 * it) or completes an open one (the driver frees it: private again); a
 * request thus lives across two interrupts, possibly on two CPUs, as DMA
 * does. It raises nothing until a kernel's driver probes it (SYNC BOOT
 * with SYNC_BOOT_DEVICE_DRIVER: the driver resets it, open requests are
 * forgotten); the guest's device shutdown (SYNC DEVICE_SHUTDOWN, mode
 * stop) stops it, open requests staying as they stand.
 */
#ifndef MINIVMM_DEVICE_H
#define MINIVMM_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "device_state.h"

struct vcpu;

void device_init(struct device *d, uint64_t seed, uint32_t rate_ppm);
/*
 * After an exit of vcpu was handled, the vCPU about to re-enter: maybe
 * raise an interrupt on it. Takes the VM lock only when it draws.
 */
void device_after_exit(struct vcpu *vcpu);
/* Lock held: the guest's driver stopped the device (stop) or left it (none). */
void device_shutdown_locked(struct vcpu *vcpu, bool stop);
/* Lock held: a kernel booted; with a driver (probe) it resets the device. */
void device_boot_locked(struct device *d, bool driver);

#endif
