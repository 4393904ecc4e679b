/* SPDX-License-Identifier: MIT */
/*
 * iotlb-search-bench: the bitmap search against the kernel's linear walk over
 * the same occupancy. The walk is reimplemented here from docs/algorithm.md
 * ("The slot search") over free-run counters derived from the same pool, and
 * every timed search is checked to return the slot the walk returns. The
 * 4-slot rows also time a bare scan written for exactly their request shape
 * (bare_scan below): the cost of reading these words with nothing else, the
 * limit the library's search is measured against.
 *
 *   an empty pool (both find the slot at the cursor: the floor of a search);
 *   fragmented pools at 90 % and 99 % occupancy, a 4-slot map (8 KiB), from
 *   256 cursor positions spread across the area (mean per search);
 *   a search that fails in a 1 GiB pool (every other slot taken, 2-slot map):
 *   the first search, and later ones once the segment hints have learnt.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

#define DMA_BASE 0x100000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 42;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct bed {
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	char *region;
	size_t bytes;
	char *src;
	uint64_t *dma, *len, n; /* the live mappings (len in slots), unmapped at the end */
};

static void bed_create(struct bed *b, size_t bytes)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config d = IOTLB_DEV_CONFIG_INIT;

	b->bytes = bytes;
	b->region = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	b->src = calloc(1, 1 << 18);
	b->dma = malloc((bytes >> 11) * sizeof(*b->dma));
	b->len = malloc((bytes >> 11) * sizeof(*b->len));
	b->n = 0;
	c.vaddr = b->region;
	c.dma_addr = DMA_BASE;
	c.size = bytes;
	c.nareas = 1;
	if (b->region == MAP_FAILED || !b->src || !b->dma || !b->len ||
	    iotlb_mem_create(&c, &b->mem) || iotlb_dev_create(b->mem, &d, &b->dev)) {
		fprintf(stderr, "iotlb-search-bench: set-up failed\n");
		exit(1);
	}
}

static void bed_destroy(struct bed *b)
{
	for (uint64_t i = 0; i < b->n; i++)
		if (iotlb_unmap(b->dev, b->dma[i], b->len[i] << 11, IOTLB_TO_DEVICE, 0))
			exit(1);
	if (iotlb_dev_destroy(b->dev) || iotlb_mem_destroy(b->mem)) {
		fprintf(stderr, "iotlb-search-bench: tear-down failed\n");
		exit(1);
	}
	munmap(b->region, b->bytes);
	free(b->src);
	free(b->dma);
	free(b->len);
}

/* The kernel's walk (docs/algorithm.md, "The slot search"), over list[];
 * one call per search, like the library's (noipa: see bare_scan). */
static __attribute__((noipa)) int64_t kernel_walk(const struct iotlb__pool *pool,
						  const struct iotlb__area *area,
						  const uint32_t *list,
						  const struct iotlb__req *req, uint64_t *visited)
{
	const struct iotlb_mem_params *p = pool->p;
	uint64_t tbl = pool->dma_addr & req->seg_boundary_mask;
	uint64_t max_slots = (req->seg_boundary_mask >> p->slot_shift) + 1;
	uint64_t nslots = (req->alloc_size + p->slot_size - 1) >> p->slot_shift;
	uint64_t align = req->alloc_align_mask, iotlb_align, stride, index, checked = 0;

	if (!align && !req->min_align_mask && req->alloc_size >= p->page_size)
		align = p->page_size - 1;
	align |= p->slot_size - 1;
	iotlb_align = req->min_align_mask & ~align;
	stride = ((align > iotlb_align ? align : iotlb_align) >> p->slot_shift) + 1;
	*visited = 0;
	if (nslots > area->nslots - area->used)
		return -1;
	index = area->index;
	while (checked < area->nslots) {
		uint64_t slot = area->base + index, addr = tbl + (slot << p->slot_shift);

		++*visited;
		if ((addr & align) ||
		    (!req->coherent && (addr & iotlb_align) != (req->orig & iotlb_align))) {
			index = index + 1 >= area->nslots ? 0 : index + 1;
			checked++;
			continue;
		}
		if ((((tbl >> p->slot_shift) + slot) & (max_slots - 1)) + nslots <= max_slots &&
		    list[slot] >= nslots)
			return (int64_t)slot;
		index = index + stride >= area->nslots ? 0 : index + stride;
		checked += stride;
	}
	return -1;
}

/*
 * A bitmap scan for the 4-slot rows with nothing else: the same words, the
 * same answer (checked), none of the library's generality. It knows the
 * shape (4 slots, every other slot a candidate, 128-slot segments, no
 * boundary, the area at the pool's start), skips no segment by its hint, and
 * scans stretch one then the whole area again from 0, which returns the
 * walk's slot whenever the walk's wrap limit does not cut stretch two (the
 * caller checks). The library's search is measured against it.
 */
