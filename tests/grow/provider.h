/* SPDX-License-Identifier: MIT */
/*
 * A counting region provider for the growth tests: records every alloc and
 * free, can refuse the next N allocations, hands out page-aligned memory at
 * increasing device addresses (optionally above 4 GiB) and checks that every
 * region comes back exactly once, whole. Thread-safe: the growth worker,
 * mapping threads (transient pools) and liburcu's call_rcu thread all call it.
 */
#ifndef IOTLB_TESTS_GROW_PROVIDER_H
#define IOTLB_TESTS_GROW_PROVIDER_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <iotlb/iotlb.h>

#define TP_PAGE 4096ull
/* Gap between two regions' device addresses, so they never touch. */
#define TP_DMA_GAP 0x10000ull
/* Fresh provider memory holds this byte, so copied and stale bytes differ. */
#define TP_FILL 0xA5

struct tp_region {
	void *vaddr;
	uint64_t dma;
	size_t size;
	unsigned frees;  /* how often it came back (must end at exactly 1) */
};

struct test_provider {
	pthread_mutex_t lock;
	struct tp_region *r;   /* every allocation ever made, in order */
	size_t nr, cap;
	uint64_t next_dma;
	unsigned fail_next;    /* refuse this many of the next alloc calls */
	unsigned alloc_calls;  /* every call, refused ones included */
	unsigned allocs;       /* successful */
	unsigned refused;
	unsigned frees;
	unsigned bad_frees;    /* unknown region, wrong size/dma, or freed twice */
	char bad_why[200];
};

static inline void tp_init(struct test_provider *tp, uint64_t first_dma)
{
	memset(tp, 0, sizeof(*tp));
	pthread_mutex_init(&tp->lock, NULL);
	tp->next_dma = first_dma;
}

static inline void tp_fail_next(struct test_provider *tp, unsigned n)
{
	pthread_mutex_lock(&tp->lock);
	tp->fail_next = n;
	pthread_mutex_unlock(&tp->lock);
}

static inline int tp_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	struct test_provider *tp = ctx;
	void *p;
	int err = 0;

	pthread_mutex_lock(&tp->lock);
	tp->alloc_calls++;
	if (tp->fail_next) {
		tp->fail_next--;
		tp->refused++;
		err = -ENOMEM;
		goto out;
	}
	if (tp->nr == tp->cap) {
		size_t cap = tp->cap ? 2 * tp->cap : 64;
		struct tp_region *r = realloc(tp->r, cap * sizeof(*r));

		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		tp->r = r;
		tp->cap = cap;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		err = -ENOMEM;
		goto out;
	}
	memset(p, TP_FILL, size);
	tp->r[tp->nr] = (struct tp_region){ .vaddr = p, .dma = tp->next_dma, .size = size };
	tp->nr++;
	tp->allocs++;
	*vaddr = p;
	*dma_addr = tp->next_dma;
	tp->next_dma += ((size + TP_DMA_GAP - 1) & ~(TP_DMA_GAP - 1)) + TP_DMA_GAP;
out:
	pthread_mutex_unlock(&tp->lock);
	return err;
}

static inline void tp_free(void *ctx, void *vaddr, uint64_t dma_addr, size_t size)
{
	struct test_provider *tp = ctx;
	size_t i;

	pthread_mutex_lock(&tp->lock);
	tp->frees++;
	for (i = 0; i < tp->nr; i++)
		if (tp->r[i].vaddr == vaddr && tp->r[i].frees == 0)
			break;
	if (i == tp->nr || tp->r[i].dma != dma_addr || tp->r[i].size != size) {
		if (!tp->bad_frees)
			snprintf(tp->bad_why, sizeof(tp->bad_why),
				 "free(%p, %#llx, %zu): %s", vaddr, (unsigned long long)dma_addr,
				 size, i == tp->nr ? "not a live region" : "dma or size differ");
		tp->bad_frees++;
	} else {
		tp->r[i].frees++;
		/* Gone for good: a later access by the library faults. */
		munmap(vaddr, size);
	}
	pthread_mutex_unlock(&tp->lock);
}

