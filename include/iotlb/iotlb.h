/* SPDX-License-Identifier: MIT */
/*
 * libiotlb: the Linux software IO TLB (swiotlb) bounce-buffer allocator in
 * userspace, over memory regions the caller supplies.
 *
 * Threading (what may run at the same time as what):
 *
 *   call                                  | concurrent with
 *   --------------------------------------+----------------------------------
 *   iotlb_map, iotlb_unmap,               | each other and every call in this
 *   iotlb_sync_for_cpu/_for_device,       | block, from any thread, on any
 *   iotlb_alloc, iotlb_free,              | device of one mem; no thread
 *   iotlb_dma_to_virt, iotlb_is_bounce,   | registration needed
 *   iotlb_max_mapping_size,               |
 *   iotlb_mem_stats, iotlb_dev_stats,     |
 *   iotlb_*_area_stats, iotlb_stats_print,|
 *   iotlb_mem_reset_hiwater               |
 *   iotlb_mem_add_pool                    | every call above
 *   iotlb_dev_create                      | every call above on other devices
 *   iotlb_dev_destroy                     | calls on other devices only
 *   iotlb_mem_create / iotlb_mem_destroy  | nothing on that mem
 *
 *   The same handle must not be unmapped (or freed) twice, concurrently or
 *   not; a repeated unmap is refused with -ENOENT when it is detected.
 *
 * Errors: every fallible call returns 0 or a negative errno (see
 * iotlb_strerror); a failed call changes nothing and leaves out-parameters
 * untouched. Nothing is printed unless a log callback is configured.
 */
#ifndef IOTLB_IOTLB_H
#define IOTLB_IOTLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iotlb/stats.h>

#if defined(__GNUC__) || defined(__clang__)
#define IOTLB_API __attribute__((visibility("default")))
#else
#define IOTLB_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define IOTLB_VERSION_MAJOR 0
#define IOTLB_VERSION_MINOR 1
#define IOTLB_VERSION_PATCH 0

/* DMA direction, numbered as the kernel's enum dma_data_direction. */
enum iotlb_dir {
	IOTLB_BIDIRECTIONAL = 0,
	IOTLB_TO_DEVICE = 1,
	IOTLB_FROM_DEVICE = 2,
	IOTLB_DIR_NONE = 3,
};

#define IOTLB_ATTR_SKIP_CPU_SYNC (1u << 0) /* unmap: no copy back */
#define IOTLB_ATTR_NO_WARN (1u << 1)	   /* failed map: no log line */
#define IOTLB_ANY_QUEUE (-1)		   /* let the selection policy choose */

enum iotlb_lock_kind {
	IOTLB_LOCK_DEFAULT = 0, /* the library's choice: TTAS, see docs/design.md */
	IOTLB_LOCK_MUTEX,	/* pthread mutex */
	IOTLB_LOCK_SPIN,	/* pthread spinlock */
	IOTLB_LOCK_TICKET,	/* FIFO ticket lock */
	IOTLB_LOCK_MCS,		/* queue lock, one node per acquisition */
	IOTLB_LOCK_TTAS,	/* test-and-test-and-set, bounded backoff */
	IOTLB_LOCK_NONE,	/* single-threaded use only */
	IOTLB_LOCK_CUSTOM,	/* the caller's iotlb_lock_ops */
};

enum iotlb_select {
	IOTLB_SELECT_CPU = 0,	  /* sched_getcpu(), as the kernel */
	IOTLB_SELECT_THREAD,	  /* a stable small number per thread */
	IOTLB_SELECT_ROUND_ROBIN, /* one shared counter, as the 2022 proposal */
};

/* iotlb_mem_config.flags */
#define IOTLB_MEM_GROW (1u << 0)  /* add pools through region_ops when full */
#define IOTLB_MEM_SCRUB (1u << 1) /* zero bounce memory on release */

/* Levels passed to the log callback (syslog numbering). */
enum iotlb_log_level {
	IOTLB_LOG_ERR = 3,
	IOTLB_LOG_WARNING = 4,
	IOTLB_LOG_INFO = 6,
};

/* Region provider for growth: returns page-aligned memory and its device address. */
struct iotlb_region_ops {
	int (*alloc)(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr);
	void (*free)(void *ctx, void *vaddr, uint64_t dma_addr, size_t size);
};

/* A lock type. Built-in kinds use the same table internally. */
struct iotlb_lock_ops {
	size_t struct_size; /* sizeof(struct iotlb_lock_ops) */
	const char *name;
	size_t lock_size;	 /* bytes of one lock's state */
	size_t lock_align;	 /* its alignment (power of two) */
	size_t ctx_size;	 /* per-acquisition context; 0 if none */
	int (*init)(void *lock); /* 0 or negative errno */
	void (*destroy)(void *lock);
	void (*lock)(void *lock, void *ctx);
	void (*unlock)(void *lock, void *ctx);
	bool (*trylock)(void *lock, void *ctx); /* may be NULL */
};

/* Largest ctx_size a lock type may ask for (the context lives on the stack). */
#define IOTLB_LOCK_CTX_MAX 256
/* Largest lock_align a lock type may ask for. */
#define IOTLB_LOCK_ALIGN_MAX 4096
/* Largest lock_size a lock type may ask for (one lock sits in each area). */
#define IOTLB_LOCK_SIZE_MAX 4096

