/* SPDX-License-Identifier: MIT */
/*
 * The growable allocator (docs/algorithm.md, "Growth"): a worker thread adds
 * pools from the caller's region provider when every pool is full, and a
 * request that found no room meanwhile is served from a transient pool of
 * its own, handed back to the provider after its unmap and a grace period.
 */
#include <string.h>

#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/compiler.h>
#include <urcu/pointer.h>

#include "internal.h"
#include "wait.h"

static void add_provider_pool(struct iotlb_mem *mem)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;
	struct iotlb__pool *pool;
	void *va = NULL;
	uint64_t dma = 0;
	size_t size = mem->cfg.grow_size;

	IOTLB__ADD(&mem->shared.grow_attempts, 1);
	if (ops->alloc(mem->cfg.region_ctx, size, &va, &dma) || !va) {
		IOTLB__ADD(&mem->shared.grow_failures, 1);
		return;
	}
	if (iotlb__pool_create(&mem->p, &mem->lock_ops, va, dma, size >> mem->p.slot_shift,
			       mem->cfg.nareas, &pool)) {
		ops->free(mem->cfg.region_ctx, va, dma, size);
		IOTLB__ADD(&mem->shared.grow_failures, 1);
		return;
	}
	pool->from_provider = true;
	pool->region = va;
	pool->region_dma = dma;
	pool->region_size = size;
	pthread_mutex_lock(&mem->writer_lock);
	pool->index = mem->next_pool_index;
	if (iotlb__domain_add_pool(&mem->shared, pool)) {
		pthread_mutex_unlock(&mem->writer_lock);
		iotlb__pool_free_region(mem, pool);
		IOTLB__ADD(&mem->shared.grow_failures, 1);
		return;
	}
	mem->next_pool_index++;
	pthread_mutex_unlock(&mem->writer_lock);
	iotlb__wait_room_freed(&mem->shared); /* wake a waiter (wait.c) */
}

static void *grow_worker(void *arg)
{
	struct iotlb_mem *mem = arg;

	pthread_mutex_lock(&mem->grow_lock);
	for (;;) {
		while (!mem->grow_requested && !mem->grow_stop)
			pthread_cond_wait(&mem->grow_cond, &mem->grow_lock);
		if (mem->grow_stop)
			break;
		/* Cleared before the work, as a kernel work item: a request made
		 * while we add this pool asks for one more, none is dropped. */
		mem->grow_requested = false;
		pthread_mutex_unlock(&mem->grow_lock);
		add_provider_pool(mem);
		pthread_mutex_lock(&mem->grow_lock);
	}
	pthread_mutex_unlock(&mem->grow_lock);
	return NULL;
}

int iotlb__grow_start(struct iotlb_mem *mem)
{
	if (pthread_mutex_init(&mem->grow_lock, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&mem->grow_cond, NULL)) {
		pthread_mutex_destroy(&mem->grow_lock);
		return -ENOMEM;
	}
	if (pthread_create(&mem->grow_thread, NULL, grow_worker, mem)) {
		pthread_cond_destroy(&mem->grow_cond);
		pthread_mutex_destroy(&mem->grow_lock);
		return -ENOMEM;
	}
	mem->grow_running = true;
	return 0;
}

void iotlb__grow_stop(struct iotlb_mem *mem)
{
	if (!mem->grow_running)
		return;
	pthread_mutex_lock(&mem->grow_lock);
	mem->grow_stop = true;
	pthread_cond_signal(&mem->grow_cond);
	pthread_mutex_unlock(&mem->grow_lock);
	pthread_join(mem->grow_thread, NULL);
	pthread_cond_destroy(&mem->grow_cond);
	pthread_mutex_destroy(&mem->grow_lock);
	mem->grow_running = false;
}

void iotlb__grow_request(struct iotlb_mem *mem)
{
	pthread_mutex_lock(&mem->grow_lock);
	if (!mem->grow_requested) {
		mem->grow_requested = true;
		pthread_cond_signal(&mem->grow_cond);
	}
	pthread_mutex_unlock(&mem->grow_lock);
}

