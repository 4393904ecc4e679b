/* SPDX-License-Identifier: MIT */
/*
 * The study's grid, shared by the measurement (study.c) and the output
 * (study_out.c): which thread counts and lock kinds it covers, what each
 * cell runs, and how a row is named.
 */
#include "study.h"

const unsigned thread_counts[NTHREADS] = { 1, 2, 4, 8 };

const enum iotlb_lock_kind lock_kinds[NLOCKS] = {
	IOTLB_LOCK_MUTEX, IOTLB_LOCK_SPIN, IOTLB_LOCK_TICKET, IOTLB_LOCK_MCS, IOTLB_LOCK_TTAS,
};

/* What every cell runs: one slot mapped to the device (copied once, as map
 * always copies) and unmapped without a copy back. */
const struct wl_op study_op = { 2048, IOTLB_TO_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC, 0 };

const char *row_lock_name(const struct row *r)
{
	if (r->layout == WL_MALLOC)
		return "mutex";
	if (r->layout == WL_COPY)
		return "-";
	return wl_lock_resolved(r->lock);
}

int study_row_of(const struct study *s, enum wl_layout layout)
{
	for (unsigned i = 0; i < s->nrows; i++)
		if (s->rows[i].layout == layout)
			return s->rows[i].available ? (int)i : -1;
	return -1;
}
