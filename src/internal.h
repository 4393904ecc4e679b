/* SPDX-License-Identifier: MIT */
/*
 * Private structures of libiotlb and the prototypes shared between its files,
 * grouped by the file that defines them. Nothing here is part of the API;
 * in-tree tests include it to inspect the allocator's state.
 */
#ifndef IOTLB_SRC_INTERNAL_H
#define IOTLB_SRC_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iotlb/iotlb.h>

#ifndef ENOTSUP
#define ENOTSUP EOPNOTSUPP
#endif

#define IOTLB__CACHELINE 64
#define IOTLB__HIDDEN __attribute__((visibility("hidden")))

/* Relaxed counters: exact under the lock that guards their writer, and
 * readable from any thread without a data race. */
#define IOTLB__LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define IOTLB__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Increment of a counter whose writers are serialised by a lock. */
#define IOTLB__BUMP(p, v) IOTLB__STORE((p), IOTLB__LOAD(p) + (v))
/* Increment of a counter written from many threads without a lock. */
#define IOTLB__ADD(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))

/* ------------------------------------------------------------------ alloc.c */

/* Zeroed n * size bytes aligned to `align`, or NULL (also on overflow). */
IOTLB__HIDDEN void *iotlb__zalloc(size_t align, size_t n, size_t size);
IOTLB__HIDDEN void iotlb__free(void *p);
/* Tests: fail the nth allocation from now on (1-based; 0 = never). */
void iotlb__fault_inject(uint64_t nth);
uint64_t iotlb__alloc_attempts(void);
/* Library allocations currently live (leak checks in tests). */
int64_t iotlb__alloc_live(void);

/* ------------------------------------------------------------------ slots.c */

/* What a slot holds; recorded for every slot so that handles can be checked. */
enum iotlb__slot_kind {
	IOTLB__SLOT_FREE = 0,
	IOTLB__SLOT_PAD,	   /* padding in front of a streaming mapping */
	IOTLB__SLOT_MAP_HEAD,	   /* first data slot of a streaming mapping */
	IOTLB__SLOT_MAP_DATA,	   /* later data slot of a streaming mapping */
	IOTLB__SLOT_COHERENT_HEAD, /* first slot of a coherent allocation */
	IOTLB__SLOT_COHERENT_DATA,
	IOTLB__SLOT_CARVED, /* lent to a private device's pool */
};

/* Per-slot metadata (ALGORITHM.md 2). `list` lives in its own array because
 * the search reads it alone. Never stored in the caller's region. */
struct iotlb__slot {
	uint64_t orig;	    /* mirrored original address; 0 = invalid */
	int64_t alloc_size; /* may be negative in the last slot (2) */
	uint32_t pad_slots; /* in the first data slot only */
	uint32_t owner;	    /* device id for allocated slots, 0 when free */
	uint8_t kind;	    /* enum iotlb__slot_kind; read without lock for checks */
};

/* One search request: everything the area search needs, and what to record. */
struct iotlb__req {
	uint64_t orig;		   /* original address; 0 = absent (coherent) */
	uint64_t alloc_size;	   /* bytes, padding included (ALGORITHM.md 5.1) */
	uint64_t alloc_align_mask; /* as passed to the search, before step 4 */
	uint64_t min_align_mask;
	uint64_t seg_boundary_mask; /* all ones = none */
	uint32_t owner;		    /* device id recorded in the slots */
	uint32_t pad_slots;	    /* leading padding slots (streaming only) */
	bool coherent;		    /* orig absent: coherent allocation or carve */
	bool carve;		    /* whole-block take for a private pool */
	uint64_t bounce_bytes;	    /* bytes to be copied to the device (stats) */
};

struct iotlb__pool;
struct iotlb__area;

/* Searches area `a` of `pool` and takes the slots (ALGORITHM.md 4), taking and
 * dropping the area lock. Returns the first allocated slot or -1. */
