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
#include <urcu/call-rcu.h>

#ifndef ENOTSUP
#define ENOTSUP EOPNOTSUPP
#endif

#define IOTLB__CACHELINE 64
#define IOTLB__HIDDEN __attribute__((visibility("hidden")))
/*
 * The hot entry points (map, unmap, sync) are flattened: every call they
 * make is inlined, across files too under LTO, which removes a dozen call
 * frames from a map+unmap pair (docs/design.md, "What the hot path keeps").
 * What they call only when the pool is full, growing, contended or being
 * waited on is IOTLB__COLD, so that it stays out of line.
 */
#define IOTLB__HOT __attribute__((flatten))
#define IOTLB__COLD __attribute__((noinline, cold))

/* Relaxed counters: exact under the lock that guards their writer, and
 * readable from any thread without a data race. */
#define IOTLB__LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define IOTLB__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Increment of a counter whose writers are serialised by a lock. */
#define IOTLB__BUMP(p, v) IOTLB__STORE((p), IOTLB__LOAD(p) + (v))
/*
 * rcu_assign_pointer(), as a C11 release store: liburcu 0.13's is a barrier
 * and a volatile store, which ThreadSanitizer cannot see as a publication.
 * Readers use liburcu's rcu_dereference().
 */
#define IOTLB__PUBLISH(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
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

/* Per-slot record (docs/algorithm.md, "Per-slot state"), never stored in the
 * caller's region. Occupancy itself is the area bitmap; the kernel's free-run
 * counters are derived from it (iotlb__slots_free_run). */
struct iotlb__slot {
	uint64_t orig;	    /* mirrored original address; 0 = invalid */
	int64_t alloc_size; /* may be negative in the last slot */
	uint32_t pad_slots; /* in the first data slot only */
	uint32_t owner;	    /* device id for allocated slots, 0 when free */
	uint32_t tail;	    /* bytes of alignment round-up after the mapped bytes */
	uint16_t area;	    /* area that owns the slot: no division on unmap */
	uint8_t kind;	    /* enum iotlb__slot_kind */
};

/* One search request: everything the area search needs, and what to record. */
struct iotlb__req {
	uint64_t orig;		   /* original address; 0 = absent (coherent) */
	uint64_t alloc_size;	   /* bytes, padding included (docs/algorithm.md#map-steps) */
	uint64_t alloc_align_mask; /* as passed to the search, before step 4 */
	uint64_t min_align_mask;
	uint64_t seg_boundary_mask; /* all ones = none */
	uint32_t owner;		    /* device id recorded in the slots */
	uint32_t pad_slots;	    /* leading padding slots (streaming only) */
	uint32_t tail;		    /* alloc_size - offset - mapped bytes (streaming) */
	bool coherent;		    /* orig absent: coherent allocation or carve */
	bool carve;		    /* whole-block take for a private pool */
	uint64_t bounce_bytes;	    /* bytes the map copies in, counted with the take */
};

/* What the slot search needs, worked out once per request (search.c). */
struct iotlb__search {
	uint64_t nslots;	    /* slots to take */
	uint64_t align_mask;	    /* slot-unit mask of the alignment filter */
	uint64_t target;	    /* required (device slot & align_mask) */
	uint64_t stride;	    /* the kernel's step from an aligned position */
	uint64_t period;	    /* distance between the positions the walk tests */
	uint64_t boundary_slots;    /* seg_boundary_mask + 1, in slots */
	uint64_t seg_boundary_mask; /* all ones = none */
};

struct iotlb__pool;
struct iotlb__area;

struct iotlb__area;
struct iotlb_mem_params;

/* Empty bitmap (past-the-end bits set) and full hints for a new area. */
IOTLB__HIDDEN void iotlb__slots_init_area(struct iotlb__pool *pool, struct iotlb__area *area);
/* Takes / returns slots [s, s+n) (pool-relative, inside `area`), lock held. */
IOTLB__HIDDEN void iotlb__slots_take(struct iotlb__pool *pool, struct iotlb__area *area, uint64_t s,
				     uint64_t n, const struct iotlb__req *req);
IOTLB__HIDDEN void iotlb__slots_return(struct iotlb__pool *pool, struct iotlb__area *area,
				       uint64_t s, uint64_t n);
/* The kernel's free-run counter of slot i, derived from the bitmap. */
IOTLB__HIDDEN uint32_t iotlb__slots_free_run(const struct iotlb__pool *pool, uint64_t i);
/* All of a pool's counters at once (out: nslots entries), in one pass. */
IOTLB__HIDDEN void iotlb__slots_free_runs(const struct iotlb__pool *pool, uint32_t *out);
/* Are slots [s, s+n) all free (any areas)? Needs their locks or quiescence. */
IOTLB__HIDDEN bool iotlb__slots_range_free(const struct iotlb__pool *pool, uint64_t s, uint64_t n);

