/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bounce-buffer device's state (device.h has the device itself): a
 * type of its own so that the machine's state (machine.h) can hold it
 * without depending on the device's code.
 */
#ifndef MINIVMM_DEVICE_STATE_H
#define MINIVMM_DEVICE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define DEVICE_MAX_OPEN	   8	 /* requests in flight at once */
#define DEVICE_DEFAULT_PPM 50000 /* --device-rate 0.05: see README */

struct device {
	uint32_t rate_ppm; /* probability that an exit raises an interrupt */
	bool on;	   /* probed by a driver and not shut down */
	uint64_t rng;	   /* its own PRNG stream */
	uint32_t next_id;
	uint32_t open[DEVICE_MAX_OPEN]; /* requests started, not completed */
	unsigned nr_open;
	uint64_t raised;
};

#endif
