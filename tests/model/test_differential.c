/* SPDX-License-Identifier: MIT */
/*
 * Seeded randomized differential test: the library and the reference model
 * (model*.c) get the same random configurations and operations, and after
 * every operation their answers, bytes, free-run counters, per-slot state,
 * cursors and statistics must be identical (diff_check.c, diff_ops.c), over
 * added pools and private devices too (diff_pools.c).
 *
 * Usage: test_differential [--seed N] [--ops N] [--configs N] [--config K] [-v]
 * Environment: IOTLB_SEED (seed), IOTLB_TEST_SCALE=asan (about 5x less work).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "diff.h"
#include "scale.h"

#define DEFAULT_CONFIGS 200
#define DEFAULT_OPS 600
#define HUGE_OPS 40    /* pools of 2^21+ slots compare 2M slots per op */
#define HUGE_EVERY 100 /* configurations 1, 101, ... get such a pool */

static uint64_t pick(struct run *r, const uint64_t *v, size_t n)
{
	return v[rng_below(&r->rng, n)];
}

static void random_params(struct run *r, bool huge)
{
	static const unsigned shapes[][2] = {{10, 128}, {11, 64}, {9, 256}, {10, 32}, {12, 64}};
	struct model_params *p = &r->mp;
	uint64_t seg, k;

	memset(p, 0, sizeof(*p));
	p->page_size = rng_pct(&r->rng, 75) ? 4096 : 65536;
	p->slot_shift = 11;
	p->segment_slots = 128;
	if (!huge && rng_pct(&r->rng, 15)) {
		k = rng_below(&r->rng, sizeof(shapes) / sizeof(shapes[0]));
		p->slot_shift = shapes[k][0];
		p->segment_slots = shapes[k][1];
	}
	seg = p->segment_slots;
	k = rng_below(&r->rng, 100);
	if (huge)
		p->nslots = (1ull << 21) + 1 + rng_below(&r->rng, 3 * seg);
	else if (k < 10)
		p->nslots = 1 + rng_below(&r->rng, seg - 1); /* smaller than a segment */
	else if (k < 35)
		p->nslots = 1ull << (7 + rng_below(&r->rng, 6)); /* powers of two */
	else if (k < 50)
		p->nslots = seg * (1 + rng_below(&r->rng, 24)); /* whole segments */
	else
		p->nslots = seg + rng_below(&r->rng, 4096 - seg); /* anything */
	p->nareas_req = 1 + (unsigned)rng_below(&r->rng, 16);

	p->dma_addr = diff_random_dma(r, p->nslots << p->slot_shift, huge);
	/* blocks of 1, 2, 4 or 8 segments, or the default 1024 slots */
	p->block_slots = rng_pct(&r->rng, 25) ? 0 : p->segment_slots << rng_below(&r->rng, 4);
}

/* A device address for a region of `bytes`: low, straddling 4 GiB, above it,
 * far above, or 0. */
uint64_t diff_random_dma(struct run *r, uint64_t bytes, bool huge)
{
	uint64_t page = r->mp.page_size, dma, k;

	k = rng_below(&r->rng, 100);
	if (k < 25 && bytes < (1ull << 32))
		dma = rng_below(&r->rng, ((1ull << 32) - bytes) / page + 1) * page;
	else if (k < 45)
		/* ends at or just past 4 GiB (huge pools: starts up to 4 GiB below) */
		dma = (1ull << 32) -
		      rng_below(&r->rng, (bytes < (1ull << 32) ? bytes : (1ull << 32)) / page + 1) *
			      page;
	else if (k < 75)
		dma = (1ull << 32) + rng_below(&r->rng, (1ull << 36) / page) * page;
	else if (k < 92)
		dma = (1ull << 40) + rng_below(&r->rng, (1ull << 44) / page) * page;
	else
		dma = 0;
	if (huge && dma < (1ull << 32) && rng_pct(&r->rng, 50))
		dma += 1ull << 32;
	return dma;
}

