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

static void add_provider_pool(struct iotlb_mem *mem)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;
	struct iotlb__pool *pool = NULL;
	void *va = NULL;
	uint64_t dma = 0;
	size_t size = mem->cfg.grow_size;
	int err;

	IOTLB__ADD(&mem->shared.grow_attempts, 1);
	if (ops->alloc(mem->cfg.region_ctx, size, &va, &dma) || !va) {
		IOTLB__ADD(&mem->shared.grow_failures, 1);
		return;
	}
	/* Checked and published under one hold of the writer lock, so that two
	 * regions racing in (this one and a transient pool) are compared. */
	pthread_mutex_lock(&mem->writer_lock);
	err = iotlb__domain_region_check(&mem->shared, &mem->p, va, dma, size);
	if (!err)
		err = iotlb__pool_create(&mem->p, &mem->lock_ops, va, dma,
					 size >> mem->p.slot_shift, mem->cfg.nareas, &pool);
	if (!err) {
		pool->from_provider = true;
		pool->region = va;
		pool->region_dma = dma;
		pool->region_size = size;
		pool->index = mem->next_pool_index;
		err = iotlb__domain_add_pool(&mem->shared, pool);
		if (err)
			iotlb__pool_destroy(pool);
		else
			mem->next_pool_index++;
	}
	pthread_mutex_unlock(&mem->writer_lock);
	if (err) {
		if (err == -EINVAL)
			iotlb__log(mem, IOTLB_LOG_WARNING,
				   "iotlb: growth region refused (vaddr %p, dma %#llx, %zu bytes): "
				   "misaligned, wrapping or overlapping a pool",
				   va, (unsigned long long)dma, size);
		ops->free(mem->cfg.region_ctx, va, dma, size);
		IOTLB__ADD(&mem->shared.grow_failures, 1);
		return;
	}
	if (mem->pool_added)
		mem->pool_added(&mem->shared); /* a waiter may look again */
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

/* First k < limit such that the request may start k slots after `addr`. */
static uint64_t first_fit(const struct iotlb_mem_params *p, const struct iotlb__search *s,
			  uint64_t addr, uint64_t limit)
{
	uint64_t k;

	for (k = 0; k < limit; k++)
		if (iotlb__search_fits_at(p, s, addr + (k << p->slot_shift)))
			break;
	return k;
}

/*
 * The slots a page-aligned region needs in front of a request so that it can
 * start at an allowed slot, in the worst case over the region's address.
 * Whether the request fits at an address depends only on that address modulo
 * a period q (the boundary window, or the alignment stride when there is no
 * boundary), and the places it fits are evenly spaced inside one window. So
 * the worst start is the first page after a fitting place: after the first
 * of a window (stands for every inner gap), after the last (the gap to the
 * next window), or 0. Returns UINT64_MAX when the request fits nowhere.
 */
uint64_t iotlb__transient_slack(const struct iotlb_mem_params *p, const struct iotlb__search *s)
{
	uint64_t page_slots = p->page_size >> p->slot_shift;
	/* Every gap between fitting places is shorter than this. */
	uint64_t limit = 2 * s->stride + 2 * s->nslots + page_slots;
	bool windowed = s->seg_boundary_mask != UINT64_MAX;
	uint64_t window = s->boundary_slots;
	uint64_t q = windowed ? window : s->stride;
	uint64_t first, last, worst = 0, cand[3];

	first = first_fit(p, s, 0, limit);
	if (first == limit || (windowed && first >= window))
		return UINT64_MAX;
	last = first;
	/* The last fitting slot of the window [0, window): near its end. */
	for (uint64_t i = window; windowed && i-- > first && window - i <= limit;)
		if (iotlb__search_fits_at(p, s, i << p->slot_shift)) {
			last = i;
			break;
		}
	cand[0] = 0;
	cand[1] = ((first / page_slots + 1) * page_slots) % q;
	cand[2] = ((last / page_slots + 1) * page_slots) % q;
	for (unsigned i = 0; i < 3; i++) {
		uint64_t k = first_fit(p, s, cand[i] << p->slot_shift, limit);

		if (k == limit)
			return UINT64_MAX;
		if (k > worst)
			worst = k;
	}
	return worst;
}

/* Refuses a provider region for a transient pool: it goes back unused. */
static int transient_refuse(struct iotlb_mem *mem, void *va, uint64_t dma, size_t size, int err)
{
	if (err == -EINVAL)
		iotlb__log(mem, IOTLB_LOG_WARNING,
			   "iotlb: transient region refused (vaddr %p, dma %#llx, %zu bytes): "
			   "misaligned, wrapping or overlapping a pool",
			   va, (unsigned long long)dma, size);
	mem->cfg.region_ops->free(mem->cfg.region_ctx, va, dma, size);
	IOTLB__ADD(&mem->shared.grow_failures, 1);
	return -ENOSPC;
}

/*
 * libiotlb: the kernel sizes a transient pool to exactly the request, so a
 * request that needs an aligned start slot may not fit in it. We ask for the
 * request's slots plus the slack its alignment and boundary need (none for a
 * request without alignment needs) and begin the pool at the first slot that
 * satisfies them. The region is validated like a pool of iotlb_mem_add_pool.
 */
int iotlb__transient_take(struct iotlb_mem *mem, const struct iotlb__search *s,
			  const struct iotlb__req *req, struct iotlb__pool **pool_out,
			  uint64_t *slot_out)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;
	const struct iotlb_mem_params *p = &mem->p;
	struct iotlb__domain *d = &mem->shared;
	uint64_t nslots = s->nslots;
	uint64_t slack = iotlb__transient_slack(p, s);
	struct iotlb__pool *pool;
	void *va = NULL;
	uint64_t dma = 0, k;
	size_t size;
	int64_t slot;
	bool settle = false;
	int err;

	/* A request no region can place: the provider is not bothered. */
	if (slack == UINT64_MAX)
		return -ENOSPC;
	size = (size_t)((slack + nslots) << p->slot_shift);
	if (ops->alloc(mem->cfg.region_ctx, size, &va, &dma) || !va)
		return -ENOSPC;
	/* Page alignment and no wrap first: the search below relies on both. */
	pthread_mutex_lock(&mem->writer_lock);
	err = iotlb__domain_region_check(&mem->shared, &mem->p, va, dma, size);
	pthread_mutex_unlock(&mem->writer_lock);
	if (err)
		return transient_refuse(mem, va, dma, size, err);
	k = first_fit(p, s, dma, slack + 1);
	err = k > slack ? -ENOSPC
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
	/* Again, now under the hold that publishes: a region racing in since. */
	err = iotlb__domain_region_check(&mem->shared, &mem->p, va, dma, size);
	if (!err) {
		pool->index = UINT32_MAX;
		pool->next = d->transient;
		IOTLB__STORE(&d->transient_nslots, d->transient_nslots + nslots);
		IOTLB__STORE(&d->transient_pools, d->transient_pools + 1);
		IOTLB__PUBLISH(d->transient, pool);
	}
	pthread_mutex_unlock(&mem->writer_lock);
	if (err) {
		iotlb__pool_destroy(pool);
		return transient_refuse(mem, va, dma, size, err);
	}
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
