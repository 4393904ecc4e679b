/* SPDX-License-Identifier: MIT */
/*
 * Helpers for validating what callers pass in: versioned structs and masks.
 */
#include <string.h>

#include "internal.h"

bool iotlb__is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

bool iotlb__is_mask(uint64_t m)
{
	return (m & (m + 1)) == 0;
}

int iotlb__copy_versioned(void *dst, size_t dst_size, const void *src)
{
	size_t src_size;

	memcpy(&src_size, src, sizeof(src_size));
	if (src_size < sizeof(size_t))
		return -EINVAL;
	if (src_size > dst_size) {
		/* A newer caller: fine only if it set nothing we don't know. */
		const unsigned char *tail = (const unsigned char *)src + dst_size;

		for (size_t i = 0; i < src_size - dst_size; i++)
			if (tail[i])
				return -EINVAL;
		src_size = dst_size;
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, src_size);
	return 0;
}