static const struct iotlb_region_ops tp_ops = { .alloc = tp_alloc, .free = tp_free };

/* Snapshot of the counters, taken under the lock. */
struct tp_counts {
	unsigned alloc_calls, allocs, refused, frees, bad_frees, live;
};

static inline struct tp_counts tp_counts(struct test_provider *tp)
{
	struct tp_counts c;

	pthread_mutex_lock(&tp->lock);
	c.alloc_calls = tp->alloc_calls;
	c.allocs = tp->allocs;
	c.refused = tp->refused;
	c.frees = tp->frees;
	c.bad_frees = tp->bad_frees;
	c.live = 0;
	for (size_t i = 0; i < tp->nr; i++)
		c.live += tp->r[i].frees == 0;
	pthread_mutex_unlock(&tp->lock);
	return c;
}

/* Index of the region whose device range holds `dma`, or -1. */
static inline long tp_find(struct test_provider *tp, uint64_t dma)
{
	long found = -1;

	pthread_mutex_lock(&tp->lock);
	for (size_t i = 0; i < tp->nr; i++)
		if (dma >= tp->r[i].dma && dma < tp->r[i].dma + tp->r[i].size)
			found = (long)i;
	pthread_mutex_unlock(&tp->lock);
	return found;
}

static inline struct tp_region tp_region(struct test_provider *tp, long i)
{
	struct tp_region r;

	pthread_mutex_lock(&tp->lock);
	r = tp->r[i];
	pthread_mutex_unlock(&tp->lock);
	return r;
}

/*
 * Every region handed out came back exactly once and nothing else was freed.
 * Returns 0, or -1 with a description in `why`.
 */
static inline int tp_all_returned_once(struct test_provider *tp, char *why, size_t len)
{
	int ret = 0;

	pthread_mutex_lock(&tp->lock);
	if (tp->bad_frees) {
		snprintf(why, len, "%u bad frees, first: %s", tp->bad_frees, tp->bad_why);
		ret = -1;
	}
	for (size_t i = 0; !ret && i < tp->nr; i++)
		if (tp->r[i].frees != 1) {
			snprintf(why, len, "region %zu (dma %#llx, %zu bytes) freed %u times", i,
				 (unsigned long long)tp->r[i].dma, tp->r[i].size, tp->r[i].frees);
			ret = -1;
		}
	if (!ret && tp->frees != tp->allocs) {
		snprintf(why, len, "%u allocs, %u frees", tp->allocs, tp->frees);
		ret = -1;
	}
	pthread_mutex_unlock(&tp->lock);
	return ret;
}

static inline void tp_fini(struct test_provider *tp)
{
	/* Regions never returned are unmapped here so a failing test leaks nothing. */
	for (size_t i = 0; i < tp->nr; i++)
		if (tp->r[i].frees == 0)
			munmap(tp->r[i].vaddr, tp->r[i].size);
	free(tp->r);
	pthread_mutex_destroy(&tp->lock);
	memset(tp, 0, sizeof(*tp));
}

/* ------------------------------------------------------------ waiting */

/*
 * Background work (the growth worker, the grace period before a transient
 * pool goes back) finishes "eventually": poll for it. The bound only keeps a
 * broken library from hanging the test; it is not a performance threshold.
 */
#define TP_WAIT_SECONDS 30

static inline void tp_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#define TP_WAIT_FOR(cond)                                                     \
	({                                                                    \
		bool tp_ok_ = false;                                          \
		for (unsigned tp_i_ = 0; tp_i_ < TP_WAIT_SECONDS * 500; tp_i_++) { \
			if (cond) {                                           \
				tp_ok_ = true;                                \
				break;                                        \
			}                                                     \
			tp_sleep_ms(2);                                       \
		}                                                             \
		tp_ok_;                                                       \
	})

#endif /* IOTLB_TESTS_GROW_PROVIDER_H */