IOTLB__HIDDEN int64_t iotlb__area_find(struct iotlb__pool *pool, unsigned a,
				       const struct iotlb__req *req);
/* Takes / returns slots [s, s+n) with the area lock held (2.1, 2.2). */
IOTLB__HIDDEN void iotlb__slots_take(struct iotlb__pool *pool, uint64_t s, uint64_t n,
				     const struct iotlb__req *req);
IOTLB__HIDDEN void iotlb__slots_return(struct iotlb__pool *pool, uint64_t s, uint64_t n);
/* Initial free-run counters for slots [s, s+n) (2). */
IOTLB__HIDDEN void iotlb__slots_init(struct iotlb__pool *pool, uint64_t s, uint64_t n);

/* ------------------------------------------------------------------ lock/ */

/* Per-area lock counters; written by the lock holder, read relaxed. */
struct iotlb__lock_counters {
	uint64_t acquisitions;
	uint64_t contended;
	uint64_t wait_ns;
	uint64_t wait_max_ns;
};

/* Table of a lock kind: the public struct, copied and validated. */
IOTLB__HIDDEN const struct iotlb_lock_ops *iotlb__lock_builtin(enum iotlb_lock_kind kind);
IOTLB__HIDDEN int iotlb__lock_ops_check(const struct iotlb_lock_ops *ops);
IOTLB__HIDDEN uint64_t iotlb__now_ns(void);

extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_mutex;
extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_none;
extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_spin;
extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_ticket;
extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_mcs;
extern IOTLB__HIDDEN const struct iotlb_lock_ops iotlb__lock_ttas;
/* Misuses a "none" lock has seen: lock while held, unlock while free.
 * Counted with IOTLB_DEBUG_LEVEL >= 1; always 0 in release builds. */
IOTLB__HIDDEN uint64_t iotlb__lock_none_violations(const void *lock);

/* ------------------------------------------------------------------ area.c */

/*
 * One area (child pool): its own lock, cursor and used count. Areas are laid
 * out `area_stride` bytes apart, each starting on a cache line, with the lock
 * state right after the struct, so areas never share a line.
 */
struct iotlb__area {
	void *lock;	 /* lock state, inside this area's stride */
	uint64_t base;	 /* first slot */
	uint64_t nslots; /* slots in this area */
	uint64_t index;	 /* cursor, area-relative, < nslots */
	uint64_t used;	 /* slots allocated in this area */
	struct iotlb__lock_counters lc;
	/* written only under the area lock (IOTLB__BUMP) */
	uint64_t maps, unmaps, allocs, frees;
	/* also written by sync, which takes no lock (IOTLB__ADD only) */
	uint64_t syncs, bounced_to_device, bounced_to_cpu, overflow_clamps;
} __attribute__((aligned(IOTLB__CACHELINE)));

/* Number of areas for a pool (ALGORITHM.md 3). */
IOTLB__HIDDEN unsigned iotlb__nareas_for(unsigned requested, uint64_t nslots,
					 unsigned segment_slots);
IOTLB__HIDDEN int iotlb__areas_create(struct iotlb__pool *pool, unsigned nareas,
				      const struct iotlb_lock_ops *ops);
IOTLB__HIDDEN void iotlb__areas_destroy(struct iotlb__pool *pool);
static inline struct iotlb__area *iotlb__area_at(const struct iotlb__pool *pool, unsigned a);
IOTLB__HIDDEN unsigned iotlb__area_of_slot(const struct iotlb__pool *pool, uint64_t slot);
/* Lock with contention accounting paid only when the first try fails. */
IOTLB__HIDDEN void iotlb__area_lock(struct iotlb__pool *pool, struct iotlb__area *area, void *ctx);
IOTLB__HIDDEN void iotlb__area_unlock(struct iotlb__pool *pool, struct iotlb__area *area,
				      void *ctx);

/* ------------------------------------------------------------------ pool.c */

