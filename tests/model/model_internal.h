/* SPDX-License-Identifier: MIT */
/*
 * What the files of the reference model share among themselves and nobody
 * else needs: the search request, its outcome, and the steps every operation
 * is built from (search, take, give back), over any pool of any domain.
 */
#ifndef IOTLB_TESTS_MODEL_MODEL_INTERNAL_H
#define IOTLB_TESTS_MODEL_MODEL_INTERNAL_H

#include "model.h"

/* A search request, with the inputs of docs/algorithm.md#search. */
struct model_req {
	bool has_orig;
	uint64_t orig;
	uint64_t alloc_size;
	uint64_t alloc_align_mask;
	uint64_t min_align_mask;
	uint64_t seg_boundary_mask;
};

/* The outcome of a search, before anything is taken. */
struct model_found {
	struct model_pool *pool;
	unsigned area;
	uint64_t slot;    /* pool slot */
	uint64_t nslots;
	bool fallback;    /* a second attempt was made (the first choice failed) */
};

__attribute__((noreturn)) void model__bug(const char *what);

static inline bool model__is_mask(uint64_t m)
{
	return (m & (m + 1)) == 0;
}

static inline uint64_t model__div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static inline uint64_t model__round_up(uint64_t a, uint64_t align)
{
	return model__div_round_up(a, align) * align;
}

/* model.c: pools and their slots */
struct model_pool *model__pool_new(const struct model *m, uint64_t vaddr, uint64_t dma,
				   uint64_t nslots, unsigned nareas_req);
void model__pool_free(struct model_pool *pool);
/* The allocation record owning a slot, or NULL when it is free. */
const struct model_alloc *model__alloc_of_slot(const struct model *m,
					       const struct model_pool *pool, uint64_t slot);
void model__domain_add(struct model_domain *dom, struct model_pool *pool);
/* Area-major search over the domain's pools, newest first (sections 3 and 7). */
int model__domain_search(const struct model *m, const struct model_domain *dom, unsigned hint,
			 const struct model_req *r, struct model_found *f, uint64_t *examined);
size_t model__new_alloc(struct model *m);
/* Steps 12-14 of section 4 and 2.1; counts into `st`. */
void model__take(struct model *m, struct model_stats *st, const struct model_found *f,
		 const struct model_req *r, size_t alloc_nr);
/* 2.2: returns [s, s+n) of `pool`, counting out of `st`. */
void model__give_back(struct model *m, struct model_stats *st, struct model_pool *pool,
		      uint64_t s, uint64_t n);
void model__used_add(struct model_stats *st, uint64_t n);

/* model_blocks.c: the domain and statistics a device works in */
struct model_domain *model__dev_domain(struct model *m, unsigned dev);
struct model_stats *model__dev_stats(struct model *m, unsigned dev);

#endif /* IOTLB_TESTS_MODEL_MODEL_INTERNAL_H */
