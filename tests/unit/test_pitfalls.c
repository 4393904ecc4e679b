/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for the pitfalls of docs/algorithm.md#pitfalls: each one a
 * mistake the kernel made, set up so that the mistake would be visible.
 */
#include "fixture.h"
#include "rng.h"

#include <signal.h>
#include <unistd.h>

/* ------------------------------------------------- partial syncs (5.3) */

/* A partial sync copies the same distance into the original, not from its
 * start, in both directions. */
static void test_partial_sync_copies_at_the_same_distance(void **state)
{
	struct fx *f = *state;
	unsigned char *o, dev_bytes[3000], ref[3000];
	uint64_t dma;

	fx_init(f, 256);
	o = fx_orig(f, 0x1000);
	memset(o, 0x10, 3000);
	dma = fx_map(f, f->dev, 0x1000, 3000, IOTLB_BIDIRECTIONAL);
	fx_pattern(dev_bytes, sizeof(dev_bytes), 9);
	memcpy(fx_bounce(f, dma), dev_bytes, 3000);

	/* bytes 500..599 (first slot) and 2100..2199 (second slot) */
	assert_int_equal(iotlb_sync_for_cpu(f->dev, dma + 500, 100, IOTLB_FROM_DEVICE), 0);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, dma + 2100, 100, IOTLB_FROM_DEVICE), 0);
	memset(ref, 0x10, sizeof(ref));
	memcpy(ref + 500, dev_bytes + 500, 100);
	memcpy(ref + 2100, dev_bytes + 2100, 100);
	assert_memory_equal(o, ref, 3000);
	assert_int_equal(fx_stats(f).overflow_clamps, 0);

	/* the CPU changes bytes 700..799 and 2900..2999 and pushes them */
	memset(o + 700, 0x31, 100);
	memset(o + 2900, 0x32, 100);
	assert_int_equal(iotlb_sync_for_device(f->dev, dma + 700, 100, IOTLB_TO_DEVICE), 0);
	assert_int_equal(iotlb_sync_for_device(f->dev, dma + 2900, 100, IOTLB_TO_DEVICE), 0);
	memcpy(ref, dev_bytes, 3000);
	memset(ref + 700, 0x31, 100);
	memset(ref + 2900, 0x32, 100);
	assert_memory_equal(fx_bounce(f, dma), ref, 3000);
	assert_int_equal(fx_stats(f).overflow_clamps, 0);
	assert_int_equal(fx_log_count(f, "Buffer overflow"), 0);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
}

/*
 * min_align 0x7ff, original ending in 0x64, 2000 B: alloc_size of the second
 * slot is -48, and a sync at that slot's start (byte 1948 of the mapping)
 * has delta -100. The 52 bytes there are legitimate.
 */
static void test_partial_sync_with_negative_delta_is_legitimate(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o, dev_bytes[2000];
	uint64_t dma, t;
	struct iotlb_stats st;

	fx_init(f, 256);
	d = fx_dev(f, 0x7ff, 0, 0);
	o = fx_orig(f, 0x64);
	memset(o, 0x10, 2100);
	dma = fx_map(f, d, 0x64, 2000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma, FX_B + 0x64);
	assert_true(fx_slot(f, 0)->alloc_size == 2000);
	assert_true(fx_slot(f, 1)->alloc_size == -48);
	assert_int_equal(fx_slot(f, 1)->orig, fx_addr(o) + 0x800);
	t = fx_slot_dma(1);
	assert_int_equal(t - dma, 1948);

	fx_pattern(dev_bytes, sizeof(dev_bytes), 11);
	memcpy(fx_bounce(f, dma), dev_bytes, 2000);
	st = fx_stats(f);
	assert_int_equal(iotlb_sync_for_cpu(d, t, 52, IOTLB_FROM_DEVICE), 0);
	assert_memory_equal(o + 1948, dev_bytes + 1948, 52);
	fx_assert_bytes(o, 1948, 0x10);
	fx_assert_bytes(o + 2000, 100, 0x10);
	/* 10 bytes further in, 42 bytes remain */
	memset(o + 1948, 0x10, 52);
	assert_int_equal(iotlb_sync_for_cpu(d, t + 10, 42, IOTLB_FROM_DEVICE), 0);
	assert_memory_equal(o + 1958, dev_bytes + 1958, 42);
	fx_assert_bytes(o, 1958, 0x10);
	assert_int_equal(fx_stats(f).overflow_clamps, st.overflow_clamps);
	assert_int_equal(fx_log_count(f, "Buffer overflow"), 0);
	assert_int_equal(fx_stats(f).bounced_to_cpu - st.bounced_to_cpu, 52 + 42);

	/* to the device, same distance */
	memset(o + 1948, 0x42, 52);
	assert_int_equal(iotlb_sync_for_device(d, t, 52, IOTLB_TO_DEVICE), 0);
	fx_assert_bytes(fx_bounce(f, t), 52, 0x42);
	assert_memory_equal(fx_bounce(f, dma), dev_bytes, 1948);

	/* one byte more is clamped to the 52 and reported */
	memset(o + 1948, 0x10, 100);
	assert_int_equal(iotlb_sync_for_cpu(d, t, 53, IOTLB_FROM_DEVICE), 0);
	fx_assert_bytes(o + 1948, 52, 0x42);
	fx_assert_bytes(o + 2000, 48, 0x10);
	assert_int_equal(fx_stats(f).overflow_clamps, st.overflow_clamps + 1);
	assert_int_equal(
		fx_log_count(f, "Buffer overflow detected. Allocation size: 52. Mapping size: 53."),
		1);
	fx_unmap(f, d, dma, 2000, IOTLB_TO_DEVICE);
}

