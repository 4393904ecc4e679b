/* SPDX-License-Identifier: MIT */
/*
 * iotlb-map-bench --scaling: how throughput grows from 1 thread to one
 * thread per CPU (and any other counts asked for) for private child pools,
 * per-CPU areas and a single area, against the copy alone.
 */
#ifndef IOTLB_BENCH_SCALING_H
#define IOTLB_BENCH_SCALING_H

#include <stdbool.h>
#include <stddef.h>

#include <iotlb/iotlb.h>

#define WL_SCALING_MAX_COUNTS 16
#define WL_SCALING_MAX_ROUNDS 15

struct wl_scaling_cfg {
	unsigned threads_list[WL_SCALING_MAX_COUNTS]; /* 0 entries: 1 and the CPU count */
	unsigned nthreads_list;
	unsigned rounds;
	double seconds;          /* each cell of each round */
	size_t pool_bytes;
	enum iotlb_lock_kind lock;
	bool unbound;
	bool json;
};

#define WL_SCALING_CFG_INIT { .rounds = 5, .seconds = 0.5 }

/* Runs and prints the report; 0, or -1 after printing why. */
int wl_scaling(const struct wl_scaling_cfg *cfg);

#endif /* IOTLB_BENCH_SCALING_H */
