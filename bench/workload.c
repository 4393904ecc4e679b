/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workloads: test beds for each layout, map and unmap through the
 * library or the malloc baseline, and the fragmented pools and many-pool mems
 * behind the search and lookup benchmarks. The threaded run is in run.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "workload.h"

/* Block size of the default configuration: a private pool is whole blocks. */
#define WL_BLOCK_BYTES ((size_t)2 << 20)
#define WL_SLOT_BYTES ((size_t)2048)
#define WL_PAGE_BYTES ((size_t)4096)

struct wl_region {
	void *va;
	size_t bytes;
};

/* A live mapping left in the pool by wl_fragment. */
struct wl_live {
	uint64_t dma;
	size_t size;
};

/* Where the copy layout's thread writes next, within its slice of the
 * region; on its own cache line, as an area's cursor would be. */
struct wl_sweep {
	size_t next, begin, end;
} __attribute__((aligned(64)));

struct wl_bed {
	struct wl_setup setup;
	struct wl_sweep *sweep;         /* copy layout: one per thread */
	struct wl_region region;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	pthread_mutex_t malloc_lock;    /* the baseline's lock */
	struct wl_live *live;           /* wl_fragment's mappings */
	size_t nlive;
	struct wl_region *extra;        /* wl_add_pools' regions */
	unsigned nextra;
	uint64_t *hit;                  /* one address per pool, oldest first */
	unsigned nhit;
};

uint64_t wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wl_delay(uint64_t ns)
{
	uint64_t end = wl_now_ns() + ns;

	while (wl_now_ns() < end)
		;
}

/* ----------------------------------------------------------------- regions */

/* Bounce memory, faulted in now so that no run pays for first touches. The
 * device address is the CPU address: unique, page aligned, never 0. */
static int region_map(struct wl_region *r, size_t bytes, bool populate)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : MAP_NORESERVE);
	void *va = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (va == MAP_FAILED)
		return -ENOMEM;
	r->va = va;
	r->bytes = bytes;
	return 0;
}

static void region_unmap(struct wl_region *r)
{
	if (r->va)
		munmap(r->va, r->bytes);
	r->va = NULL;
}

static uint64_t region_dma(const struct wl_region *r)
{
	return (uint64_t)(uintptr_t)r->va;
}

/* Spare populated regions, kept when a bed goes away: harnesses build and
 * drop beds over and over, and faulting in 64 MiB each time costs more than
 * the runs. Two sizes, as the study alternates shared layouts with the
 * private one (a block larger); fresh memory measured up to 2x slower. */
#define WL_SPARES 2
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wl_region spare[WL_SPARES];
static unsigned spare_next; /* the slot a new size replaces */

static int region_get(struct wl_region *r, size_t bytes)
{
	pthread_mutex_lock(&spare_lock);
	for (unsigned i = 0; i < WL_SPARES && !r->va; i++) {
		if (spare[i].va && spare[i].bytes == bytes) {
			*r = spare[i];
			spare[i].va = NULL;
		}
	}
	pthread_mutex_unlock(&spare_lock);
	return r->va ? 0 : region_map(r, bytes, true);
}

static void region_put(struct wl_region *r)
{
	unsigned slot = WL_SPARES;

	pthread_mutex_lock(&spare_lock);
	for (unsigned i = 0; i < WL_SPARES && slot == WL_SPARES; i++)
		if (!spare[i].va || spare[i].bytes == r->bytes)
			slot = i;
	if (slot == WL_SPARES) {
		slot = spare_next;
		spare_next = (spare_next + 1) % WL_SPARES;
	}
	region_unmap(&spare[slot]);
	spare[slot] = *r;
	r->va = NULL;
	pthread_mutex_unlock(&spare_lock);
}

/* -------------------------------------------------------------------- beds */

static int mem_create(struct wl_bed *bed, unsigned nareas)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;

	cfg.vaddr = bed->region.va;
	cfg.dma_addr = region_dma(&bed->region);
	cfg.size = bed->region.bytes;
	cfg.nareas = nareas;
	cfg.lock = bed->setup.lock;
	return iotlb_mem_create(&cfg, &bed->mem);
}

static int dev_create(struct wl_bed *bed)
{
	struct iotlb_dev_config cfg = IOTLB_DEV_CONFIG_INIT;

	if (bed->setup.layout == WL_PRIVATE) {
		cfg.private_size = bed->setup.pool_bytes;
		cfg.nqueues = bed->setup.nthreads;
	}
	return iotlb_dev_create(bed->mem, &cfg, &bed->dev);
}

