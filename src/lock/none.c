/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_NONE: no mutual exclusion, for single-threaded users who want
 * the allocator without any locking cost. With IOTLB_DEBUG_LEVEL >= 1 it
 * checks the pairing instead: overlapping holds and unlocks of a free lock
 * are counted (never fatal, never printed) for tests to read back.
 */
#include "../internal.h"

#ifndef IOTLB_DEBUG_LEVEL
#define IOTLB_DEBUG_LEVEL 0
#endif

#if IOTLB_DEBUG_LEVEL >= 1

struct none_lock {
	uint32_t held;	     /* 1 between lock and unlock */
	uint64_t violations; /* misuses seen */
};

/* Atomics: the misuse we look for is two threads in here at once, and the
 * check itself must not become a data race. */
static void none_violation(struct none_lock *n)
{
	IOTLB__ADD(&n->violations, 1);
}

static int none_init(void *lock)
{
	struct none_lock *n = lock;

	n->held = 0;
	n->violations = 0;
	return 0;
}

static void none_lock(void *lock, void *ctx)
{
	struct none_lock *n = lock;

	(void)ctx;
	if (__atomic_exchange_n(&n->held, 1, __ATOMIC_ACQ_REL))
		none_violation(n);
}

static void none_unlock(void *lock, void *ctx)
{
	struct none_lock *n = lock;

	(void)ctx;
	if (!__atomic_exchange_n(&n->held, 0, __ATOMIC_ACQ_REL))
		none_violation(n);
}

uint64_t iotlb__lock_none_violations(const void *lock)
{
	const struct none_lock *n = lock;

	return IOTLB__LOAD(&n->violations);
}

#else /* release: nothing at all */

struct none_lock {
	unsigned char unused; /* lock_size must not be 0 */
};

static int none_init(void *lock)
{
	(void)lock;
	return 0;
}

static void none_lock(void *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
}

static void none_unlock(void *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
}

uint64_t iotlb__lock_none_violations(const void *lock)
{
	(void)lock;
	return 0;
}

#endif

static void none_destroy(void *lock)
{
	(void)lock;
}

/* Always succeeds, as the lock it stands for is never contended; a debug
 * build still counts a try while held. */
static bool none_trylock(void *lock, void *ctx)
{
	none_lock(lock, ctx);
	return true;
}

const struct iotlb_lock_ops iotlb__lock_none = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "none",
	.lock_size = sizeof(struct none_lock),
	.lock_align = _Alignof(struct none_lock),
	.ctx_size = 0,
	.init = none_init,
	.destroy = none_destroy,
	.lock = none_lock,
	.unlock = none_unlock,
	.trylock = none_trylock,
};