struct iotlb_mem_params {
	unsigned slot_shift;
	uint64_t slot_size;
	unsigned segment_slots;
	unsigned block_slots;
	uint64_t page_size;
};

struct iotlb__domain;

/* One contiguous region: shared pool, private (carved) pool or transient pool. */
struct iotlb__pool {
	struct iotlb__pool *next; /* RCU list of the domain, newest first */
	struct iotlb__domain *domain;
	const struct iotlb_mem_params *p;
	const struct iotlb_lock_ops *lock_ops;
	char *vaddr;
	uint64_t dma_addr;
	uint64_t nslots;
	uint64_t end_dma; /* dma_addr + nslots * slot_size */
	unsigned nareas;
	uint64_t area_nslots; /* of every area but the last */
	size_t area_stride;
	void *areas_mem; /* nareas * area_stride bytes, line aligned */
	uint32_t *list;	 /* free-run counters (2) */
	struct iotlb__slot *slots;
	uint32_t index;	    /* creation order, for area stats */
	bool transient;	    /* serves one request, freed after its unmap */
	bool from_provider; /* region came from region_ops->alloc */
	/* the provider's region, handed back whole (it may start before vaddr) */
	void *region;
	uint64_t region_dma;
	size_t region_size;
	/* private pools: where the range sits in the shared pool */
	struct iotlb__pool *parent;
	uint64_t parent_slot;
	struct iotlb__rcu_node {
		void *opaque[4]; /* struct rcu_head storage, see rcu.c */
	} rcu;
};

static inline struct iotlb__area *iotlb__area_at(const struct iotlb__pool *pool, unsigned a)
{
	return (struct iotlb__area *)((char *)pool->areas_mem + (size_t)a * pool->area_stride);
}

IOTLB__HIDDEN int iotlb__pool_create(const struct iotlb_mem_params *p,
				     const struct iotlb_lock_ops *ops, void *vaddr,
				     uint64_t dma_addr, uint64_t nslots, unsigned nareas_req,
				     struct iotlb__pool **out);
IOTLB__HIDDEN void iotlb__pool_destroy(struct iotlb__pool *pool);
static inline bool iotlb__pool_contains(const struct iotlb__pool *pool, uint64_t dma)
{
	return dma >= pool->dma_addr && dma < pool->end_dma;
}
IOTLB__HIDDEN uint64_t iotlb__pool_used(const struct iotlb__pool *pool);

/* ------------------------------------------------------------------ mem.c */

/*
 * A domain is the set of pools one device maps from: the mem's shared pools,
 * or a private device's carved pool. Pools are read under RCU.
 */
struct iotlb__domain {
	struct iotlb__pool *pools;     /* searchable pools, newest first (RCU) */
	struct iotlb__pool *transient; /* transient pools, lookup only (RCU) */
	unsigned max_nareas;
	uint64_t max_pool_nslots; /* of the largest non-transient pool */
	uint64_t nslots;	  /* slots of non-transient pools */
	uint64_t npools;
	uint64_t transient_nslots;
	uint64_t transient_pools;
	/* written from many threads: atomics on their own line */
	uint64_t used __attribute__((aligned(IOTLB__CACHELINE)));
	uint64_t used_hiwater;
	uint64_t fail_nospace, fail_too_big, area_fallbacks;
	uint64_t grow_attempts, grow_failures;
	/* activity counters of pools already removed (transient pools) */
	struct iotlb_stats retired __attribute__((aligned(IOTLB__CACHELINE)));
};

