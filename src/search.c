/* SPDX-License-Identifier: MIT */
/*
 * The slot search inside one area, over the area's bitmap, returning exactly
 * the slot the kernel's next-fit walk returns (docs/algorithm.md, "The slot
 * search"; how the walk is reduced to two range searches: docs/design.md,
 * "The slot bitmap").
 *
 * The kernel walks from the cursor, one slot at a time over misaligned
 * positions and by `stride` from an aligned one that does not fit, wrapping
 * to 0 at the area's end, until it has counted area_nslots positions. The
 * positions it visits do not depend on occupancy; occupancy only decides
 * where it stops. Its visits form two increasing "stretches" (cursor to the
 * end, then 0 up to a limit fixed by what the first stretch counted), and in
 * each stretch the positions it tests for a fit are one arithmetic grid. So
 * the answer is the first fitting grid position of stretch one, else of
 * stretch two, and the bitmap finds it without visiting the rest.
 */
#include "bitmap.h"
#include "internal.h"

void iotlb__search_prepare(const struct iotlb_mem_params *p, const struct iotlb__req *req,
			   struct iotlb__search *s)
{
	uint64_t alloc_align = req->alloc_align_mask, iotlb_align, stride_mask, filter, grid;

	/* Legacy page alignment, then slot alignment (algorithm.md, search setup). */
	if (alloc_align == 0 && req->min_align_mask == 0 && req->alloc_size >= p->page_size)
		alloc_align = p->page_size - 1;
	alloc_align |= p->slot_size - 1;
	iotlb_align = req->min_align_mask & ~alloc_align;
	stride_mask = alloc_align > iotlb_align ? alloc_align : iotlb_align;

	s->nslots = (req->alloc_size + p->slot_size - 1) >> p->slot_shift;
	s->stride = (stride_mask >> p->slot_shift) + 1;
	/* Coherent requests match no original: only the allocation alignment filters. */
	filter = req->coherent ? alloc_align : alloc_align | iotlb_align;
	s->align_mask = filter >> p->slot_shift;
	s->target = req->coherent ? 0 : (req->orig & iotlb_align) >> p->slot_shift;
	/* Aligned positions repeat every align_mask + 1 slots; from one that
	 * does not fit the walk jumps `stride` and then steps to the next aligned
	 * one, so it tests every ceil(stride / grid)-th of them. Both masks are
	 * of the form 2^k - 1, which makes that period a power of two too
	 * (docs/design.md, "The slot bitmap"); the search relies on it. */
	grid = s->align_mask + 1;
	s->period = (s->stride + grid - 1) & ~(grid - 1);
	s->seg_boundary_mask = req->seg_boundary_mask;
	s->boundary_slots = (req->seg_boundary_mask >> p->slot_shift) + 1;
}

/* Position of the search in one area: what the fit test needs. */
struct walk {
	const struct iotlb__area *area;
	const struct iotlb__search *s;
	uint64_t seg;	 /* segment_slots */
	unsigned seg_shift;
	uint64_t tslot;	 /* boundary-masked pool start, in slots, plus the area base */
	bool plain;	 /* every slot is a candidate and no boundary cuts a segment */
};

/* First index >= x that passes the alignment filter. */
static inline uint64_t aligned_from(const struct walk *w, uint64_t x)
{
	uint64_t m = w->s->align_mask;

	return x + ((w->s->target - (w->tslot + x)) & m);
}

/* First index >= x on the grid {first + k * period}. */
static inline uint64_t grid_from(const struct walk *w, uint64_t first, uint64_t x)
{
	uint64_t period = w->s->period;

	if (x <= first)
		return first;
	return first + ((x - first + period - 1) & ~(period - 1));
}

/*
 * First grid position y in [lo, hi) where n free slots start inside one
 * segment without crossing a boundary; `hi` if none. Segments whose hint
 * says no such run exists are skipped whole; a plain search that scans a
 * whole segment without a fit lowers its hint.
 */
