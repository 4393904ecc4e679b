/* SPDX-License-Identifier: MIT */
/*
 * The invariant checker must catch what it claims to: each test builds a
 * healthy allocator, corrupts one piece of bookkeeping by hand, expects
 * -EFAULT with a description, then repairs it and expects 0 again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

struct fx {
	void *region;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	struct iotlb__pool *pool;
	uint64_t map_dma, coh_dma; /* a mapping with a padding slot, a coherent alloc */
	char *orig;		   /* page aligned */
};

static int setup(void **state)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct fx *f = calloc(1, sizeof(*f));
	void *va;

	assert_int_equal(posix_memalign(&f->region, 65536, 512u * 2048), 0);
	assert_int_equal(posix_memalign((void **)&f->orig, 4096, 8192), 0);
	memset(f->orig, 0x11, 8192);
	c.vaddr = f->region;
	c.dma_addr = 0x10000000;
	c.size = 512u * 2048;
	c.nareas = 2;
	c.lock = IOTLB_LOCK_NONE;
	/* Deterministic placement: the mapping goes to area 1 (queue 1), the
	 * coherent alloc to area 0 (round robin starts there), apart. */
	c.select = IOTLB_SELECT_ROUND_ROBIN;
	assert_int_equal(iotlb_mem_create(&c, &f->mem), 0);
	/* Min-align bits inside a page-sized alloc alignment: offset 0x900 is
	 * one padding slot plus 0x100 (docs/algorithm.md#map-padding). */
	dc.min_align_mask = 0xfff;
	dc.alloc_align_mask = 0xfff;
	assert_int_equal(iotlb_dev_create(f->mem, &dc, &f->dev), 0);
	f->pool = f->mem->shared.pools;
	assert_int_equal(
		iotlb_map(f->dev, 1, f->orig + 0x900, 4000, IOTLB_TO_DEVICE, 0, &f->map_dma), 0);
	assert_int_equal(iotlb_alloc(f->dev, 6000, &va, &f->coh_dma), 0);
	assert_int_equal(f->coh_dma, f->pool->dma_addr); /* slot 0, nothing before it */
	assert_int_equal(iotlb__check_mem(f->mem, NULL, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(iotlb__check_mem(f->mem, NULL, 0), 0);
	assert_int_equal(iotlb_unmap(f->dev, f->map_dma, 4000, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_free(f->dev, f->coh_dma, 6000), 0);
	assert_int_equal(iotlb_dev_destroy(f->dev), 0);
	assert_int_equal(iotlb_mem_destroy(f->mem), 0);
	free(f->region);
	free(f->orig);
	free(f);
	return 0;
}

static uint64_t slot_of(const struct fx *f, uint64_t dma)
{
	return (dma - f->pool->dma_addr) >> 11;
}

/* Expects the checker to fail mentioning `needle`; the verdict must not
 * depend on the caller wanting a description (debug builds pass none). */
static void expect_mem_violation(struct iotlb_mem *mem, const char *needle)
{
	char why[256] = "";

	assert_int_equal(iotlb__check_mem(mem, NULL, 0), -EFAULT);
	assert_int_equal(iotlb__check_mem(mem, why, sizeof(why)), -EFAULT);
	if (!strstr(why, needle))
		fail_msg("checker said \"%s\", expected it to mention \"%s\"", why, needle);
}

static void expect_violation(struct fx *f, const char *needle)
{
	expect_mem_violation(f->mem, needle);
}

/* Occupancy lives in the area bitmaps; the free runs are derived from it. */
static void flip_bit(struct fx *f, uint64_t slot)
{
	struct iotlb__area *area = iotlb__area_at(f->pool, iotlb__area_of_slot(f->pool, slot));
	uint64_t rel = slot - area->base;

	area->map[rel / 64] ^= (uint64_t)1 << (rel % 64);
}

static void test_check_catches_a_wrong_free_run(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->pool->slots[300].kind, IOTLB__SLOT_FREE);
	flip_bit(f, 300);
	expect_violation(f, "bitmap");
	flip_bit(f, 300);
}

static void test_check_catches_a_free_slot_counted_as_allocated(void **state)
{
	struct fx *f = *state;
	uint64_t head = slot_of(f, f->map_dma);

	flip_bit(f, head);
	expect_violation(f, "bitmap");
	flip_bit(f, head);
}

static void test_check_catches_an_area_used_count_off_by_one(void **state)
{
	struct fx *f = *state;
	struct iotlb__area *area = iotlb__area_at(f->pool, 1);

	area->used++;
	expect_violation(f, "used");
	area->used--;
}

static void test_check_catches_a_cursor_out_of_range(void **state)
{
	struct fx *f = *state;
	struct iotlb__area *area = iotlb__area_at(f->pool, 0);
	uint64_t saved = area->index;

	area->index = area->nslots;
	expect_violation(f, "cursor");
	area->index = saved;
}

/* Areas must tile the pool: no gap between them, none past the last. */
static void test_check_catches_areas_that_do_not_tile_the_pool(void **state)
{
	struct fx *f = *state;
	struct iotlb__area *first = iotlb__area_at(f->pool, 0);
	struct iotlb__area *last = iotlb__area_at(f->pool, f->pool->nareas - 1);
	uint64_t saved_index;

	first->nslots--;
	expect_violation(f, "tile");
	first->nslots++;
	saved_index = last->index;
	last->nslots--;
	if (last->index >= last->nslots)
		last->index = 0; /* keep the cursor check quiet: this is about cover */
	expect_violation(f, "cover");
	last->nslots++;
	last->index = saved_index;
}

/* The domain keeps no used counter (areas do); its domain-wide state is the
 * high-water bookkeeping: hw - used must equal the headroom it accounts. */
static void test_check_catches_a_high_water_headroom_mismatch(void **state)
{
	struct fx *f = *state;

	f->mem->shared.hw_spare += 1;
	expect_violation(f, "high-water");
	f->mem->shared.hw_spare -= 1;
}

static void test_check_catches_metadata_left_in_a_free_slot(void **state)
{
	struct fx *f = *state;

	f->pool->slots[400].orig = 0x1234;
	expect_violation(f, "free slot with metadata");
	f->pool->slots[400].orig = 0;
}

static void test_check_catches_an_allocated_slot_without_owner(void **state)
{
	struct fx *f = *state;
	uint64_t head = slot_of(f, f->map_dma);
	uint32_t saved = f->pool->slots[head].owner;

	f->pool->slots[head].owner = 0;
	expect_violation(f, "owner");
	f->pool->slots[head].owner = saved;
}

static void test_check_catches_wrong_padding_count(void **state)
{
	struct fx *f = *state;
	uint64_t head = slot_of(f, f->map_dma);

	assert_int_equal(f->pool->slots[head].pad_slots, 1);
	f->pool->slots[head].pad_slots = 2;
	expect_violation(f, "pad_slots");
	f->pool->slots[head].pad_slots = 1;
}

static void test_check_catches_padding_without_a_mapping(void **state)
{
	struct fx *f = *state;
	uint64_t head = slot_of(f, f->map_dma);

	assert_int_equal(f->pool->slots[head - 1].kind, IOTLB__SLOT_PAD);
	f->pool->slots[head].kind = IOTLB__SLOT_COHERENT_DATA;
	expect_violation(f, "padding not followed");
	f->pool->slots[head].kind = IOTLB__SLOT_MAP_HEAD;
}

static void test_check_catches_broken_alloc_size_and_orig_chains(void **state)
{
	struct fx *f = *state;
	uint64_t head = slot_of(f, f->map_dma);
	struct iotlb__slot *next = &f->pool->slots[head + 1];

	next->alloc_size += 1;
	expect_violation(f, "alloc_size");
	next->alloc_size -= 1;
	next->orig += 1;
	expect_violation(f, "orig does not follow");
	next->orig -= 1;
}

static void test_check_catches_an_original_in_coherent_memory(void **state)
{
	struct fx *f = *state;
	uint64_t s = slot_of(f, f->coh_dma);

	f->pool->slots[s + 1].orig = 0x5000;
	expect_violation(f, "coherent slot with an original");
	f->pool->slots[s + 1].orig = 0;
}

static void test_check_catches_an_owner_change_inside_an_allocation(void **state)
{
	struct fx *f = *state;
	uint64_t s = slot_of(f, f->coh_dma);

	f->pool->slots[s + 1].owner += 7;
	expect_violation(f, "owner changes");
	f->pool->slots[s + 1].owner -= 7;
}

static void test_check_catches_an_allocation_of_the_wrong_length(void **state)
{
	struct fx *f = *state;
	uint64_t s = slot_of(f, f->coh_dma);
	int64_t saved[3];

	/* Claim a 3-slot allocation (6000 B) is a single slot. */
	for (int j = 0; j < 3; j++) {
		saved[j] = f->pool->slots[s + j].alloc_size;
		f->pool->slots[s + j].alloc_size = 100 - 2048 * j;
	}
	expect_violation(f, "slots for alloc_size");
	for (int j = 0; j < 3; j++)
		f->pool->slots[s + j].alloc_size = saved[j];
}

static void test_check_catches_a_data_slot_without_a_head(void **state)
{
	struct fx *f = *state;
	uint64_t s = slot_of(f, f->coh_dma);

	f->pool->slots[s].kind = IOTLB__SLOT_MAP_DATA;
	expect_violation(f, "outside any allocation");
	f->pool->slots[s].kind = IOTLB__SLOT_COHERENT_HEAD;
}

static void test_check_catches_a_wrong_pool_count(void **state)
{
	struct fx *f = *state;

	f->mem->shared.npools++;
	expect_violation(f, "npools");
	f->mem->shared.npools--;
}

/* Every per-slot field must be cleared on free, not just the original. */
static void test_check_catches_each_field_left_in_a_free_slot(void **state)
{
	struct fx *f = *state;
	struct iotlb__slot *s = &f->pool->slots[400];

	assert_int_equal(s->kind, IOTLB__SLOT_FREE);
	s->alloc_size = 2048;
	expect_violation(f, "free slot with metadata");
	s->alloc_size = 0;
	s->pad_slots = 1;
	expect_violation(f, "free slot with metadata");
	s->pad_slots = 0;
	s->owner = 1;
	expect_violation(f, "free slot with metadata");
	s->owner = 0;
	s->tail = 16;
	expect_violation(f, "free slot with metadata");
	s->tail = 0;
}

/* Unmap trusts the area recorded in the slot to pick the lock. */
static void test_check_catches_a_slot_that_records_the_wrong_area(void **state)
{
	struct fx *f = *state;
	struct iotlb__slot *s = &f->pool->slots[300];

	assert_int_equal(s->area, 1);
	s->area = 0;
	expect_violation(f, "records area 0, lies in area 1");
	s->area = 1;
}

/* A hint is an upper bound the search skips segments by: one below the
 * segment's free run would hide room that exists. */
static void test_check_catches_a_segment_hint_below_its_free_run(void **state)
{
	struct fx *f = *state;
	struct iotlb__area *area = iotlb__area_at(f->pool, 0);
	uint32_t saved = area->hint[1];

	assert_true(iotlb__slots_range_free(f->pool, 128, 128));
	area->hint[1] = 0;
	expect_violation(f, "segment hint 0 below its free run 128");
	area->hint[1] = saved;
}

/* The sentinel bits past an area's end stop every scan at the end. */
static void test_check_catches_a_bitmap_free_past_the_area_end(void **state)
{
	struct fx *f = *state;
	struct iotlb__area *area = iotlb__area_at(f->pool, 0);
	uint64_t past = area->nslots + 10;

	area->map[past / 64] ^= (uint64_t)1 << (past % 64);
	expect_violation(f, "bitmap free past the area's end");
	area->map[past / 64] ^= (uint64_t)1 << (past % 64);
}

/* Claims the last slot of the pool, consistently for the occupancy checks,
 * as the given kind. */
static void take_last_slot(struct fx *f, uint8_t kind, uint32_t owner)
{
	uint64_t last = f->pool->nslots - 1;

	f->pool->slots[last].kind = kind;
	f->pool->slots[last].owner = owner;
	f->pool->slots[last].alloc_size = 100;
	flip_bit(f, last);
	iotlb__area_at(f->pool, f->pool->nareas - 1)->used++;
}

static void release_last_slot(struct fx *f)
{
	uint64_t last = f->pool->nslots - 1;

	f->pool->slots[last].kind = IOTLB__SLOT_FREE;
	f->pool->slots[last].owner = 0;
	f->pool->slots[last].alloc_size = 0;
	flip_bit(f, last);
	iotlb__area_at(f->pool, f->pool->nareas - 1)->used--;
}

static void test_check_catches_padding_that_runs_into_the_pool_end(void **state)
{
	struct fx *f = *state;

	take_last_slot(f, IOTLB__SLOT_PAD, f->pool->slots[slot_of(f, f->map_dma)].owner);
	expect_violation(f, "padding not followed");
	release_last_slot(f);
}

static void test_check_catches_an_allocation_shorter_than_its_size(void **state)
{
	struct fx *f = *state;
	uint64_t s = slot_of(f, f->coh_dma);

	/* Three slots claiming 14192 bytes: the chain still steps by a slot. */
	for (int j = 0; j < 3; j++)
		f->pool->slots[s + j].alloc_size += 8192;
	expect_violation(f, "3 slots for alloc_size 14192");
	for (int j = 0; j < 3; j++)
		f->pool->slots[s + j].alloc_size -= 8192;
}

/* A coherent allocation over slots 127 and 128, consistent in every record
 * but straddling the first segment boundary (128 slots). */
static void test_check_catches_an_allocation_across_a_segment(void **state)
{
	struct fx *f = *state;
	struct iotlb__slot *a = &f->pool->slots[127], *b = &f->pool->slots[128];
	uint32_t owner = f->pool->slots[slot_of(f, f->coh_dma)].owner;

	assert_int_equal(f->mem->p.segment_slots, 128);
	assert_true(iotlb__slots_range_free(f->pool, 127, 2));
	*a = (struct iotlb__slot){
		.alloc_size = 4096, .owner = owner, .area = 0, .kind = IOTLB__SLOT_COHERENT_HEAD};
	*b = (struct iotlb__slot){
		.alloc_size = 2048, .owner = owner, .area = 0, .kind = IOTLB__SLOT_COHERENT_DATA};
	flip_bit(f, 127);
	flip_bit(f, 128);
	iotlb__area_at(f->pool, 0)->used += 2;
	expect_violation(f, "slot 127: allocation of 2 slots crosses a segment");
	iotlb__area_at(f->pool, 0)->used -= 2;
	flip_bit(f, 127);
	flip_bit(f, 128);
	*a = (struct iotlb__slot){.area = 0};
	*b = (struct iotlb__slot){.area = 0};
}

static void test_check_catches_a_wrong_slot_total(void **state)
{
	struct fx *f = *state;

	f->mem->shared.nslots++;
	expect_violation(f, "nslots");
	f->mem->shared.nslots--;
}

/*
 * An area whose length is not a whole number of segments: its last
 * segment's free run is read from the bitmap up to the segment's end, so
 * only the sentinel bit at the area's end keeps it from counting slots that
 * do not exist. The checker must see the longer derived run.
 */
static void test_check_catches_a_free_run_that_reads_past_a_short_area(void **state)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_mem *mem;
	struct iotlb__area *area;
	void *region = NULL;

	(void)state;
	assert_int_equal(posix_memalign(&region, 65536, 200u * 2048), 0);
	c.vaddr = region;
	c.dma_addr = 0x10000000;
	c.size = 200u * 2048;
	c.nareas = 1;
	c.lock = IOTLB_LOCK_NONE;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	area = iotlb__area_at(mem->shared.pools, 0);
	assert_int_equal(area->nslots, 200);
	assert_int_equal(iotlb__check_mem(mem, NULL, 0), 0);
	area->map[200 / 64] ^= (uint64_t)1 << (200 % 64);
	/* Slots 128..199 are free: 72 of them, not 73. */
	expect_mem_violation(mem, "slot 128: list 73, occupancy says 72");
	area->map[200 / 64] ^= (uint64_t)1 << (200 % 64);
	assert_int_equal(iotlb__check_mem(mem, NULL, 0), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(region);
}

static void test_check_refuses_null(void **state)
{
	(void)state;
	assert_int_equal(iotlb__check_mem(NULL, NULL, 0), -EINVAL);
	assert_int_equal(iotlb__check_dev(NULL, NULL, 0), -EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_check_catches_a_wrong_free_run),
		T(test_check_catches_a_free_slot_counted_as_allocated),
		T(test_check_catches_an_area_used_count_off_by_one),
		T(test_check_catches_a_cursor_out_of_range),
		T(test_check_catches_areas_that_do_not_tile_the_pool),
		T(test_check_catches_a_high_water_headroom_mismatch),
		T(test_check_catches_metadata_left_in_a_free_slot),
		T(test_check_catches_an_allocated_slot_without_owner),
		T(test_check_catches_wrong_padding_count),
		T(test_check_catches_padding_without_a_mapping),
		T(test_check_catches_broken_alloc_size_and_orig_chains),
		T(test_check_catches_an_original_in_coherent_memory),
		T(test_check_catches_an_owner_change_inside_an_allocation),
		T(test_check_catches_an_allocation_of_the_wrong_length),
		T(test_check_catches_a_data_slot_without_a_head),
		T(test_check_catches_a_wrong_pool_count),
		T(test_check_catches_each_field_left_in_a_free_slot),
		T(test_check_catches_a_slot_that_records_the_wrong_area),
		T(test_check_catches_a_segment_hint_below_its_free_run),
		T(test_check_catches_a_bitmap_free_past_the_area_end),
		T(test_check_catches_padding_that_runs_into_the_pool_end),
		T(test_check_catches_an_allocation_shorter_than_its_size),
		T(test_check_catches_an_allocation_across_a_segment),
		T(test_check_catches_a_wrong_slot_total),
		cmocka_unit_test(test_check_catches_a_free_run_that_reads_past_a_short_area),
		cmocka_unit_test(test_check_refuses_null),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
