/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics go to the caller's log callback only; without one the library
 * is silent.
 */
#include <stdio.h>

#include "internal.h"

void iotlb__log(const struct iotlb_mem *mem, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!mem->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mem->cfg.log(mem->cfg.log_ctx, level, msg);
}