static unsigned layout_nareas(const struct wl_setup *s)
{
	if (s->nareas)
		return s->nareas;
	switch (s->layout) {
	case WL_PERCPU:
		return s->nthreads;
	case WL_SINGLE:
	case WL_PRIVATE: /* the shared pool only lends the blocks */
	default:
		return 1;
	}
}

/* The copy layout: thread i sweeps the i-th of nthreads equal slices. */
static int sweep_create(struct wl_bed *bed)
{
	unsigned n = bed->setup.nthreads;
	size_t slice = bed->region.bytes / n / WL_SLOT_BYTES * WL_SLOT_BYTES;

	if (!slice)
		return -EINVAL;
	bed->sweep = aligned_alloc(64, n * sizeof(*bed->sweep));
	if (!bed->sweep)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		bed->sweep[i] = (struct wl_sweep){ i * slice, i * slice, (i + 1) * slice };
	return 0;
}

static void *sweep_next(struct wl_bed *bed, unsigned thread, size_t size)
{
	struct wl_sweep *s = &bed->sweep[thread % bed->setup.nthreads];
	size_t stride = (size + WL_SLOT_BYTES - 1) / WL_SLOT_BYTES * WL_SLOT_BYTES;

	if (s->next + size > s->end)
		s->next = s->begin;
	s->next += stride;
	return (char *)bed->region.va + (s->next - stride);
}

int wl_bed_create(const struct wl_setup *setup, struct wl_bed **out)
{
	struct wl_bed *bed;
	size_t bytes;
	int err;

	if (!setup || !out || (unsigned)setup->layout >= WL_NLAYOUTS)
		return -EINVAL;
	bed = calloc(1, sizeof(*bed));
	if (!bed)
		return -ENOMEM;
	bed->setup = *setup;
	if (!bed->setup.nthreads)
		bed->setup.nthreads = 1;
	if (!bed->setup.pool_bytes)
		bed->setup.pool_bytes = WL_POOL_BYTES;
	pthread_mutex_init(&bed->malloc_lock, NULL);
	if (setup->layout == WL_MALLOC) {
		*out = bed;
		return 0;
	}

	/* A private pool is carved out of the shared one: give it a block more
	 * than the private size, as a real shared pool would have. */
	bytes = bed->setup.pool_bytes;
	if (setup->layout == WL_PRIVATE)
		bytes += WL_BLOCK_BYTES;
	err = region_get(&bed->region, bytes);
	if (!err && setup->layout == WL_COPY) {
		err = sweep_create(bed);
		if (!err) {
			*out = bed;
			return 0;
		}
	}
	if (!err)
		err = mem_create(bed, layout_nareas(&bed->setup));
	if (!err)
		err = dev_create(bed);
	if (err) {
		wl_bed_destroy(bed);
		return err;
	}
	*out = bed;
	return 0;
}

void wl_bed_destroy(struct wl_bed *bed)
{
	if (!bed)
		return;
	for (size_t i = 0; i < bed->nlive; i++)
		iotlb_unmap(bed->dev, bed->live[i].dma, bed->live[i].size, IOTLB_TO_DEVICE,
			    IOTLB_ATTR_SKIP_CPU_SYNC);
	if (bed->dev)
		iotlb_dev_destroy(bed->dev);
	if (bed->mem)
		iotlb_mem_destroy(bed->mem);
	if (bed->region.va)
		region_put(&bed->region);
	for (unsigned i = 0; i < bed->nextra; i++)
		region_unmap(&bed->extra[i]);
	pthread_mutex_destroy(&bed->malloc_lock);
	free(bed->sweep);
	free(bed->live);
	free(bed->extra);
	free(bed->hit);
	free(bed);
}

struct iotlb_dev *wl_bed_dev(const struct wl_bed *bed)
{
	return bed->dev;
}

struct iotlb_mem *wl_bed_mem(const struct wl_bed *bed)
{
	return bed->mem;
}

void *wl_buffer_alloc(size_t size)
{
	size_t bytes = (size + WL_PAGE_BYTES - 1) & ~(WL_PAGE_BYTES - 1);
	void *buf = aligned_alloc(WL_PAGE_BYTES, bytes ? bytes : WL_PAGE_BYTES);

	if (buf)
		memset(buf, 0x5a, bytes);
	return buf;
}

void wl_buffer_free(void *buf)
{
	free(buf);
}

/* ------------------------------------------------------------ map + unmap */

static bool copies_back(const struct wl_op *op)
{
	return (op->dir == IOTLB_FROM_DEVICE || op->dir == IOTLB_BIDIRECTIONAL) &&
	       !(op->attrs & IOTLB_ATTR_SKIP_CPU_SYNC);
}

