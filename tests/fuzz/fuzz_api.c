/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: input bytes choose a small configuration and drive a
 * sequence of API calls. In "model" mode (one pool, shared devices) every
 * call is compared with the reference model: return code, handle, bounce
 * bytes, every free-run counter, every cursor. In "api" mode the geometry
 * varies too (segments of 8 to 128 slots, blocks of one to four segments),
 * and private devices and added pools join in. Both modes run the invariant
 * checker over every pool after every call. A mismatch aborts, which is what
 * the fuzzer looks for.
 *
 * Pools stay small (at most 1,280 slots in api mode) because the full check
 * after every call is O(slots): that keeps a campaign at about a thousand
 * inputs a second per core under ASan + UBSan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../model/model.h"

#define MAX_LIVE 64
#define MAX_DEVS 4
#define REGION_BYTES (8u << 20)
#define SOURCE_BYTES (1u << 20)

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_api: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                        \
		}                                                                       \
	} while (0)

struct live {
	uint64_t dma;
	uint64_t size;
	unsigned dev;
	bool coherent;
};

struct run {
	struct iotlb_mem *mem;
	struct iotlb_dev *devs[MAX_DEVS];
	struct model_dev mdevs[MAX_DEVS];
	bool private_dev[MAX_DEVS];
	unsigned ndevs;
	struct model m;
	bool model_mode;
	struct live live[MAX_LIVE];
	unsigned nlive;
	struct model_copy copy; /* what the model says a call copies */
	unsigned allocs_made;   /* round-robin position of the next alloc */
	uint64_t size_limit;    /* map/alloc sizes are drawn below this */
	uint64_t pool_bytes;    /* of the first pool */
	unsigned added_pools;
	uint32_t *runs;
	uint32_t *lib_runs; /* the library's counters, derived from its bitmap */
};

static uint8_t *region, *source, *added;

static const uint64_t min_aligns[] = { 0, 0x3, 0x7ff, 0xfff, 0x3fff };
static const uint64_t alloc_aligns[] = { 0, 0xfff, 0x1fff, 0x7fff };
static const uint64_t boundaries[] = { 0, 0xffff, 0x3ffff, 0xfffff };
/* Model mode: the kernel's geometry (segments of 128 slots), small pools. */
static const uint64_t pool_slots[] = { 1, 3, 64, 127, 128, 200, 256, 384 };
#define MODEL_POOL_SHAPES 8
#define MODEL_SIZE_LIMIT 280000 /* a little over one segment */
/* Api mode: up to three pools added at these strides of `added`. */
#define MAX_ADDED_POOLS 3
#define ADDED_STRIDE (4u << 20) /* three blocks of 512 slots fit */
#define ADDED_BYTES (MAX_ADDED_POOLS * ADDED_STRIDE)
#define MAX_OPS 96
static const uint64_t bases[] = { 0x10000000, 0xfff00000, 0x100000000ull, 0x7ff00000000ull };

static void compare_with_model(struct run *r)
{
	struct iotlb__pool *pool = r->mem->shared.pools;
	char why[256];

	if (iotlb__check_mem(r->mem, why, sizeof(why))) {
		fprintf(stderr, "fuzz_api: invariant: %s\n", why);
		abort();
	}
	for (unsigned d = 0; d < r->ndevs; d++) {
		if (iotlb__check_dev(r->devs[d], why, sizeof(why))) {
			fprintf(stderr, "fuzz_api: invariant of device %u: %s\n", d, why);
			abort();
		}
	}
	if (!r->model_mode)
		return;
	model_free_runs(&r->m, r->runs);
	iotlb__slots_free_runs(pool, r->lib_runs);
	CHECK(memcmp(r->runs, r->lib_runs, pool->nslots * sizeof(uint32_t)) == 0);
	CHECK(pool->nareas == r->m.nareas);
	for (unsigned a = 0; a < pool->nareas; a++) {
		CHECK(iotlb__area_at(pool, a)->index == r->m.areas[a].index);
		CHECK(iotlb__area_at(pool, a)->used == r->m.areas[a].used);
	}
}

static void forget(struct run *r, unsigned i)
{
	r->live[i] = r->live[--r->nlive];
}

