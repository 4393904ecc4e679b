/* SPDX-License-Identifier: MIT */
/*
 * The trace writer. It drives libiotlb directly (not through the replay
 * engine), with the CPU as the queue and an original buffer keeping the
 * chosen physical address's low bits, and prints each call as the kernel's
 * dma tracepoints would. Replaying the output with --check must then find
 * every bounce address again.
 */
#include "emit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NDEV 3
#define MAX_LIVE 4096
#define ORIG_ALIGN (1u << 20)
#define ORIG_LEN (2u << 20) /* the alignment span plus the largest map */

/* Device names and the masks the emitter gives them unless told otherwise:
 * a plain device, an NVMe-like one (min-align 4 KiB) and a 1 KiB one. */
static const char *const dev_names[NDEV] = {"0000:00:04.0", "0000:00:05.0", "0000:00:06.0"};
static const uint64_t dev_min_align[NDEV] = {0, 0xfff, 0x3ff};
static const char *const tasks[] = {"kworker/u8:2", "fio", "irq/24-virtio0", "systemd-journal"};

struct live {
	unsigned dev, dir, n; /* n > 0: an sg list of n entries */
	uint64_t dma[4], phys[4], size[4];
	bool alloc;
};

struct emitter {
	FILE *f;
	const struct rp_emit_params *p;
	uint64_t rng, ts_us;
	unsigned ncpus, cpu;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev[NDEV];
	unsigned char *orig_map, *orig; /* orig: orig_map aligned to ORIG_ALIGN */
	struct live live[MAX_LIVE];
	unsigned nlive;
	uint64_t nslots;
};

