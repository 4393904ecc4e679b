/* SPDX-License-Identifier: MIT */
/*
 * Aligned anonymous memory (see region.h): over-allocate by `align`, hand
 * out the first aligned address, remember the whole mapping.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "region.h"

void *test_mmap_aligned(size_t len, size_t align, bool noreserve, struct test_mapping *m)
{
	size_t total = len + align;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
	void *p;

	memset(m, 0, sizeof(*m));
	if (!align || (align & (align - 1)) || total < len)
		return NULL;
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	m->map = p;
	m->len = total;
	return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

void test_munmap(struct test_mapping *m)
{
	if (m->map)
		munmap(m->map, m->len);
	memset(m, 0, sizeof(*m));
}