/* ------------------------------------------------------------------ search.c */

IOTLB__HIDDEN void iotlb__search_prepare(const struct iotlb_mem_params *p,
					 const struct iotlb__req *req, struct iotlb__search *s);
/*
 * What a streaming map's search takes from its device alone, worked out at
 * iotlb_dev_create: shape[1] for requests of a page or more (the legacy page
 * alignment, when the device asks for none), shape[0] below. A map then adds
 * only its slot count and the original's alignment target.
 */
struct iotlb__map_shape {
	struct iotlb__search s;
	uint64_t iotlb_align; /* min-align bits the placement must match */
};

IOTLB__HIDDEN void iotlb__map_shapes_init(const struct iotlb_mem_params *p, uint64_t min_align_mask,
					  uint64_t alloc_align_mask, uint64_t seg_boundary_mask,
					  struct iotlb__map_shape shape[2]);

/* iotlb__search_prepare for a streaming map, from its device's shapes. */
IOTLB__HIDDEN void iotlb__map_search(const struct iotlb_mem_params *p,
				     const struct iotlb__map_shape shape[2],
				     const struct iotlb__req *req, struct iotlb__search *s);
/* The area-relative start the kernel's walk would choose in `area`, or -1
 * (area lock held). Takes nothing; may lower segment hints. */
IOTLB__HIDDEN int64_t iotlb__search_area(const struct iotlb__pool *pool,
					 const struct iotlb__area *area,
					 const struct iotlb__search *s);
/* Can the request start at the slot with device address `addr`? */
IOTLB__HIDDEN bool iotlb__search_fits_at(const struct iotlb_mem_params *p,
					 const struct iotlb__search *s, uint64_t addr);

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
	/* set at creation, then only read */
	void *lock;	 /* lock state, inside this area's stride */
	uint64_t *map;	 /* occupancy bitmap, area-relative, 1 = taken */
	uint32_t *hint;	 /* per segment: upper bound of its longest free run */
	uint64_t base;	 /* first slot */
	uint64_t nslots; /* slots in this area */
	unsigned number; /* index in the pool */
	/* written only under the area lock (IOTLB__BUMP), read relaxed */
	uint64_t index;	  /* cursor, area-relative, < nslots */
	uint64_t used;	  /* slots allocated in this area */
	int64_t hw_slack; /* high-water headroom held by this area (stats.c) */
	struct iotlb__lock_counters lc;
	uint64_t maps, unmaps, allocs, frees;
	uint64_t syncs, bounced_to_device, bounced_to_cpu, overflow_clamps;
} __attribute__((aligned(IOTLB__CACHELINE)));

/* Number of areas for a pool (docs/algorithm.md#area-count). */
IOTLB__HIDDEN unsigned iotlb__nareas_for(unsigned requested, uint64_t nslots,
					 unsigned segment_slots);
IOTLB__HIDDEN int iotlb__areas_create(struct iotlb__pool *pool, unsigned nareas,
				      const struct iotlb_lock_ops *ops);
IOTLB__HIDDEN void iotlb__areas_destroy(struct iotlb__pool *pool);
static inline struct iotlb__area *iotlb__area_at(const struct iotlb__pool *pool, unsigned a);
/* Searches area `a` and takes the slots for `req` under its lock. Returns the
 * first slot or -1; *settle is set when the high-water mark needs settling
 * (call iotlb__hiwater_settle after every lock is dropped). */
IOTLB__HIDDEN int64_t iotlb__area_take(struct iotlb__pool *pool, unsigned a,
				       const struct iotlb__search *s, const struct iotlb__req *req,
				       bool *settle);
/* The area lock after a failed inline try (`tried`), or for a kind without
 * one: contention accounting is paid only here (src/area_lock.c; the inline
 * fast path that calls it is src/area_lock.h). */
