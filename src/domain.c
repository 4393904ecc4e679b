/* SPDX-License-Identifier: MIT */
/*
 * The pools of a domain and the address -> pool lookup. A domain's own pools
 * are never removed while it lives, so lookups bisect a sorted array read
 * without RCU; transient pools come and go and are looked up under RCU.
 */
#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/pointer.h>

#include "internal.h"

int iotlb__domain_init(struct iotlb__domain *d)
{
	return pthread_mutex_init(&d->hw_lock, NULL) ? -ENOMEM : 0;
}

void iotlb__domain_fini(struct iotlb__domain *d)
{
	struct iotlb__pool_index *ix = d->index;

	while (ix) {
		struct iotlb__pool_index *older = ix->older;

		iotlb__free(ix);
		ix = older;
	}
	d->index = NULL;
	pthread_mutex_destroy(&d->hw_lock);
}

/* Buckets for n pools: at most 2n (index_buckets). */
static size_t index_bytes(uint64_t n)
{
	return sizeof(struct iotlb__pool_index) + n * sizeof(uint64_t) +
	       n * sizeof(struct iotlb__pool *) + (2 * n + 1) * sizeof(uint32_t);
}

static void index_buckets(struct iotlb__pool_index *ix, uint64_t n)
{
	uint64_t span = ix->start[n - 1] - ix->start[0], i = 0;
	unsigned shift = 0;

	/* The smallest power-of-two bucket that cuts the span into <= 2n. */
	while ((span >> shift) >= 2 * n)
		shift++;
	ix->shift = shift;
	ix->nbuckets = (uint32_t)(span >> shift) + 1;
	for (uint64_t b = 0; b < ix->nbuckets; b++) {
		uint64_t begin = ix->start[0] + (b << shift);

		while (i + 1 < n && ix->start[i + 1] <= begin)
			i++;
		ix->first[b] = (uint32_t)i;
	}
	ix->first[ix->nbuckets] = (uint32_t)(n - 1);
}

int iotlb__domain_add_pool(struct iotlb__domain *d, struct iotlb__pool *pool)
{
	struct iotlb__pool_index *old = d->index, *ix;
	uint64_t n = old ? old->n : 0, i, j;

	ix = iotlb__zalloc(_Alignof(struct iotlb__pool_index), 1, index_bytes(n + 1));
	if (!ix)
		return -ENOMEM;
	ix->pool = (struct iotlb__pool **)(void *)&ix->start[n + 1];
	ix->first = (uint32_t *)(void *)&ix->pool[n + 1];
	for (i = 0, j = 0; i < n; i++) {
		if (j == i && old->start[i] > pool->dma_addr)
			ix->pool[j++] = pool;
		ix->pool[j++] = old->pool[i];
	}
	if (j == n)
		ix->pool[j] = pool;
	for (i = 0; i <= n; i++)
		ix->start[i] = ix->pool[i]->dma_addr;
	index_buckets(ix, n + 1);
	ix->n = n + 1;
	ix->older = old;

	pool->domain = d;
	pool->next = d->pools;
	IOTLB__STORE(&d->nslots, d->nslots + pool->nslots);
	IOTLB__STORE(&d->npools, d->npools + 1);
	if (pool->nareas > d->max_nareas)
		IOTLB__STORE(&d->max_nareas, pool->nareas);
	if (pool->nslots > d->max_pool_nslots)
		IOTLB__STORE(&d->max_pool_nslots, pool->nslots);
	/* Publish only fully built structures. */
	IOTLB__PUBLISH(d->index, ix);
	IOTLB__PUBLISH(d->pools, pool);
	return 0;
}

struct iotlb__pool *iotlb__domain_lookup(const struct iotlb__domain *d, uint64_t dma)
{
	const struct iotlb__pool_index *ix = rcu_dereference(d->index);
	const struct iotlb__pool *pool;
	uint64_t b, base, len;

	if (!ix || dma < ix->start[0])
		return NULL;
	/* The bucket bounds the candidates (see struct iotlb__pool_index); the
	 * last pool starting at or below dma is then bisected among them. */
	b = (dma - ix->start[0]) >> ix->shift;
	if (b >= ix->nbuckets)
		b = ix->nbuckets - 1;
	base = ix->first[b];
	for (len = ix->first[b + 1] - base + 1; len > 1; len -= len / 2)
		if (ix->start[base + len / 2] <= dma)
			base += len / 2;
	pool = ix->pool[base];
	return dma < pool->end_dma ? ix->pool[base] : NULL;
}

struct iotlb__pool *iotlb__domain_lookup_transient(const struct iotlb__domain *d, uint64_t dma)
{
	struct iotlb__pool *pool;

	for (pool = rcu_dereference(d->transient); pool; pool = rcu_dereference(pool->next))
		if (iotlb__pool_contains(pool, dma))
			return pool;
	return NULL;
}

uint64_t iotlb__domain_used(const struct iotlb__domain *d)
{
	const struct iotlb__pool *pool;
	uint64_t used = 0;

	for (pool = rcu_dereference(d->pools); pool; pool = rcu_dereference(pool->next))
		used += iotlb__pool_used(pool);
	iotlb__read_lock();
	for (pool = rcu_dereference(d->transient); pool; pool = rcu_dereference(pool->next))
		used += iotlb__pool_used(pool);
	iotlb__read_unlock();
	return used;
}

int iotlb__region_check(const struct iotlb_mem_params *p, const void *vaddr, uint64_t dma,
			size_t size)
{
	uintptr_t va = (uintptr_t)vaddr;

	if (!vaddr || size < p->slot_size || size % p->slot_size)
		return -EINVAL;
	if ((va & (p->page_size - 1)) || (dma & (p->page_size - 1)))
		return -EINVAL;
	if (va + size < va || dma + size < dma)
		return -EINVAL;
	return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool overlaps_any(const struct iotlb__pool *pool, const void *vaddr, uint64_t dma,
			 size_t size)
{
	for (; pool; pool = pool->next) {
		uint64_t bytes = pool->end_dma - pool->dma_addr;

		if (overlaps(pool->dma_addr, bytes, dma, size) ||
		    overlaps((uintptr_t)pool->vaddr, bytes, (uintptr_t)vaddr, size))
			return true;
	}
	return false;
}

/*
 * libiotlb: a region from the growth provider is held to the rules of
 * iotlb_mem_add_pool. A provider that hands out an overlapping or wrapping
 * region would otherwise let one mapping read another's bytes or strand
 * handles that no lookup can find again.
 */
int iotlb__domain_region_check(const struct iotlb__domain *d, const struct iotlb_mem_params *p,
			       const void *vaddr, uint64_t dma, size_t size)
{
	int err = iotlb__region_check(p, vaddr, dma, size);

	if (err)
		return err;
	if (overlaps_any(d->pools, vaddr, dma, size) || overlaps_any(d->transient, vaddr, dma, size))
		return -EINVAL;
	return 0;
}
