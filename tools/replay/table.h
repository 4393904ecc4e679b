/* SPDX-License-Identifier: MIT */
/*
 * A multimap from 64-bit keys to entry numbers (open addressing, linear
 * probing, tombstones). Several entries may share a key; the replay engine
 * keys live mappings by device and trace address.
 */
#ifndef IOTLB_TOOLS_REPLAY_TABLE_H
#define IOTLB_TOOLS_REPLAY_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct rp_table {
	uint64_t *keys;
	uint32_t *vals; /* entry number + 1; 0 empty, UINT32_MAX tombstone */
	size_t cap;	/* a power of two */
	size_t used;	/* live + tombstones */
	size_t live;
};

int rp_table_init(struct rp_table *t);
void rp_table_free(struct rp_table *t);
int rp_table_add(struct rp_table *t, uint64_t key, uint32_t val);
/* Removes one (key, val) pair; 0, or -ENOENT. */
int rp_table_del(struct rp_table *t, uint64_t key, uint32_t val);
/*
 * Iterates the values of `key`: start with *pos = 0; returns 1 and sets *val
 * while there is one more, 0 at the end.
 */
int rp_table_next(const struct rp_table *t, uint64_t key, size_t *pos, uint32_t *val);

/* A key mixing a small device number into an address. */
uint64_t rp_table_key(unsigned dev, uint64_t addr);

#endif /* IOTLB_TOOLS_REPLAY_TABLE_H */
