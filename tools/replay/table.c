/* SPDX-License-Identifier: MIT */
/*
 * Open-addressing multimap used to find live mappings by trace address.
 * Deletion leaves tombstones; the table is rebuilt when they pile up.
 */
#include "table.h"

#include <errno.h>
#include <stdlib.h>

#define EMPTY 0u
#define TOMB UINT32_MAX

static size_t slot_of(uint64_t key, size_t cap)
{
	/* splitmix64's finaliser: addresses differ mostly in their middle bits. */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

uint64_t rp_table_key(unsigned dev, uint64_t addr)
{
	return addr ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ull);
}

int rp_table_init(struct rp_table *t)
{
	t->cap = 1024;
	t->used = t->live = 0;
	t->keys = calloc(t->cap, sizeof(*t->keys));
	t->vals = calloc(t->cap, sizeof(*t->vals));
	if (!t->keys || !t->vals) {
		rp_table_free(t);
		return -ENOMEM;
	}
	return 0;
}

void rp_table_free(struct rp_table *t)
{
	free(t->keys);
	free(t->vals);
	t->keys = NULL;
	t->vals = NULL;
	t->cap = t->used = t->live = 0;
}

static void put(uint64_t *keys, uint32_t *vals, size_t cap, uint64_t key, uint32_t v)
{
	size_t i = slot_of(key, cap);

	while (vals[i] != EMPTY && vals[i] != TOMB)
		i = (i + 1) & (cap - 1);
	keys[i] = key;
	vals[i] = v;
}

static int rebuild(struct rp_table *t, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++)
		if (t->vals[i] != EMPTY && t->vals[i] != TOMB)
			put(keys, vals, cap, t->keys[i], t->vals[i]);
	free(t->keys);
	free(t->vals);
	t->keys = keys;
	t->vals = vals;
	t->cap = cap;
	t->used = t->live;
	return 0;
}

int rp_table_add(struct rp_table *t, uint64_t key, uint32_t val)
{
	if (val >= TOMB - 1)
		return -ERANGE;
	/* Keep probes short: at most half full, counting tombstones. */
	if ((t->used + 1) * 2 > t->cap) {
		size_t cap = (t->live + 1) * 4 > t->cap ? t->cap * 2 : t->cap;
		int err = rebuild(t, cap);

		if (err)
			return err;
	}
	put(t->keys, t->vals, t->cap, key, val + 1);
	t->used++;
	t->live++;
	return 0;
}

int rp_table_del(struct rp_table *t, uint64_t key, uint32_t val)
{
	size_t i = slot_of(key, t->cap);

	while (t->vals[i] != EMPTY) {
		if (t->vals[i] == val + 1 && t->keys[i] == key) {
			t->vals[i] = TOMB;
			t->live--;
			return 0;
		}
		i = (i + 1) & (t->cap - 1);
	}
	return -ENOENT;
}

int rp_table_next(const struct rp_table *t, uint64_t key, size_t *pos, uint32_t *val)
{
	size_t start = slot_of(key, t->cap);

	/* *pos counts probe steps from the home slot, so iteration resumes. */
	for (size_t step = *pos; step < t->cap; step++) {
		size_t i = (start + step) & (t->cap - 1);

		if (t->vals[i] == EMPTY)
			return 0;
		if (t->vals[i] != TOMB && t->keys[i] == key) {
			*val = t->vals[i] - 1;
			*pos = step + 1;
			return 1;
		}
	}
	return 0;
}
