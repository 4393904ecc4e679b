/* SPDX-License-Identifier: MIT */
/*
 * The hostile host's tools: mem instances with four devices, originals with
 * canaries around them, request sizes, and the scribbler thread that writes
 * over a whole bounce region while the library uses it.
 */
#include "scribble.h"

/* ------------------------------------------------------------ helpers */

void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/*
 * Device constraints the mappings use: plain, the two common min-align
 * masks, and one with an allocation alignment and a 256 KiB boundary.
 */
const struct dev_shape dev_shapes[NDEVS] = {
	{ 0, 0, 0 },
	{ 0x7ff, 0, 0 },
	{ 0xfff, 0, 0 },
	{ 0x3, 0xfff, 0x3ffff },
};


void inst_create(struct inst *in, const char *name, size_t region_size)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	memset(in, 0, sizeof(*in));
	in->name = name;
	in->region_size = region_size;
	in->region = map_anon(region_size);
	in->arena = map_anon((size_t)NLIVE * SLAB);
	c.vaddr = in->region;
	c.dma_addr = DMA_BASE; /* equal for every instance: placement depends on it */
	c.size = region_size;
	c.nareas = NAREAS;
	/*
	 * Coherent allocations take no queue; with the default CPU policy their
	 * area would follow the CPU the test happens to run on. Round robin
	 * makes the area a function of the call sequence, equal in lockstep.
	 */
	c.select = IOTLB_SELECT_ROUND_ROBIN;
	assert_int_equal(iotlb_mem_create(&c, &in->mem), 0);
	/* Created in the same order everywhere, so owner ids match too. */
	for (unsigned d = 0; d < NDEVS; d++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		dc.min_align_mask = dev_shapes[d].min_align;
		dc.alloc_align_mask = dev_shapes[d].alloc_align;
		dc.seg_boundary_mask = dev_shapes[d].boundary;
		assert_int_equal(iotlb_dev_create(in->mem, &dc, &in->dev[d]), 0);
	}
}

void inst_destroy(struct inst *in)
{
	for (unsigned d = 0; d < NDEVS; d++)
		assert_int_equal(iotlb_dev_destroy(in->dev[d]), 0);
	assert_int_equal(iotlb_mem_destroy(in->mem), 0);
	munmap(in->arena, (size_t)NLIVE * SLAB);
	munmap(in->region, in->region_size);
}

struct iotlb__pool *inst_pool(const struct inst *in)
{
	struct iotlb__pool *pool = in->mem->shared.pools;

	assert_non_null(pool);
	assert_null(pool->next); /* these tests use a single pool */
	return pool;
}

void assert_consistent(const struct inst *in, const char *when)
{
	char why[256] = "";

	if (iotlb__check_mem(in->mem, why, sizeof(why)) != 0)
		fail_msg("%s: invariant broken %s: %s", in->name, when, why);
}

/* Originals: slab j, starting `off` bytes past the leading guard. */
unsigned char *orig_at(const struct inst *in, unsigned j, size_t off)
{
	return in->arena + (size_t)j * SLAB + GUARD + off;
}

/* Canaries around [orig, orig + size) inside slab j. */
void guards_set(const struct inst *in, unsigned j, size_t off, size_t size)
{
	unsigned char *slab = in->arena + (size_t)j * SLAB;

	memset(slab, CANARY, GUARD + off);
	memset(slab + GUARD + off + size, CANARY, SLAB - (GUARD + off + size));
}

bool guards_intact(const struct inst *in, unsigned j, size_t off, size_t size)
{
	const unsigned char *slab = in->arena + (size_t)j * SLAB;

	for (size_t i = 0; i < GUARD + off; i++)
		if (slab[i] != CANARY)
			return false;
	/* Only the bytes right behind the buffer: a copy runs past the end there. */
	for (size_t i = GUARD + off + size; i < GUARD + off + size + GUARD && i < SLAB; i++)
		if (slab[i] != CANARY)
			return false;
	return true;
}

bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* A size: mostly small, some large, a few that can never fit. */
size_t pick_size(uint64_t *rng)
{
	uint64_t r = rnd_below(rng, 100);

	if (r < 50)
		return 1 + (size_t)rnd_below(rng, 4096);
	if (r < 80)
		return 4097 + (size_t)rnd_below(rng, 28672);
	if (r < 97)
		return 32769 + (size_t)rnd_below(rng, SEG_BYTES - 32768);
	return SEG_BYTES - 4096 + (size_t)rnd_below(rng, 8193);
}

/* Map errors allowed for a request: -ENOSPC any time, -E2BIG by size. */
bool map_result_allowed(struct iotlb_dev *dev, size_t size, int err)
{
	if (size > SEG_BYTES)
		return err == -E2BIG;
	if (err == -E2BIG)
		return size > iotlb_max_mapping_size(dev);
	return err == 0 || err == -ENOSPC;
}

/* ------------------------------------------------------------ the scribbler */


static void scribble_pass(uint64_t *words, size_t nwords, uint64_t *rng)
{
	switch (rnd_below(rng, 4)) {
	case 0: /* every word random */
		for (size_t i = 0; i < nwords; i++)
			__atomic_store_n(&words[i], splitmix64(rng), __ATOMIC_RELAXED);
		break;
	case 1:
	case 2: { /* a whole-region fill, as a memset would do */
		uint64_t v = rnd_below(rng, 2) ? 0 : UINT64_MAX;

		for (size_t i = 0; i < nwords; i++)
			__atomic_store_n(&words[i], v, __ATOMIC_RELAXED);
		break;
	}
	default: /* scattered single bytes */
		for (size_t i = 0; i < nwords / 8; i++) {
			size_t at = (size_t)rnd_below(rng, nwords * 8);

			__atomic_store_n((unsigned char *)words + at, (unsigned char)splitmix64(rng),
					 __ATOMIC_RELAXED);
		}
		break;
	}
}

static void *scribbler_main(void *arg)
{
	struct scribbler *s = arg;
	uint64_t rng = s->seed;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		scribble_pass(s->words, s->nwords, &rng);
		__atomic_fetch_add(&s->passes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

void scribbler_start(struct scribbler *s, pthread_t *tid, const struct inst *in,
			    uint64_t seed)
{
	s->words = (uint64_t *)(void *)in->region;
	s->nwords = in->region_size / sizeof(uint64_t);
	s->seed = seed;
	s->stop = 0;
	s->passes = 0;
	assert_int_equal(pthread_create(tid, NULL, scribbler_main, s), 0);
}

void scribbler_stop(struct scribbler *s, pthread_t tid)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	assert_int_equal(pthread_join(tid, NULL), 0);
}
