/* SPDX-License-Identifier: MIT */
/*
 * iotlb-map-bench --may-block: waiting (IOTLB_ATTR_MAY_BLOCK) against
 * fail-and-retry when more is in flight than the pool holds.
 */
#ifndef IOTLB_BENCH_WAIT_BENCH_H
#define IOTLB_BENCH_WAIT_BENCH_H

#include "workload.h"

struct wb_opts {
	struct wl_setup setup; /* the bed: layout, lock, areas, pool bytes */
	unsigned threads;
	double seconds;	       /* per mode */
	struct wl_op op;       /* size, dir, attrs, delay_ns (time each mapping is held) */
};

/* Runs both modes, one after the other, on fresh beds; prints the comparison.
 * 0, or a negative errno. */
int wb_run(const struct wb_opts *o);

#endif /* IOTLB_BENCH_WAIT_BENCH_H */