IOTLB__HIDDEN void iotlb__area_lock_slow(struct iotlb__pool *pool, struct iotlb__area *area,
					 void *ctx, bool tried);

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
	void *state_mem; /* the areas' bitmaps and hints, each on its own lines */
	struct iotlb__slot *slots;
	uint32_t index;	    /* creation order, for area stats */
	bool transient;	    /* serves one request, freed after its unmap */
	bool from_provider; /* region came from region_ops->alloc */
	bool lock_ttas;	    /* lock_ops is the built-in TTAS: inline fast path */
	/* the provider's region, handed back whole (it may start before vaddr) */
	void *region;
	uint64_t region_dma;
	size_t region_size;
	/* private pools: where the range sits in the shared pool */
	struct iotlb__pool *parent;
	uint64_t parent_slot;
	/* transient pools: freed after a grace period (rcu.c) */
	struct rcu_head rcu;
	void (*deferred)(struct iotlb__pool *pool);
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
/* The area of a slot by arithmetic (hot paths read the slot record instead). */
static inline unsigned iotlb__area_of_slot(const struct iotlb__pool *pool, uint64_t slot)
{
	uint64_t a;

	if (pool->nareas == 1)
		return 0;
	a = slot / pool->area_nslots;
	return (unsigned)(a < pool->nareas - 1 ? a : pool->nareas - 1);
}
static inline bool iotlb__pool_contains(const struct iotlb__pool *pool, uint64_t dma)
{
	return dma >= pool->dma_addr && dma < pool->end_dma;
}
IOTLB__HIDDEN uint64_t iotlb__pool_used(const struct iotlb__pool *pool);

/* ------------------------------------------------------------------ wait.c */

/*
 * Waiting for room (docs/design.md, "Waiting for room"): one queue per
 * domain. Releases look only at `active`, which sits alone on its cache line
 * and is written only when a request starts or stops waiting or a failure is
 * watched for a notify callback, so a release pays one relaxed load and no
 * store while nobody waits.
 */
struct iotlb__waiter;

struct iotlb__waitq {
	uint64_t active; /* waiters + (watch ? 1 : 0); changed under `lock` */
	/* everything below is touched only while `active` is nonzero, or by arming */
	pthread_mutex_t lock __attribute__((aligned(IOTLB__CACHELINE)));
	struct iotlb__waiter *head, *tail; /* FIFO of blocking requests */
	uint64_t nwaiters;		   /* read relaxed by new blocking requests */
	uint64_t gen;			   /* releases seen while active */
	bool watch;			   /* a recorded -ENOSPC waits for the next release */
	struct iotlb_dev *armed;	   /* devices with a notify armed (notify.next) */
	uint64_t waits, wait_timeouts, wait_ns, wait_ns_max;
} __attribute__((aligned(IOTLB__CACHELINE)));

/* Per-device notify state, guarded by the device's domain wait queue lock. */
struct iotlb__notify {
	struct iotlb_dev *next; /* in the domain's armed list */
	void (*fn)(void *ctx);
	void *ctx;
	uint64_t fail_gen; /* domain gen when the last -ENOSPC was recorded */
	bool armed, failed;
	bool used; /* armed at least once: failures are recorded (read relaxed) */
};

/* The functions of wait.c are declared in wait.h. */

/* ------------------------------------------------------------------ mem.c */

/* The pools of a domain sorted by device address, for bisection. Replaced
 * whole when a pool is added; replaced arrays are kept until the domain
 * goes, because lookups read them without RCU (pools are never removed). */
/*
 * The pools of a domain by address. start[] holds their first DMA addresses
 * in order; the span from start[0] is cut into nbuckets equal buckets of
 * 2^shift bytes (at most 2n), and first[b] is the last pool starting at or
 * below bucket b's beginning, so a lookup bisects only first[b]..first[b+1]:
 * one or two pools when pools are spread evenly, all of them at worst.
 */
struct iotlb__pool_index {
	struct iotlb__pool_index *older;
	uint64_t n;
	struct iotlb__pool **pool; /* by address; stored after start[] */
	uint32_t *first;	   /* nbuckets + 1 entries, after pool[] */
	uint32_t nbuckets;
	unsigned shift;
	uint64_t start[];
};

/*
 * A domain is the set of pools one device maps from: the mem's shared pools,
 * or a private device's carved pool. Its pools live as long as it does, so
 * the map and unmap paths read them without RCU; only transient pools, which
 * come and go, are read under RCU (domain.c).
 */
