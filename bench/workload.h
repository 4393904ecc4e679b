/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workloads shared by the Google Benchmark shim, iotlb-map-bench
 * and the lock-contention study: test beds (a mem laid out as the kernel did
 * before 6.0, as 6.0 does, or as the 2022 private-pool proposal), threaded
 * map+unmap runs with latency statistics, and the malloc baseline.
 */
#ifndef IOTLB_BENCH_WORKLOAD_H
#define IOTLB_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iotlb/iotlb.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How the bounce memory is split between threads.
 *   single:  one area, one lock (the kernel before 6.0);
 *   percpu:  one area per thread, chosen by the current CPU (6.0 and later);
 *   private: a device with a private pool of IO TLB blocks and one child
 *            pool per thread, each thread mapping on its own queue (2022);
 *   malloc:  no libiotlb: a mutex-protected malloc + memcpy + free bounce,
 *            what a user writes without the library (the baseline);
 *   copy:    no libiotlb and no allocation: the map's copy alone, into
 *            destinations that sweep the pool as the library's cursors do
 *            (each thread its own slice of it, as per-CPU areas split it).
 *            The ceiling a bounce allocator's throughput can reach.
 */
enum wl_layout {
	WL_SINGLE = 0,
	WL_PERCPU,
	WL_PRIVATE,
	WL_MALLOC,
	WL_COPY,
	WL_NLAYOUTS,
};

/* Bytes of bounce memory a bed maps from: the kernel's default swiotlb size. */
#define WL_POOL_BYTES ((size_t)64 << 20)

struct wl_setup {
	enum wl_layout layout;
	enum iotlb_lock_kind lock;
	unsigned nthreads;  /* areas of percpu, queues of private, slices of copy */
	unsigned nareas;    /* 0: what the layout says; else forced */
	size_t pool_bytes;  /* 0: WL_POOL_BYTES */
};

/* One map+unmap pair. Map always copies (ALGORITHM.md 5.1); unmap copies back
 * for FROM_DEVICE / BIDIRECTIONAL unless IOTLB_ATTR_SKIP_CPU_SYNC is set. */
struct wl_op {
	size_t size;
	enum iotlb_dir dir;
	unsigned attrs;
	uint64_t delay_ns;  /* busy wait between map and unmap (the "device") */
};

struct wl_bed;

/* 0, or a negative errno: -ENOTSUP when this build lacks the layout. */
int wl_bed_create(const struct wl_setup *setup, struct wl_bed **out);
void wl_bed_destroy(struct wl_bed *bed);
struct iotlb_dev *wl_bed_dev(const struct wl_bed *bed);
struct iotlb_mem *wl_bed_mem(const struct wl_bed *bed);

/* A page-aligned source buffer of `size` bytes for one thread, filled. */
void *wl_buffer_alloc(size_t size);
void wl_buffer_free(void *buf);

/* One map+unmap of `buf` by thread number `thread`, with op->delay_ns in
 * between. 0 or negative errno. */
int wl_pair(struct wl_bed *bed, unsigned thread, void *buf, const struct wl_op *op);
/* Its halves: map returns a handle (the DMA address, or the baseline's
 * buffer) for unmap. */
int wl_map(struct wl_bed *bed, unsigned thread, void *buf, const struct wl_op *op,
	   uint64_t *handle);
int wl_unmap(struct wl_bed *bed, uint64_t handle, void *buf, const struct wl_op *op);
/* Busy wait, the "device" between map and unmap. */
void wl_delay(uint64_t ns);

/* ------------------------------------------------- threaded runs (run.c) */

struct wl_lat {
	uint64_t n;
	double avg_ns;
	double stddev_ns;
	uint64_t p50_ns;
	uint64_t p99_ns;
	uint64_t max_ns;
};

struct wl_result {
	uint64_t pairs;       /* successful map+unmap pairs, all threads */
	uint64_t errors;      /* failed maps or unmaps */
	double seconds;       /* wall time of the measured interval */
	double pairs_per_s;
	struct wl_lat map;    /* only with wl_run.latency */
	struct wl_lat unmap;
};

/* Called about once a second from the thread that runs wl_run. */
typedef void (*wl_progress_fn)(void *ctx, double elapsed_s, uint64_t pairs_so_far);

struct wl_run_cfg {
	unsigned nthreads;
	double seconds;       /* run time; threads stop when it is over */
	struct wl_op op;
	bool latency;         /* time each map and unmap (costs two clock reads each) */
	bool unbound;         /* leave threads to the scheduler instead of binding
			       * thread i to CPU i mod wl_ncpus() */
	wl_progress_fn progress;
	void *progress_ctx;
};

/* Runs nthreads threads doing wl_pair until the time is over. Thread i runs
 * on CPU wl_cpu_of(i) unless run->unbound, as the kernel's dma_map_benchmark
 * binds its threads: per-CPU areas then measure the design, not where the
 * scheduler happened to put the threads. */
int wl_run(struct wl_bed *bed, const struct wl_run_cfg *run, struct wl_result *res);

/* CPUs this process may run on (its affinity mask), at least 1. */
unsigned wl_ncpus(void);
/* The CPU thread i is bound to: the (i mod wl_ncpus())-th allowed CPU. */
int wl_cpu_of(unsigned thread);

/* --------------------------------------------------- search and lookup cost */

/*
 * Fills the bed's pool with random-size mappings until it is full, then
 * unmaps random ones until at most `occupancy` (0..1) of the slots is used,
 * leaving a fragmented pool. Returns the occupancy reached in *achieved.
 */
int wl_fragment(struct wl_bed *bed, double occupancy, uint64_t seed, double *achieved);

/* Adds pools of `pool_bytes` each until the bed's mem has `npools` pools. */
int wl_add_pools(struct wl_bed *bed, unsigned npools, size_t pool_bytes);
/* Address-to-pool lookups: iotlb_dma_to_virt of an address in the i-th pool
 * (modulo the pool count), and iotlb_is_bounce of an address in no pool. */
void *wl_lookup_hit(const struct wl_bed *bed, unsigned i);
bool wl_lookup_miss(const struct wl_bed *bed);

/* ------------------------------------------------------------------- names */

const char *wl_layout_name(enum wl_layout layout);
int wl_layout_parse(const char *name, enum wl_layout *out);
/* Lock kinds by their library names ("mutex", "spin", ... "default"). */
int wl_lock_parse(const char *name, enum iotlb_lock_kind *out);
int wl_dir_parse(const char *name, enum iotlb_dir *out);
const char *wl_dir_name(enum iotlb_dir dir);
uint64_t wl_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* IOTLB_BENCH_WORKLOAD_H */
