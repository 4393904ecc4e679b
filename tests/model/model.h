/* SPDX-License-Identifier: MIT */
/*
 * Reference model of docs/algorithm.md sections 2-7: occupancy arrays and
 * the rules written out step by step, slow and obvious, so that the
 * differential test can hold the library against it: several shared pools
 * (section 7, without growth) and device private pools carved out of them
 * in IO TLB blocks (section 6). It shares no code with src/ and does not
 * include its private headers.
 */
#ifndef IOTLB_TESTS_MODEL_MODEL_H
#define IOTLB_TESTS_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Directions and attributes, numbered as in the public API (kernel numbering). */
#define MODEL_BIDIRECTIONAL 0
#define MODEL_TO_DEVICE 1
#define MODEL_FROM_DEVICE 2
#define MODEL_DIR_NONE 3
#define MODEL_ATTR_SKIP_CPU_SYNC (1u << 0)

struct model_params {
	uint64_t dma_addr;      /* device address of slot 0 */
	uint64_t nslots;        /* slots in the pool, at least 1 */
	unsigned slot_shift;    /* slot size = 1 << slot_shift */
	unsigned segment_slots; /* power of two */
	uint64_t page_size;     /* power of two, >= slot size */
	unsigned nareas_req;    /* requested areas, >= 1 (0 means CPUs: not modelled) */
	/* fields added later: zero keeps the one-pool behaviour */
	unsigned block_slots;   /* IO TLB block (section 6); 0 -> 1024 */
	uint64_t vaddr;         /* CPU address of the first pool (add_pool overlap checks) */
};

/* A device as the search sees it (all masks of the form 2^k - 1). */
struct model_dev {
	unsigned id;                /* model-side number, distinguishes owners */
	uint64_t min_align_mask;
	uint64_t alloc_align_mask;
	uint64_t seg_boundary_mask; /* all ones = no boundary */
};

struct model_area {
	uint64_t base;   /* first slot */
	uint64_t nslots; /* slots in the area (the last one takes the remainder) */
	uint64_t index;  /* area-relative cursor */
	uint64_t used;
};

/*
 * One pool: a contiguous region, its areas and per-slot state. Shared pools
 * belong to the mem; a private pool covers a carved range of a shared one.
 */
struct model_pool {
	unsigned index;            /* creation order in its domain, from 0 */
	uint64_t vaddr;            /* CPU address of slot 0 */
	uint64_t dma_addr;         /* device address of slot 0 */
	uint64_t nslots;
	unsigned nareas;
	uint64_t area_nslots;      /* of every area but the last */
	struct model_area *areas;
	/* occupancy: owner[i] = allocation number + 1, 0 when free */
	uint32_t *owner;
	/* per-slot state of docs/algorithm.md#slot-state, kept exactly as described */
	uint64_t *orig;            /* meaningful where orig_valid */
	uint8_t *orig_valid;
	int64_t *alloc_size;
	uint64_t *pad_slots;
	/* a private pool: where its range sits in the shared pool */
	struct model_pool *parent;
	uint64_t parent_slot;
};

#define MODEL_MAX_POOLS 16
#define MODEL_MAX_PRIVATE 16

/* The pools one device maps from: the shared pools, or one private pool. */
struct model_domain {
	struct model_pool *pools[MODEL_MAX_POOLS]; /* creation order: oldest first */
	unsigned npools;
	unsigned max_nareas;
	uint64_t nslots;
};

/* One live (or dead, for reuse) allocation: streaming mapping, coherent
 * allocation, or a range carved out of a shared pool for a private device. */
struct model_alloc {
	bool live;
	bool coherent;
	bool carved;      /* blocks lent to device `dev`'s private pool */
	unsigned dev;     /* model_dev.id */
	struct model_pool *pool;
	uint64_t handle;  /* device address returned to the caller */
	uint64_t first;   /* first allocated slot of `pool`, padding included */
	uint64_t nslots;  /* slots allocated, padding included */
	uint64_t pad;     /* padding slots in front of the data */
	uint64_t orig;    /* original address (streaming) */
	uint64_t size;    /* mapping size, or the coherent allocation size */
};

