/* SPDX-License-Identifier: MIT */
/*
 * Every allocation the library makes for itself goes through here, so tests
 * can fail the k-th one and prove that each error path leaks nothing and
 * changes nothing (fault injection, as SQLite's test_malloc does).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t alloc_count; /* allocations attempted since the last arm */
static uint64_t fail_at;     /* 1-based attempt to fail; 0 = never */
static int64_t live;	     /* allocations not yet freed, for leak checks */

void iotlb__fault_inject(uint64_t nth)
{
	IOTLB__STORE(&alloc_count, 0);
	IOTLB__STORE(&fail_at, nth);
}

uint64_t iotlb__alloc_attempts(void)
{
	return IOTLB__LOAD(&alloc_count);
}

int64_t iotlb__alloc_live(void)
{
	return IOTLB__LOAD(&live);
}

void *iotlb__zalloc(size_t align, size_t n, size_t size)
{
	uint64_t nth = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	void *p = NULL;

	if (nth == IOTLB__LOAD(&fail_at))
		return NULL;
	if (size && n > SIZE_MAX / size)
		return NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&p, align, n * size > 0 ? n * size : 1))
		return NULL;
	memset(p, 0, n * size);
	IOTLB__ADD(&live, 1);
	return p;
}

void iotlb__free(void *p)
{
	if (p)
		IOTLB__ADD(&live, -1);
	free(p);
}