void diff_random_masks(struct run *r, struct model_dev *d)
{
	static const uint64_t min_align[] = {0, 0x3, 0x7ff, 0xfff, 0x3fff};
	static const uint64_t alloc_align[] = {0, 0xfff, 0x1fff, 0x7fff};
	/* 4 GiB, the boundary of many real devices: pools straddle it above. */
	static const uint64_t boundary[] = {UINT64_MAX, 0xffff, 0x3ffff, 0xfffff, 0xffffffff};
	static const uint64_t small_boundary[] = {0x3ff, 0x7ff, 0xfff, 0x1fff};

	d->min_align_mask = pick(r, min_align, 5);
	d->alloc_align_mask = pick(r, alloc_align, 4);
	if (rng_pct(&r->rng, 12))
		d->seg_boundary_mask = pick(r, small_boundary, 4);
	else if (rng_pct(&r->rng, 50))
		d->seg_boundary_mask = UINT64_MAX;
	else
		d->seg_boundary_mask = pick(r, boundary, 5);
	if (rng_pct(&r->rng, 3))
		d->min_align_mask = 0x5; /* not of the form 2^k - 1 */
}

/* Creates a device on both sides; masks the library must refuse are tried first. */
static void create_dev(struct run *r, unsigned k)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *dev;
	struct model_dev *d = &r->mdev[k];
	int rc, tries = 0;

	for (;;) {
		diff_random_masks(r, d);
		if (++tries > 10) {
			d->min_align_mask = 0;
			d->seg_boundary_mask = UINT64_MAX;
		}
		d->id = k;
		dc.min_align_mask = d->min_align_mask;
		dc.alloc_align_mask = d->alloc_align_mask;
		/* 0 means all ones; pass both spellings */
		dc.seg_boundary_mask = d->seg_boundary_mask == UINT64_MAX && rng_pct(&r->rng, 50)
					       ? 0
					       : d->seg_boundary_mask;
		diff_set_op(r,
			    "dev_create min_align 0x%" PRIx64 " alloc_align 0x%" PRIx64
			    " seg_boundary 0x%" PRIx64,
			    dc.min_align_mask, dc.alloc_align_mask, dc.seg_boundary_mask);
		dev = (struct iotlb_dev *)0x1;
		rc = iotlb_dev_create(r->mem, &dc, &dev);
		diff_expect_rc(r, "iotlb_dev_create", rc, model_dev_check(&r->m, d));
		diff_tally(r, OP_DEV, rc);
		if (rc) {
			if (dev != (struct iotlb_dev *)0x1)
				diff_mismatch(r, "refused dev_create wrote its out-parameter");
			continue;
		}
		r->ldev[k] = dev;
		if (iotlb_max_mapping_size(dev) != model_max_mapping_size(&r->m, d))
			diff_mismatch(r, "max_mapping_size %zu, model %" PRIu64,
				      iotlb_max_mapping_size(dev),
				      model_max_mapping_size(&r->m, d));
		return;
	}
}

/*
 * Reserves address space for a region of `bytes` starting on a 64 KiB page:
 * pages appear only where the test or the library writes, so many pools,
 * huge ones included, cost only the memory they use.
 */
bool diff_reserve(struct region *rg, uint64_t bytes)
{
	void *p;

	rg->map_bytes = (size_t)bytes + 65536;
	p = mmap(NULL, rg->map_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		rg->map_base = NULL;
		return false;
	}
	rg->map_base = p;
	rg->va = (unsigned char *)(((uintptr_t)p + 65535) & ~(uintptr_t)65535);
	rg->bytes = bytes;
	return true;
}

void diff_unreserve(struct region *rg)
{
	if (rg->map_base)
		munmap(rg->map_base, rg->map_bytes);
	memset(rg, 0, sizeof(*rg));
}

