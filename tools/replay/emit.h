/* SPDX-License-Identifier: MIT */
/*
 * iotlb-replay --emit: a seeded random DMA workload bounced by libiotlb and
 * written in the kernel's trace text format, with the bounce addresses
 * libiotlb chose, for tests and for users without a guest.
 */
#ifndef IOTLB_TOOLS_REPLAY_EMIT_H
#define IOTLB_TOOLS_REPLAY_EMIT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

struct rp_emit_params {
	unsigned long long seed;
	unsigned long events;
	bool trace_cmd; /* `trace-cmd report` layout instead of tracefs */
};

/*
 * Adds the emitter's default device masks to cfg (where cfg has no rule for
 * that device yet), then writes the workload to f. 0, or -1 with a message.
 */
int rp_emit(FILE *f, struct rp_config *cfg, const struct rp_emit_params *p);

#endif /* IOTLB_TOOLS_REPLAY_EMIT_H */