static void op_map(struct run *r, struct input *in)
{
	unsigned d = (unsigned)take(in, 1) % r->ndevs;
	unsigned hint = (unsigned)take(in, 1);
	uint64_t off = take(in, 2) & 0xffff;
	uint64_t size = take(in, 3) % r->size_limit;
	int dir = (int)take(in, 1) % 5;
	uint8_t *orig = source + off;
	uint64_t dma = 0, mdma = 0;
	int rc, mrc;

	if (size > SOURCE_BYTES - off)
		size = SOURCE_BYTES - off;
	rc = iotlb_map(r->devs[d], (int)hint, orig, size, (enum iotlb_dir)dir, 0, &dma);
	if (r->model_mode) {
		mrc = model_map(&r->m, &r->mdevs[d], hint, (uint64_t)(uintptr_t)orig, size, dir,
				&mdma);
		CHECK(rc == mrc);
		if (!rc)
			CHECK(dma == mdma);
	}
	if (rc == 0) {
		CHECK(memcmp(iotlb_dma_to_virt(r->devs[d], dma), orig, size) == 0);
		if (r->nlive < MAX_LIVE)
			r->live[r->nlive++] = (struct live){ dma, size, d, false };
		else
			CHECK(iotlb_unmap(r->devs[d], dma, size, IOTLB_TO_DEVICE, 0) == 0 &&
			      (!r->model_mode || model_unmap(&r->m, &r->mdevs[d], dma, size,
							    MODEL_TO_DEVICE, 0, &r->copy) == 0));
	} else {
		CHECK(rc == -EINVAL || rc == -E2BIG || rc == -ENOSPC);
	}
}

/* A live handle, a garbage address near one, or one far away. */
static uint64_t pick_address(struct run *r, struct input *in, int *idx)
{
	unsigned sel = (unsigned)take(in, 1);
	int64_t delta = (int8_t)take(in, 1);

	*idx = -1;
	if (r->nlive && sel % 4) {
		*idx = (int)(sel % r->nlive);
		if (sel % 4 == 3)
			return r->live[*idx].dma + (uint64_t)(delta * 64);
		return r->live[*idx].dma;
	}
	return r->mem->shared.pools->dma_addr + take(in, 3) * 16;
}

static void op_unmap(struct run *r, struct input *in, bool coherent)
{
	int idx;
	uint64_t dma = pick_address(r, in, &idx);
	unsigned d = idx >= 0 ? r->live[idx].dev : (unsigned)take(in, 1) % r->ndevs;
	uint64_t size = idx >= 0 ? r->live[idx].size : 1 + take(in, 2);
	int dir = (int)take(in, 1) % 4;
	unsigned attrs = (unsigned)take(in, 1) & IOTLB_ATTR_SKIP_CPU_SYNC;
	int rc, mrc;

	if (take(in, 1) % 3 == 0 && idx >= 0)
		d = (d + 1) % r->ndevs; /* another device's handle */
	if (coherent)
		rc = iotlb_free(r->devs[d], dma, size);
	else
		rc = iotlb_unmap(r->devs[d], dma, size, (enum iotlb_dir)dir, attrs);
	if (r->model_mode) {
		if (coherent)
			mrc = model_free(&r->m, &r->mdevs[d], dma, size);
		else
			mrc = model_unmap(&r->m, &r->mdevs[d], dma, size, dir, attrs, &r->copy);
		CHECK(rc == mrc);
	}
	CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc == 0) {
		for (unsigned i = 0; i < r->nlive; i++) {
			if (r->live[i].dma == dma) {
				CHECK(r->live[i].coherent == coherent && r->live[i].dev == d);
				forget(r, i);
				return;
			}
		}
		CHECK(!"released something that was not live");
	}
}

static void op_sync(struct run *r, struct input *in)
{
	int idx;
	uint64_t dma = pick_address(r, in, &idx);
	unsigned d = idx >= 0 ? r->live[idx].dev : 0;
	uint64_t size = 1 + take(in, 2);
	int dir = (int)take(in, 1) % 4;
	bool for_cpu = take(in, 1) & 1;
	int rc, mrc;

	dma += take(in, 2) % 5000;
	rc = for_cpu ? iotlb_sync_for_cpu(r->devs[d], dma, size, (enum iotlb_dir)dir)
		     : iotlb_sync_for_device(r->devs[d], dma, size, (enum iotlb_dir)dir);
	if (r->model_mode) {
		mrc = model_sync(&r->m, &r->mdevs[d], dma, size, dir, for_cpu, &r->copy);
		CHECK(rc == mrc);
	}
	CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
}