/* Releases everything live, each release compared, then destroys both sides. */
static void teardown(struct run *r)
{
	int rc;

	if (diff_random_live(r, -1)) {
		diff_set_op(r, "dev_destroy with live allocations");
		rc = iotlb_dev_destroy(r->ldev[diff_random_live(r, -1)->dev]);
		diff_expect_rc(r, "iotlb_dev_destroy", rc, -EBUSY);
	}
	diff_set_op(r, "mem_destroy while devices exist");
	diff_expect_rc(r, "iotlb_mem_destroy", iotlb_mem_destroy(r->mem), -EBUSY);
	diff_release_all(r);
	diff_private_destroy_all(r);
	if (r->m.st.used)
		diff_mismatch(r, "model still uses %" PRIu64 " slots after teardown", r->m.st.used);
	for (unsigned k = 0; k < r->ndevs; k++) {
		diff_set_op(r, "dev_destroy dev%u", k);
		diff_expect_rc(r, "iotlb_dev_destroy", iotlb_dev_destroy(r->ldev[k]), 0);
		r->ldev[k] = NULL;
	}
	diff_set_op(r, "mem_destroy");
	diff_expect_rc(r, "iotlb_mem_destroy", iotlb_mem_destroy(r->mem), 0);
	model_fini(&r->m);
	for (unsigned k = 0; k < r->nregions; k++)
		diff_unreserve(&r->regions[k]);
	r->nregions = 0;
}