struct iotlb__domain {
	/* read on every call; written only when pools are added */
	struct iotlb__pool *pools;	 /* searchable pools, newest first */
	struct iotlb__pool_index *index; /* the same, by address */
	struct iotlb__pool *transient;	 /* transient pools, lookup only (RCU) */
	unsigned max_nareas;
	uint64_t max_pool_nslots; /* of the largest non-transient pool */
	uint8_t hw_reset_pending; /* the next take re-bases the high-water mark */
	uint64_t nslots;	  /* slots of non-transient pools */
	uint64_t npools;
	uint64_t transient_nslots;
	uint64_t transient_pools;
	/* the exact high-water mark (stats.c): changed only by its slow path */
	pthread_mutex_t hw_lock __attribute__((aligned(IOTLB__CACHELINE)));
	uint64_t hw;
	int64_t hw_spare; /* headroom held by no area */
	/* counters of rare events, atomics on their own line */
	uint64_t fail_nospace __attribute__((aligned(IOTLB__CACHELINE)));
	uint64_t fail_too_big, area_fallbacks;
	uint64_t grow_attempts, grow_failures;
	/* activity counters of pools already removed (transient pools) */
	struct iotlb_stats retired __attribute__((aligned(IOTLB__CACHELINE)));
	struct iotlb__waitq wq; /* waiting for room (wait.c), lines of its own */
};

struct iotlb_mem {
	struct iotlb_mem_config cfg; /* validated copy, defaults applied */
	struct iotlb_mem_params p;
	struct iotlb_lock_ops lock_ops;	    /* copy: the caller's table may go away */
	struct iotlb_region_ops region_ops; /* copy; cfg.region_ops points here */
	struct iotlb__domain shared;
	pthread_mutex_t writer_lock; /* pool list and device list changes */
	/* growth worker (IOTLB_MEM_GROW) */
	pthread_t grow_thread;
	pthread_mutex_t grow_lock;
	pthread_cond_t grow_cond;
	bool grow_requested, grow_stop, grow_running;
	/* Told when the worker has published a pool, so that whoever waits for
	 * room can look again; wired by iotlb_mem_create (to wait.c), so that
	 * growth needs to know nothing about waiting. */
	void (*pool_added)(struct iotlb__domain *d);
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
	struct iotlb__map_shape map_shape[2]; /* search set-up of its maps */
	unsigned nqueues;
	unsigned char *carve_ctx; /* lock contexts for carving (private only) */
	uint64_t wait_timeout_ns; /* wait.c: 0 = wait without limit */
	struct iotlb__notify notify;
	struct iotlb__domain private_domain;
};

/* ------------------------------------------------------------------ rcu.c */

/* RCU read side (liburcu-bp: no thread registration by callers), inline. */
IOTLB__HIDDEN void iotlb__read_lock(void);
IOTLB__HIDDEN void iotlb__read_unlock(void);
/* Calls fn(pool) after a grace period, from liburcu's call_rcu thread. */
IOTLB__HIDDEN void iotlb__after_grace_period(struct iotlb__pool *pool,
					     void (*fn)(struct iotlb__pool *pool));
/* Waits until every iotlb__after_grace_period callback queued so far has run. */
IOTLB__HIDDEN void iotlb__grace_period_barrier(void);

/* ------------------------------------------------------------------ domain.c */

IOTLB__HIDDEN int iotlb__domain_init(struct iotlb__domain *d);
/* Frees the lookup arrays (not the pools). */
IOTLB__HIDDEN void iotlb__domain_fini(struct iotlb__domain *d);
/* Publishes a built pool (writer lock held); -ENOMEM leaves it unpublished. */
IOTLB__HIDDEN int iotlb__domain_add_pool(struct iotlb__domain *d, struct iotlb__pool *pool);
/* The non-transient pool holding `dma`, by bisection, without RCU; or NULL. */
IOTLB__HIDDEN struct iotlb__pool *iotlb__domain_lookup(const struct iotlb__domain *d, uint64_t dma);
/* The transient pool holding `dma`, or NULL; RCU read lock held. */
IOTLB__HIDDEN IOTLB__COLD struct iotlb__pool *
iotlb__domain_lookup_transient(const struct iotlb__domain *d, uint64_t dma);
/* Is a region usable as a pool: page aligned, whole slots, no wrap? 0, -EINVAL. */
IOTLB__HIDDEN int iotlb__region_check(const struct iotlb_mem_params *p, const void *vaddr,
				      uint64_t dma, size_t size);
/* The same, and no overlap with any pool of `d`, transient ones included
 * (writer_lock held). Provider regions and added pools alike. */
IOTLB__HIDDEN int iotlb__domain_region_check(const struct iotlb__domain *d,
					     const struct iotlb_mem_params *p, const void *vaddr,
					     uint64_t dma, size_t size);
/* Slots in use in the domain (sum of its areas), read relaxed. */
IOTLB__HIDDEN uint64_t iotlb__domain_used(const struct iotlb__domain *d);
/* Can a request of `alloc_size` bytes (padding included) never be served?
 * (mem.c) */
IOTLB__HIDDEN bool iotlb__domain_too_big(const struct iotlb_mem *mem, const struct iotlb__domain *d,
					 uint64_t alloc_size);

