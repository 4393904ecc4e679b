/* SPDX-License-Identifier: MIT */
/*
 * Statistics: sums of per-area counters and domain-wide atomics, read
 * without stopping anyone, and printed through the caller's callback.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The per-area activity counters, and where they go in struct iotlb_stats. */
#define AREA_COUNTERS(X)                        \
	X(maps, maps)                           \
	X(unmaps, unmaps)                       \
	X(allocs, allocs)                       \
	X(frees, frees)                         \
	X(syncs, syncs)                         \
	X(bounced_to_device, bounced_to_device) \
	X(bounced_to_cpu, bounced_to_cpu)       \
	X(overflow_clamps, overflow_clamps)     \
	X(lc.acquisitions, lock_acquisitions)   \
	X(lc.contended, lock_contended)         \
	X(lc.wait_ns, lock_wait_ns)

void iotlb__pool_fold_counters(const struct iotlb__pool *pool, struct iotlb_stats *s, bool atomic)
{
	for (unsigned a = 0; a < pool->nareas; a++) {
		const struct iotlb__area *area = iotlb__area_at(pool, a);
		uint64_t wait_max = IOTLB__LOAD(&area->lc.wait_max_ns);

#define FOLD(field, stat)                                        \
	if (atomic)                                              \
		IOTLB__ADD(&s->stat, IOTLB__LOAD(&area->field)); \
	else                                                     \
		s->stat += IOTLB__LOAD(&area->field);
		AREA_COUNTERS(FOLD)
#undef FOLD
		if (wait_max > IOTLB__LOAD(&s->lock_wait_max_ns))
			IOTLB__STORE(&s->lock_wait_max_ns, wait_max);
	}
}

void iotlb__domain_stats(const struct iotlb__domain *d, struct iotlb_stats *s)
{
	const struct iotlb__pool *pool;

	memset(s, 0, sizeof(*s));
	s->struct_size = sizeof(*s);
	iotlb__read_lock();
	for (pool = __atomic_load_n(&d->pools, __ATOMIC_ACQUIRE); pool;
	     pool = __atomic_load_n(&pool->next, __ATOMIC_ACQUIRE))
		iotlb__pool_fold_counters(pool, s, false);
	for (pool = __atomic_load_n(&d->transient, __ATOMIC_ACQUIRE); pool;
	     pool = __atomic_load_n(&pool->next, __ATOMIC_ACQUIRE))
		iotlb__pool_fold_counters(pool, s, false);
	iotlb__read_unlock();
#define RETIRED(field, stat) s->stat += IOTLB__LOAD(&d->retired.stat);
	AREA_COUNTERS(RETIRED)
#undef RETIRED
	if (IOTLB__LOAD(&d->retired.lock_wait_max_ns) > s->lock_wait_max_ns)
		s->lock_wait_max_ns = IOTLB__LOAD(&d->retired.lock_wait_max_ns);
	s->nslots = IOTLB__LOAD(&d->nslots);
	s->used = IOTLB__LOAD(&d->used);
	s->used_hiwater = IOTLB__LOAD(&d->used_hiwater);
	s->transient_nslots = IOTLB__LOAD(&d->transient_nslots);
	s->npools = IOTLB__LOAD(&d->npools);
	s->nareas = IOTLB__LOAD(&d->max_nareas);
	s->map_fail_nospace = IOTLB__LOAD(&d->fail_nospace);
	s->map_fail_too_big = IOTLB__LOAD(&d->fail_too_big);
	s->area_fallbacks = IOTLB__LOAD(&d->area_fallbacks);
	s->grow_attempts = IOTLB__LOAD(&d->grow_attempts);
	s->grow_failures = IOTLB__LOAD(&d->grow_failures);
	s->transient_pools = IOTLB__LOAD(&d->transient_pools);
	iotlb__wait_stats(&d->wq, s);
}

/* Hands the caller the prefix of `full` that its struct_size covers. */
static int copy_out(void *out, const void *full, size_t full_size)
{
	size_t want;

	memcpy(&want, out, sizeof(want));
	if (want < sizeof(size_t))
		return -EINVAL;
	memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t),
	       (want < full_size ? want : full_size) - sizeof(size_t));
	return 0;
}

int iotlb_mem_stats(const struct iotlb_mem *mem, struct iotlb_stats *out)
{
	struct iotlb_stats s;

	if (!mem || !out)
		return -EINVAL;
	iotlb__domain_stats(&mem->shared, &s);
	return copy_out(out, &s, sizeof(s));
}

