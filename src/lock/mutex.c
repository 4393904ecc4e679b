/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_MUTEX: a pthread mutex. Sleeps instead of spinning, so it keeps
 * its throughput when threads outnumber cores.
 */
#include "../internal.h"

static int mutex_init(void *lock)
{
	return -pthread_mutex_init(lock, NULL);
}

static void mutex_destroy(void *lock)
{
	pthread_mutex_destroy(lock);
}

static void mutex_lock(void *lock, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(lock);
}

static void mutex_unlock(void *lock, void *ctx)
{
	(void)ctx;
	pthread_mutex_unlock(lock);
}

static bool mutex_trylock(void *lock, void *ctx)
{
	(void)ctx;
	return pthread_mutex_trylock(lock) == 0;
}

const struct iotlb_lock_ops iotlb__lock_mutex = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "mutex",
	.lock_size = sizeof(pthread_mutex_t),
	.lock_align = _Alignof(pthread_mutex_t),
	.ctx_size = 0,
	.init = mutex_init,
	.destroy = mutex_destroy,
	.lock = mutex_lock,
	.unlock = mutex_unlock,
	.trylock = mutex_trylock,
};
