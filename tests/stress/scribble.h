/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hostile-host tests (test_scribble.c): instances of a mem with
 * four devices over an anonymous region, guarded originals, the scribbler
 * thread that overwrites a region (scribble_host.c), and the lockstep
 * scripts that compare instances slot by slot (scribble_script.c).
 */
#ifndef IOTLB_TESTS_STRESS_SCRIBBLE_H
#define IOTLB_TESTS_STRESS_SCRIBBLE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "rng.h"
#include "scale.h" /* test_scale_reduced(): less work under sanitizers */

#define DMA_BASE 0x40000000ull
#define SEG_BYTES 262144u   /* default segment: 128 slots of 2 KiB */
#define NAREAS 4u
#define NDEVS 4u
#define NLIVE 12u           /* live mappings per mapper / script */
#define GUARD 4096u         /* canary bytes on each side of an original */
#define MAX_MAP (SEG_BYTES + 4096u) /* a little beyond what can ever fit */
#define SLAB (GUARD + 4096u + MAX_MAP + GUARD)
#define CANARY 0x5a
#define NMAPPERS 3u
#define COHERENT_MAX 65536u  /* coherent allocations: up to 16 pages */

/* Device constraints: plain, the two common min-align masks, and one with an
 * allocation alignment and a 256 KiB boundary. */
struct dev_shape {
	uint64_t min_align, alloc_align, boundary;
};
extern const struct dev_shape dev_shapes[NDEVS];

struct inst {
	const char *name;
	unsigned char *region;
	size_t region_size;
	unsigned char *arena;   /* NLIVE slabs for originals, page aligned */
	struct iotlb_mem *mem;
	struct iotlb_dev *dev[NDEVS];
};

/*
 * Writes random bytes (and runs of 0x00 / 0xff) over the whole region until
 * told to stop. Relaxed atomic stores keep the test itself free of undefined
 * behaviour; the library's own copies race with them on purpose, as a real
 * host's writes would.
 */
struct scribbler {
	uint64_t *words;
	size_t nwords;
	uint64_t seed;
	int stop;        /* atomic */
	uint64_t passes; /* atomic, for the report */
};

/*
 * A fixed script of maps, allocations, syncs and releases applied to several
 * instances in lockstep. The first instance is the reference; after every
 * operation the others must return the same results and hold the same
 * metadata (free runs, per-slot records, cursors, used counts).
 */
enum fill_mode {
	FILL_NONE = -1,       /* the reference: nobody touches the region */
	FILL_RANDOM = 256,    /* random bytes between operations */
	FILL_CONCURRENT = 257 /* a scribbler thread runs throughout */
};

struct step_live {
	bool used, coherent;
	unsigned dev;
	unsigned map_step;     /* the originals hold orig_byte(map_step, i) */
	size_t size, off;
	enum iotlb_dir dir;
	uint64_t dma;
};

struct script {
	struct inst *in;
	const int *mode;
	unsigned ninst;
	struct step_live live[NLIVE];
	uint64_t rng;          /* drives the script: the same for every instance */
	uint64_t fill_rng[4];  /* drives FILL_RANDOM, per instance */
	unsigned char *before; /* bounce bytes just before an unmap */
	unsigned maps, nospace, too_big;
};

static inline uint64_t rnd_below(uint64_t *state, uint64_t n)
{
	return splitmix64(state) % n;
}

void *map_anon(size_t len);

/* An instance: region, mem and the NDEVS devices of dev_shapes, created in
 * the same order everywhere so that owner ids match between instances. */
void inst_create(struct inst *in, const char *name, size_t region_size);
void inst_destroy(struct inst *in);
struct iotlb__pool *inst_pool(const struct inst *in);
void assert_consistent(const struct inst *in, const char *when);

/* Originals live in slab j of the arena, with canaries on both sides. */
unsigned char *orig_at(const struct inst *in, unsigned j, size_t off);
void guards_set(const struct inst *in, unsigned j, size_t off, size_t size);
bool guards_intact(const struct inst *in, unsigned j, size_t off, size_t size);
bool all_bytes(const unsigned char *p, size_t n, unsigned char v);

/* Request sizes, and which errors a request of that size may get. */
size_t pick_size(uint64_t *rng);
bool map_result_allowed(struct iotlb_dev *dev, size_t size, int err);

void scribbler_start(struct scribbler *s, pthread_t *tid, const struct inst *in, uint64_t seed);
void scribbler_stop(struct scribbler *s, pthread_t tid);

/* Runs `nsteps` operations of the script on every instance in lockstep. */
void script_run(struct script *s, unsigned nsteps);
/* `in` holds the same free runs, slot records, used counts (and cursors, if
 * asked) as `ref`; fails the test naming the first difference. */
void assert_same_state(const struct inst *ref, const struct inst *in, unsigned step,
		       bool cursors);

#endif
