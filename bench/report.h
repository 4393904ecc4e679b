/* SPDX-License-Identifier: MIT */
/*
 * What iotlb-study and iotlb-map-bench --scaling print around their figures:
 * the median and spread of repeated, interleaved measurements, and the
 * context a reader needs to trust or reproduce them (date, commit, machine,
 * load, lock kinds), written as JSON next to the table.
 */
#ifndef IOTLB_BENCH_REPORT_H
#define IOTLB_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <iotlb/iotlb.h>

/* Median and range (min-max) of n measurements; NAN values are skipped. */
struct wl_spread {
	double median, lo, hi;
	unsigned n;
};

void wl_spread_of(const double *v, unsigned n, struct wl_spread *out);
/* True when the ranges do not overlap: only then is a difference claimed. */
bool wl_spread_apart(const struct wl_spread *a, const struct wl_spread *b);

/* When and under what load a run happened. */
struct wl_context {
	char date[32];          /* UTC, ISO 8601 */
	double load_before[3];  /* 1, 5 and 15 minute load averages; -1 unknown */
	double load_after[3];
	uint64_t start_ns;
	double seconds;         /* filled by wl_context_end */
};

void wl_context_begin(struct wl_context *c);
void wl_context_end(struct wl_context *c);

/* A line on `f` when the machine was busy (a 1-minute load average above
 * half the CPUs, before or after): bound threads then share their CPUs
 * with other processes and the ranges widen. */
void wl_context_warn(FILE *f, const struct wl_context *c);

/* "model name" of /proc/cpuinfo, or "unknown CPU". */
const char *wl_cpu_model(void);
/* The source tree's commit (with "-dirty" for local changes), asked of git at
 * run time, else the one seen when the build was configured, else "unknown". */
const char *wl_git_commit(void);
/*
 * The lock kind a configuration gets. The library has no call that says
 * what IOTLB_LOCK_DEFAULT resolves to; include/iotlb/iotlb.h documents it as
 * TTAS, and that is what the tools print (and say so in their JSON).
 */
const char *wl_lock_resolved(enum iotlb_lock_kind kind);

/* The context as JSON members, one per line, each followed by a comma:
 * the caller opens and closes the object. */
void wl_context_json(FILE *f, const struct wl_context *c, bool bound);

/* A JSON string with quotes and backslashes escaped. */
void wl_json_string(FILE *f, const char *s);

#endif /* IOTLB_BENCH_REPORT_H */
