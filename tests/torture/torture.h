/* SPDX-License-Identifier: MIT */
/*
 * The torture test (issue 15), in the style of liburcu's rcutorture and
 * mimalloc's stress: more threads than CPUs doing random valid and invalid
 * calls on one growable mem for a fixed time, a region provider that
 * sometimes fails or lies, racing releases of one handle, and, at every
 * pause, the invariant checker and the books balanced. Shared declarations
 * of torture.c (main, pauses, provider, stats reader) and torture_ops.c.
 */
#ifndef IOTLB_TESTS_TORTURE_TORTURE_H
#define IOTLB_TESTS_TORTURE_TORTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "internal.h"

#define T_SLOT 2048ull
#define T_PAGE 4096ull
#define T_SEG (128 * T_SLOT)
#define T_INIT_SLOTS 1024 /* 2 MiB: one IO TLB block, full most of the time */
#define T_INIT_DMA 0x10000000ull
#define T_GROW_BYTES (128 * T_SLOT)
#define T_NSHARED 3 /* shared devices every worker maps on */
#define T_LIVE 24   /* live items per worker */
#define T_MAX_MAP (64u << 10)
#define T_BUF_SLOT (T_MAX_MAP + 3 * T_PAGE) /* one item's original, offset, canary */
#define T_CANARY 4096			    /* bytes after each original that no call may touch */
#define T_MAX_WORKERS 32
#define T_MAX_ADDED 2
#define T_ADD_BYTES (1024 * T_SLOT) /* one block: private pools carve here */
#define T_ADD_DMA 0x100000000000ull
#define T_SENTINEL 0xdeadbeefcafef00dull

enum t_kind { T_NONE, T_MAP, T_COHERENT };

/* One live mapping or allocation of a worker, with what both sides hold. */
struct t_item {
	enum t_kind kind;
	struct iotlb_dev *dev;
	bool own; /* on the worker's own device */
	uint64_t dma;
	size_t size;
	unsigned char *orig; /* streaming: original; coherent: CPU address */
	unsigned char *orig_exp, *bounce_exp;
	uint64_t nslots;
};

/* Counts of what succeeded or failed, to balance against the statistics. */
struct t_books {
	uint64_t maps, unmaps, allocs, frees, syncs, too_big, nospace;
};

struct t_worker {
	pthread_t tid;
	unsigned id;
	struct rng rng;
	unsigned char *buf; /* T_LIVE originals of T_BUF_SLOT bytes */
	struct t_item live[T_LIVE];
	struct iotlb_dev *own;
	bool own_private;
	uint64_t own_carved;	     /* slots carved from the shared pools */
	struct t_books shared, priv; /* shared domain; own private pool */
	uint64_t ops, invalid, recreated;
};

struct t_racer {
	pthread_t tid;
	struct rng rng;
	uint64_t rounds, follower_won;
};

struct t_opts {
	uint64_t seed;
	unsigned seconds, threads;
	bool races, oversize;
};

struct t_ctx {
	struct t_opts o;
	struct iotlb_mem *mem;
	struct iotlb_dev *shared[T_NSHARED];
	struct iotlb_dev *race_dev; /* the racers' alone: no one else makes its handles */
	struct t_worker w[T_MAX_WORKERS];
	struct t_racer leader, follower;
	/* racer pair hand-off */
	pthread_barrier_t race_go, race_done;
	int race_cmd; /* 0 race, 1 pause, 2 stop */
	int race_mode;
	uint64_t race_dma;
	size_t race_size;
	int race_rc;
	unsigned char *race_buf;
	struct t_books race_books;
	/* added pools */
	unsigned char *add_mem;
	unsigned nadded;
	/* pauses */
	pthread_barrier_t paused, resume;
	int pause_req, stop;	/* atomics */
	uint64_t recent_handle; /* a handle of some device, for foreign-handle calls */
	uint64_t reader_rounds;
};

extern struct t_ctx T;

/* Records the first finding, stops everyone; the process exits 1. */
__attribute__((format(printf, 1, 2))) void t_fail(const char *fmt, ...);
bool t_flag(int *f);
void t_maybe_pause(void);

/* torture_ops.c */
void *t_worker_main(void *arg);
void *t_leader_main(void *arg);
void *t_follower_main(void *arg);
extern uint64_t t_shared_min[T_NSHARED], t_shared_align[T_NSHARED];

/* torture.c: the lying provider */
extern const struct iotlb_region_ops t_provider_ops;
void t_provider_init(uint64_t seed);
int t_provider_check(char *why, size_t len);
void t_provider_fini(void);
uint64_t t_provider_lies(void);

#endif /* IOTLB_TESTS_TORTURE_TORTURE_H */