struct iotlb_mem {
	struct iotlb_mem_config cfg; /* validated copy, defaults applied */
	struct iotlb_mem_params p;
	struct iotlb_lock_ops lock_ops; /* copy: the caller's table may go away */
	struct iotlb__domain shared;
	pthread_mutex_t writer_lock; /* pool list and device list changes */
	/* growth worker (IOTLB_MEM_GROW) */
	pthread_t grow_thread;
	pthread_mutex_t grow_lock;
	pthread_cond_t grow_cond;
	bool grow_requested, grow_stop, grow_running;
	uint64_t ndevs;	      /* live devices (atomic) */
	uint32_t next_dev_id; /* atomic */
	unsigned nareas_req;  /* requested areas, 0 resolved to CPUs */
	uint32_t next_pool_index;
	/* round-robin area choice: its own line, every call writes it */
	uint64_t rr_counter __attribute__((aligned(IOTLB__CACHELINE)));
};

struct iotlb_dev {
	struct iotlb_mem *mem;
	struct iotlb__domain *domain; /* &mem->shared or &private_domain */
	uint32_t id;
	uint64_t min_align_mask;
	uint64_t alloc_align_mask;
	uint64_t seg_boundary_mask;
	unsigned nqueues;
	uint64_t live;		  /* live mappings + allocations (atomic) */
	unsigned char *carve_ctx; /* lock contexts for carving (private only) */
	struct iotlb__domain private_domain;
};

/* ------------------------------------------------------------------ rcu.c */

/* RCU read side (liburcu-bp: no thread registration by callers). */
IOTLB__HIDDEN void iotlb__read_lock(void);
IOTLB__HIDDEN void iotlb__read_unlock(void);
IOTLB__HIDDEN void iotlb__synchronize(void);
/* Calls fn(pool) after a grace period, from liburcu's call_rcu thread. */
IOTLB__HIDDEN void iotlb__after_grace_period(struct iotlb__pool *pool,
					     void (*fn)(struct iotlb__pool *pool));
/* Waits until every iotlb__after_grace_period callback queued so far has run. */
IOTLB__HIDDEN void iotlb__grace_period_barrier(void);

/* Pools of a domain (mem.c). */
IOTLB__HIDDEN struct iotlb__pool *iotlb__domain_find_pool(const struct iotlb__domain *d,
							  uint64_t dma);
IOTLB__HIDDEN void iotlb__domain_add_pool(struct iotlb__domain *d, struct iotlb__pool *pool);
IOTLB__HIDDEN void iotlb__domain_used_add(struct iotlb__domain *d, uint64_t n);
/* Can a request of `alloc_size` bytes (padding included) never be served? */
IOTLB__HIDDEN bool iotlb__domain_too_big(const struct iotlb_mem *mem,
					 const struct iotlb__domain *d, uint64_t alloc_size);
/* Is a region from the growth provider usable (aligned, no wrap, no overlap
 * with any pool, transient ones included)? 0 or -EINVAL; writer_lock held. */
IOTLB__HIDDEN int iotlb__provider_region_check(struct iotlb_mem *mem, const void *vaddr,
					       uint64_t dma_addr, size_t size);
IOTLB__HIDDEN void iotlb__domain_used_sub(struct iotlb__domain *d, uint64_t n);

/* ------------------------------------------------------------------ grow.c */

IOTLB__HIDDEN int iotlb__grow_start(struct iotlb_mem *mem);
IOTLB__HIDDEN void iotlb__grow_stop(struct iotlb_mem *mem);
/* Asks the worker for one more pool; never blocks on the provider. */
IOTLB__HIDDEN void iotlb__grow_request(struct iotlb_mem *mem);
/* Serves `req` from a fresh one-area pool of its own (ALGORITHM.md 7). */
IOTLB__HIDDEN int iotlb__transient_take(struct iotlb_mem *mem, const struct iotlb__req *req,
					struct iotlb__pool **pool_out, uint64_t *slot_out);
/* Called after a transient pool's allocation was released. */
IOTLB__HIDDEN void iotlb__transient_retire(struct iotlb__pool *pool);
/* Hands a provider pool's region back and frees the pool. */
IOTLB__HIDDEN void iotlb__pool_free_region(struct iotlb_mem *mem, struct iotlb__pool *pool);
/* Can `req` start at the slot with device address `addr` (alignment, boundary)? */
IOTLB__HIDDEN bool iotlb__req_fits_at(const struct iotlb_mem_params *p,
				      const struct iotlb__req *req, uint64_t addr);