/* A copy the rules ask for (docs/algorithm.md#partial-sync), for the test to verify. */
struct model_copy {
	bool any;        /* false: nothing is copied */
	bool to_cpu;     /* bounce -> original; else original -> bounce */
	uint64_t bounce; /* device address of the first bounce byte */
	uint64_t orig;   /* original address of the first byte */
	uint64_t size;   /* bytes, after the overflow clamp */
	bool clamped;    /* the overflow warning fired */
	uint64_t requested; /* bytes asked for */
	uint64_t avail;     /* bytes the allocation holds from `bounce` on */
};

/* What the model counts; names follow struct iotlb_stats. */
struct model_stats {
	uint64_t used, used_hiwater;
	uint64_t maps, unmaps, allocs, frees, syncs;
	uint64_t map_fail_nospace, map_fail_too_big;
	uint64_t bounced_to_device, bounced_to_cpu, overflow_clamps;
	uint64_t area_fallbacks;
};

/* Per-slot kind, for comparing against an implementation's bookkeeping. */
enum model_slot_kind {
	MODEL_SLOT_FREE = 0,
	MODEL_SLOT_PAD,
	MODEL_SLOT_MAP_HEAD,
	MODEL_SLOT_MAP_DATA,
	MODEL_SLOT_COHERENT_HEAD,
	MODEL_SLOT_COHERENT_DATA,
	MODEL_SLOT_CARVED,      /* lent to a private pool */
};

/* A device's private pool (section 6) and what happens inside it. */
struct model_private {
	bool live;
	unsigned dev;             /* model_dev.id */
	struct model_domain dom;  /* exactly one pool */
	struct model_stats st;    /* iotlb_dev_stats of that device */
	size_t carve_nr;          /* the carved range's record in allocs[] */
};

struct model {
	struct model_params p;
	uint64_t slot_size;
	uint64_t block_slots;

	/* the first pool, as the one-pool model had it (aliases of shared.pools[0]) */
	unsigned nareas;
	uint64_t area_nslots;      /* of every area but the last */
	struct model_area *areas;
	uint32_t *owner;
	uint64_t *orig;
	uint8_t *orig_valid;
	int64_t *alloc_size;
	uint64_t *pad_slots;

	struct model_domain shared;
	struct model_private priv[MODEL_MAX_PRIVATE];

	struct model_alloc *allocs;
	size_t nallocs, allocs_cap;

	struct model_stats st;     /* of the shared pools (iotlb_mem_stats) */

	/* about the last search (for tests of the search itself) */
	uint64_t examined;         /* candidate slots looked at */
	const struct model_pool *last_pool; /* pool that served it */
	unsigned last_area;        /* area that served it */
	bool last_fallback;        /* a second attempt was made */
};

/* Area count of docs/algorithm.md#area-count (a request of 0, a private device's
 * nqueues, counts as 1). */
unsigned model_nareas_for(unsigned requested, uint64_t nslots, unsigned segment_slots);

int model_init(struct model *m, const struct model_params *p); /* 0 or -ENOMEM */
void model_fini(struct model *m);

/* -EINVAL when iotlb_dev_create must refuse these masks, else 0. */
int model_dev_check(const struct model *m, const struct model_dev *d);
/* docs/algorithm.md#max-mapping. */
uint64_t model_max_mapping_size(const struct model *m, const struct model_dev *d);
/* The padded size of a map (5.1 steps 2-3): what the search is asked for. */
uint64_t model_padded_size(const struct model *m, const struct model_dev *d, uint64_t orig,
			   uint64_t size);

/* Free run at slot i of `pool`, counted from occupancy (docs/algorithm.md#slot-state). */
uint64_t model_pool_free_run(const struct model *m, const struct model_pool *pool, uint64_t i);
/* The same for every slot at once (out has pool->nslots entries). */
void model_pool_free_runs(const struct model *m, const struct model_pool *pool, uint32_t *out);
unsigned model_pool_area_of_slot(const struct model_pool *pool, uint64_t slot);
enum model_slot_kind model_pool_slot_kind(const struct model *m, const struct model_pool *pool,
					  uint64_t slot);
/* Device owning slot `slot` (model_dev.id; for a carved slot, the private
 * device's), or -1 when free. */
int model_pool_slot_dev(const struct model *m, const struct model_pool *pool, uint64_t slot);