static void run_config(struct run *r, unsigned nops)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	uint64_t bytes;
	int rc;

	rng_seed(&r->rng, r->seed ^ (0x5851f42d4c957f2dull * (r->cfg_index + 1)));
	r->huge = r->cfg_index % HUGE_EVERY == 1;
	random_params(r, r->huge);
	r->lock = rng_pct(&r->rng, 50) ? IOTLB_LOCK_NONE : IOTLB_LOCK_MUTEX;
	/* coherent allocations take their first area from the policy: the CPU
	 * policy would make replays depend on scheduling */
	r->select = rng_pct(&r->rng, 50) ? IOTLB_SELECT_THREAD : IOTLB_SELECT_ROUND_ROBIN;
	r->flags = rng_pct(&r->rng, 25) ? IOTLB_MEM_SCRUB : 0;
	r->ndevs = rng_pct(&r->rng, 70) ? 1 : MAX_SHARED_DEVS;
	r->map_weight = 22 + (unsigned)rng_below(&r->rng, 18);
	r->nops = r->huge && nops > HUGE_OPS ? HUGE_OPS : nops;
	r->nstale = 0;
	r->op = 0;
	memset(r->ldev, 0, sizeof(r->ldev));
	memset(r->history, 0, sizeof(r->history));

	bytes = r->mp.nslots << r->mp.slot_shift;
	if (!diff_reserve(&r->regions[0], bytes)) {
		fprintf(stderr, "cannot reserve %" PRIu64 " bytes for config %u\n", bytes,
			r->cfg_index);
		exit(2);
	}
	r->regions[0].dma = r->mp.dma_addr;
	r->nregions = 1;
	r->mp.vaddr = (uint64_t)(uintptr_t)r->regions[0].va;
	if (model_init(&r->m, &r->mp)) {
		fprintf(stderr, "model_init: out of memory\n");
		exit(2);
	}

	cfg.vaddr = r->regions[0].va;
	cfg.dma_addr = r->mp.dma_addr;
	cfg.size = (size_t)bytes;
	cfg.slot_shift = r->mp.slot_shift;
	cfg.segment_slots = r->mp.segment_slots;
	cfg.block_slots = r->mp.block_slots;
	cfg.page_size = (size_t)r->mp.page_size;
	cfg.nareas = r->mp.nareas_req;
	cfg.lock = r->lock;
	cfg.select = r->select;
	cfg.flags = r->flags;
	cfg.log = diff_log_cb;
	cfg.log_ctx = r;
	diff_set_op(r, "mem_create");
	rc = iotlb_mem_create(&cfg, &r->mem);
	diff_expect_rc(r, "iotlb_mem_create", rc, 0);
	if (!r->mem->shared.pools || r->mem->shared.pools->next)
		diff_mismatch(r, "expected exactly one pool");
	for (unsigned k = 0; k < r->ndevs; k++)
		create_dev(r, k);
	diff_compare_state(r);
	/* some configurations start with more pools and a private device */
	if (rng_pct(&r->rng, 30))
		diff_add_pool(r);
	if (rng_pct(&r->rng, 30))
		diff_private_create(r);
	if (r->verbose)
		diff_describe(r, stdout);

	for (r->op = 1; r->op <= r->nops; r->op++)
		diff_random_op(r);
	r->fallbacks += r->m.st.area_fallbacks;
	teardown(r);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static struct run r;
	const char *env_seed = getenv("IOTLB_SEED");
	unsigned configs = DEFAULT_CONFIGS, nops = DEFAULT_OPS;
	long only = -1;
	bool have_seed = false;
	uint64_t total = 0;

	if (test_scale() == TEST_SCALE_ASAN)
		configs = DEFAULT_CONFIGS / 5;
	if (env_seed && *env_seed) {
		r.seed = parse_u64(env_seed, "IOTLB_SEED");
		have_seed = true;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			r.seed = parse_u64(argv[++i], "seed");
			have_seed = true;
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			nops = (unsigned)parse_u64(argv[++i], "ops");
		} else if (!strcmp(argv[i], "--configs") && i + 1 < argc) {
			configs = (unsigned)parse_u64(argv[++i], "configs");
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			only = (long)parse_u64(argv[++i], "config");
		} else if (!strcmp(argv[i], "-v")) {
			r.verbose = true;
		} else {
			fprintf(stderr,
				"usage: %s [--seed N] [--ops N] [--configs N] [--config K] "
				"[-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r.seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
	}
	printf("test_differential: seed %" PRIu64 " (replay with IOTLB_SEED=%" PRIu64
	       "), %u configurations x %u operations\n",
	       r.seed, r.seed, only >= 0 ? 1 : configs, nops);
	fflush(stdout);

	r.src = aligned_alloc(65536, SRC_LEN);
	r.shadow = malloc(SRC_LEN);
	r.snap_cap = 1u << 20;
	r.snap = malloc(r.snap_cap);
	if (!r.src || !r.shadow || !r.snap)
		return 2;

	for (unsigned c = 0; c < configs; c++) {
		if (only >= 0 && c != (unsigned long)only)
			continue;
		/* the originals start from known bytes in every configuration */
		rng_seed(&r.rng, r.seed + c);
		rng_fill(&r.rng, r.src, SRC_LEN);
		memcpy(r.shadow, r.src, SRC_LEN);
		r.cfg_index = c;
		run_config(&r, nops);
		total += r.nops;
	}
	for (unsigned k = 0; k < NOPS; k++) {
		static const char *const names[] = {"map",     "unmap",	      "sync",
						    "alloc",   "free",	      "dev_create",
						    "private", "dev_destroy", "add_pool"};
		const uint64_t *t = r.tally[k];

		printf("  %-11s ok %" PRIu64 ", ENOSPC %" PRIu64 ", E2BIG %" PRIu64
		       ", EINVAL %" PRIu64 ", ENOENT %" PRIu64 ", EBUSY %" PRIu64 "\n",
		       names[k], t[RES_OK], t[RES_ENOSPC], t[RES_E2BIG], t[RES_EINVAL],
		       t[RES_ENOENT], t[RES_EBUSY]);
	}
	printf("  overflow clamps %" PRIu64 ", maps with padding slots %" PRIu64
	       ", area fallbacks %" PRIu64 ", maps leaving the pools full %" PRIu64 "\n",
	       r.clamps, r.padded_maps, r.fallbacks, r.full_slots);
	printf("  maps on private devices %" PRIu64 " (refused for space %" PRIu64
	       "), maps over several shared pools %" PRIu64
	       ", private pools carved from an added pool %" PRIu64 "\n",
	       r.private_maps, r.private_nospace, r.multi_pool_maps, r.carved_from_later_pool);
	printf("test_differential: %" PRIu64 " operations, no mismatch (seed %" PRIu64 ")\n", total,
	       r.seed);
	free(r.src);
	free(r.shadow);
	free(r.snap);
	free(r.runs);
	free(r.lib_runs);
	return 0;
}