void iotlb__pool_free_region(struct iotlb_mem *mem, struct iotlb__pool *pool)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;

	if (pool->from_provider)
		ops->free(mem->cfg.region_ctx, pool->region, pool->region_dma, pool->region_size);
	iotlb__pool_destroy(pool);
}

/*
 * libiotlb: the kernel sizes a transient pool to exactly the request, so a
 * request that needs an aligned start slot may not fit in it. We take a
 * region with room for any start offset and begin the pool at the first
 * slot that satisfies the request's alignment and boundary rules.
 */
int iotlb__transient_take(struct iotlb_mem *mem, const struct iotlb__search *s,
			  const struct iotlb__req *req, struct iotlb__pool **pool_out,
			  uint64_t *slot_out)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;
	const struct iotlb_mem_params *p = &mem->p;
	struct iotlb__domain *d = &mem->shared;
	uint64_t nslots = s->nslots;
	uint64_t reach = 2 * s->stride + nslots;
	size_t size = (size_t)(((reach + nslots) << p->slot_shift) + p->page_size - 1) &
		      ~(size_t)(p->page_size - 1);
	struct iotlb__pool *pool;
	void *va = NULL;
	uint64_t dma = 0, k;
	int64_t slot;
	bool settle = false;
	int err;

	if (ops->alloc(mem->cfg.region_ctx, size, &va, &dma) || !va)
		return -ENOSPC;
	for (k = 0; k < reach; k++)
		if (iotlb__search_fits_at(p, s, dma + (k << p->slot_shift)))
			break;
	err = k == reach ? -ENOSPC
			 : iotlb__pool_create(p, &mem->lock_ops, (char *)va + (k << p->slot_shift),
					      dma + (k << p->slot_shift), nslots, 1, &pool);
	if (err) {
		ops->free(mem->cfg.region_ctx, va, dma, size);
		return err;
	}
	pool->transient = true;
	pool->from_provider = true;
	pool->region = va;
	pool->region_dma = dma;
	pool->region_size = size;
	pool->domain = d;
	slot = iotlb__area_take(pool, 0, s, req, &settle);
	if (slot < 0) {
		iotlb__pool_free_region(mem, pool);
		return -ENOSPC;
	}
	pthread_mutex_lock(&mem->writer_lock);
	pool->index = UINT32_MAX;
	pool->next = d->transient;
	IOTLB__STORE(&d->transient_nslots, d->transient_nslots + nslots);
	IOTLB__STORE(&d->transient_pools, d->transient_pools + 1);
	IOTLB__PUBLISH(d->transient, pool);
	pthread_mutex_unlock(&mem->writer_lock);
	/* Its one take is a new high unless other areas have headroom. */
	if (settle)
		iotlb__hiwater_settle(d);
	*pool_out = pool;
	*slot_out = (uint64_t)slot;
	return 0;
}

static struct iotlb_mem *mem_of(const struct iotlb__pool *pool)
{
	return caa_container_of(pool->domain, struct iotlb_mem, shared);
}

static void free_transient(struct iotlb__pool *pool)
{
	iotlb__pool_free_region(mem_of(pool), pool);
}

void iotlb__transient_retire(struct iotlb__pool *pool)
{
	struct iotlb_mem *mem = mem_of(pool);
	struct iotlb__domain *d = &mem->shared;
	struct iotlb__pool **link;

	pthread_mutex_lock(&mem->writer_lock);
	for (link = &d->transient; *link && *link != pool; link = &(*link)->next)
		;
	if (!*link) {
		pthread_mutex_unlock(&mem->writer_lock);
		return; /* a racing release already retired it */
	}
	iotlb__pool_fold_counters(pool, &d->retired, true);
	IOTLB__PUBLISH(*link, pool->next);
	IOTLB__STORE(&d->transient_nslots, d->transient_nslots - pool->nslots);
	iotlb__hiwater_retire(d, pool);
	pthread_mutex_unlock(&mem->writer_lock);
	/* Readers that found the pool before the unlink may still look at it. */
	iotlb__after_grace_period(pool, free_transient);
}
