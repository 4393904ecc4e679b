/* SPDX-License-Identifier: MIT */
/*
 * Areas (child pools): how a pool is split, the per-area lock with its
 * contention accounting, which area a request tries first and the fallback
 * order across areas and pools (docs/algorithm.md#areas, #area-major).
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/pointer.h>

#include "area_lock.h"
#include "internal.h"

static uint64_t round_up_pow2(uint64_t v)
{
	uint64_t r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

static uint64_t round_down_pow2(uint64_t v)
{
	uint64_t r = 1;

	while (r <= v / 2)
		r <<= 1;
	return r;
}

/* Areas beyond this are never useful and keep the arithmetic small. */
#define MAX_AREAS_REQUEST (1u << 16)

unsigned iotlb__nareas_for(unsigned requested, uint64_t nslots, unsigned segment_slots)
{
	uint64_t n = round_up_pow2(requested ? requested : 1);

	if (n > MAX_AREAS_REQUEST)
		n = MAX_AREAS_REQUEST;
	/* Every area holds at least one whole segment (libiotlb: never 0). */
	if (n * segment_slots > nslots) {
		uint64_t fit = nslots / segment_slots;

		n = round_down_pow2(fit ? fit : 1);
	}
	return (unsigned)n;
}

/* Bytes of one area's bitmap (with its sentinel word) and hints, line aligned. */
static size_t area_state_bytes(uint64_t nslots, uint64_t seg)
{
	size_t words = (size_t)(nslots / 64 + 1) * sizeof(uint64_t);
	size_t hints = (size_t)((nslots + seg - 1) / seg) * sizeof(uint32_t);
	size_t line = IOTLB__CACHELINE;

	return (words + line - 1) / line * line + (hints + line - 1) / line * line;
}

int iotlb__areas_create(struct iotlb__pool *pool, unsigned nareas, const struct iotlb_lock_ops *ops)
{
	uint64_t seg = pool->p->segment_slots;
	size_t align = ops->lock_align > IOTLB__CACHELINE ? ops->lock_align : IOTLB__CACHELINE;
	size_t head = (sizeof(struct iotlb__area) + align - 1) & ~(align - 1);
	size_t lock_bytes =
		(ops->lock_size + IOTLB__CACHELINE - 1) & ~(size_t)(IOTLB__CACHELINE - 1);
	size_t stride = (head + lock_bytes + align - 1) & ~(align - 1);
	size_t state = 0;
	char *cursor;
	unsigned a;
	int err;

	/* iotlb__lock_ops_check bounds both, so the sums above cannot wrap;
	 * the built-in tables are held to the same bounds. */
	if (ops->lock_size > IOTLB_LOCK_SIZE_MAX || ops->lock_align > IOTLB_LOCK_ALIGN_MAX)
		return -EINVAL;
	pool->nareas = nareas;
	pool->area_nslots = nareas == 1 ? pool->nslots : (pool->nslots / nareas) & ~(seg - 1);
	pool->area_stride = stride;
	pool->lock_ops = ops;
	/* A copied table is recognised by its functions (they are private). */
	pool->lock_ttas = ops->lock == iotlb__lock_ttas.lock &&
			  ops->unlock == iotlb__lock_ttas.unlock &&
			  ops->trylock == iotlb__lock_ttas.trylock;
	for (a = 0; a < nareas; a++)
		state += area_state_bytes(a + 1 < nareas ? pool->area_nslots
							 : pool->nslots - a * pool->area_nslots,
					  seg);
	pool->areas_mem = iotlb__zalloc(align, nareas, stride);
	pool->state_mem = iotlb__zalloc(IOTLB__CACHELINE, 1, state);
	if (!pool->areas_mem || !pool->state_mem) {
		err = -ENOMEM;
		goto fail;
	}
	cursor = pool->state_mem;
	for (a = 0; a < nareas; a++) {
		struct iotlb__area *area = iotlb__area_at(pool, a);
		size_t words;

		area->lock = (char *)area + head;
		area->number = a;
		area->base = a * pool->area_nslots;
		/* libiotlb: the last area also takes the remainder. */
		area->nslots = a + 1 < nareas ? pool->area_nslots : pool->nslots - area->base;
		/* Each area's bitmap and hints start on their own cache lines. */
		words = (size_t)(area->nslots / 64 + 1) * sizeof(uint64_t);
		area->map = (uint64_t *)(void *)cursor;
		area->hint =
			(uint32_t *)(void *)(cursor + (words + IOTLB__CACHELINE - 1) /
							      IOTLB__CACHELINE * IOTLB__CACHELINE);
		cursor += area_state_bytes(area->nslots, seg);
		iotlb__slots_init_area(pool, area);
		err = ops->init(area->lock);
		if (err) {
			while (a-- > 0)
				ops->destroy(iotlb__area_at(pool, a)->lock);
			err = err < 0 ? err : -EINVAL;
			goto fail;
		}
	}
	return 0;
fail:
	iotlb__free(pool->state_mem);
	iotlb__free(pool->areas_mem);
	pool->state_mem = NULL;
	pool->areas_mem = NULL;
	return err;
}