/* ------------------------------------------------------------------ grow.c */

IOTLB__HIDDEN int iotlb__grow_start(struct iotlb_mem *mem);
IOTLB__HIDDEN void iotlb__grow_stop(struct iotlb_mem *mem);
/* Asks the worker for one more pool; never blocks on the provider. */
IOTLB__HIDDEN IOTLB__COLD void iotlb__grow_request(struct iotlb_mem *mem);
/* Serves `req` from a fresh one-area pool of its own (docs/algorithm.md, "Growth"). */
IOTLB__HIDDEN IOTLB__COLD int iotlb__transient_take(struct iotlb_mem *mem,
						    const struct iotlb__search *s,
						    const struct iotlb__req *req,
						    struct iotlb__pool **pool_out,
						    uint64_t *slot_out);
/* Called after a transient pool's allocation was released. */
IOTLB__HIDDEN IOTLB__COLD void iotlb__transient_retire(struct iotlb__pool *pool);
/* Hands a provider pool's region back and frees the pool. */
IOTLB__HIDDEN void iotlb__pool_free_region(struct iotlb_mem *mem, struct iotlb__pool *pool);
/* Slots a transient region needs before the request can start, worst case
 * over page-aligned regions; UINT64_MAX when it can start nowhere. */
IOTLB__HIDDEN uint64_t iotlb__transient_slack(const struct iotlb_mem_params *p,
					      const struct iotlb__search *s);

/* ------------------------------------------------------------------ block.c */

/* Carves a private pool for `dev` (docs/algorithm.md#blocks); -ENOSPC, -E2BIG, -ENOMEM. */
IOTLB__HIDDEN int iotlb__private_create(struct iotlb_dev *dev, size_t private_size,
					unsigned nqueues);
/* Gives the blocks back; the device must have nothing live. */
IOTLB__HIDDEN void iotlb__private_destroy(struct iotlb_dev *dev);

/* ------------------------------------------------------------------ area.c (choice) */

/* Area hint for a request: the queue if given, else the mem's policy. */
IOTLB__HIDDEN unsigned iotlb__select_hint(struct iotlb_mem *mem, int queue);

/* Finds and takes slots for `req` across the domain's pools, area-major
 * (docs/algorithm.md, "Areas" and "Growth"). 0, -ENOSPC. On success
 * *settle says whether the caller must call iotlb__hiwater_settle(d). */
IOTLB__HIDDEN int iotlb__domain_find(struct iotlb__domain *d, unsigned hint,
				     const struct iotlb__search *s, const struct iotlb__req *req,
				     struct iotlb__pool **pool_out, uint64_t *slot_out,
				     bool *settle);

/* ------------------------------------------------------------------ config.c */

/* Copies a caller's versioned struct (struct_size first) into `dst`. */
IOTLB__HIDDEN int iotlb__copy_versioned(void *dst, size_t dst_size, const void *src);
IOTLB__HIDDEN bool iotlb__is_mask(uint64_t m); /* of the form 2^k - 1 */
IOTLB__HIDDEN bool iotlb__is_pow2(uint64_t v);

/* ------------------------------------------------------------------ log.c */

__attribute__((format(printf, 3, 4))) IOTLB__HIDDEN IOTLB__COLD void
iotlb__log(const struct iotlb_mem *mem, int level, const char *fmt, ...);

/* ------------------------------------------------------------------ stats.c */

/* High-water bookkeeping of a take of n slots in `area` (area lock held):
 * true when iotlb__hiwater_settle must run once the lock is dropped. */
static inline bool iotlb__hiwater_take(const struct iotlb__domain *d, struct iotlb__area *area,
				       uint64_t n)
{
	int64_t slack = IOTLB__LOAD(&area->hw_slack) - (int64_t)n;

	IOTLB__STORE(&area->hw_slack, slack);
	return slack < 0 || IOTLB__LOAD(&d->hw_reset_pending);
}
static inline void iotlb__hiwater_return(struct iotlb__area *area, uint64_t n)
{
	IOTLB__BUMP(&area->hw_slack, (int64_t)n);
}
/* Re-balances headroom or raises the mark, under every area lock of `d`. */
IOTLB__HIDDEN IOTLB__COLD void iotlb__hiwater_settle(struct iotlb__domain *d);
/* A transient pool leaves: its areas' headroom goes to the domain. */
IOTLB__HIDDEN void iotlb__hiwater_retire(struct iotlb__domain *d, struct iotlb__pool *pool);
IOTLB__HIDDEN uint64_t iotlb__hiwater_read(const struct iotlb__domain *d, uint64_t used);

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
