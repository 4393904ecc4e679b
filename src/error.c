/* SPDX-License-Identifier: MIT */
/*
 * Error names: one table yields the text of every code the library returns.
 */
#include "internal.h"

#define IOTLB__ERRORS(X)                                             \
	X(EINVAL, "invalid argument")                                \
	X(E2BIG, "request too big to ever be served")                \
	X(ENOSPC, "swiotlb buffer is full")                          \
	X(ENOENT, "not a live mapping or allocation of this device") \
	X(EBUSY, "still in use")                                     \
	X(ENOMEM, "out of memory for library metadata")              \
	X(ENOTSUP, "not supported")                                  \
	X(EFAULT, "internal state inconsistent")                     \
	X(ETIMEDOUT, "waited for room longer than wait_timeout_ns")

const char *iotlb_strerror(int err)
{
	/* Negate as unsigned: -INT_MIN does not exist. */
	unsigned code = err < 0 ? 0u - (unsigned)err : (unsigned)err;

	if (code == 0)
		return "success";
	switch (code) {
#define IOTLB__ERROR_CASE(code, text) \
	case code:                    \
		return #code ": " text;
		IOTLB__ERRORS(IOTLB__ERROR_CASE)
#undef IOTLB__ERROR_CASE
	default:
		return "unknown error";
	}
}