struct iotlb_mem_config {
	size_t struct_size;		       /* set by IOTLB_MEM_CONFIG_INIT */
	void *vaddr;			       /* CPU address of the bounce region, page aligned */
	uint64_t dma_addr;		       /* device address of vaddr, page aligned */
	size_t size;			       /* bytes, a multiple of the slot size */
	unsigned slot_shift;		       /* 0 -> 11 (2 KiB slots) */
	unsigned segment_slots;		       /* 0 -> 128 */
	unsigned block_slots;		       /* 0 -> 1024 */
	unsigned nareas;		       /* 0 -> configured CPUs; rounded to a power of two */
	size_t page_size;		       /* 0 -> 4096 */
	enum iotlb_lock_kind lock;	       /* lock of each area */
	const struct iotlb_lock_ops *lock_ops; /* with IOTLB_LOCK_CUSTOM only */
	enum iotlb_select select;	       /* area choice when no queue is given */
	unsigned flags;			       /* IOTLB_MEM_GROW, IOTLB_MEM_SCRUB */
	const struct iotlb_region_ops *region_ops; /* region provider for growth */
	void *region_ctx;
	size_t grow_size;				    /* bytes per added pool; 0 -> size */
	void (*log)(void *ctx, int level, const char *msg); /* diagnostics; none by default */
	void *log_ctx;
};

/* clang-format off */
#ifdef __cplusplus
#define IOTLB_MEM_CONFIG_INIT { sizeof(struct iotlb_mem_config) }
#else
#define IOTLB_MEM_CONFIG_INIT { .struct_size = sizeof(struct iotlb_mem_config) }
#endif
/* clang-format on */

struct iotlb_dev_config {
	size_t struct_size;	    /* set by IOTLB_DEV_CONFIG_INIT */
	uint64_t min_align_mask;    /* bounce keeps these bits of the original address */
	uint64_t alloc_align_mask;  /* alignment of the allocation start */
	uint64_t seg_boundary_mask; /* 0 -> all ones (no boundary) */
	size_t private_size;	    /* > 0: carve a private pool of IO TLB blocks */
	unsigned nqueues;	    /* child pools of a private pool; 0 -> 1 */
};

/* clang-format off */
#ifdef __cplusplus
#define IOTLB_DEV_CONFIG_INIT { sizeof(struct iotlb_dev_config) }
#else
#define IOTLB_DEV_CONFIG_INIT { .struct_size = sizeof(struct iotlb_dev_config) }
#endif
/* clang-format on */

struct iotlb_mem;
struct iotlb_dev;

/* Allocator lifetime. */
IOTLB_API int iotlb_mem_create(const struct iotlb_mem_config *cfg, struct iotlb_mem **out);
IOTLB_API int iotlb_mem_destroy(struct iotlb_mem *mem); /* -EBUSY while devices exist */
IOTLB_API int iotlb_mem_add_pool(struct iotlb_mem *mem, void *vaddr, uint64_t dma_addr,
				 size_t size);
IOTLB_API int iotlb_mem_stats(const struct iotlb_mem *mem, struct iotlb_stats *out);
IOTLB_API int iotlb_mem_reset_hiwater(struct iotlb_mem *mem, uint64_t value); /* only 0 */
/* Area `area` of the pool_index-th pool, oldest pool first. */
IOTLB_API int iotlb_mem_area_stats(const struct iotlb_mem *mem, unsigned pool_index, unsigned area,
				   struct iotlb_area_stats *out);

/* Devices. */
IOTLB_API int iotlb_dev_create(struct iotlb_mem *mem, const struct iotlb_dev_config *cfg,
			       struct iotlb_dev **out);
IOTLB_API int iotlb_dev_destroy(struct iotlb_dev *dev); /* -EBUSY while mapped */
IOTLB_API int iotlb_dev_stats(const struct iotlb_dev *dev, struct iotlb_stats *out);
/* Child pool `area` of a private device; for a shared device, area of the first pool. */
IOTLB_API int iotlb_dev_area_stats(const struct iotlb_dev *dev, unsigned area,
				   struct iotlb_area_stats *out);

/* Streaming mappings. */
IOTLB_API int iotlb_map(struct iotlb_dev *dev, int queue, void *orig, size_t size,
			enum iotlb_dir dir, unsigned attrs, uint64_t *dma_out);
IOTLB_API int iotlb_unmap(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir,
			  unsigned attrs);
IOTLB_API int iotlb_sync_for_cpu(struct iotlb_dev *dev, uint64_t dma, size_t size,
				 enum iotlb_dir dir);
IOTLB_API int iotlb_sync_for_device(struct iotlb_dev *dev, uint64_t dma, size_t size,
				    enum iotlb_dir dir);

/* Coherent allocations. */
IOTLB_API int iotlb_alloc(struct iotlb_dev *dev, size_t size, void **vaddr_out, uint64_t *dma_out);
IOTLB_API int iotlb_free(struct iotlb_dev *dev, uint64_t dma, size_t size);

/* Queries. */
IOTLB_API void *iotlb_dma_to_virt(const struct iotlb_dev *dev, uint64_t dma);
IOTLB_API bool iotlb_is_bounce(const struct iotlb_dev *dev, uint64_t dma);
IOTLB_API size_t iotlb_max_mapping_size(const struct iotlb_dev *dev);
IOTLB_API const char *iotlb_strerror(int err);

/*
 * Statistics printing through the caller's output callback (called once per
 * line, without the newline). Prints the counters and one line per area.
 */
typedef void (*iotlb_print_fn)(void *ctx, const char *line);
IOTLB_API int iotlb_stats_print(const struct iotlb_mem *mem, const struct iotlb_dev *dev,
				iotlb_print_fn print, void *ctx);

/* Name of a lock kind ("mutex", "spin", ...), NULL for an unknown value. */
IOTLB_API const char *iotlb_lock_kind_name(enum iotlb_lock_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* IOTLB_IOTLB_H */
