/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the reference model's scenario tests: the pool geometry of
 * docs/algorithm.md#scenarios (device address B, 2 KiB slots, 128-slot
 * segments, 4 KiB pages) and a device without constraints.
 */
#ifndef IOTLB_TESTS_MODEL_SCENARIO_FX_H
#define IOTLB_TESTS_MODEL_SCENARIO_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "model.h"

#define B 0x10000000ull
#define SLOT(k) (B + (uint64_t)(k)*0x800)

static inline void fixture_at(struct model *m, uint64_t dma, uint64_t nslots, unsigned nareas)
{
	struct model_params p = {
		.dma_addr = dma,
		.nslots = nslots,
		.slot_shift = 11,
		.segment_slots = 128,
		.page_size = 4096,
		.nareas_req = nareas,
	};

	assert_int_equal(model_init(m, &p), 0);
}

static inline void fixture(struct model *m, uint64_t nslots, unsigned nareas)
{
	fixture_at(m, B, nslots, nareas);
}

static inline struct model_dev plain_dev(void)
{
	struct model_dev d = {.id = 1, .seg_boundary_mask = UINT64_MAX};

	return d;
}

/* The linear walk and the per-slot count must agree everywhere. */
static inline void assert_runs_consistent(const struct model *m)
{
	uint32_t *runs = calloc(m->p.nslots, sizeof(*runs));
	uint64_t i;

	assert_non_null(runs);
	model_free_runs(m, runs);
	for (i = 0; i < m->p.nslots; i++)
		assert_int_equal(runs[i], model_free_run(m, i));
	free(runs);
}

#endif /* IOTLB_TESTS_MODEL_SCENARIO_FX_H */