/* Same with a padding-free min_align 0xfff mapping spanning three slots: the
 * last slot (alloc_size 0) still serves its first 512 bytes. */
static void test_partial_sync_into_last_slot_with_zero_alloc_size(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o, dev_bytes[4096];
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	o = fx_orig(f, 0x45a00);
	memset(o, 0x10, 4096);
	dma = fx_map(f, d, 0x45a00, 4096, IOTLB_FROM_DEVICE);
	assert_int_equal(dma, FX_B + 0xa00);
	fx_pattern(dev_bytes, sizeof(dev_bytes), 13);
	memcpy(fx_bounce(f, dma), dev_bytes, 4096);
	assert_int_equal(iotlb_sync_for_cpu(d, fx_slot_dma(3), 512, IOTLB_FROM_DEVICE), 0);
	assert_memory_equal(o + 3584, dev_bytes + 3584, 512);
	fx_assert_bytes(o, 3584, 0x10);
	assert_int_equal(iotlb_sync_for_cpu(d, fx_slot_dma(2) + 100, 1000, IOTLB_FROM_DEVICE), 0);
	assert_memory_equal(o + 1636, dev_bytes + 1636, 1000);
	assert_int_equal(fx_stats(f).overflow_clamps, 0);
	fx_unmap(f, d, dma, 4096, IOTLB_TO_DEVICE);
}

/* ------------------------------------------------- search termination */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "search did not terminate\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	_exit(3);
}

/*
 * One area of 128 slots, cursor 2, only slot 0 free. A request that must
 * start on an odd slot steps +1 (2 -> 3), then +2 up to 127, wraps to 0, +1
 * to 1, ... and never returns exactly to its start: a loop that stopped only
 * there would spin forever. The `checked` bound must end it with -ENOSPC.
 */
static void test_search_with_interleaved_steps_terminates(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t e1, e2, big, tmp, dma = FX_DMA_SENTINEL;
	struct fx_snap s;

	fx_init(f, 128);
	d = fx_dev(f, 0xfff, 0, 0);
	tmp = fx_map(f, f->dev, 0, 4000, IOTLB_TO_DEVICE);	       /* slots 0-1 */
	big = fx_map(f, f->dev, 0x40000, 126 * 2048, IOTLB_TO_DEVICE); /* 2-127 */
	assert_int_equal(big, fx_slot_dma(2));
	fx_unmap(f, f->dev, tmp, 4000, IOTLB_TO_DEVICE);
	assert_int_equal(fx_cursor(f, 0), 0);
	e1 = fx_map(f, f->dev, 0x1000, 100, IOTLB_TO_DEVICE);
	e2 = fx_map(f, f->dev, 0x2000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(e1, fx_slot_dma(0));
	assert_int_equal(e2, fx_slot_dma(1));
	fx_unmap(f, f->dev, e1, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_cursor(f, 0), 2);
	assert_int_equal(fx_stats(f).used, 127);

	signal(SIGALRM, on_alarm);
	alarm(30);
	fx_snap_take(f, &s);
	/* bit 11 of the original set: only odd slots match */
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0x800), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	fx_snap_expect_same(f, &s, FX_ALLOW_NOSPACE);
	/* an even original fits slot 0 */
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0x1000), 100, IOTLB_TO_DEVICE, 0, &dma), 0);
	alarm(0);
	assert_int_equal(dma, fx_slot_dma(0));
	fx_unmap(f, d, dma, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, e2, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, big, 126 * 2048, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 128);
}