void iotlb__areas_destroy(struct iotlb__pool *pool)
{
	if (!pool->areas_mem)
		return;
	for (unsigned a = 0; a < pool->nareas; a++)
		pool->lock_ops->destroy(iotlb__area_at(pool, a)->lock);
	iotlb__free(pool->areas_mem);
	iotlb__free(pool->state_mem);
	pool->areas_mem = NULL;
	pool->state_mem = NULL;
}

/* A small number per thread, handed out in order of first use. */
static uint64_t thread_counter;
static __thread unsigned thread_number;
static __thread bool thread_numbered;

unsigned iotlb__select_hint(struct iotlb_mem *mem, int queue)
{
	int cpu;

	if (queue >= 0)
		return (unsigned)queue;
	switch (mem->cfg.select) {
	case IOTLB_SELECT_THREAD:
		if (!thread_numbered) {
			thread_number =
				(unsigned)__atomic_fetch_add(&thread_counter, 1, __ATOMIC_RELAXED);
			thread_numbered = true;
		}
		return thread_number;
	case IOTLB_SELECT_ROUND_ROBIN:
		return (unsigned)__atomic_fetch_add(&mem->rr_counter, 1, __ATOMIC_RELAXED);
	case IOTLB_SELECT_CPU:
	default:
		cpu = sched_getcpu();
		return cpu < 0 ? 0 : (unsigned)cpu;
	}
}

int64_t iotlb__area_take(struct iotlb__pool *pool, unsigned a, const struct iotlb__search *s,
			 const struct iotlb__req *req, bool *settle)
{
	struct iotlb__area *area = iotlb__area_at(pool, a);
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	int64_t found;

	iotlb__area_lock(pool, area, ctx);
	found = iotlb__search_area(pool, area, s);
	if (found >= 0) {
		uint64_t index = (uint64_t)found, n = s->nslots;

		found += (int64_t)area->base;
		iotlb__slots_take(pool, area, (uint64_t)found, n, req);
		/* Stats read the cursor without the lock. */
		IOTLB__STORE(&area->index, index + n >= area->nslots ? 0 : index + n);
		IOTLB__BUMP(&area->used, n);
		if (req->coherent && !req->carve)
			IOTLB__BUMP(&area->allocs, 1);
		else if (!req->carve)
			IOTLB__BUMP(&area->maps, 1);
		IOTLB__BUMP(&area->bounced_to_device, req->bounce_bytes);
		*settle = iotlb__hiwater_take(pool->domain, area, n);
	}
	iotlb__area_unlock(pool, area, ctx);
	return found;
}

int iotlb__domain_find(struct iotlb__domain *d, unsigned hint, const struct iotlb__search *s,
		       const struct iotlb__req *req, struct iotlb__pool **pool_out,
		       uint64_t *slot_out, bool *settle)
{
	unsigned max_nareas = IOTLB__LOAD(&d->max_nareas);
	struct iotlb__pool *first = rcu_dereference(d->pools);
	unsigned attempts = 0;

	/* Area-major: the k-th choice of every pool before the (k+1)-th of any. */
	for (unsigned k = 0; k < max_nareas; k++) {
		for (struct iotlb__pool *pool = first; pool; pool = rcu_dereference(pool->next)) {
			int64_t slot;

			if (k >= pool->nareas)
				continue;
			/* Counted once per request whose first choice could not serve it. */
			if (attempts++ == 1)
				IOTLB__ADD(&d->area_fallbacks, 1);
			slot = iotlb__area_take(pool, (hint + k) & (pool->nareas - 1), s, req,
						settle);
			if (slot >= 0) {
				*pool_out = pool;
				*slot_out = (uint64_t)slot;
				return 0;
			}
		}
	}
	return -ENOSPC;
}
