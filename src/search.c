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

/* The allocation alignment after the legacy page rule and the slot rule,
 * and the min-align bits above it (docs/algorithm.md, search setup). */
static void search_masks(const struct iotlb_mem_params *p, const struct iotlb__req *req,
			 uint64_t *alloc_align, uint64_t *iotlb_align)
{
	uint64_t a = req->alloc_align_mask;

	if (a == 0 && req->min_align_mask == 0 && req->alloc_size >= p->page_size)
		a = p->page_size - 1;
	a |= p->slot_size - 1;
	*alloc_align = a;
	*iotlb_align = req->min_align_mask & ~a;
}

void iotlb__search_prepare(const struct iotlb_mem_params *p, const struct iotlb__req *req,
			   struct iotlb__search *s)
{
	uint64_t alloc_align, iotlb_align, stride_mask, filter, grid;

	search_masks(p, req, &alloc_align, &iotlb_align);
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

void iotlb__map_shapes_init(const struct iotlb_mem_params *p, uint64_t min_align_mask,
			    uint64_t alloc_align_mask, uint64_t seg_boundary_mask,
			    struct iotlb__map_shape shape[2])
{
	for (int page = 0; page < 2; page++) {
		struct iotlb__req req = {
			.alloc_size = page ? p->page_size : 0,
			.alloc_align_mask = alloc_align_mask,
			.min_align_mask = min_align_mask,
			.seg_boundary_mask = seg_boundary_mask,
		};
		uint64_t alloc_align;

		iotlb__search_prepare(p, &req, &shape[page].s);
		search_masks(p, &req, &alloc_align, &shape[page].iotlb_align);
	}
}

void iotlb__map_search(const struct iotlb_mem_params *p, const struct iotlb__map_shape shape[2],
		       const struct iotlb__req *req, struct iotlb__search *s)
{
	const struct iotlb__map_shape *m = &shape[req->alloc_size >= p->page_size];

	*s = m->s;
	s->nslots = (req->alloc_size + p->slot_size - 1) >> p->slot_shift;
	s->target = (req->orig & m->iotlb_align) >> p->slot_shift;
}

/* Position of the search in one area: what the fit test needs. */
struct walk {
	const struct iotlb__area *area;
	const struct iotlb__search *s;
	uint64_t seg; /* segment_slots */
	unsigned seg_shift;
	uint64_t tslot; /* boundary-masked pool start, in slots, plus the area base */
	bool plain;	/* every slot is a candidate and no boundary cuts a segment */
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
 * Runs of n set bits by doubling: a start survives the ANDs of the window
 * with itself shifted by each of 1, 2, 4, ... 2^(j-1) (2^j <= n < 2^(j+1))
 * and by the rest n - 2^j; the sums of those shifts cover 0 .. n - 1, and as
 * the ANDs commute, the powers of two are constant shifts down a switch and
 * only the rest is a variable one. log2(n) + 1 steps instead of n - 1.
 */
struct run_shifts {
	unsigned log;  /* j: 2^j <= n < 2^(j+1), n <= 64 */
	unsigned rest; /* n - 2^j */
};

static void run_shifts(uint64_t n, struct run_shifts *rs)
{
	rs->log = 63u - (unsigned)__builtin_clzll(n);
	rs->rest = (unsigned)(n - ((uint64_t)1 << rs->log));
}

#define RUN_STEP(k)                                     \
	do {                                            \
		lo &= (lo >> (k)) | (hi << (64 - (k))); \
		hi &= hi >> (k);                        \
	} while (0)

/* Start positions of runs of n set bits in the 128-bit window lo:hi, for
 * the 64 starts in `lo` (n <= 64). */
static inline uint64_t run_starts(uint64_t lo, uint64_t hi, const struct run_shifts *rs)
{
	switch (rs->log) {
	case 6:
		RUN_STEP(32);
		/* fall through */
	case 5:
		RUN_STEP(16);
		/* fall through */
	case 4:
		RUN_STEP(8);
		/* fall through */
	case 3:
		RUN_STEP(4);
		/* fall through */
	case 2:
		RUN_STEP(2);
		/* fall through */
	case 1:
		RUN_STEP(1);
		/* fall through */
	default:
		break;
	}
	if (rs->rest)
		RUN_STEP(rs->rest);
	return lo;
}

#undef RUN_STEP

/* Bits b of a 64-bit word with (b & (period - 1)) == r, period <= 64 a power
 * of two: one bit every `period`, by table rather than a loop or a division. */
static inline uint64_t every(uint64_t period, uint64_t r)
{
	static const uint64_t pattern[7] = {
		~(uint64_t)0,
		0x5555555555555555ull,
		0x1111111111111111ull,
		0x0101010101010101ull,
		0x0001000100010001ull,
		0x0000000100000001ull,
		1,
	};

	return pattern[__builtin_ctzll(period)] << r;
}

/* Bits b of a 64-bit word, as slot base + b with base a multiple of 64, from
 * which a run of n stays inside one block of `size` slots (size < 64, a power
 * of two) whose first slot s has (phase + s) % size == 0. */
static uint64_t stays_within(uint64_t size, uint64_t phase, uint64_t n)
{
	uint64_t m = 0;

	if (n > size)
		return 0;
	/* Allowed in one block: its first size - n + 1 starts. */
	for (uint64_t b = 0; b < 64; b += size)
		m |= ((((uint64_t)1 << (size - n + 1)) - 1) << b);
	phase &= size - 1;
	/* Block starts sit where (phase + b) % size == 0, at b = (size - phase) % size. */
	phase = (size - phase) & (size - 1);
	return phase ? (m << phase) | (m >> (64 - phase)) : m;
}

/*
 * What the word-by-word search needs that is the same for every word: the
 * run shifts, and the starts the grid, segments and boundaries below 64 slots
 * allow (one pattern, as 64 is a multiple of each). Boundaries of 64 slots or
 * more are masked word by word, and only when one can fall inside a segment
 * of this area (`cut`); a grid sparser than a word is placed word by word.
 */
struct word_rules {
	struct run_shifts shifts;
	uint64_t allowed;   /* starts every word allows */
	uint64_t seg_words; /* words per segment, minus 1 (0: a run never spans words) */
	bool sparse;	    /* period > 64: at most one grid position per word */
	bool cut;	    /* boundaries of 64+ slots inside segments of this area */
};

static void word_rules(const struct walk *w, uint64_t first, struct word_rules *r)
{
	const uint64_t n = w->s->nslots, seg = w->seg, q = w->s->boundary_slots;
	const uint64_t period = w->s->period, N = w->area->nslots;

	run_shifts(n, &r->shifts);
	r->sparse = period > 64;
	r->allowed = r->sparse ? ~(uint64_t)0 : every(period, first & (period - 1));
	r->seg_words = seg > 64 ? seg / 64 - 1 : 0;
	if (seg < 64)
		r->allowed &= stays_within(seg, 0, n);
	r->cut = false;
	if (q < 64) {
		r->allowed &= stays_within(q, w->tslot, n);
	} else if (n > 1 && (q < seg || (w->tslot & (seg - 1)))) {
		/* Boundaries that are not segment starts: is one inside the area? */
		uint64_t next = (q - (w->tslot & (q - 1))) & (q - 1);

		r->cut = q < N || (next && next < N);
	}
}

/* Starts in the word at `base` allowed by a sparse grid and by boundaries
 * of 64 slots or more (the per-word part of the rules). */
static uint64_t word_allowed(const struct walk *w, const struct word_rules *r, uint64_t first,
			     uint64_t base)
{
	const uint64_t period = w->s->period, q = w->s->boundary_slots, n = w->s->nslots;
	uint64_t m = ~(uint64_t)0;

	if (r->sparse) {
		uint64_t off = (first - base) & (period - 1);

		m = off < 64 ? (uint64_t)1 << off : 0;
	}
	if (r->cut) {
		/* The next boundary at or after the word; starts in the n - 1
		 * slots before it would cross it. */
		uint64_t e = base + ((q - ((w->tslot + base) & (q - 1))) & (q - 1));

		for (int pass = 0; pass < 2; pass++, e += q) {
			uint64_t from = e >= n - 1 ? e - (n - 1) : 0;

			if (from < base + 64 && e > base) {
				uint64_t lo = from > base ? from - base : 0;
				uint64_t hi = e - base < 64 ? e - base : 64;
				uint64_t span = hi - lo;

				m &= ~((span == 64 ? ~(uint64_t)0 : ((uint64_t)1 << span) - 1)
				       << lo);
			}
		}
	}
	return m;
}

/*
 * first_fit_words when every word allows the same starts (no sparse grid, no
 * boundary inside a segment) and segments span whole words: one pass over
 * the words from y, a segment's hint read as the pass enters it.
 */
static uint64_t first_fit_even_words(const struct walk *w, const struct word_rules *r, uint64_t lo,
				     uint64_t y, uint64_t hi)
{
	const struct iotlb__area *area = w->area;
	const uint64_t *map = area->map;
	const uint64_t n = w->s->nslots, nwords = area->nslots / 64 + 1, last = (hi - 1) / 64;
	const unsigned wshift = w->seg_shift - 6; /* log2(words per segment) */
	uint64_t word = y / 64, from = ~(uint64_t)0 << (y % 64);

	while (word <= last) {
		const uint64_t seg = word >> wshift, seg_last = ((seg + 1) << wshift) - 1;
		const uint64_t stop = seg_last < last ? seg_last : last;

		if (area->hint[seg] >= n) {
			for (; word <= stop; word++, from = ~(uint64_t)0) {
				uint64_t free_lo = ~map[word], free_hi = 0, starts;

				if (!free_lo)
					continue;
				/* A run may go on into the next word of its segment. */
				if (word < seg_last && word + 1 < nwords)
					free_hi = ~map[word + 1];
				starts = run_starts(free_lo, free_hi, &r->shifts) & r->allowed &
					 from;
				if (word == last && hi % 64)
					starts &= ((uint64_t)1 << (hi % 64)) - 1;
				if (starts)
					return word * 64 + (uint64_t)__builtin_ctzll(starts);
			}
			/* A plain walk that saw the whole segment: no run of n in it. */
			if (w->plain && seg << w->seg_shift >= lo &&
			    (seg + 1) << w->seg_shift <= hi)
				area->hint[seg] = (uint32_t)(n - 1);
		}
		word = seg_last + 1;
		from = ~(uint64_t)0;
	}
	return hi;
}

/*
 * First grid position in [lo, hi) where n <= 64 free slots start inside one
 * segment without crossing a boundary, word by word; `hi` if none.
 */
static uint64_t first_fit_words(const struct walk *w, uint64_t first, uint64_t lo, uint64_t hi)
{
	const struct iotlb__area *area = w->area;
	const uint64_t *map = area->map;
	const uint64_t n = w->s->nslots, seg = w->seg, nwords = area->nslots / 64 + 1;
	struct word_rules r;
	uint64_t y = grid_from(w, first, lo);

	if (y >= hi)
		return hi;
	word_rules(w, first, &r);
	if (!r.sparse && !r.cut && seg >= 64)
		return first_fit_even_words(w, &r, lo, y, hi);
	while (y < hi) {
		uint64_t seg_start = y & ~(seg - 1), seg_end = seg_start + seg;
		uint64_t end = seg_end < hi ? seg_end : hi;
		uint32_t *hint = &area->hint[y >> w->seg_shift];

		if (*hint >= n) {
			uint64_t word = y / 64, last = (end - 1) / 64;
			uint64_t from = ~(uint64_t)0 << (y % 64);

			for (;; word++, from = ~(uint64_t)0) {
				uint64_t free_lo = ~map[word], free_hi = 0, starts;

				if (free_lo) {
					/* A run may go on into the next word of its segment. */
					if (((word + 1) & r.seg_words) && word + 1 < nwords)
						free_hi = ~map[word + 1];
					starts = run_starts(free_lo, free_hi, &r.shifts) &
						 r.allowed & from;
					if (r.sparse || r.cut)
						starts &= word_allowed(w, &r, first, word * 64);
					if (word == last && end % 64)
						starts &= ((uint64_t)1 << (end % 64)) - 1;
					if (starts)
						return word * 64 +
						       (uint64_t)__builtin_ctzll(starts);
				}
				if (word == last)
					break;
			}
			/* A plain walk that saw the whole segment: no run of n in it. */
			if (w->plain && seg_start >= lo && seg_end <= hi)
				*hint = (uint32_t)(n - 1);
		}
		y = grid_from(w, first, seg_end);
	}
	return hi;
}

/*
 * First grid position y in [lo, hi) where n free slots start inside one
 * segment without crossing a boundary; `hi` if none. Segments whose hint
 * says no such run exists are skipped whole; a plain search that scans a
 * whole segment without a fit lowers its hint. Runs of up to 64 slots are
 * found word by word; longer ones candidate by candidate.
 */
/* Out of line: the cursor fast path of iotlb__search_area is what gets inlined. */
static __attribute__((noinline)) uint64_t first_fit(const struct walk *w, uint64_t first,
						    uint64_t lo, uint64_t hi)
{
	const struct iotlb__area *area = w->area;
	const uint64_t n = w->s->nslots, seg = w->seg, q = w->s->boundary_slots;
	uint64_t y;

	if (n <= 64)
		return first_fit_words(w, first, lo, hi);
	y = grid_from(w, first, lo);
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