static uint64_t first_fit(const struct walk *w, uint64_t first, uint64_t lo, uint64_t hi)
{
	const struct iotlb__area *area = w->area;
	const uint64_t n = w->s->nslots, seg = w->seg, q = w->s->boundary_slots;
	uint64_t y = grid_from(w, first, lo);

	while (y < hi) {
		uint64_t seg_start = y & ~(seg - 1), seg_end = seg_start + seg;
		uint32_t *hint = &area->hint[y >> w->seg_shift];

		if (*hint >= n && (y & (seg - 1)) + n <= seg) {
			uint64_t b = (w->tslot + y) & (q - 1), used;

			if (b + n > q) {
				y = grid_from(w, first, y + (q - b));
				continue;
			}
			used = iotlb__bitmap_next_set(area->map, y, y + n);
			if (used == y + n)
				return y;
			/* Nothing can start before the first free slot after `used`. */
			y = iotlb__bitmap_next_clear(area->map, used, seg_end < hi ? seg_end : hi);
			if (y < seg_end) {
				y = grid_from(w, first, y);
				continue;
			}
		}
		/* No run of n in this segment from y on; if the plain walk saw the
		 * whole segment, no run of n exists in it at all. */
		if (w->plain && seg_start >= lo && seg_end <= hi && *hint >= n)
			*hint = (uint32_t)(n - 1);
		y = grid_from(w, first, seg_end);
	}
	return hi;
}

int64_t iotlb__search_area(const struct iotlb__pool *pool, const struct iotlb__area *area,
			   const struct iotlb__search *s)
{
	const struct iotlb_mem_params *p = pool->p;
	const uint64_t N = area->nslots, i0 = area->index;
	struct walk w = {
		.area = area,
		.s = s,
		.seg = p->segment_slots,
		.seg_shift = (unsigned)__builtin_ctzll(p->segment_slots),
		.tslot = ((pool->dma_addr & s->seg_boundary_mask) >> p->slot_shift) + area->base,
	};
	uint64_t first, last, counted, found, limit;

	/* Quick reject: not enough free slots in the whole area. */
	if (s->nslots > N - area->used)
		return -1;
	w.plain = s->period == 1 && s->boundary_slots >= w.seg &&
		  (w.tslot & (w.seg - 1) & (s->boundary_slots - 1)) == 0;

	/* Stretch one: from the cursor to the end of the area. */
	first = aligned_from(&w, i0);
	/* The common case first: next fit lands right at the cursor. */
	if (first < N && area->hint[first >> w.seg_shift] >= s->nslots &&
	    (first & (w.seg - 1)) + s->nslots <= w.seg &&
	    ((w.tslot + first) & (s->boundary_slots - 1)) + s->nslots <= s->boundary_slots &&
	    iotlb__bitmap_next_set(area->map, first, first + s->nslots) == first + s->nslots)
		return (int64_t)first;
	if (first < N) {
		found = first_fit(&w, first, first, N);
		if (found < N)
			return (int64_t)found;
		/* What the walk counted up to its wrap (see the file comment). */
		last = first + ((N - 1 - first) & ~(s->period - 1));
		counted = last - i0 + (last + s->stride >= N ? s->stride : N - last);
	} else {
		counted = N - i0;
	}
	/* Stretch two: from 0, testing position y while counted + y < N. */
	if (counted >= N)
		return -1;
	limit = N - counted;
	first = aligned_from(&w, 0);
	found = first_fit(&w, first, first, limit);
	return found < limit ? (int64_t)found : -1;
}

bool iotlb__search_fits_at(const struct iotlb_mem_params *p, const struct iotlb__search *s,
			   uint64_t addr)
{
	uint64_t slot = (addr & s->seg_boundary_mask) >> p->slot_shift;

	if (((slot & s->align_mask) ^ s->target) & s->align_mask)
		return false;
	return (slot & (s->boundary_slots - 1)) + s->nslots <= s->boundary_slots;
}
