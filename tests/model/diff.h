/* SPDX-License-Identifier: MIT */
/*
 * Shared state of the differential test (test_differential.c): one run over
 * one configuration, the checks that compare library and model after every
 * operation (diff_check.c) and the random operations (diff_ops.c).
 */
#ifndef IOTLB_TESTS_MODEL_DIFF_H
#define IOTLB_TESTS_MODEL_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <iotlb/iotlb.h>

#include "internal.h"
#include "model.h"
#include "rng.h"

#define SRC_SPAN (512u << 10)  /* originals start in the first SRC_SPAN bytes */
#define SRC_LEN ((1u << 20) + (64u << 10))
#define MAX_DEVS 2
#define NSTALE 32
#define HISTORY 8
#define MAX_LOGS 4

/* How often each operation ended how: shows the run was not vacuous. */
enum op_kind { OP_MAP, OP_UNMAP, OP_SYNC, OP_ALLOC, OP_FREE, OP_DEV, NOPS };
enum op_result { RES_OK, RES_ENOSPC, RES_E2BIG, RES_EINVAL, RES_ENOENT, NRES };

struct run {
	/* what identifies the run, for the replay line */
	uint64_t seed;
	unsigned cfg_index;
	unsigned op;
	bool verbose;

	struct rng rng;

	/* the configuration */
	struct model_params mp;
	enum iotlb_lock_kind lock;
	enum iotlb_select select;
	unsigned flags;
	bool huge;
	unsigned nops;
	unsigned map_weight;   /* share of maps: how full the pool runs */

	/* both sides */
	struct model m;
	struct iotlb_mem *mem;
	struct iotlb__pool *pool;
	unsigned ndevs;
	struct model_dev mdev[MAX_DEVS];
	struct iotlb_dev *ldev[MAX_DEVS];

	/* the caller's memory */
	unsigned char *region;
	size_t region_bytes;
	bool region_mapped;
	void *map_base;         /* what mmap returned (region is aligned up from it) */
	size_t map_bytes;
	unsigned char *src;     /* originals live here */
	unsigned char *shadow;  /* what src must hold */
	unsigned char *snap;    /* expected bounce bytes of one allocation */
	size_t snap_cap;
	uint32_t *runs;         /* model free runs, scratch */

	uint64_t stale[NSTALE]; /* handles given out earlier */
	unsigned nstale;

	/* log lines of the current operation */
	int log_level[MAX_LOGS];
	char log_msg[MAX_LOGS][256];
	unsigned nlogs;

	uint64_t tally[NOPS][NRES];
	uint64_t clamps, padded_maps, fallbacks, full_slots;

	char opdesc[320];
	char history[HISTORY][320];
};

/* diff_check.c: reporting */
void diff_describe(const struct run *r, FILE *f);
/* Prints the mismatch, the configuration, the last operations and the replay line; exits 1. */
__attribute__((noreturn, format(printf, 2, 3))) void diff_mismatch(struct run *r,
								   const char *fmt, ...);
/* Names the operation about to run (for the report) and forgets earlier log lines. */
__attribute__((format(printf, 2, 3))) void diff_set_op(struct run *r, const char *fmt, ...);
void diff_log_cb(void *ctx, int level, const char *msg);

/* diff_check.c: comparisons */
void diff_expect_rc(struct run *r, const char *what, int got, int want);
void diff_tally(struct run *r, enum op_kind op, int rc);
void diff_expect_no_logs(struct run *r);
void diff_expect_full_log(struct run *r, uint64_t padded, uint64_t used_before);
void diff_expect_copy_logs(struct run *r, const struct model_copy *c);
/* Counters, per-slot state, areas, statistics and the library's own checker. */
void diff_compare_state(struct run *r);

/* diff_check.c: the caller's memory */
unsigned char *diff_bounce_ptr(const struct run *r, uint64_t dma);
uint64_t diff_alloc_start(const struct run *r, const struct model_alloc *al);
size_t diff_alloc_len(const struct run *r, const struct model_alloc *al);
void diff_device_writes(struct run *r, const struct model_alloc *al, bool write);
void diff_cpu_writes(struct run *r, const struct model_alloc *al);
void diff_check_src(struct run *r);
void diff_check_bounce(struct run *r, const struct model_alloc *al);
void diff_apply_copy(struct run *r, const struct model_alloc *al, const struct model_copy *c);

/* diff_ops.c */
const struct model_alloc *diff_random_live(struct run *r, int coherent);
void diff_random_op(struct run *r);
/* Releases every live allocation, each release compared like any operation. */
void diff_release_all(struct run *r);

#endif /* IOTLB_TESTS_MODEL_DIFF_H */