static void op_alloc(struct run *r, struct input *in)
{
	unsigned d = (unsigned)take(in, 1) % r->ndevs;
	uint64_t size = take(in, 3) % r->size_limit;
	uint64_t dma = 0, mdma = 0;
	void *va = NULL;
	int rc, mrc;

	/* Coherent allocations use the selection policy: round robin, one
	 * count per call, which the model is told as the hint. */
	rc = iotlb_alloc(r->devs[d], size, &va, &dma);
	if (r->model_mode) {
		mrc = model_alloc(&r->m, &r->mdevs[d], r->allocs_made, size, &mdma);
		CHECK(rc == mrc);
		if (!rc)
			CHECK(dma == mdma);
	}
	/* The policy is consulted only by requests that reach the search. */
	if (size && size <= 128u << 11)
		r->allocs_made++;
	if (rc == 0) {
		CHECK(va == iotlb_dma_to_virt(r->devs[d], dma));
		if (r->nlive < MAX_LIVE)
			r->live[r->nlive++] = (struct live){ dma, size, d, true };
		else
			CHECK(iotlb_free(r->devs[d], dma, size) == 0 &&
			      (!r->model_mode || model_free(&r->m, &r->mdevs[d], dma, size) == 0));
	}
}

static void op_private_device(struct run *r, struct input *in)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *dev;
	unsigned d;

	for (d = 0; d < r->ndevs; d++) {
		if (!r->private_dev[d])
			continue;
		/* Destroy an idle private device, or learn it is busy. */
		bool busy = false;

		for (unsigned i = 0; i < r->nlive; i++)
			busy |= r->live[i].dev == d;
		CHECK(iotlb_dev_destroy(r->devs[d]) == (busy ? -EBUSY : 0));
		if (!busy) {
			r->devs[d] = r->devs[r->ndevs - 1];
			r->private_dev[d] = r->private_dev[r->ndevs - 1];
			for (unsigned i = 0; i < r->nlive; i++)
				if (r->live[i].dev == r->ndevs - 1)
					r->live[i].dev = d;
			r->ndevs--;
		}
		return;
	}
	if (r->ndevs == MAX_DEVS)
		return;
	dc.private_size = 1 + take(in, 3) % (2 * r->pool_bytes);
	dc.nqueues = (unsigned)take(in, 1) % 9;
	dc.min_align_mask = min_aligns[take(in, 1) % 5];
	int rc = iotlb_dev_create(r->mem, &dc, &dev);

	CHECK(rc == 0 || rc == -ENOSPC || rc == -E2BIG);
	if (rc == 0) {
		r->private_dev[r->ndevs] = true;
		r->devs[r->ndevs++] = dev;
	}
}

/* Adds a pool of one to three blocks (plus an odd tail) after the last one
 * added, then checks that a pool overlapping it is refused. */
static void op_add_pool(struct run *r, struct input *in, const struct iotlb_mem_config *c)
{
	static const unsigned tails[] = { 0, 1, 7 };
	uint64_t nslots = (uint64_t)c->block_slots * (1 + take(in, 1) % 3) + tails[take(in, 1) % 3];
	uint8_t *va = added + (size_t)r->added_pools * ADDED_STRIDE;
	uint64_t dma = 0x900000000ull + (uint64_t)r->added_pools * ADDED_STRIDE;

	if (r->added_pools == MAX_ADDED_POOLS)
		return;
	CHECK(iotlb_mem_add_pool(r->mem, va, dma, nslots << 11) == 0);
	CHECK(iotlb_mem_add_pool(r->mem, va, dma + 0x100000000ull, 65536) == -EINVAL);
	r->added_pools++;
}

/* Api mode: segments of 8 to 128 slots, blocks of one, two or four segments,
 * a pool of one or two blocks and sometimes a tail that is not a whole one. */