int iotlb_dev_stats(const struct iotlb_dev *dev, struct iotlb_stats *out)
{
	struct iotlb_stats s;

	if (!dev || !out)
		return -EINVAL;
	iotlb__domain_stats(dev->domain, &s);
	if (dev->domain != &dev->mem->shared)
		s.nqueues = dev->nqueues;
	return copy_out(out, &s, sizeof(s));
}

void iotlb__area_stats_fill(const struct iotlb__pool *pool, unsigned a, struct iotlb_area_stats *s)
{
	const struct iotlb__area *area = iotlb__area_at(pool, a);

	memset(s, 0, sizeof(*s));
	s->struct_size = sizeof(*s);
	s->first_slot = area->base;
	s->nslots = area->nslots;
	s->used = IOTLB__LOAD(&area->used);
	s->cursor = IOTLB__LOAD(&area->index);
	s->acquisitions = IOTLB__LOAD(&area->lc.acquisitions);
	s->contended = IOTLB__LOAD(&area->lc.contended);
	s->wait_ns = IOTLB__LOAD(&area->lc.wait_ns);
	s->wait_max_ns = IOTLB__LOAD(&area->lc.wait_max_ns);
}

static int area_stats(const struct iotlb__domain *d, unsigned pool_index, unsigned a,
		      struct iotlb_area_stats *out)
{
	const struct iotlb__pool *pool;
	struct iotlb_area_stats s;
	int err = -EINVAL;

	iotlb__read_lock();
	for (pool = __atomic_load_n(&d->pools, __ATOMIC_ACQUIRE); pool;
	     pool = __atomic_load_n(&pool->next, __ATOMIC_ACQUIRE)) {
		if (pool->index == pool_index && a < pool->nareas) {
			iotlb__area_stats_fill(pool, a, &s);
			err = 0;
			break;
		}
	}
	iotlb__read_unlock();
	return err ? err : copy_out(out, &s, sizeof(s));
}

int iotlb_mem_area_stats(const struct iotlb_mem *mem, unsigned pool_index, unsigned area,
			 struct iotlb_area_stats *out)
{
	if (!mem || !out)
		return -EINVAL;
	return area_stats(&mem->shared, pool_index, area, out);
}

int iotlb_dev_area_stats(const struct iotlb_dev *dev, unsigned area, struct iotlb_area_stats *out)
{
	if (!dev || !out)
		return -EINVAL;
	return area_stats(dev->domain, 0, area, out);
}

int iotlb_stats_print(const struct iotlb_mem *mem, const struct iotlb_dev *dev,
		      iotlb_print_fn print, void *ctx)
{
	const struct iotlb__domain *d;
	const struct iotlb__pool *pool;
	struct iotlb_stats s;
	char line[160];

	if ((!mem && !dev) || !print)
		return -EINVAL;
	d = dev ? dev->domain : &mem->shared;
	iotlb__domain_stats(d, &s);
	if (dev && d != &dev->mem->shared)
		s.nqueues = dev->nqueues;
#define IOTLB__PRINT_FIELD(name, desc)                                                             \
	snprintf(line, sizeof(line), "%-20s %20llu  %s", #name, (unsigned long long)s.name, desc); \
	print(ctx, line);
	IOTLB_STATS_FIELDS(IOTLB__PRINT_FIELD)
#undef IOTLB__PRINT_FIELD
	print(ctx, "pool area   first   nslots     used   cursor     acquired    contended"
		   "      wait_ns  wait_max_ns");
	iotlb__read_lock();
	for (pool = __atomic_load_n(&d->pools, __ATOMIC_ACQUIRE); pool;
	     pool = __atomic_load_n(&pool->next, __ATOMIC_ACQUIRE)) {
		for (unsigned a = 0; a < pool->nareas; a++) {
			struct iotlb_area_stats as;

			iotlb__area_stats_fill(pool, a, &as);
			snprintf(line, sizeof(line),
				 "%4u %4u %7llu %8llu %8llu %8llu %12llu %12llu %12llu %12llu",
				 pool->index, a, (unsigned long long)as.first_slot,
				 (unsigned long long)as.nslots, (unsigned long long)as.used,
				 (unsigned long long)as.cursor, (unsigned long long)as.acquisitions,
				 (unsigned long long)as.contended, (unsigned long long)as.wait_ns,
				 (unsigned long long)as.wait_max_ns);
			print(ctx, line);
		}
	}
	iotlb__read_unlock();
	return 0;
}
