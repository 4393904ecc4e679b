/* SPDX-License-Identifier: MIT */
/*
 * Reading a capture and feeding it, line by line, to the parser and to one
 * replay engine. The capture is held in memory so that several
 * configurations (--compare) replay the very same events.
 */
#ifndef IOTLB_TOOLS_REPLAY_DRIVER_H
#define IOTLB_TOOLS_REPLAY_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define RP_MAX_BAD 10 /* unknown or malformed lines listed by number */

struct rp_parse_stats {
	uint64_t lines, events, blank, unrelated, other, unknown, malformed;
	uint64_t truncated_sg; /* dma_map_sg lists the kernel printed in part */
	uint64_t by_kind[RP_NKINDS];
	unsigned bad_line[RP_MAX_BAD];
	const char *bad_why[RP_MAX_BAD];
	unsigned nbad;
	int max_cpu; /* -1 if no event */
	uint64_t first_ns, last_ns;
};

/* Reads a file ("-" for stdin) into a NUL-terminated heap buffer. */
int rp_read_input(const char *path, char **buf, size_t *len);

/*
 * Parses every line of buf; with run != NULL replays each event into it.
 * Fills *ps (counts of the lines by class). Returns 0, or -ENOMEM.
 */
int rp_replay_buffer(const char *buf, size_t len, struct rp_run *run, struct rp_parse_stats *ps);

#endif /* IOTLB_TOOLS_REPLAY_DRIVER_H */