/*
 * The queue a thread maps on: the single area needs no choice, per-CPU areas
 * are chosen by the library from the current CPU as the kernel does, and a
 * private device's threads each own a child pool.
 */
static int thread_queue(const struct wl_bed *bed, unsigned thread)
{
	switch (bed->setup.layout) {
	case WL_PERCPU:
		return IOTLB_ANY_QUEUE;
	case WL_PRIVATE:
		return (int)thread;
	default:
		return 0;
	}
}

/* The baseline copies exactly as the library does: always on map, back on
 * unmap when the direction asks for it. */
int wl_map(struct wl_bed *bed, unsigned thread, void *buf, const struct wl_op *op,
	   uint64_t *handle)
{
	void *bounce;

	if (bed->setup.layout == WL_COPY) {
		if (op->size > bed->region.bytes / bed->setup.nthreads)
			return -ENOSPC;
		bounce = sweep_next(bed, thread, op->size);
		memcpy(bounce, buf, op->size);
		*handle = (uint64_t)(uintptr_t)bounce;
		return 0;
	}
	if (bed->setup.layout != WL_MALLOC)
		return iotlb_map(bed->dev, thread_queue(bed, thread), buf, op->size, op->dir,
				 op->attrs, handle);
	pthread_mutex_lock(&bed->malloc_lock);
	bounce = malloc(op->size);
	pthread_mutex_unlock(&bed->malloc_lock);
	if (!bounce)
		return -ENOMEM;
	memcpy(bounce, buf, op->size);
	*handle = (uint64_t)(uintptr_t)bounce;
	return 0;
}

int wl_unmap(struct wl_bed *bed, uint64_t handle, void *buf, const struct wl_op *op)
{
	void *bounce = (void *)(uintptr_t)handle;

	if (bed->setup.layout == WL_COPY) {
		if (copies_back(op))
			memcpy(buf, bounce, op->size);
		return 0;
	}
	if (bed->setup.layout != WL_MALLOC)
		return iotlb_unmap(bed->dev, handle, op->size, op->dir, op->attrs);
	if (copies_back(op))
		memcpy(buf, bounce, op->size);
	pthread_mutex_lock(&bed->malloc_lock);
	free(bounce);
	pthread_mutex_unlock(&bed->malloc_lock);
	return 0;
}

int wl_pair(struct wl_bed *bed, unsigned thread, void *buf, const struct wl_op *op)
{
	uint64_t handle;
	int err;

	err = wl_map(bed, thread, buf, op, &handle);
	if (err)
		return err;
	if (op->delay_ns)
		wl_delay(op->delay_ns);
	return wl_unmap(bed, handle, buf, op);
}

/* ------------------------------------------------------ search and lookup */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static size_t slots_of(size_t size)
{
	return (size + WL_SLOT_BYTES - 1) / WL_SLOT_BYTES;
}

static int live_push(struct wl_bed *bed, size_t *cap, uint64_t dma, size_t size)
{
	if (bed->nlive == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct wl_live *l = realloc(bed->live, ncap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		bed->live = l;
		*cap = ncap;
	}
	bed->live[bed->nlive++] = (struct wl_live){ dma, size };
	return 0;
}

/* Maps random sizes up to 64 KiB until one no longer fits, then single
 * slots until none fits: the pool ends completely full. */
static int fill(struct wl_bed *bed, void *src, uint64_t *seed, size_t *cap)
{
	const unsigned attrs = IOTLB_ATTR_SKIP_CPU_SYNC | IOTLB_ATTR_NO_WARN;
	size_t max = 64u << 10;
	bool small = false;

	for (;;) {
		size_t size = small ? 1 : 1 + (size_t)(xorshift(seed) % max);
		uint64_t dma;
		int err = iotlb_map(bed->dev, 0, src, size, IOTLB_TO_DEVICE, attrs, &dma);

		if (err == -ENOSPC) {
			if (small)
				return 0;
			small = true;
			continue;
		}
		if (err)
			return err;
		err = live_push(bed, cap, dma, size);
		if (err) {
			iotlb_unmap(bed->dev, dma, size, IOTLB_TO_DEVICE, attrs);
			return err;
		}
	}
}

int wl_fragment(struct wl_bed *bed, double occupancy, uint64_t seed, double *achieved)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t state = seed ? seed : 0x9e3779b97f4a7c15ull;
	size_t cap = bed->nlive, used = 0, target;
	void *src;
	int err;

	if (!bed->dev || occupancy < 0 || occupancy > 1)
		return -EINVAL;
	src = wl_buffer_alloc(64u << 10);
	if (!src)
		return -ENOMEM;
	err = fill(bed, src, &state, &cap);
	wl_buffer_free(src);
	if (!err)
		err = iotlb_dev_stats(bed->dev, &st);
	if (err)
		return err;
	for (size_t i = 0; i < bed->nlive; i++)
		used += slots_of(bed->live[i].size);
	target = (size_t)(occupancy * (double)st.nslots);
	while (used > target && bed->nlive) {
		size_t i = (size_t)(xorshift(&state) % bed->nlive);
		struct wl_live l = bed->live[i];

		err = iotlb_unmap(bed->dev, l.dma, l.size, IOTLB_TO_DEVICE,
				  IOTLB_ATTR_SKIP_CPU_SYNC);
		if (err)
			return err;
		bed->live[i] = bed->live[--bed->nlive];
		used -= slots_of(l.size);
	}
	err = iotlb_dev_stats(bed->dev, &st);
	if (!err && achieved)
		*achieved = st.nslots ? (double)st.used / (double)st.nslots : 0;
	return err;
}