/* The same for the first pool, as the one-pool model had them. */
uint64_t model_free_run(const struct model *m, uint64_t i);
void model_free_runs(const struct model *m, uint32_t *out);
unsigned model_area_of_slot(const struct model *m, uint64_t slot);
enum model_slot_kind model_slot_kind(const struct model *m, uint64_t slot);
int model_slot_dev(const struct model *m, uint64_t slot);

/*
 * iotlb_mem_add_pool (section 7 without growth): 0, or -EINVAL for a region
 * that is unaligned, not whole slots, empty, wrapping, or overlapping an
 * existing pool's CPU or device range. The pool gets the mem's requested
 * area count, limited to its own size (section 3).
 */
int model_add_pool(struct model *m, uint64_t vaddr, uint64_t dma_addr, uint64_t size);

/*
 * iotlb_dev_create / iotlb_dev_destroy (section 6). Create: the masks first
 * (model_dev_check), then, with private_size > 0, the carve: -E2BIG when no
 * shared pool has that many whole blocks, -ENOSPC when none has them free
 * and contiguous. Destroy: -EBUSY while the device has live mappings or
 * allocations, else its blocks go back. Devices without a private pool need
 * no create call (the model knows them by their masks alone).
 */
int model_dev_create(struct model *m, const struct model_dev *d, uint64_t private_size,
		     unsigned nqueues);
int model_dev_destroy(struct model *m, const struct model_dev *d);
/* The device's private pool state, or NULL for a device of the shared pools. */
const struct model_private *model_private_of(const struct model *m, unsigned dev);
/* The pools device `dev` maps from, and the statistics its activity goes to. */
const struct model_domain *model_dev_domain(const struct model *m, unsigned dev);
const struct model_stats *model_dev_stats(const struct model *m, unsigned dev);
/* The pool of `dom` holding device address `dma`, or NULL. */
struct model_pool *model_domain_find_pool(const struct model *m, const struct model_domain *dom,
					  uint64_t dma);

/*
 * The operations, each returning 0 or the negative errno the library must
 * return. `hint` is the caller's queue (explicit, >= 0). Argument errors
 * (-EINVAL: size 0, a bad direction, NULL) are decided before anything else.
 *
 * Each works in the device's domain: its private pool if it has one, else
 * the shared pools, searched area-major (section 7).
 *
 * area_fallbacks counts requests that made a second attempt because the
 * first choice (area hint & (nareas-1) of the newest pool) could not serve
 * them (so never with one pool of one area).
 */
int model_map(struct model *m, const struct model_dev *d, unsigned hint, uint64_t orig,
	      uint64_t size, int dir, uint64_t *dma_out);
int model_unmap(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
		int dir, unsigned attrs, struct model_copy *copy);
int model_sync(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
	       int dir, bool for_cpu, struct model_copy *copy);
int model_alloc(struct model *m, const struct model_dev *d, unsigned hint, uint64_t size,
		uint64_t *dma_out);
int model_free(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size);

/*
 * What a coherent allocation would return when its search starts with hint
 * `start`, without changing anything: 0 and the handle, or the error.
 * `fallback` tells whether the first-choice area could not serve.
 */
int model_alloc_probe(const struct model *m, const struct model_dev *d, unsigned start,
		      uint64_t size, uint64_t *dma_out, bool *fallback);

/*
 * How a sync at device address `dma` by device `d` must be answered. The data
 * of a mapping runs from its handle to the end of the allocation as the
 * per-slot alloc_size records it (5.3: `avail` > 0), so it includes the
 * round-up of alloc_align_mask after the mapped bytes, as in the kernel.
 */
enum model_addr_class {
	MODEL_ADDR_DATA,      /* in the data of a live streaming mapping of d */
	MODEL_ADDR_NOT_DATA,  /* free, padding, before the handle, past the end,
			       * coherent, carved, another device's, outside
			       * the device's pools */
};
enum model_addr_class model_classify(const struct model *m, const struct model_dev *d,
				     uint64_t dma);

/* The live allocation owning the slot of `dma` (in a private pool when the
 * address lies in one, never a carve record), or NULL. */
const struct model_alloc *model_alloc_at(const struct model *m, uint64_t dma);
/* The live mapping or allocation whose handle is `dma` (any device), or NULL. */
const struct model_alloc *model_find_handle(const struct model *m, uint64_t dma);

#endif /* IOTLB_TESTS_MODEL_MODEL_H */