/* ----------------------------------------- page alignment with min-align */

/* Cursor on an odd slot: a page-aligned allocation of a min-align device
 * must land on the next page, never on half of an owned page. */
static void test_page_alignment_with_min_align_never_double_allocates(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t a, b, c, dma;
	void *va;

	fx_init(f, 256);
	d = fx_dev(f, 0x7ff, 0xfff, 0);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_cursor(f, 0), 1);
	b = fx_map(f, d, 0x10000, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(b, FX_B + 0x1000);
	assert_int_equal(fx_list(f, 1), 1);
	/* cursor 4; take slot 4 so the cursor is odd again */
	c = fx_map(f, f->dev, 0x20000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(c, fx_slot_dma(4));
	assert_int_equal(iotlb_alloc(d, 4096, &va, &dma), 0);
	assert_int_equal(dma, fx_slot_dma(6));
	fx_assert_list_consistent(f);
	assert_int_equal(fx_stats(f).used, 6);
	assert_int_equal(iotlb_free(d, dma, 4096), 0);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 4096, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, c, 100, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

struct live {
	bool used;
	bool coherent;
	struct iotlb_dev *d;
	uint64_t min_align, alloc_align;
	uint64_t dma, first, n;
	size_t size;
	unsigned char *orig;
};

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Footprint of a live allocation (docs/algorithm.md#map, #coherent). */
static void footprint(struct live *l)
{
	if (l->coherent) {
		uint64_t p = FX_PAGE;

		while (p < l->size)
			p <<= 1;
		assert_int_equal(l->dma & (p - 1), 0);
		l->first = (l->dma - FX_B) / FX_SLOT;
		l->n = round_up(l->size, FX_SLOT) / FX_SLOT;
	} else {
		uint64_t o = fx_addr(l->orig);
		uint64_t off = o & l->min_align & (l->alloc_align | (FX_SLOT - 1));
		uint64_t size = round_up(l->size + off, l->alloc_align + 1);
		uint64_t start = l->dma - (off & (FX_SLOT - 1)) - (off & ~(FX_SLOT - 1));
		uint64_t align = l->alloc_align | (FX_SLOT - 1);

		if (!l->alloc_align && !l->min_align && size >= FX_PAGE)
			align = FX_PAGE - 1;
		assert_int_equal(l->dma & l->min_align, o & l->min_align);
		assert_int_equal(start & align, 0);
		l->first = (start - FX_B) / FX_SLOT;
		l->n = round_up(size, FX_SLOT) / FX_SLOT;
	}
	assert_int_equal(l->first / FX_SEG, (l->first + l->n - 1) / FX_SEG);
}

/*
 * A random mix of page-aligned streaming maps and coherent allocations from
 * devices with and without min-align: every start honours its alignment and
 * no slot is ever handed out twice (checked against our own ownership map).
 */
static void test_random_aligned_requests_never_overlap(void **state)
{
	struct fx *f = *state;
	static const uint64_t mins[] = {0, 0x7ff, 0xfff, 0x3};
	static const uint64_t aligns[] = {0, 0xfff, 0x1fff, 0};
	struct iotlb_dev *devs[4];
	struct live lv[24];
	int owner[512];
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned i, k, step;

	fx_init(f, 512);
	for (i = 0; i < 4; i++)
		devs[i] = fx_dev(f, mins[i], aligns[i], 0);
	memset(lv, 0, sizeof(lv));
	for (step = 0; step < 3000; step++) {
		struct live *l = &lv[xorshift64(&rng) % 24];

		if (l->used) {
			if (l->coherent)
				assert_int_equal(iotlb_free(l->d, l->dma, l->size), 0);
			else
				assert_int_equal(
					iotlb_unmap(l->d, l->dma, l->size, IOTLB_TO_DEVICE, 0), 0);
			l->used = false;
		} else {
			unsigned di = (unsigned)(xorshift64(&rng) % 4);
			size_t off = (size_t)(l - lv) * 0x28000 + (xorshift64(&rng) % 0x2000);
			int rc;

			l->d = devs[di];
			l->min_align = mins[di];
			l->alloc_align = aligns[di];
			l->coherent = xorshift64(&rng) % 4 == 0;
			l->size =
				(size_t)(1 + xorshift64(&rng) % (xorshift64(&rng) % 2 ? 8192 : 120000));
			l->orig = fx_orig(f, off);
			if (l->coherent) {
				void *va;

				rc = iotlb_alloc(l->d, l->size, &va, &l->dma);
			} else {
				rc = iotlb_map(l->d, IOTLB_ANY_QUEUE, l->orig, l->size,
					       IOTLB_TO_DEVICE, 0, &l->dma);
			}
			if (rc == -ENOSPC)
				continue;
			assert_int_equal(rc, 0);
			l->used = true;
			footprint(l);
		}
		/* ownership from our records: no slot twice, list[] agrees */
		for (i = 0; i < 512; i++)
			owner[i] = -1;
		for (k = 0; k < 24; k++) {
			if (!lv[k].used)
				continue;
			for (i = (unsigned)lv[k].first; i < lv[k].first + lv[k].n; i++) {
				if (owner[i] >= 0)
					fail_msg("step %u: slot %u owned by %d and %u", step, i,
						 owner[i], k);
				owner[i] = (int)k;
			}
		}
		for (i = 0; i < 512; i++)
			if ((owner[i] >= 0) != (fx_list(f, i) == 0))
				fail_msg("step %u: slot %u owner %d list %u", step, i, owner[i],
					 fx_list(f, i));
	}
	fx_assert_list_consistent(f);
	for (k = 0; k < 24; k++) {
		if (!lv[k].used)
			continue;
		if (lv[k].coherent)
			assert_int_equal(iotlb_free(lv[k].d, lv[k].dma, lv[k].size), 0);
		else
			assert_int_equal(
				iotlb_unmap(lv[k].d, lv[k].dma, lv[k].size, IOTLB_TO_DEVICE, 0), 0);
	}
	fx_assert_list_fresh(f, 0, 512);
}

/* ------------------------------------------------------ padding slots */

/* min_align 0xfff inside alloc_align 0xfff: offset 0xa00 exceeds a slot, so
 * one padding slot keeps the low bits (B+0xa00). */
static void test_min_align_bits_inside_alloc_alignment_are_kept_by_padding(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0xfff, 0);
	o = fx_orig(f, 0x45a00);
	fx_pattern(o, 4096, 21);
	dma = fx_map(f, d, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B + 0xa00);
	assert_int_equal(dma & 0xfff, fx_addr(o) & 0xfff);
	assert_int_equal(fx_stats(f).used, 4);
	assert_int_equal(fx_slot(f, 0)->orig, 0);
	assert_int_equal(fx_slot(f, 1)->pad_slots, 1);
	assert_int_equal(fx_slot(f, 1)->orig, fx_addr(o));
	assert_int_equal(fx_slot(f, 2)->orig, fx_addr(o) + 0x800);
	assert_int_equal(fx_slot(f, 3)->orig, fx_addr(o) + 0x1000);
	assert_true(fx_slot(f, 0)->alloc_size == 7680);
	assert_true(fx_slot(f, 1)->alloc_size == 5632);
	assert_true(fx_slot(f, 2)->alloc_size == 3584);
	assert_true(fx_slot(f, 3)->alloc_size == 1536);
	assert_int_equal(fx_cursor(f, 0), 4);
	assert_memory_equal(fx_bounce(f, dma), o, 4096);
	fx_unmap(f, d, dma, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* 16 KiB alignment, original at 0x2a00: five padding slots. */
static void test_several_padding_slots_keep_16k_low_bits(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma, j;

	fx_init(f, 256);
	d = fx_dev(f, 0x3fff, 0x3fff, 0);
	o = fx_orig(f, 0x42a00);
	fx_pattern(o, 4096, 22);
	dma = fx_map(f, d, 0x42a00, 4096, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma, FX_B + 0x2a00);
	assert_int_equal(fx_stats(f).used, 8);
	assert_int_equal(fx_slot(f, 5)->pad_slots, 5);
	for (j = 0; j < 5; j++)
		assert_int_equal(fx_slot(f, j)->orig, 0);
	for (j = 0; j < 8; j++)
		assert_true(fx_slot(f, j)->alloc_size == (int64_t)(16384 - (0x200 + j * 2048)));
	assert_memory_equal(fx_bounce(f, dma), o, 4096);
	memset(fx_bounce(f, dma), 0x61, 4096);
	fx_unmap(f, d, dma, 4096, IOTLB_FROM_DEVICE);
	fx_assert_bytes(o, 4096, 0x61);
	fx_assert_list_fresh(f, 0, 256);
}

/* --------------------------------------------------- short final segment */

static void test_short_final_segment_counters_stop_at_pool_end(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c, dma = FX_DMA_SENTINEL;

	fx_init(f, 200);
	assert_int_equal(fx_list(f, 128), 72);
	assert_int_equal(fx_list(f, 199), 1);
	fx_assert_list_fresh(f, 0, 200);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 71 * 2048, IOTLB_TO_DEVICE);
	assert_int_equal(b, fx_slot_dma(128));
	c = fx_map(f, f->dev, 0x80000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(c, fx_slot_dma(199));
	assert_int_equal(fx_stats(f).used, 200);
	/* nothing past the end of the pool */
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	/* freeing the last slot of the pool reads nothing past it */
	fx_unmap(f, f->dev, c, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_list(f, 199), 1);
	assert_int_equal(fx_list(f, 198), 0);
	fx_unmap(f, f->dev, b, 71 * 2048, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 128, 200);
	/* 73 slots fit no segment here but are not "too big" */
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 73 * 2048, IOTLB_TO_DEVICE, 0, &dma),
		-ENOSPC);
	/* 72 do, ending on the last slot */
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 72 * 2048, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(dma, fx_slot_dma(128));
	fx_unmap(f, f->dev, dma, 72 * 2048, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 200);
}

/* A pool smaller than one segment. */
static void test_pool_smaller_than_a_segment_serves_only_its_slots(void **state)
{
	struct fx *f = *state;
	uint64_t a, dma = FX_DMA_SENTINEL;

	fx_init(f, 3);
	assert_int_equal(fx_list(f, 0), 3);
	a = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x10000), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	fx_unmap(f, f->dev, a, 6000, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x10000), 8192, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	fx_assert_list_fresh(f, 0, 3);
}

/* ------------------------------------------------------- 64-bit addresses */

/* A pool whose device addresses lie near the top of the 64-bit space:
 * every address and the boundary arithmetic stay in 64 bits. */
static void test_pool_at_high_device_address(void **state)
{
	struct fx *f = *state;
	const uint64_t hb = 0xfffffff000000000ull;
	struct iotlb_dev *d, *m;
	uint64_t a, b, c;

	fx_prepare(f, 256);
	f->cfg.dma_addr = hb;
	fx_create(f);
	d = fx_dev(f, 0, 0, 0xffff);
	m = fx_dev(f, 0xfff, 0, 0);
	a = fx_map(f, d, 0, 40960, IOTLB_TO_DEVICE);
	b = fx_map(f, d, 0x20000, 40960, IOTLB_TO_DEVICE);
	assert_int_equal(a, hb);
	assert_int_equal(b, hb + 0x10000);
	c = fx_map(f, m, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(c & 0xfff, 0xa00);
	assert_true(c > hb && c < hb + 256 * FX_SLOT);
	assert_ptr_equal(iotlb_dma_to_virt(d, b), f->region + 0x10000);
	assert_true(iotlb_is_bounce(d, hb + 256 * FX_SLOT - 1));
	assert_false(iotlb_is_bounce(d, hb + 256 * FX_SLOT));
	assert_false(iotlb_is_bounce(d, 0x10000));
	fx_unmap(f, d, a, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, m, c, 4096, IOTLB_TO_DEVICE);
}

/* ------------------------------------------------------------ area counts */

static unsigned pow2_up(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static unsigned pow2_down(uint64_t v)
{
	unsigned p = 1;

	while ((uint64_t)p * 2 <= v)
		p <<= 1;
	return p;
}

/* Section 3: never an area smaller than a segment (except a pool smaller
 * than one), areas cover the pool, their count is a power of two. */
static void test_area_counts_never_give_areas_below_a_segment(void **state)
{
	struct fx *f = *state;
	static const uint64_t sizes[] = {1, 3, 127, 128, 129, 200, 256, 384, 1000, 1024, 4096};
	static const unsigned reqs[] = {0, 1, 2, 3, 4, 5, 6, 8, 16, 33, 64};
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned i, j, a;

	assert_true(ncpu > 0);
	fx_prepare(f, 4096); /* one region, pools of its first sizes[i] slots */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(reqs) / sizeof(reqs[0]); j++) {
			struct iotlb_mem_config c;
			struct iotlb_mem *mem = NULL;
			struct iotlb__pool *pool;
			unsigned want = pow2_up(reqs[j] ? reqs[j] : (unsigned)ncpu);
			uint64_t base = 0;

			if ((uint64_t)want * FX_SEG > sizes[i])
				want = pow2_down(sizes[i] / FX_SEG);
			c = f->cfg;
			c.size = (size_t)(sizes[i] * FX_SLOT);
			c.nareas = reqs[j];
			assert_int_equal(iotlb_mem_create(&c, &mem), 0);
			pool = mem->shared.pools;
			if (pool->nareas != want)
				fail_msg("%llu slots, %u requested: %u areas, expected %u",
					 (unsigned long long)sizes[i], reqs[j], pool->nareas, want);
			for (a = 0; a < pool->nareas; a++) {
				struct iotlb__area *ar = iotlb__area_at(pool, a);

				assert_int_equal(ar->base, base);
				if (pool->nareas > 1) {
					assert_true(ar->nslots >= FX_SEG);
					if (a + 1 < pool->nareas)
						assert_int_equal(ar->nslots % FX_SEG, 0);
				}
				base += ar->nslots;
			}
			assert_int_equal(base, sizes[i]);
			assert_int_equal(iotlb_mem_destroy(mem), 0);
		}
	}
}

/* Every area serves requests from its own slots when hinted. */
static void test_each_area_serves_its_own_slots(void **state)
{
	struct fx *f = *state;
	uint64_t dma[4];
	unsigned a;

	fx_prepare(f, 640); /* 4 areas: 128, 128, 128, 256 */
	f->cfg.nareas = 4;
	fx_create(f);
	for (a = 0; a < 4; a++) {
		assert_int_equal(iotlb_map(f->dev, (int)a, fx_orig(f, a * 0x1000), 100,
					   IOTLB_TO_DEVICE, 0, &dma[a]),
				 0);
		assert_int_equal(dma[a], fx_slot_dma(a * 128));
		assert_int_equal(fx_area_used(f, a), 1);
	}
	assert_int_equal(fx_stats(f).area_fallbacks, 0);
	for (a = 0; a < 4; a++)
		fx_unmap(f, f->dev, dma[a], 100, IOTLB_TO_DEVICE);
}

/* ---------------------------------------------------------------- hiwater */

static void test_hiwater_reset_with_live_mappings_never_goes_negative(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;
	uint64_t a, b;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x10000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 0), 0);
	fx_unmap(f, f->dev, a, 6000, IOTLB_TO_DEVICE);
	st = fx_stats(f);
	assert_int_equal(st.used, 1);
	assert_int_equal(st.used_hiwater, 0);
	fx_unmap(f, f->dev, b, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 0), 0);
	st = fx_stats(f);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.used_hiwater, 0);
	assert_int_equal(fx_area_used(f, 0), 0);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	st = fx_stats(f);
	assert_int_equal(st.used, 1);
	assert_int_equal(st.used_hiwater, 1);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_partial_sync_copies_at_the_same_distance),
		FX_TEST(test_partial_sync_with_negative_delta_is_legitimate),
		FX_TEST(test_partial_sync_into_last_slot_with_zero_alloc_size),
		FX_TEST(test_search_with_interleaved_steps_terminates),
		FX_TEST(test_page_alignment_with_min_align_never_double_allocates),
		FX_TEST(test_random_aligned_requests_never_overlap),
		FX_TEST(test_min_align_bits_inside_alloc_alignment_are_kept_by_padding),
		FX_TEST(test_several_padding_slots_keep_16k_low_bits),
		FX_TEST(test_short_final_segment_counters_stop_at_pool_end),
		FX_TEST(test_pool_smaller_than_a_segment_serves_only_its_slots),
		FX_TEST(test_pool_at_high_device_address),
		FX_TEST(test_area_counts_never_give_areas_below_a_segment),
		FX_TEST(test_each_area_serves_its_own_slots),
		FX_TEST(test_hiwater_reset_with_live_mappings_never_goes_negative),
	};

	return cmocka_run_group_tests_name("pitfalls", tests, NULL, NULL);
}
