/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the waiting-for-room tests: a small mem (one or more areas) over
 * an anonymous region, white-box readers of its wait queue (src/internal.h),
 * threads that make one blocking call each, and a poll with a hang guard.
 */
#ifndef IOTLB_TESTS_WAIT_WFX_H
#define IOTLB_TESTS_WAIT_WFX_H

/* cmocka.h needs these before it */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define W_SLOT 2048u
#define W_SEG 128u
#define W_DMA 0x40000000ull
/* A poll that has not seen its condition after this long reports a hang. */
#define W_HANG_GUARD_MS 20000u

struct wfx {
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	unsigned char *region;
	size_t size;
	unsigned char *orig; /* originals for maps, one slot apart per index */
	size_t orig_size;
};

static inline void *w_mmap(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* A mem of `nslots` slots in `nareas` areas, custom config tweaks via cfg_out. */
static inline void w_setup_cfg(struct wfx *w, struct iotlb_mem_config *cfg, uint64_t nslots,
			       unsigned nareas)
{
	memset(w, 0, sizeof(*w));
	w->size = (size_t)nslots * W_SLOT;
	w->region = w_mmap(w->size);
	w->orig_size = 8u << 20;
	w->orig = w_mmap(w->orig_size);
	cfg->vaddr = w->region;
	cfg->dma_addr = W_DMA;
	cfg->size = w->size;
	cfg->nareas = nareas;
}

static inline void w_setup(struct wfx *w, uint64_t nslots, unsigned nareas, uint64_t timeout_ns)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	w_setup_cfg(w, &cfg, nslots, nareas);
	assert_int_equal(iotlb_mem_create(&cfg, &w->mem), 0);
	dc.wait_timeout_ns = timeout_ns;
	assert_int_equal(iotlb_dev_create(w->mem, &dc, &w->dev), 0);
}

static inline void w_teardown(struct wfx *w)
{
	char why[200];

	if (w->dev) {
		assert_int_equal(iotlb__check_dev(w->dev, why, sizeof(why)), 0);
		assert_int_equal(iotlb_dev_destroy(w->dev), 0);
	}
	assert_int_equal(iotlb__check_mem(w->mem, why, sizeof(why)), 0);
	assert_int_equal(iotlb_mem_destroy(w->mem), 0);
	munmap(w->region, w->size);
	munmap(w->orig, w->orig_size);
}

static inline uint64_t w_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void w_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static inline uint64_t w_nwaiters(const struct iotlb_dev *dev)
{
	return IOTLB__LOAD(&dev->domain->wq.nwaiters);
}

static inline uint64_t w_active(const struct iotlb_dev *dev)
{
	return IOTLB__LOAD(&dev->domain->wq.active);
}

/* Polls until `dev`'s domain has `n` blocking requests queued. */
static inline void w_until_waiters(const struct iotlb_dev *dev, uint64_t n)
{
	for (unsigned ms = 0; w_nwaiters(dev) != n; ms++) {
		if (ms >= W_HANG_GUARD_MS)
			fail_msg("hang: %llu waiters, expected %llu",
				 (unsigned long long)w_nwaiters(dev), (unsigned long long)n);
		w_sleep_ms(1);
	}
}

static inline struct iotlb_stats w_stats(const struct iotlb_dev *dev)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_dev_stats(dev, &s), 0);
	return s;
}

/* One blocking map in a thread of its own. */
struct w_call {
	pthread_t thread;
	struct iotlb_dev *dev;
	void *orig;
	size_t size;
	unsigned attrs;
	int err;
	uint64_t dma;
	unsigned order;	  /* when it returned, among the calls sharing `served` */
	unsigned *served; /* counter shared by the calls of one test */
};

static inline void *w_call_main(void *arg)
{
	struct w_call *c = arg;

	c->err = iotlb_map(c->dev, IOTLB_ANY_QUEUE, c->orig, c->size, IOTLB_TO_DEVICE, c->attrs,
			   &c->dma);
	if (c->served)
		c->order = __atomic_fetch_add(c->served, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static inline void w_call_start(struct w_call *c, struct iotlb_dev *dev, void *orig, size_t size,
				unsigned *served)
{
	*c = (struct w_call){.dev = dev,
			     .orig = orig,
			     .size = size,
			     .attrs = IOTLB_ATTR_MAY_BLOCK,
			     .dma = 1,
			     .served = served};
	assert_int_equal(pthread_create(&c->thread, NULL, w_call_main, c), 0);
}

static inline void w_call_join(struct w_call *c)
{
	assert_int_equal(pthread_join(c->thread, NULL), 0);
}

#endif /* IOTLB_TESTS_WAIT_WFX_H */