IOTLB__HIDDEN uint64_t iotlb__req_stride(const struct iotlb_mem_params *p,
					 const struct iotlb__req *req);
/* Slots a transient region needs before `req` can start, worst case over
 * page-aligned regions; UINT64_MAX when it can start nowhere. */
IOTLB__HIDDEN uint64_t iotlb__transient_slack(const struct iotlb_mem_params *p,
					      const struct iotlb__req *req);

/* ------------------------------------------------------------------ block.c */

/* Carves a private pool for `dev` (ALGORITHM.md 6); -ENOSPC, -E2BIG, -ENOMEM. */
IOTLB__HIDDEN int iotlb__private_create(struct iotlb_dev *dev, size_t private_size,
					unsigned nqueues);
/* Gives the blocks back; the device must have nothing live. */
IOTLB__HIDDEN void iotlb__private_destroy(struct iotlb_dev *dev);

/* ------------------------------------------------------------------ area.c (choice) */

/* Area hint for a request: the queue if given, else the mem's policy. */
IOTLB__HIDDEN unsigned iotlb__select_hint(struct iotlb_mem *mem, int queue);

/* ------------------------------------------------------------------ search.c */

/* Finds and takes slots for `req` across the domain's pools, area-major
 * (ALGORITHM.md 3 and 7). 0, -ENOSPC. */
IOTLB__HIDDEN int iotlb__domain_find(struct iotlb__domain *d, unsigned hint,
				     const struct iotlb__req *req, struct iotlb__pool **pool_out,
				     uint64_t *slot_out);

/* ------------------------------------------------------------------ bounce.c */

IOTLB__HIDDEN uint64_t iotlb__padded_size(const struct iotlb_dev *dev, uint64_t orig, size_t size,
					  uint64_t *offset_out);

/* ------------------------------------------------------------------ config.c */

/* Copies a caller's versioned struct (struct_size first) into `dst`. */
IOTLB__HIDDEN int iotlb__copy_versioned(void *dst, size_t dst_size, const void *src);
IOTLB__HIDDEN bool iotlb__is_mask(uint64_t m); /* of the form 2^k - 1 */
IOTLB__HIDDEN bool iotlb__is_pow2(uint64_t v);

/* ------------------------------------------------------------------ log.c */

__attribute__((format(printf, 3, 4))) IOTLB__HIDDEN void
iotlb__log(const struct iotlb_mem *mem, int level, const char *fmt, ...);

/* ------------------------------------------------------------------ stats.c */

IOTLB__HIDDEN void iotlb__domain_stats(const struct iotlb__domain *d, struct iotlb_stats *s);
/* Adds a pool's per-area activity counters into `s` (atomically if asked). */
IOTLB__HIDDEN void iotlb__pool_fold_counters(const struct iotlb__pool *pool, struct iotlb_stats *s,
					     bool atomic);
IOTLB__HIDDEN void iotlb__area_stats_fill(const struct iotlb__pool *pool, unsigned a,
					  struct iotlb_area_stats *s);

/* ------------------------------------------------------------------ check.c */

/*
 * The invariant checker: free-run counters match occupancy, used counts add
 * up, cursors are in range, every allocation is well formed. Returns 0 or
 * -EFAULT and, when `why` is given, a description of the first violation.
 * Needs a quiescent mem (no call in flight).
 */
IOTLB__HIDDEN int iotlb__check_pool(const struct iotlb__pool *pool, char *why, size_t why_len);
int iotlb__check_mem(const struct iotlb_mem *mem, char *why, size_t why_len);
int iotlb__check_dev(const struct iotlb_dev *dev, char *why, size_t why_len);

#endif /* IOTLB_SRC_INTERNAL_H */
