/* SPDX-License-Identifier: MIT */
/*
 * Raw lock cost: a built-in lock kind behind its ops table, exactly as an
 * area holds it (state aligned as the table asks, a per-acquisition context
 * on the caller's stack), guarding one counter.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lock_cost.h"

struct lc_lock {
	const struct iotlb_lock_ops *ops;
	void *state;
	uint64_t counter; /* written under the lock only */
};

struct lc_lock *lc_create(enum iotlb_lock_kind kind)
{
	const struct iotlb_lock_ops *ops = iotlb__lock_builtin(kind);
	size_t align, bytes;
	struct lc_lock *l;

	if (!ops)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	/* Own cache line(s), as inside an area. */
	align = ops->lock_align > IOTLB__CACHELINE ? ops->lock_align : IOTLB__CACHELINE;
	bytes = (ops->lock_size + align - 1) & ~(align - 1);
	l->ops = ops;
	l->state = aligned_alloc(align, bytes);
	if (!l->state || ops->init(l->state)) {
		free(l->state);
		free(l);
		return NULL;
	}
	return l;
}

void lc_destroy(struct lc_lock *l)
{
	if (!l)
		return;
	l->ops->destroy(l->state);
	free(l->state);
	free(l);
}

void lc_cycle(struct lc_lock *l)
{
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];

	l->ops->lock(l->state, ctx);
	l->counter++;
	l->ops->unlock(l->state, ctx);
}

uint64_t lc_count(const struct lc_lock *l)
{
	return l->counter;
}

const char *lc_default_name(void)
{
	return iotlb__lock_builtin(IOTLB_LOCK_DEFAULT)->name;
}
