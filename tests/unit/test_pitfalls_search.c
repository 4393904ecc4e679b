/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for the pitfalls of docs/algorithm.md#pitfalls about
 * copies and the search: partial syncs at the same distance and with a
 * negative delta, a search that must end, alignment that must never hand a
 * slot out twice. Each one a mistake the kernel made, set up so that the
 * mistake would be visible. The layout pitfalls are in
 * test_pitfalls_layout.c.
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
			l->size = (size_t)(1 + xorshift64(&rng) %
						       (xorshift64(&rng) % 2 ? 8192 : 120000));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_partial_sync_copies_at_the_same_distance),
		FX_TEST(test_partial_sync_with_negative_delta_is_legitimate),
		FX_TEST(test_partial_sync_into_last_slot_with_zero_alloc_size),
		FX_TEST(test_search_with_interleaved_steps_terminates),
		FX_TEST(test_page_alignment_with_min_align_never_double_allocates),
		FX_TEST(test_random_aligned_requests_never_overlap),
	};

	return cmocka_run_group_tests_name("pitfalls_search", tests, NULL, NULL);
}
