/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_MCS: the Mellor-Crummey-Scott queue lock. Waiters form a linked
 * queue of nodes and each spins on its own node, so a release touches one
 * waiter's cache line only. The node is the per-acquisition context that the
 * core places on the caller's stack (ctx_size bytes, cache-line aligned).
 */
#include "../internal.h"
#include "wait.h"

struct mcs_node {
	struct mcs_node *next; /* successor in the queue, set by the successor */
	uint32_t locked;       /* 1 while waiting; the predecessor clears it */
};

struct mcs_lock {
	struct mcs_node *tail; /* last node in the queue, NULL when free */
};

static int mcs_init(void *lock)
{
	struct mcs_lock *m = lock;

	m->tail = NULL;
	return 0;
}

static void mcs_destroy(void *lock)
{
	(void)lock;
}

static void mcs_node_init(struct mcs_node *node)
{
	__atomic_store_n(&node->next, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&node->locked, 1, __ATOMIC_RELAXED);
}

static void mcs_lock(void *lock, void *ctx)
{
	struct mcs_lock *m = lock;
	struct mcs_node *node = ctx;
	struct mcs_node *prev;
	unsigned steps = 0;

	mcs_node_init(node);
	/* Release publishes the node's initial state to our successor, which
	 * finds it through tail; acquire pairs with the previous release. */
	prev = __atomic_exchange_n(&m->tail, node, __ATOMIC_ACQ_REL);
	if (!prev)
		return;
	__atomic_store_n(&prev->next, node, __ATOMIC_RELEASE);
	while (__atomic_load_n(&node->locked, __ATOMIC_ACQUIRE))
		iotlb__spin_step(&steps);
}

static void mcs_unlock(void *lock, void *ctx)
{
	struct mcs_lock *m = lock;
	struct mcs_node *node = ctx;
	struct mcs_node *next = __atomic_load_n(&node->next, __ATOMIC_ACQUIRE);
	unsigned steps = 0;

	if (!next) {
		struct mcs_node *expected = node;

		/* No successor yet: we are the tail, or one is linking in. */
		if (__atomic_compare_exchange_n(&m->tail, &expected, NULL, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return;
		while (!(next = __atomic_load_n(&node->next, __ATOMIC_ACQUIRE)))
			iotlb__spin_step(&steps);
	}
	/* After this store the successor may return and reuse its stack, so
	 * neither node is touched again. */
	__atomic_store_n(&next->locked, 0, __ATOMIC_RELEASE);
}

static bool mcs_trylock(void *lock, void *ctx)
{
	struct mcs_lock *m = lock;
	struct mcs_node *node = ctx;
	struct mcs_node *expected = NULL;

	mcs_node_init(node);
	return __atomic_compare_exchange_n(&m->tail, &expected, node, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

const struct iotlb_lock_ops iotlb__lock_mcs = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "mcs",
	.lock_size = sizeof(struct mcs_lock),
	.lock_align = _Alignof(struct mcs_lock),
	.ctx_size = sizeof(struct mcs_node),
	.init = mcs_init,
	.destroy = mcs_destroy,
	.lock = mcs_lock,
	.unlock = mcs_unlock,
	.trylock = mcs_trylock,
};