static uint64_t bare_stretch(const uint64_t *map, uint64_t nwords, uint64_t from, uint64_t to)
{
	for (uint64_t w = from / 64; w * 64 < to; w++) {
		uint64_t f = ~map[w], fh, runs;

		if (!f)
			continue;
		/* Runs continue into the next word only inside a segment (2 words). */
		fh = !(w & 1) && w + 1 < nwords ? ~map[w + 1] : 0;
		runs = f & ((f >> 1) | (fh << 63));
		fh &= fh >> 1;
		runs &= (runs >> 2) | (fh << 62);
		runs &= 0x5555555555555555ull;
		if (w * 64 < from)
			runs &= ~(uint64_t)0 << (from - w * 64);
		if (to - w * 64 < 64)
			runs &= ((uint64_t)1 << (to - w * 64)) - 1;
		if (runs)
			return w * 64 + (uint64_t)__builtin_ctzll(runs);
	}
	return to;
}

/* noipa: a pure function called 50 times over the same area would be called
 * once (the same for the walk below, which is the reference). */
static __attribute__((noipa)) int64_t bare_scan(const struct iotlb__area *area)
{
	uint64_t n = area->nslots, nwords = (n + 63) / 64, from = (area->index + 1) & ~(uint64_t)1;
	uint64_t found = from < n ? bare_stretch(area->map, nwords, from, n) : n;

	if (found == n)
		found = bare_stretch(area->map, nwords, 0, n);
	return found < n ? (int64_t)found : -1;
}

