/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_SPIN: the area lock as a pthread spinlock. Cheapest when the
 * critical section is short and threads do not outnumber CPUs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_spin_* under -std=c11 */
#endif
#include <pthread.h>

#include "../internal.h"

static int spin_init(void *lock)
{
	return -pthread_spin_init(lock, PTHREAD_PROCESS_PRIVATE);
}

static void spin_destroy(void *lock)
{
	pthread_spin_destroy(lock);
}

static void spin_lock(void *lock, void *ctx)
{
	(void)ctx;
	pthread_spin_lock(lock);
}

static void spin_unlock(void *lock, void *ctx)
{
	(void)ctx;
	pthread_spin_unlock(lock);
}

static bool spin_trylock(void *lock, void *ctx)
{
	(void)ctx;
	return pthread_spin_trylock(lock) == 0;
}

const struct iotlb_lock_ops iotlb__lock_spin = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "spin",
	.lock_size = sizeof(pthread_spinlock_t),
	.lock_align = _Alignof(pthread_spinlock_t),
	.ctx_size = 0,
	.init = spin_init,
	.destroy = spin_destroy,
	.lock = spin_lock,
	.unlock = spin_unlock,
	.trylock = spin_trylock,
};
