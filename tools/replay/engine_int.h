/* SPDX-License-Identifier: MIT */
/*
 * Private to the replay engine: the live-mapping record and the device record
 * shared by setup.c (allocator lifetime) and engine.c (events).
 */
#ifndef IOTLB_TOOLS_REPLAY_ENGINE_INT_H
#define IOTLB_TOOLS_REPLAY_ENGINE_INT_H

#include "engine.h"

/* Trace addresses are indexed by 2 KiB unit: the kernel's slot size. */
#define KEY_SHIFT 11
/* Originals are replayed inside one reserved span this large (untouched
 * pages cost nothing); a longer mapping can never fit a swiotlb pool anyway. */
#define ORIG_SPAN (1ull << 30)

enum { E_MAP, E_SG, E_ALLOC };

struct rp_entry {
	uint64_t trace_dma, trace_phys, size, lib_dma;
	unsigned dev, line;
	unsigned char kind, dir; /* dir: of the map, for a release libiotlb refuses */
	bool ok, live;
	bool replayed; /* false: the kernel did not bounce it, nor did we */
	uint32_t next_free;
};

struct rp_dev {
	char name[RP_DEV_NAME_MAX];
	struct iotlb_dev *dev;
	int create_err;
	bool is_private;
	uint64_t carved; /* slots of the shared pools given to its private pool */
};

#endif /* IOTLB_TOOLS_REPLAY_ENGINE_INT_H */
