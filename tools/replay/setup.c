/* SPDX-License-Identifier: MIT */
/*
 * Allocator lifetime for one replayed configuration: the pool, the original
 * buffers (one span aligned beyond every mask, so an original keeps the
 * trace address's low bits), the growth regions, and the final accounting.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void rp_config_defaults(struct rp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->label, sizeof(cfg->label), "default");
	cfg->pool_base = 0x80000000ull;
	cfg->pool_size = 64u << 20; /* the kernel's default swiotlb size */
	cfg->page_size = 4096;
	cfg->lock = IOTLB_LOCK_DEFAULT;
}

struct rp_dev_rule *rp_config_rule(struct rp_config *cfg, const char *name, bool create)
{
	for (unsigned i = 0; i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].name, name) == 0)
			return &cfg->rules[i];
	if (!create || cfg->nrules == RP_MAX_DEV_RULES || strlen(name) >= RP_DEV_NAME_MAX)
		return NULL;
	memset(&cfg->rules[cfg->nrules], 0, sizeof(cfg->rules[0]));
	strcpy(cfg->rules[cfg->nrules].name, name);
	return &cfg->rules[cfg->nrules++];
}

/* ------------------------------------------------------------ growth regions */

static int region_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma)
{
	struct rp_run *run = ctx;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t step = (size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);

	if (p == MAP_FAILED)
		return -ENOMEM;
	*vaddr = p;
	/* Added pools sit above the configured one, as fresh guest memory would. */
	*dma = __atomic_fetch_add(&run->grow_next_dma, step, __ATOMIC_RELAXED);
	return 0;
}

static void region_free(void *ctx, void *vaddr, uint64_t dma, size_t size)
{
	(void)ctx;
	(void)dma;
	munmap(vaddr, size);
}

/* ------------------------------------------------------------------- set-up */

static uint64_t pow2_above(uint64_t mask)
{
	uint64_t a = 1;

	while (a <= mask && a < (1ull << 40))
		a <<= 1;
	return a;
}

