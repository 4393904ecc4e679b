/* SPDX-License-Identifier: MIT */
/*
 * Word-at-a-time bit operations on a slot bitmap (one bit per slot, 1 =
 * allocated). Callers never touch the words directly: they find the next
 * set or clear bit and set or clear ranges. Everything is inline because
 * the slot search and every take and return run through it.
 */
#ifndef IOTLB_SRC_BITMAP_H
#define IOTLB_SRC_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define IOTLB__BITS 64u

static inline uint64_t iotlb__bits_from(uint64_t bit)
{
	return ~(uint64_t)0 << (bit % IOTLB__BITS);
}

/* First set bit in [from, end), or `end`. */
static inline uint64_t iotlb__bitmap_next_set(const uint64_t *map, uint64_t from, uint64_t end)
{
	uint64_t w, word;

	if (from >= end)
		return end;
	w = from / IOTLB__BITS;
	word = map[w] & iotlb__bits_from(from);
	while (!word) {
		if (++w * IOTLB__BITS >= end)
			return end;
		word = map[w];
	}
	from = w * IOTLB__BITS + (uint64_t)__builtin_ctzll(word);
	return from < end ? from : end;
}

/* First clear bit in [from, end), or `end`. */
static inline uint64_t iotlb__bitmap_next_clear(const uint64_t *map, uint64_t from, uint64_t end)
{
	uint64_t w, word;

	if (from >= end)
		return end;
	w = from / IOTLB__BITS;
	word = ~map[w] & iotlb__bits_from(from);
	while (!word) {
		if (++w * IOTLB__BITS >= end)
			return end;
		word = ~map[w];
	}
	from = w * IOTLB__BITS + (uint64_t)__builtin_ctzll(word);
	return from < end ? from : end;
}

/* Sets (or clears) bits [s, s + n). */
static inline void iotlb__bitmap_assign(uint64_t *map, uint64_t s, uint64_t n, bool set)
{
	uint64_t end = s + n;

	/* Most takes and returns stay inside one word. */
	if (s % IOTLB__BITS + n < IOTLB__BITS) {
		uint64_t mask = (((uint64_t)1 << n) - 1) << (s % IOTLB__BITS);

		if (set)
			map[s / IOTLB__BITS] |= mask;
		else
			map[s / IOTLB__BITS] &= ~mask;
		return;
	}

	while (s < end) {
		uint64_t w = s / IOTLB__BITS;
		uint64_t lo = s % IOTLB__BITS;
		uint64_t span = end - s < IOTLB__BITS - lo ? end - s : IOTLB__BITS - lo;
		uint64_t mask = (span == IOTLB__BITS ? ~(uint64_t)0 : ((uint64_t)1 << span) - 1) << lo;

		if (set)
			map[w] |= mask;
		else
			map[w] &= ~mask;
		s += span;
	}
}

static inline bool iotlb__bitmap_test(const uint64_t *map, uint64_t bit)
{
	return (map[bit / IOTLB__BITS] >> (bit % IOTLB__BITS)) & 1;
}

#endif /* IOTLB_SRC_BITMAP_H */
