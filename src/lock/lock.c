/* SPDX-License-Identifier: MIT */
/*
 * The lock registry: which ops table serves each lock kind, the validation
 * of a caller's custom table, and the clock used for contention accounting.
 */
#include <string.h>
#include <time.h>

#include "../internal.h"

const struct iotlb_lock_ops *iotlb__lock_builtin(enum iotlb_lock_kind kind)
{
	switch (kind) {
	case IOTLB_LOCK_DEFAULT:
		/* The best overall across 1 to 8 threads in the lock-contention
		 * study (docs/performance.md, "Which lock kind is best here"). */
		return &iotlb__lock_ttas;
	case IOTLB_LOCK_MUTEX:
		return &iotlb__lock_mutex;
	case IOTLB_LOCK_NONE:
		return &iotlb__lock_none;
	case IOTLB_LOCK_SPIN:
		return &iotlb__lock_spin;
	case IOTLB_LOCK_TICKET:
		return &iotlb__lock_ticket;
	case IOTLB_LOCK_MCS:
		return &iotlb__lock_mcs;
	case IOTLB_LOCK_TTAS:
		return &iotlb__lock_ttas;
	case IOTLB_LOCK_CUSTOM:
	default:
		return NULL;
	}
}

const char *iotlb_lock_kind_name(enum iotlb_lock_kind kind)
{
	const struct iotlb_lock_ops *ops;

	if (kind == IOTLB_LOCK_CUSTOM)
		return "custom";
	ops = iotlb__lock_builtin(kind);
	if (kind == IOTLB_LOCK_DEFAULT)
		return "default";
	return ops ? ops->name : NULL;
}

int iotlb__lock_ops_check(const struct iotlb_lock_ops *ops)
{
	if (!ops || ops->struct_size < offsetof(struct iotlb_lock_ops, trylock))
		return -EINVAL;
	/* A table from a newer header must not carry anything we would ignore. */
	for (size_t i = sizeof(*ops); i < ops->struct_size; i++)
		if (((const unsigned char *)ops)[i])
			return -EINVAL;
	if (!ops->init || !ops->destroy || !ops->lock || !ops->unlock)
		return -EINVAL;
	if (ops->lock_size == 0 || ops->lock_align == 0 ||
	    (ops->lock_align & (ops->lock_align - 1)) || ops->lock_align > IOTLB_LOCK_ALIGN_MAX)
		return -EINVAL;
	/* Bounded so that the area layout arithmetic (lock size rounded to a
	 * cache line, areas times stride) can never wrap. */
	if (ops->lock_size > IOTLB_LOCK_SIZE_MAX || ops->ctx_size > IOTLB_LOCK_CTX_MAX)
		return -EINVAL;
	return 0;
}

uint64_t iotlb__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