static uint64_t rnd(struct emitter *e)
{
	/* xorshift64*: enough for a workload, and identical everywhere. */
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(struct emitter *e, uint64_t n)
{
	return n ? rnd(e) % n : 0;
}

/* A new event: its CPU (the queue of its maps) and its time. */
static void begin(struct emitter *e)
{
	e->cpu = (unsigned)below(e, e->ncpus);
	e->ts_us += 1 + below(e, 40);
}

/* The common prefix of an event line, in one of the two layouts. */
static void prefix(struct emitter *e, const char *event)
{
	unsigned t = e->cpu % (unsigned)(sizeof(tasks) / sizeof(tasks[0]));
	unsigned long long s = e->ts_us / 1000000, us = e->ts_us % 1000000;
	char name[40];

	if (e->p->trace_cmd) {
		snprintf(name, sizeof(name), "%s:", event);
		fprintf(e->f, "%16s-%-5u [%03u] %6llu.%06llu: %-28s ", tasks[t], 100 + t, e->cpu, s,
			us, name);
	} else {
		fprintf(e->f, "%16s-%-7u [%03u] ..... %6llu.%06llu: %s: ", tasks[t], 100 + t,
			e->cpu, s, us, event);
	}
}

static void print_list(FILE *f, const char *key, const uint64_t *v, unsigned n)
{
	fprintf(f, " %s={", key);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s0x%llx", i ? "," : "", (unsigned long long)v[i]);
	fprintf(f, "}");
}

static uint64_t pick_size(struct emitter *e)
{
	switch (below(e, 6)) {
	case 0:
	case 1:
		return 4096; /* page-sized, the commonest bounce */
	case 2:
		return 1 + below(e, 4096);
	case 3:
		return 4096 * (1 + below(e, 16));
	case 4:
		return 64 + below(e, 1500);
	default:
		return 1 + below(e, 200u << 10);
	}
}

static uint64_t pick_phys(struct emitter *e, uint64_t size)
{
	uint64_t page = (0x100000ull + below(e, 1ull << 26)) << 12;

	/* Page-sized buffers are usually whole pages; others start anywhere. */
	return size == 4096 && below(e, 4) ? page : page + below(e, 4096);
}

static int map_one(struct emitter *e, unsigned dev, uint64_t phys, uint64_t size, unsigned dir,
		   uint64_t *dma)
{
	return iotlb_map(e->dev[dev], (int)e->cpu, e->orig + (phys & (ORIG_ALIGN - 1)),
			 (size_t)size, (enum iotlb_dir)dir, IOTLB_ATTR_NO_WARN, dma);
}

static void op_map(struct emitter *e)
{
	struct live *l = &e->live[e->nlive];
	unsigned dev = (unsigned)below(e, NDEV);
	unsigned dir = (unsigned)below(e, 3);
	uint64_t size = pick_size(e), phys = pick_phys(e, size), dma;
	const char *name = below(e, 8) ? "dma_map_page" : "dma_map_resource";

	begin(e);
	prefix(e, name);
	if (map_one(e, dev, phys, size, dir, &dma))
		dma = RP_DMA_ERROR; /* as the kernel prints DMA_MAPPING_ERROR */
	fprintf(e->f, "%s dir=%s dma_addr=%llx size=%llu phys_addr=%llx attrs=\n", dev_names[dev],
		rp_dir_name(dir), (unsigned long long)dma, (unsigned long long)size,
		(unsigned long long)phys);
	if (dma == RP_DMA_ERROR)
		return;
	*l = (struct live){.dev = dev, .dir = dir};
	l->dma[0] = dma;
	l->phys[0] = phys;
	l->size[0] = size;
	e->nlive++;
}

static void op_release(struct emitter *e, unsigned i);

static void op_map_sg(struct emitter *e)
{
	struct live *l = &e->live[e->nlive];
	unsigned n = 2 + (unsigned)below(e, 3), done = 0;

	*l = (struct live){.dev = (unsigned)below(e, NDEV), .dir = (unsigned)below(e, 3)};
	begin(e);
	for (; done < n; done++) {
		l->size[done] = below(e, 2) ? 4096 : 512 * (1 + below(e, 16));
		l->phys[done] = pick_phys(e, l->size[done]);
		if (map_one(e, l->dev, l->phys[done], l->size[done], l->dir, &l->dma[done]))
			break;
	}
	/* A list that did not fit is written as the shorter list that did,
	 * released at once: a replay must see every map libiotlb made. */
	if (done == 0)
		return;
	l->n = done;
	prefix(e, "dma_map_sg");
	fprintf(e->f, "%s dir=%s nents=%u/%u ents=%u/%u", dev_names[l->dev], rp_dir_name(l->dir),
		done, done, done, done);
	print_list(e->f, "dma_addrs", l->dma, done);
	print_list(e->f, "sizes", l->size, done);
	print_list(e->f, "phys_addrs", l->phys, done);
	fprintf(e->f, " attrs=\n");
	e->nlive++;
	if (done < n)
		op_release(e, e->nlive - 1);
}

static void op_alloc(struct emitter *e)
{
	struct live *l = &e->live[e->nlive];
	unsigned dev = (unsigned)below(e, NDEV);
	uint64_t size = 4096 * (1 + below(e, 4)), dma = 0;
	void *va = NULL;

	begin(e);
	prefix(e, "dma_alloc");
	if (iotlb_alloc(e->dev[dev], (size_t)size, &va, &dma))
		dma = 0, va = NULL; /* a failed alloc prints dma_addr=0 */
	fprintf(e->f,
		"%s dir=BIDIRECTIONAL dma_addr=%llx size=%llu virt_addr=%016llx flags=GFP_KERNEL "
		"attrs=\n",
		dev_names[dev], (unsigned long long)dma, (unsigned long long)size,
		(unsigned long long)(uintptr_t)va);
	if (!dma)
		return;
	*l = (struct live){.dev = dev, .dir = 0, .alloc = true};
	l->dma[0] = dma;
	l->size[0] = size;
	e->nlive++;
}

/* Releases live mapping i (swapped out of the list). */
static void op_release(struct emitter *e, unsigned i)
{
	struct live *l = &e->live[i];
	struct iotlb_dev *dev = e->dev[l->dev];
	const char *dn = dev_names[l->dev];
	bool skip = below(e, 5) == 0;

	begin(e);
	if (l->alloc) {
		prefix(e, "dma_free");
		iotlb_free(dev, l->dma[0], (size_t)l->size[0]);
		fprintf(e->f,
			"%s dir=BIDIRECTIONAL dma_addr=%llx size=%llu virt_addr=0000000000000000 "
			"attrs=\n",
			dn, (unsigned long long)l->dma[0], (unsigned long long)l->size[0]);
	} else if (l->n) {
		prefix(e, "dma_unmap_sg");
		for (unsigned j = 0; j < l->n; j++)
			iotlb_unmap(dev, l->dma[j], (size_t)l->size[j], (enum iotlb_dir)l->dir, 0);
		fprintf(e->f, "%s dir=%s", dn, rp_dir_name(l->dir));
		print_list(e->f, "phys_addrs", l->phys, l->n);
		fprintf(e->f, " attrs=\n");
	} else {
		prefix(e, below(e, 8) ? "dma_unmap_page" : "dma_unmap_resource");
		iotlb_unmap(dev, l->dma[0], (size_t)l->size[0], (enum iotlb_dir)l->dir,
			    skip ? IOTLB_ATTR_SKIP_CPU_SYNC : 0);
		fprintf(e->f, "%s dir=%s dma_addr=%llx size=%llu attrs=%s\n", dn,
			rp_dir_name(l->dir), (unsigned long long)l->dma[0],
			(unsigned long long)l->size[0], skip ? "SKIP_CPU_SYNC" : "");
	}
	e->live[i] = e->live[--e->nlive];
}

static void op_sync(struct emitter *e, unsigned i)
{
	struct live *l = &e->live[i];
	bool for_cpu = below(e, 2);

	if (l->alloc)
		return;
	begin(e);
	if (l->n) {
		prefix(e, for_cpu ? "dma_sync_sg_for_cpu" : "dma_sync_sg_for_device");
		for (unsigned j = 0; j < l->n; j++) {
			if (for_cpu)
				iotlb_sync_for_cpu(e->dev[l->dev], l->dma[j], (size_t)l->size[j],
						   (enum iotlb_dir)l->dir);
			else
				iotlb_sync_for_device(e->dev[l->dev], l->dma[j], (size_t)l->size[j],
						      (enum iotlb_dir)l->dir);
		}
		fprintf(e->f, "%s dir=%s", dev_names[l->dev], rp_dir_name(l->dir));
		print_list(e->f, "dma_addrs", l->dma, l->n);
		print_list(e->f, "sizes", l->size, l->n);
		fprintf(e->f, "\n");
	} else {
		/* A range sync (dma_sync_single_range_*) starts inside the buffer. */
		uint64_t off = below(e, 2) ? 0 : below(e, l->size[0]);
		uint64_t len = 1 + below(e, l->size[0] - off);

		prefix(e, for_cpu ? "dma_sync_single_for_cpu" : "dma_sync_single_for_device");
		if (for_cpu)
			iotlb_sync_for_cpu(e->dev[l->dev], l->dma[0] + off, (size_t)len,
					   (enum iotlb_dir)l->dir);
		else
			iotlb_sync_for_device(e->dev[l->dev], l->dma[0] + off, (size_t)len,
					      (enum iotlb_dir)l->dir);
		fprintf(e->f, "%s dir=%s dma_addr=%llx size=%llu\n", dev_names[l->dev],
			rp_dir_name(l->dir), (unsigned long long)(l->dma[0] + off),
			(unsigned long long)len);
	}
}

static void header(struct emitter *e, const struct rp_config *cfg)
{
	fprintf(e->f, "# iotlb-replay --emit --seed %llu --events %lu: a synthetic capture.\n",
		e->p->seed, e->p->events);
	fprintf(e->f,
		"# replay it with: iotlb-replay --check --pool-base 0x%llx --pool-size %zu"
		" --areas %u --page-size %zu",
		(unsigned long long)cfg->pool_base, cfg->pool_size, cfg->nareas, cfg->page_size);
	if (cfg->slot_shift)
		fprintf(e->f, " --slot-shift %u", cfg->slot_shift);
	if (cfg->segment_slots)
		fprintf(e->f, " --segment-slots %u", cfg->segment_slots);
	for (unsigned i = 0; i < cfg->nrules; i++) {
		const struct rp_dev_rule *r = &cfg->rules[i];

		if (r->min_align_mask)
			fprintf(e->f, " --min-align %s=0x%llx", r->name,
				(unsigned long long)r->min_align_mask);
		if (r->alloc_align_mask)
			fprintf(e->f, " --alloc-align %s=0x%llx", r->name,
				(unsigned long long)r->alloc_align_mask);
		if (r->seg_boundary_mask)
			fprintf(e->f, " --seg-boundary %s=0x%llx", r->name,
				(unsigned long long)r->seg_boundary_mask);
		if (r->private_size)
			fprintf(e->f, " --private %s=%zu:%u", r->name, r->private_size,
				r->nqueues ? r->nqueues : 1);
	}
	fprintf(e->f, "\n");
	if (e->p->trace_cmd)
		fprintf(e->f, "cpus=%u\n", e->ncpus);
	else
		fprintf(e->f,
			"# tracer: nop\n#\n# entries-in-buffer/entries-written: %lu/%lu   "
			"#P:%u\n#\n"
			"#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
			"#              | |         |   |||||     |         |\n",
			e->p->events, e->p->events, e->ncpus);
}

static int setup(struct emitter *e, struct rp_config *cfg, void **pool)
{
	struct iotlb_mem_config mc = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	int err;

	for (unsigned d = 0; d < NDEV; d++) {
		struct rp_dev_rule *r = rp_config_rule(cfg, dev_names[d], false);

		if (!r && dev_min_align[d]) {
			r = rp_config_rule(cfg, dev_names[d], true);
			if (r)
				r->min_align_mask = dev_min_align[d];
		}
	}
	*pool = mmap(NULL, cfg->pool_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     0);
	e->orig_map = mmap(NULL, ORIG_LEN + ORIG_ALIGN, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*pool == MAP_FAILED || e->orig_map == MAP_FAILED)
		return -ENOMEM;
	e->orig = (unsigned char *)(((uintptr_t)e->orig_map + ORIG_ALIGN - 1) &
				    ~(uintptr_t)(ORIG_ALIGN - 1));
	mc.vaddr = *pool;
	mc.dma_addr = cfg->pool_base;
	mc.size = cfg->pool_size;
	mc.slot_shift = cfg->slot_shift;
	mc.segment_slots = cfg->segment_slots;
	mc.nareas = cfg->nareas;
	mc.page_size = cfg->page_size;
	mc.lock = cfg->lock;
	mc.select = IOTLB_SELECT_THREAD; /* as the replay engine: allocs have no queue */
	err = iotlb_mem_create(&mc, &e->mem);
	if (err)
		return err;
	for (unsigned d = 0; d < NDEV; d++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
		const struct rp_dev_rule *r = rp_config_rule(cfg, dev_names[d], false);

		if (r) {
			dc.min_align_mask = r->min_align_mask;
			dc.alloc_align_mask = r->alloc_align_mask;
			dc.seg_boundary_mask = r->seg_boundary_mask;
			dc.private_size = r->private_size;
			dc.nqueues = r->nqueues;
		}
		err = iotlb_dev_create(e->mem, &dc, &e->dev[d]);
		if (err)
			return err;
	}
	if (iotlb_mem_stats(e->mem, &st) == 0)
		e->nslots = st.nslots;
	return 0;
}

int rp_emit(FILE *f, struct rp_config *cfg, const struct rp_emit_params *p)
{
	struct emitter *e = calloc(1, sizeof(*e));
	void *pool = MAP_FAILED;
	int err;

	if (!e)
		return -1;
	e->f = f;
	e->p = p;
	e->rng = p->seed * 0x9e3779b97f4a7c15ull + 1;
	e->ts_us = 100000000; /* 100 s after boot */
	/* Without --areas, one area per CPU of the workload (4), which is also
	 * what a replay without --areas derives from the trace. */
	if (!cfg->nareas)
		cfg->nareas = 4;
	e->ncpus = cfg->nareas > 4 ? cfg->nareas : 4;
	err = setup(e, cfg, &pool);
	if (err) {
		fprintf(stderr, "iotlb-replay --emit: cannot set up the allocator: %s\n",
			iotlb_strerror(err));
	} else {
		header(e, cfg);
		for (unsigned long i = 0; i < p->events; i++) {
			struct iotlb_stats st = IOTLB_STATS_INIT;
			unsigned r = (unsigned)below(e, 100);
			/* Lean towards releasing as the pool fills, so it rarely runs dry. */
			bool full =
				iotlb_mem_stats(e->mem, &st) == 0 && st.used * 10 > e->nslots * 7;

			if (r < 2) {
				begin(e);
				prefix(e, "sched_switch");
				fprintf(f, "prev_comm=fio prev_pid=101 prev_prio=120 prev_state=S "
					   "==> next_comm=swapper/0 next_pid=0 next_prio=120\n");
			} else if (e->nlive < MAX_LIVE && !full && r < 40) {
				if (r < 30)
					op_map(e);
				else if (r < 37)
					op_map_sg(e);
				else
					op_alloc(e);
			} else if (e->nlive && r < 55) {
				op_sync(e, (unsigned)below(e, e->nlive));
			} else if (e->nlive) {
				op_release(e, (unsigned)below(e, e->nlive));
			}
		}
		while (e->nlive)
			op_release(e, e->nlive - 1);
	}
	for (unsigned d = 0; d < NDEV; d++)
		if (e->dev[d])
			iotlb_dev_destroy(e->dev[d]);
	if (e->mem)
		iotlb_mem_destroy(e->mem);
	if (pool != MAP_FAILED)
		munmap(pool, cfg->pool_size);
	if (e->orig_map && e->orig_map != MAP_FAILED)
		munmap(e->orig_map, ORIG_LEN + ORIG_ALIGN);
	free(e);
	return err ? -1 : 0;
}
