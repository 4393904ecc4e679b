/* SPDX-License-Identifier: MIT */
/*
 * What the two files of the lock validation harness share: the kind under
 * test (set by main from the command line), the custom lock written for the
 * "custom" kind, and the helpers the kind-specific tests of
 * lock_validate_kinds.c borrow from the harness in lock_validate.c.
 */
#ifndef IOTLB_TESTS_LOCK_LOCK_VALIDATE_H
#define IOTLB_TESTS_LOCK_LOCK_VALIDATE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "rng.h"
#include "scale.h"

#ifndef IOTLB_DEBUG_LEVEL
#define IOTLB_DEBUG_LEVEL 0
#endif

#define NTHREADS 8
#define MAX_LOCKS 256
#define LIB_DMA 0x40000000ull

/* The kind under test, set from the command line before the tests run. */
extern const char *kind_name;
extern enum iotlb_lock_kind kind;
extern const struct iotlb_lock_ops *ops;
extern unsigned nthreads;
extern unsigned long iters;

/* The custom lock (a CAS spinlock) and what the library did with it. */
extern const struct iotlb_lock_ops custom_ops;
extern uint64_t custom_inits, custom_destroys, custom_acquired_at_destroy;
int custom_init(void *lock);
void custom_counters_reset(void);

/* Per-acquisition context on the stack, aligned as the core aligns it. */
struct acq_ctx {
	_Alignas(IOTLB__CACHELINE) unsigned char bytes[IOTLB_LOCK_CTX_MAX];
};

/* A second thread's view of a lock the main thread holds. */
struct probe {
	const struct iotlb_lock_ops *o;
	void *lock;
	bool try_result;
	uint32_t acquired; /* set once lock() returned */
};

/* A lock of table `o`, initialised on scribbled memory; lock_free undoes it. */
void *lock_alloc(const struct iotlb_lock_ops *o);
void lock_free(const struct iotlb_lock_ops *o, void *lock);
/* Runs `fn` (probe_try: trylock, unlock if taken) in a second thread. */
void *probe_try(void *arg);
bool probe_run(struct probe *p, void *(*fn)(void *));
/* The allocator on `ops` under `n` threads; returns the maps made. */
uint64_t run_library(unsigned n, unsigned long per_thread);

/* lock_validate_kinds.c: run by every kind, skipped but for theirs. */
void test_bad_custom_tables_are_refused(void **state);
void test_older_custom_table_without_trylock_is_accepted(void **state);
void test_custom_table_may_go_away_after_create(void **state);
void test_failing_custom_init_undoes_the_others(void **state);
void test_core_keeps_the_ctx_and_lock_memory_promises(void **state);
void test_none_counts_misuse_only_in_debug_builds(void **state);
void test_none_sees_no_misuse_from_single_threaded_library(void **state);

#endif /* IOTLB_TESTS_LOCK_LOCK_VALIDATE_H */