int wl_add_pools(struct wl_bed *bed, unsigned npools, size_t pool_bytes)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct wl_region *extra;
	uint64_t *hit;
	int err;

	if (!bed->mem || !npools)
		return -EINVAL;
	extra = realloc(bed->extra, npools * sizeof(*extra));
	hit = realloc(bed->hit, npools * sizeof(*hit));
	if (extra)
		bed->extra = extra;
	if (hit)
		bed->hit = hit;
	if (!extra || !hit)
		return -ENOMEM;
	if (!bed->nhit)
		bed->hit[bed->nhit++] = region_dma(&bed->region) + bed->region.bytes / 2;
	while (bed->nhit < npools) {
		struct wl_region *r = &bed->extra[bed->nextra];

		/* Lookups never touch the memory: reserve it only. */
		err = region_map(r, pool_bytes, false);
		if (err)
			return err;
		err = iotlb_mem_add_pool(bed->mem, r->va, region_dma(r), pool_bytes);
		if (err) {
			region_unmap(r);
			return err;
		}
		bed->nextra++;
		bed->hit[bed->nhit++] = region_dma(r) + pool_bytes / 2;
	}
	err = iotlb_mem_stats(bed->mem, &st);
	if (!err && st.npools != npools)
		err = -EPROTO;
	return err;
}

void *wl_lookup_hit(const struct wl_bed *bed, unsigned i)
{
	return iotlb_dma_to_virt(bed->dev, bed->hit[i % bed->nhit]);
}

bool wl_lookup_miss(const struct wl_bed *bed)
{
	/* Page 1 is never mapped, so it lies in no pool: the lookup walks them all. */
	return iotlb_is_bounce(bed->dev, WL_PAGE_BYTES);
}

/* ------------------------------------------------------------------- names */

static const char *const layout_names[WL_NLAYOUTS] = {
	[WL_SINGLE] = "single",
	[WL_PERCPU] = "percpu",
	[WL_PRIVATE] = "private",
	[WL_MALLOC] = "malloc",
	[WL_COPY] = "copy",
};

const char *wl_layout_name(enum wl_layout layout)
{
	return (unsigned)layout < WL_NLAYOUTS ? layout_names[layout] : "?";
}

int wl_layout_parse(const char *name, enum wl_layout *out)
{
	for (unsigned i = 0; i < WL_NLAYOUTS; i++) {
		if (!strcmp(name, layout_names[i])) {
			*out = (enum wl_layout)i;
			return 0;
		}
	}
	return -EINVAL;
}

int wl_lock_parse(const char *name, enum iotlb_lock_kind *out)
{
	for (int k = IOTLB_LOCK_DEFAULT; k < IOTLB_LOCK_CUSTOM; k++) {
		const char *n = iotlb_lock_kind_name((enum iotlb_lock_kind)k);

		if (n && !strcmp(name, n)) {
			*out = (enum iotlb_lock_kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const dir_names[] = {
	[IOTLB_BIDIRECTIONAL] = "bidirectional",
	[IOTLB_TO_DEVICE] = "to_device",
	[IOTLB_FROM_DEVICE] = "from_device",
};

const char *wl_dir_name(enum iotlb_dir dir)
{
	return (unsigned)dir <= IOTLB_FROM_DEVICE ? dir_names[dir] : "?";
}

/* Names, or the kernel's numbers as dma_map_benchmark takes them. */
int wl_dir_parse(const char *name, enum iotlb_dir *out)
{
	static const char *const numbers[] = { "0", "1", "2" };

	for (unsigned d = 0; d <= IOTLB_FROM_DEVICE; d++) {
		if (!strcmp(name, dir_names[d]) || !strcmp(name, numbers[d])) {
			*out = (enum iotlb_dir)d;
			return 0;
		}
	}
	return -EINVAL;
}
