/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_TICKET: a FIFO ticket lock. Each waiter draws a ticket from
 * `next` and waits until `owner` reaches it, so the lock is granted in
 * arrival order and no thread starves.
 */
#include "../internal.h"
#include "wait.h"

struct ticket_lock {
	uint32_t next;	/* ticket the next arrival draws */
	uint32_t owner; /* ticket now served; written only by the holder */
};

static int ticket_init(void *lock)
{
	struct ticket_lock *t = lock;

	t->next = 0;
	t->owner = 0;
	return 0;
}

static void ticket_destroy(void *lock)
{
	(void)lock;
}

static void ticket_lock(void *lock, void *ctx)
{
	struct ticket_lock *t = lock;
	uint32_t mine = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
	unsigned steps = 0;

	(void)ctx;
	/* Acquire pairs with the release in unlock: the previous holder's
	 * writes are visible once our number comes up. */
	while (__atomic_load_n(&t->owner, __ATOMIC_ACQUIRE) != mine)
		iotlb__spin_step(&steps);
}

static void ticket_unlock(void *lock, void *ctx)
{
	struct ticket_lock *t = lock;
	uint32_t owner = __atomic_load_n(&t->owner, __ATOMIC_RELAXED);

	(void)ctx;
	__atomic_store_n(&t->owner, owner + 1, __ATOMIC_RELEASE);
}

/*
 * The lock is free with nobody queued exactly when next == owner; then the
 * ticket `owner` is ours if we draw it before anyone else does. owner cannot
 * move between the load and the exchange, since owner never passes next.
 */
static bool ticket_trylock(void *lock, void *ctx)
{
	struct ticket_lock *t = lock;
	uint32_t owner = __atomic_load_n(&t->owner, __ATOMIC_ACQUIRE);
	uint32_t expected = owner;

	(void)ctx;
	return __atomic_compare_exchange_n(&t->next, &expected, owner + 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

const struct iotlb_lock_ops iotlb__lock_ticket = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "ticket",
	.lock_size = sizeof(struct ticket_lock),
	.lock_align = _Alignof(struct ticket_lock),
	.ctx_size = 0,
	.init = ticket_init,
	.destroy = ticket_destroy,
	.lock = ticket_lock,
	.unlock = ticket_unlock,
	.trylock = ticket_trylock,
};