int rp_run_init(struct rp_run *run, const struct rp_config *cfg, bool check)
{
	struct iotlb_mem_config mc = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	int err;

	memset(run, 0, sizeof(*run));
	run->cfg = cfg;
	run->check = check;
	run->series.stride = 1;
	/* The original buffer keeps the trace address's bits that min-align
	 * and alignment rules look at: align the span beyond every mask. */
	run->orig_align = 1u << 16;
	if (cfg->page_size > run->orig_align)
		run->orig_align = cfg->page_size;
	for (unsigned i = 0; i < cfg->nrules; i++) {
		uint64_t a =
			pow2_above(cfg->rules[i].min_align_mask | cfg->rules[i].alloc_align_mask);

		if (a > run->orig_align)
			run->orig_align = a;
	}
	if (run->orig_align > (1ull << 30)) {
		snprintf(run->error, sizeof(run->error),
			 "alignment masks above 1 GiB are not replayable");
		return -EINVAL;
	}
	run->orig_span = ORIG_SPAN;
	run->scratch_len = (size_t)(2 * run->orig_align + run->orig_span);
	run->scratch = mmap(NULL, run->scratch_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (run->scratch == MAP_FAILED) {
		run->scratch = NULL;
		snprintf(run->error, sizeof(run->error), "cannot reserve the original buffers");
		return -ENOMEM;
	}
	run->orig_base = (unsigned char *)(((uintptr_t)run->scratch + run->orig_align - 1) &
					   ~(uintptr_t)(run->orig_align - 1));
	run->pool = mmap(NULL, cfg->pool_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (run->pool == MAP_FAILED) {
		run->pool = NULL;
		snprintf(run->error, sizeof(run->error), "cannot map a %zu-byte pool",
			 cfg->pool_size);
		rp_run_free(run);
		return -ENOMEM;
	}

	mc.vaddr = run->pool;
	mc.dma_addr = cfg->pool_base;
	mc.size = cfg->pool_size;
	mc.slot_shift = cfg->slot_shift;
	mc.segment_slots = cfg->segment_slots;
	mc.nareas = cfg->nareas ? cfg->nareas : 1;
	mc.page_size = cfg->page_size;
	mc.lock = cfg->lock;
	/* Allocs have no queue argument: a stable per-thread choice keeps the
	 * replay deterministic (the host's CPU number would not be). */
	mc.select = IOTLB_SELECT_THREAD;
	if (cfg->grow) {
		run->region_ops.alloc = region_alloc;
		run->region_ops.free = region_free;
		run->grow_next_dma = (cfg->pool_base + cfg->pool_size + (2u << 20) - 1) &
				     ~(uint64_t)((2u << 20) - 1);
		mc.flags = IOTLB_MEM_GROW;
		mc.region_ops = &run->region_ops;
		mc.region_ctx = run;
		mc.grow_size = cfg->grow_size;
	}
	err = iotlb_mem_create(&mc, &run->mem);
	if (err) {
		snprintf(run->error, sizeof(run->error), "iotlb_mem_create: %s",
			 iotlb_strerror(err));
		rp_run_free(run);
		return err;
	}
	if (iotlb_mem_stats(run->mem, &st) == 0) {
		run->nareas = (unsigned)(st.nareas < RP_MAX_AREAS ? st.nareas : RP_MAX_AREAS);
		run->c.nslots = st.nslots;
	}
	err = rp_table_init(&run->by_dma);
	if (!err)
		err = rp_table_init(&run->by_phys);
	if (err) {
		snprintf(run->error, sizeof(run->error), "out of memory");
		rp_run_free(run);
		return err;
	}
	/* Private pools are carved when a driver probes, before the traced
	 * workload: carve them now, while the shared pools are empty. */
	for (unsigned i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].private_size)
			rp_run_dev(run, cfg->rules[i].name);
	return 0;
}

void rp_run_finish(struct rp_run *run)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;

	if (!run->mem)
		return;
	if (iotlb_mem_stats(run->mem, &st) == 0) {
		run->c.nslots = st.nslots;
		run->c.area_fallbacks = st.area_fallbacks;
	}
	for (unsigned a = 0; a < run->nareas; a++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		if (iotlb_mem_area_stats(run->mem, 0, a, &as) == 0) {
			run->areas[a].nslots = as.nslots;
			run->areas[a].acquisitions = as.acquisitions;
		}
	}
	for (unsigned i = 0; i < run->ndevs; i++) {
		struct iotlb_stats ds = IOTLB_STATS_INIT;

		if (run->devs[i].is_private && iotlb_dev_stats(run->devs[i].dev, &ds) == 0)
			run->c.area_fallbacks += ds.area_fallbacks;
	}
	/* What the capture never released: count it, then release it so the
	 * allocator can be torn down. */
	for (uint32_t id = 0; id < run->nentries; id++) {
		struct rp_entry *e = &run->entries[id];
		struct iotlb_dev *dev = run->devs[e->dev].dev;

		if (!e->live)
			continue;
		run->c.never_unmapped++;
		if (run->nlive_lines < RP_MAX_NOTES)
			run->live_lines[run->nlive_lines++] = e->line;
		if (e->ok && e->kind == E_ALLOC)
			iotlb_free(dev, e->lib_dma, (size_t)e->size);
		else if (e->ok)
			iotlb_unmap(dev, e->lib_dma, (size_t)e->size, (enum iotlb_dir)e->dir,
				    IOTLB_ATTR_SKIP_CPU_SYNC);
		e->live = false;
	}
	rp_run_free(run);
}

void rp_run_free(struct rp_run *run)
{
	for (unsigned i = 0; i < run->ndevs; i++)
		if (run->devs[i].dev && iotlb_dev_destroy(run->devs[i].dev))
			snprintf(run->error, sizeof(run->error),
				 "device %s still had mappings at the end", run->devs[i].name);
	free(run->devs);
	run->devs = NULL;
	run->ndevs = run->devs_cap = 0;
	if (run->mem)
		iotlb_mem_destroy(run->mem);
	run->mem = NULL;
	if (run->pool)
		munmap(run->pool, run->cfg->pool_size);
	run->pool = NULL;
	if (run->scratch)
		munmap(run->scratch, run->scratch_len);
	run->scratch = NULL;
	free(run->entries);
	run->entries = NULL;
	run->nentries = run->entries_cap = run->free_head = 0;
	rp_table_free(&run->by_dma);
	rp_table_free(&run->by_phys);
}
