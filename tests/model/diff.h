/* SPDX-License-Identifier: MIT */
/*
 * Shared state of the differential test (test_differential.c): one run over
 * one configuration, the checks that compare library and model after every
 * operation (diff_check.c), the random operations (diff_ops.c) and those on
 * pools and private devices (diff_pools.c).
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
#define MAX_SHARED_DEVS 2 /* devices 0 .. ndevs-1 map from the shared pools */
#define PRIV_FIRST MAX_SHARED_DEVS
#define MAX_DEVS 6        /* devices PRIV_FIRST .. MAX_DEVS-1: private, come and go */
#define MAX_REGIONS MODEL_MAX_POOLS
#define NSTALE 32
#define HISTORY 8
#define MAX_LOGS 4

/* How often each operation ended how: shows the run was not vacuous. */
enum op_kind { OP_MAP, OP_UNMAP, OP_SYNC, OP_ALLOC, OP_FREE, OP_DEV, OP_PRIVATE, OP_DESTROY,
	       OP_ADD_POOL, NOPS };
enum op_result { RES_OK, RES_ENOSPC, RES_E2BIG, RES_EINVAL, RES_ENOENT, RES_EBUSY, NRES };

/* The caller's memory behind one shared pool: address space reserved with
 * MAP_NORESERVE, so pages exist only where someone wrote. */
struct region {
	void *map_base;
	size_t map_bytes;
	unsigned char *va;
	uint64_t dma;
	uint64_t bytes;
};

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
	unsigned ndevs;                  /* shared devices, always live */
	struct model_dev mdev[MAX_DEVS];
	struct iotlb_dev *ldev[MAX_DEVS]; /* NULL: no device in that place */
	uint64_t priv_size[MAX_DEVS];    /* private_size and nqueues asked for */
	unsigned priv_queues[MAX_DEVS];

	/* the caller's memory */
	struct region regions[MAX_REGIONS]; /* [k] backs shared pool k (creation order) */
	unsigned nregions;
	unsigned char *src;     /* originals live here */
	unsigned char *shadow;  /* what src must hold */
	unsigned char *snap;    /* expected bounce bytes of one allocation */
	size_t snap_cap;
	uint32_t *runs;         /* model free runs, scratch */
	size_t runs_cap;
	uint32_t *lib_runs;     /* the library's, derived in one pass, scratch */
	size_t lib_runs_cap;

	uint64_t stale[NSTALE]; /* handles given out earlier */
	unsigned nstale;

	/* log lines of the current operation */
	int log_level[MAX_LOGS];
	char log_msg[MAX_LOGS][256];
	unsigned nlogs;

	uint64_t tally[NOPS][NRES];
	uint64_t clamps, padded_maps, fallbacks, full_slots;
	uint64_t private_maps, private_nospace, multi_pool_maps, carved_from_later_pool;

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
void diff_expect_full_log(struct run *r, uint64_t padded, uint64_t total, uint64_t used_before);
void diff_expect_copy_logs(struct run *r, const struct model_copy *c);
/* Counters, per-slot state, areas, statistics and the library's own checker. */
void diff_compare_state(struct run *r);

/* diff_check.c: the caller's memory (every address of a pool, shared or private) */
unsigned char *diff_bounce_ptr(const struct run *r, uint64_t dma);
uint64_t diff_alloc_start(const struct run *r, const struct model_alloc *al);
size_t diff_alloc_len(const struct run *r, const struct model_alloc *al);
void diff_device_writes(struct run *r, const struct model_alloc *al, bool write);
void diff_cpu_writes(struct run *r, const struct model_alloc *al);
void diff_check_src(struct run *r);
void diff_check_bounce(struct run *r, const struct model_alloc *al);
void diff_apply_copy(struct run *r, const struct model_alloc *al, const struct model_copy *c);

/* diff_pick.c: random choices */
int diff_random_dir(struct run *r);
const char *diff_dir_name(int dir);
int diff_random_queue(struct run *r);
uint64_t diff_random_map_size(struct run *r);
uint64_t diff_random_alloc_size(struct run *r);
/* A live mapping or allocation (coherent < 0: either kind) of device dv (dv < 0:
 * of any device) chosen at random, or NULL. Carved ranges are never chosen. */
const struct model_alloc *diff_random_live_of(struct run *r, int coherent, int dv);
const struct model_alloc *diff_random_live(struct run *r, int coherent);
/* A live device chosen at random, and one other than `dv` (or dv itself). */
unsigned diff_random_dev(struct run *r);
unsigned diff_other_dev(struct run *r, unsigned dv);
/* An address in or near a pool (shared or private) that is probably not a handle. */
uint64_t diff_random_bad_address(struct run *r);

/* diff_ops.c */
/* Releases every live allocation of device dv (dv < 0: of all), each compared. */
void diff_release_dev(struct run *r, int dv);
void diff_random_op(struct run *r);
void diff_release_all(struct run *r);

/* test_differential.c */
void diff_random_masks(struct run *r, struct model_dev *d);
uint64_t diff_random_dma(struct run *r, uint64_t bytes, bool huge);
bool diff_reserve(struct region *rg, uint64_t bytes);
void diff_unreserve(struct region *rg);

/* diff_pools.c: pools and private devices */
void diff_add_pool(struct run *r);
void diff_add_pool_bad(struct run *r);
void diff_private_create(struct run *r);
void diff_private_destroy(struct run *r);
/* Destroys every private device, each compared. */
void diff_private_destroy_all(struct run *r);

#endif /* IOTLB_TESTS_MODEL_DIFF_H */