/* The bare scan applies: 4 slots, even slots only, 128-slot segments, no boundary. */
static bool bare_applies(const struct iotlb__pool *pool, const struct iotlb__search *s)
{
	return s->nslots == 4 && s->period == 2 && s->align_mask == 1 && s->target == 0 &&
	       pool->p->segment_slots == 128 && s->seg_boundary_mask == UINT64_MAX &&
	       (pool->dma_addr >> pool->p->slot_shift) % 128 == 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Times `reps` library searches and kernel walks, alternating; medians. */
static void compare(const char *what, struct bed *b, size_t map_bytes, unsigned reps,
		    unsigned batch, unsigned ncursors)
{
	struct iotlb__pool *pool = b->mem->shared.pools;
	struct iotlb__area *area = iotlb__area_at(pool, 0);
	struct iotlb__req req = {
		.orig = (uint64_t)(uintptr_t)b->src,
		.alloc_size = map_bytes,
		.seg_boundary_mask = UINT64_MAX,
	};
	struct iotlb__search s;
	uint32_t *list = malloc(pool->nslots * sizeof(*list));
	uint64_t *lib = malloc(reps * sizeof(uint64_t)), *walk = malloc(reps * sizeof(uint64_t));
	uint64_t *bare = malloc(reps * sizeof(uint64_t));
	bool with_bare;
	uint64_t visited = 0, visited_sum = 0, used = area->used, t0, first;
	int64_t want, got;

	if (!list || !lib || !walk || !bare)
		exit(1);
	for (uint64_t i = 0; i < pool->nslots; i++)
		list[i] = iotlb__slots_free_run(pool, i);
	iotlb__search_prepare(pool->p, &req, &s);
	with_bare = bare_applies(pool, &s);
	want = kernel_walk(pool, area, list, &req, &visited);
	t0 = now_ns();
	got = iotlb__search_area(pool, area, &s);
	first = now_ns() - t0;
	got = got < 0 ? -1 : got + (int64_t)area->base;
	if (got != want) {
		fprintf(stderr,
			"iotlb-search-bench: %s: bitmap chose %" PRId64 ", walk %" PRId64 "\n",
			what, got, want);
		exit(1);
	}
	/* Rounds alternate the two, each over the same cursors spread across
	 * the area (where the cursor sits decides how far both must look), and
	 * each times a batch: the clock costs more than a fast search. */
	for (unsigned r = 0; r < reps; r++) {
		uint64_t v, tl = 0, tw = 0, tb = 0, cursor0 = area->index;
		int64_t bare_got = 0;

		for (unsigned c = 0; c < ncursors; c++) {
			area->index = ncursors > 1 ? (area->nslots / ncursors) * c : cursor0;
			t0 = now_ns();
			for (unsigned k = 0; k < batch; k++)
				got = iotlb__search_area(pool, area, &s);
			tl += now_ns() - t0;
			t0 = now_ns();
			for (unsigned k = 0; k < batch; k++)
				want = kernel_walk(pool, area, list, &req, &v);
			tw += now_ns() - t0;
			if (with_bare) {
				t0 = now_ns();
				for (unsigned k = 0; k < batch; k++)
					bare_got = bare_scan(area);
				tb += now_ns() - t0;
			}
			visited_sum += r ? 0 : v;
			if ((got < 0 ? -1 : got + (int64_t)area->base) != want ||
			    (with_bare && bare_got != want)) {
				fprintf(stderr,
					"iotlb-search-bench: %s: cursor %" PRIu64
					": bitmap %" PRId64 ", walk %" PRId64 ", bare %" PRId64
					"\n",
					what, area->index, got, want, with_bare ? bare_got : want);
				exit(1);
			}
		}
		area->index = cursor0;
		/* In picoseconds: a fast search is a few nanoseconds. */
		lib[r] = tl * 1000 / ((uint64_t)batch * ncursors);
		walk[r] = tw * 1000 / ((uint64_t)batch * ncursors);
		bare[r] = tb * 1000 / ((uint64_t)batch * ncursors);
	}
	visited = visited_sum / ncursors;
	qsort(lib, reps, sizeof(uint64_t), cmp_u64);
	qsort(walk, reps, sizeof(uint64_t), cmp_u64);
	qsort(bare, reps, sizeof(uint64_t), cmp_u64);
	printf("%-34s occupancy %5.1f %%  slot %8" PRId64 "  walk visits %8" PRIu64 " (mean)"
	       "  walk %11.1f ns  bitmap %8.1f ns (first %" PRIu64 " ns)  %6.1fx faster",
	       what, 100.0 * (double)used / (double)area->nslots, want, visited,
	       (double)walk[reps / 2] / 1000, (double)lib[reps / 2] / 1000, first,
	       (double)walk[reps / 2] / (double)(lib[reps / 2] ? lib[reps / 2] : 1));
	if (with_bare)
		printf("  bare scan %5.1f ns (%.1fx faster)", (double)bare[reps / 2] / 1000,
		       (double)walk[reps / 2] / (double)(bare[reps / 2] ? bare[reps / 2] : 1));
	printf("\n");
	free(bare);
	free(list);
	free(lib);
	free(walk);
}

/* Random 1..8-slot maps until full, then random unmaps down to `occupancy`. */
static void fragment(struct bed *b, double occupancy)
{
	uint64_t nslots = b->bytes >> 11, cap = nslots, n = 0, used = 0;
	uint64_t *dma = b->dma, *len = b->len;

	for (unsigned misses = 0; misses < 64 && n < cap;) {
		uint64_t slots = 1 + rng() % 8;

		if (iotlb_map(b->dev, 0, b->src, slots << 11, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN,
			      &dma[n])) {
			misses++;
			continue;
		}
		len[n++] = slots;
		used += slots;
	}
	/* Then single slots into every hole left. */
	while (n < cap &&
	       !iotlb_map(b->dev, 0, b->src, 64, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma[n])) {
		len[n++] = 1;
		used++;
	}
	while ((double)used > occupancy * (double)nslots && n) {
		uint64_t i = rng() % n;

		iotlb_unmap(b->dev, dma[i], len[i] << 11, IOTLB_TO_DEVICE, 0);
		used -= len[i];
		dma[i] = dma[--n];
		len[i] = len[n];
	}
	b->n = n;
}

static bool row_wanted(const char *only, const char *row)
{
	return !only || !strcmp(only, row);
}

/*
 * iotlb-search-bench [floor|90|99|fail]: all rows, or only the one named
 * (for callgrind: --toggle-collect=iotlb__search_area or =bare_scan).
 */
int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	struct bed b;

	if (argc > 2 || (only && strcmp(only, "floor") && strcmp(only, "90") &&
			 strcmp(only, "99") && strcmp(only, "fail"))) {
		fprintf(stderr, "usage: iotlb-search-bench [floor|90|99|fail]\n");
		return 2;
	}
	printf("# iotlb-search-bench: one area; bitmap search vs the kernel walk over the same "
	       "occupancy, same slot checked; medians\n");
	/* The floor: an empty area, where both find the slot at the cursor. What
	 * this costs the bitmap is the least any search costs (docs/performance.md,
	 * "The hot path", on the 90 % row). */
	if (row_wanted(only, "floor")) {
		bed_create(&b, (size_t)64 << 20);
		compare("64 MiB, 4-slot map, empty (floor)", &b, 8192, 15, 50, 256);
		bed_destroy(&b);
	}
	for (int pct = 90; pct <= 99; pct += 9) {
		char what[64];

		snprintf(what, sizeof(what), "%d", pct);
		if (!row_wanted(only, what))
			continue;
		/* Each row its own seed: the same occupancy run alone or with the rest. */
		rng_state = 42 + (uint64_t)(pct - 90);
		bed_create(&b, (size_t)64 << 20);
		fragment(&b, pct / 100.0);
		snprintf(what, sizeof(what), "64 MiB, 4-slot map, %d %% target", pct);
		compare(what, &b, 8192, 15, 50, 256);
		bed_destroy(&b);
	}
	if (!row_wanted(only, "fail"))
		return 0;
	/* Every other slot taken: no 2-slot run anywhere, yet half the pool free. */
	bed_create(&b, (size_t)1 << 30);
	{
		uint64_t nslots = b.bytes >> 11, dma;

		for (uint64_t i = 0; i < nslots; i++)
			if (iotlb_map(b.dev, 0, b.src, 64, IOTLB_TO_DEVICE, 0, &dma))
				exit(1);
		for (uint64_t i = 0; i < nslots; i += 2)
			if (iotlb_unmap(b.dev, DMA_BASE + (i << 11), 64, IOTLB_TO_DEVICE, 0))
				exit(1);
		for (uint64_t i = 1; i < nslots; i += 2) {
			b.dma[b.n] = DMA_BASE + (i << 11);
			b.len[b.n++] = 1;
		}
	}
	compare("1 GiB, failing 2-slot map", &b, 3000, 11, 3, 1);
	bed_destroy(&b);
	return 0;
}