static void configure_api_geometry(struct iotlb_mem_config *c, struct input *in, uint64_t *nslots)
{
	static const unsigned segments[] = { 8, 16, 32, 128 };
	unsigned seg = segments[*nslots % 4];
	unsigned block = seg << (take(in, 1) % 3);
	const uint64_t tails[] = { 0, 1, seg - 1, block / 2 };

	c->segment_slots = seg;
	c->block_slots = block;
	*nslots = (uint64_t)block * (1 + take(in, 1) % 2) + tails[take(in, 1) % 4];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct model_params mp = { 0 };
	struct run r = { 0 };
	uint64_t nslots;
	unsigned nops = 0;

	if (!region) {
		CHECK(posix_memalign((void **)&region, 65536, REGION_BYTES) == 0);
		CHECK(posix_memalign((void **)&added, 65536, ADDED_BYTES) == 0);
		source = malloc(SOURCE_BYTES);
		for (size_t i = 0; i < SOURCE_BYTES; i++)
			source[i] = (uint8_t)(i * 131 + 7);
	}
	nslots = take(&in, 1);
	r.model_mode = !(take(&in, 1) & 0x80);
	if (r.model_mode) {
		nslots = pool_slots[nslots % MODEL_POOL_SHAPES];
		r.size_limit = MODEL_SIZE_LIMIT;
	} else {
		configure_api_geometry(&c, &in, &nslots);
		r.size_limit = ((uint64_t)c.segment_slots + 9) << 11;
	}
	r.pool_bytes = nslots << 11;
	c.vaddr = region;
	c.dma_addr = bases[take(&in, 1) % 4];
	c.size = nslots << 11;
	c.nareas = 1 + (unsigned)take(&in, 1) % 16;
	c.page_size = take(&in, 1) & 1 ? 65536 : 4096;
	c.lock = IOTLB_LOCK_NONE;
	c.select = IOTLB_SELECT_ROUND_ROBIN;
	CHECK(iotlb_mem_create(&c, &r.mem) == 0);
	/* The geometry's own segment: device checks depend on it (alloc_align_mask). */
	mp = (struct model_params){ c.dma_addr, nslots, 11, c.segment_slots ? c.segment_slots : 128,
				    c.page_size, c.nareas };
	CHECK(model_init(&r.m, &mp) == 0);
	r.runs = malloc(nslots * sizeof(uint32_t));
	r.lib_runs = malloc(nslots * sizeof(uint32_t));
	CHECK(r.runs && r.lib_runs);

	for (unsigned d = 0; d < 2; d++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
		int rc;

		dc.min_align_mask = min_aligns[take(&in, 1) % 5];
		dc.alloc_align_mask = alloc_aligns[take(&in, 1) % 4];
		dc.seg_boundary_mask = boundaries[take(&in, 1) % 4];
		r.mdevs[r.ndevs] = (struct model_dev){ r.ndevs + 1, dc.min_align_mask,
						       dc.alloc_align_mask,
						       dc.seg_boundary_mask ? dc.seg_boundary_mask
									    : UINT64_MAX };
		rc = iotlb_dev_create(r.mem, &dc, &r.devs[r.ndevs]);
		CHECK(rc == model_dev_check(&r.m, &r.mdevs[r.ndevs]));
		if (rc == 0)
			r.ndevs++;
	}
	if (r.ndevs == 0) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		r.mdevs[0] = (struct model_dev){ 1, 0, 0, UINT64_MAX };
		CHECK(iotlb_dev_create(r.mem, &dc, &r.devs[0]) == 0);
		r.ndevs = 1;
	}

	while (in.n && nops++ < MAX_OPS) {
		unsigned op = (unsigned)take(&in, 1) % (r.model_mode ? 6 : 8);

		switch (op) {
		case 0:
		case 1:
			op_map(&r, &in);
			break;
		case 2:
			op_unmap(&r, &in, false);
			break;
		case 3:
			op_sync(&r, &in);
			break;
		case 4:
			op_alloc(&r, &in);
			break;
		case 5:
			op_unmap(&r, &in, true);
			break;
		case 6:
			op_private_device(&r, &in);
			break;
		case 7:
			op_add_pool(&r, &in, &c);
			break;
		}
		compare_with_model(&r);
	}

	/* Tear down: everything live goes back, then nothing is busy. */
	while (r.nlive) {
		struct live *l = &r.live[r.nlive - 1];

		if (l->coherent)
			CHECK(iotlb_free(r.devs[l->dev], l->dma, l->size) == 0);
		else
			CHECK(iotlb_unmap(r.devs[l->dev], l->dma, l->size, IOTLB_TO_DEVICE, 0) == 0);
		r.nlive--;
	}
	for (unsigned d = 0; d < r.ndevs; d++)
		CHECK(iotlb_dev_destroy(r.devs[d]) == 0);
	CHECK(iotlb_mem_destroy(r.mem) == 0);
	model_fini(&r.m);
	free(r.runs);
	free(r.lib_runs);
	return 0;
}
