/* SPDX-License-Identifier: MIT */
/*
 * Statistics: sums of per-area counters and domain-wide atomics, read
 * without stopping anyone, and printed through the caller's callback.
 */
#include <stdio.h>
#include <string.h>

#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/pointer.h>

#include "area_lock.h"
#include "internal.h"

/*
 * The exact high-water mark without a shared counter on the hot path.
 * Invariant, at every instant: hw - used == spare + the sum of the areas'
 * hw_slack, because every change keeps it: a take spends its own area's
 * slack and a return refills it (both under that area's lock only), and the
 * settle below moves headroom between areas and `spare`, or raises hw and an
 * area's slack together. A take settles only when its area's slack went
 * negative (the domain may be at a new high): first from `spare`, then from
 * every other area's slack, and only what nobody holds raises the mark.
 * docs/design.md, "The high-water mark", shows why this stays exact.
 */
typedef void (*area_fn)(struct iotlb__pool *pool, struct iotlb__area *area, void *arg);

/*
 * Calls fn under the lock of each area whose slack `want` selects (by a
 * relaxed read first, so that areas with nothing to give or take are not
 * disturbed; a take that makes a skipped area negative settles after us).
 * hw_lock is held by the caller.
 */
static void each_area_locked(struct iotlb__domain *d, area_fn fn, void *arg, int want)
{
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	struct iotlb__pool *pool;

	iotlb__read_lock();
	for (int pass = 0; pass < 2; pass++)
		for (pool = pass ? rcu_dereference(d->transient) : rcu_dereference(d->pools); pool;
		     pool = rcu_dereference(pool->next))
			for (unsigned a = 0; a < pool->nareas; a++) {
				struct iotlb__area *area = iotlb__area_at(pool, a);
				int64_t slack = IOTLB__LOAD(&area->hw_slack);

				if ((want < 0 && slack >= 0) || (want > 0 && slack <= 0) ||
				    (want == 0 && slack == 0))
					continue;
				iotlb__area_lock(pool, area, ctx);
				fn(pool, area, arg);
				iotlb__area_unlock(pool, area, ctx);
			}
	iotlb__read_unlock();
}

struct settle {
	struct iotlb__domain *d;
	bool all;	/* move every slack, negative too, into spare */
	bool raise;	/* cover what spare cannot by raising the mark */
	bool short_;	/* some deficit was left uncovered */
};

static void collect(struct iotlb__pool *pool, struct iotlb__area *area, void *arg)
{
	struct settle *st = arg;
	int64_t slack = area->hw_slack;

	(void)pool;
	if (slack > 0 || st->all) {
		st->d->hw_spare += slack;
		IOTLB__STORE(&area->hw_slack, 0);
	}
}

static void cover(struct iotlb__pool *pool, struct iotlb__area *area, void *arg)
{
	struct settle *st = arg;
	struct iotlb__domain *d = st->d;
	int64_t need = -area->hw_slack, give;

	(void)pool;
	if (need <= 0)
		return;
	give = d->hw_spare < need ? (d->hw_spare > 0 ? d->hw_spare : 0) : need;
	d->hw_spare -= give;
	need -= give;
	if (need && st->raise) {
		IOTLB__STORE(&d->hw, d->hw + (uint64_t)need);
		need = 0;
	}
	IOTLB__STORE(&area->hw_slack, -need);
	if (need)
		st->short_ = true;
}

void iotlb__hiwater_settle(struct iotlb__domain *d)
{
	struct settle st = {.d = d};

	pthread_mutex_lock(&d->hw_lock);
	if (IOTLB__LOAD(&d->hw_reset_pending)) {
		/* Re-base: hw becomes the use right now (invariant: hw - spare). */
		st.all = true;
		each_area_locked(d, collect, &st, 0);
		IOTLB__STORE(&d->hw, (uint64_t)((int64_t)d->hw - d->hw_spare));
		d->hw_spare = 0;
		IOTLB__STORE(&d->hw_reset_pending, (uint8_t)0);
	} else {
		each_area_locked(d, cover, &st, -1);
		if (st.short_) {
			each_area_locked(d, collect, &st, 1);
			st.raise = true;
			each_area_locked(d, cover, &st, -1);
		}
	}
	pthread_mutex_unlock(&d->hw_lock);
}

void iotlb__hiwater_retire(struct iotlb__domain *d, struct iotlb__pool *pool)
{
	/* Writer lock held, the pool just unlinked and holding nothing. */
	pthread_mutex_lock(&d->hw_lock);
	for (unsigned a = 0; a < pool->nareas; a++)
		d->hw_spare += IOTLB__LOAD(&iotlb__area_at(pool, a)->hw_slack);
	pthread_mutex_unlock(&d->hw_lock);
}

uint64_t iotlb__hiwater_read(const struct iotlb__domain *d, uint64_t used)
{
	uint64_t hw = IOTLB__LOAD(&d->hw);

	if (IOTLB__LOAD(&d->hw_reset_pending))
		return 0;
	/* A take between its area lock and its settle may be ahead of hw. */
	return hw > used ? hw : used;
}

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
	for (pool = rcu_dereference(d->pools); pool; pool = rcu_dereference(pool->next))
		iotlb__pool_fold_counters(pool, s, false);
	iotlb__read_lock();
	for (pool = rcu_dereference(d->transient); pool; pool = rcu_dereference(pool->next))
		iotlb__pool_fold_counters(pool, s, false);
	iotlb__read_unlock();
#define RETIRED(field, stat) s->stat += IOTLB__LOAD(&d->retired.stat);
	AREA_COUNTERS(RETIRED)
#undef RETIRED
	if (IOTLB__LOAD(&d->retired.lock_wait_max_ns) > s->lock_wait_max_ns)
		s->lock_wait_max_ns = IOTLB__LOAD(&d->retired.lock_wait_max_ns);
	s->nslots = IOTLB__LOAD(&d->nslots);
	s->used = iotlb__domain_used(d);
	s->used_hiwater = iotlb__hiwater_read(d, s->used);
	s->transient_nslots = IOTLB__LOAD(&d->transient_nslots);
	s->npools = IOTLB__LOAD(&d->npools);
	s->nareas = IOTLB__LOAD(&d->max_nareas);
	s->map_fail_nospace = IOTLB__LOAD(&d->fail_nospace);
	s->map_fail_too_big = IOTLB__LOAD(&d->fail_too_big);
	s->area_fallbacks = IOTLB__LOAD(&d->area_fallbacks);
	s->grow_attempts = IOTLB__LOAD(&d->grow_attempts);
	s->grow_failures = IOTLB__LOAD(&d->grow_failures);
	s->transient_pools = IOTLB__LOAD(&d->transient_pools);
	/* The wait queue's counters (wait.c writes them under its lock). */
	s->waits = IOTLB__LOAD(&d->wq.waits);
	s->wait_timeouts = IOTLB__LOAD(&d->wq.wait_timeouts);
	s->wait_ns = IOTLB__LOAD(&d->wq.wait_ns);
	s->wait_ns_max = IOTLB__LOAD(&d->wq.wait_ns_max);
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
	for (pool = rcu_dereference(d->pools); pool;
	     pool = rcu_dereference(pool->next)) {
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
	for (pool = rcu_dereference(d->pools); pool;
	     pool = rcu_dereference(pool->next)) {
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
