/* SPDX-License-Identifier: MIT */
/*
 * Replays trace events against one libiotlb configuration. Live mappings are
 * found by the trace's addresses (dma_addr for unmap and sync, the original
 * address for unmap_sg, which prints only that); each remembers the bounce
 * address libiotlb chose so unmaps and syncs reach the right slots.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sync may start inside a mapping; look this many units back for its start. */
#define SYNC_LOOKBACK 512

/* ------------------------------------------------------------------ helpers */

static void count_failure(struct rp_run *run, int err, unsigned line)
{
	unsigned e = (unsigned)-err;

	run->c.failures[e < RP_MAX_ERRNO ? e : 0]++;
	if (run->nfail_lines < RP_MAX_NOTES)
		run->fail_lines[run->nfail_lines++] = line;
}

unsigned rp_run_dev(struct rp_run *run, const char *name)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	const struct rp_dev_rule *rule = NULL;
	struct rp_dev *d;

	for (unsigned i = 0; i < run->ndevs; i++)
		if (strcmp(run->devs[i].name, name) == 0)
			return i;
	if (run->ndevs == run->devs_cap) {
		unsigned cap = run->devs_cap ? run->devs_cap * 2 : 16;
		struct rp_dev *devs = realloc(run->devs, cap * sizeof(*devs));

		if (!devs)
			return UINT32_MAX;
		run->devs = devs;
		run->devs_cap = cap;
	}
	d = &run->devs[run->ndevs];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	for (unsigned i = 0; i < run->cfg->nrules; i++)
		if (strcmp(run->cfg->rules[i].name, name) == 0)
			rule = &run->cfg->rules[i];
	if (rule) {
		dc.min_align_mask = rule->min_align_mask;
		dc.alloc_align_mask = rule->alloc_align_mask;
		dc.seg_boundary_mask = rule->seg_boundary_mask;
		dc.private_size = rule->private_size;
		dc.nqueues = rule->nqueues;
	}
	d->create_err = iotlb_dev_create(run->mem, &dc, &d->dev);
	if (d->create_err) {
		d->dev = NULL;
		if (!run->error[0])
			snprintf(run->error, sizeof(run->error),
				 "device %.64s: %s: every request fails", name,
				 iotlb_strerror(d->create_err));
	} else if (dc.private_size) {
		struct iotlb_stats st = IOTLB_STATS_INIT;

		d->is_private = true;
		if (iotlb_dev_stats(d->dev, &st) == 0)
			d->carved = st.nslots;
	}
	run->c.devices++;
	return run->ndevs++;
}

static uint32_t new_entry(struct rp_run *run)
{
	uint32_t id;

	if (run->free_head) {
		id = run->free_head - 1;
		run->free_head = run->entries[id].next_free;
		return id;
	}
	if (run->nentries == run->entries_cap) {
		uint32_t cap = run->entries_cap ? run->entries_cap * 2 : 1024;
		struct rp_entry *e = realloc(run->entries, cap * sizeof(*e));

		if (!e || cap < run->entries_cap)
			return UINT32_MAX;
		run->entries = e;
		run->entries_cap = cap;
	}
	return run->nentries++;
}

static void drop_entry(struct rp_run *run, uint32_t id)
{
	struct rp_entry *e = &run->entries[id];

	rp_table_del(&run->by_dma, rp_table_key(e->dev, e->trace_dma >> KEY_SHIFT), id);
	if (e->kind == E_SG)
		rp_table_del(&run->by_phys, rp_table_key(e->dev, e->trace_phys), id);
	e->live = false;
	e->next_free = run->free_head;
	run->free_head = id + 1;
}

static void note_diff(struct rp_run *run, unsigned line, uint64_t trace_dma, uint64_t lib_dma)
{
	struct rp_diff *d;

	if (run->ndiffs == RP_MAX_DIFFS)
		return;
	d = &run->diffs[run->ndiffs++];
	d->line = line;
	d->trace_dma = trace_dma;
	d->lib_dma = lib_dma;
	d->ntext = run->ncontext;
	for (unsigned i = 0; i < run->ncontext; i++) {
		size_t n = run->context_len[i] < sizeof(d->text[i]) - 1 ? run->context_len[i]
									: sizeof(d->text[i]) - 1;

		memcpy(d->text[i], run->context[i], n);
		d->text[i][n] = '\0';
		for (size_t j = 0; j < n; j++) /* keep the report printable */
			if ((unsigned char)d->text[i][j] < 0x20 || d->text[i][j] == 0x7f)
				d->text[i][j] = ' ';
	}
}

/* Whether the kernel bounced trace_dma through the guest's pool. */
static bool kernel_bounced(const struct rp_config *cfg, uint64_t trace_dma)
{
	uint64_t base = cfg->trace_size ? cfg->trace_base : cfg->pool_base;
	uint64_t size = cfg->trace_size ? cfg->trace_size : cfg->pool_size;

	return trace_dma >= base && trace_dma - base < size;
}

/* Placement check of one bounce the kernel made at trace_dma. */
static void compare(struct rp_run *run, unsigned line, uint64_t trace_dma, int err, uint64_t lib)
{
	if (!run->check)
		return;
	if (!err && lib == trace_dma) {
		run->c.identical++;
	} else {
		run->c.differs++;
		note_diff(run, line, trace_dma, err ? 0 : lib);
	}
}

/* One bounce: map (or alloc) it and remember it under its trace address. */
static void map_one(struct rp_run *run, const struct rp_event *ev, unsigned line, unsigned dev,
		    unsigned char kind, uint64_t phys, uint64_t dma, uint64_t size)
{
	struct rp_dev *d = &run->devs[dev];
	bool bounced = kernel_bounced(run->cfg, dma);
	bool replay = bounced || run->cfg->replay_unbounced;
	uint64_t lib = 0;
	uint32_t id;
	int err = 0;

	if (!bounced)
		run->c.not_comparable++;
	if (replay)
		(*(kind == E_MAP  ? &run->c.maps
		   : kind == E_SG ? &run->c.sg_entries
				  : &run->c.allocs))++;
	if (!replay) {
		/* Replaying it would move cursors the kernel never moved. */
		run->c.unbounced++;
	} else if (!d->dev) {
		err = d->create_err;
	} else if (kind == E_ALLOC) {
		void *va;

		err = iotlb_alloc(d->dev, (size_t)size, &va, &lib);
	} else if (size > run->orig_span) {
		err = -E2BIG; /* larger than any replayable original: see ORIG_SPAN */
	} else {
		void *orig = run->orig_base + (phys & (run->orig_align - 1));

		err = iotlb_map(d->dev, ev->cpu, orig, (size_t)size, (enum iotlb_dir)ev->dir,
				IOTLB_ATTR_NO_WARN, &lib);
	}
	if (err)
		count_failure(run, err, line);
	if (bounced)
		compare(run, line, dma, err, lib);

	id = new_entry(run);
	if (id == UINT32_MAX)
		return;
	run->entries[id] = (struct rp_entry){.trace_dma = dma,
					     .trace_phys = phys,
					     .size = size,
					     .lib_dma = lib,
					     .dev = dev,
					     .line = line,
					     .kind = kind,
					     .dir = (unsigned char)ev->dir,
					     .ok = replay && !err,
					     .live = true,
					     .replayed = replay};
	if (rp_table_add(&run->by_dma, rp_table_key(dev, dma >> KEY_SHIFT), id) ||
	    (kind == E_SG && rp_table_add(&run->by_phys, rp_table_key(dev, phys), id)))
		drop_entry(run, id);
}

/* The live entry starting exactly at trace address dma, of one of `kinds`. */
static uint32_t find_exact(struct rp_run *run, unsigned dev, uint64_t dma, unsigned kinds)
{
	uint64_t key = rp_table_key(dev, dma >> KEY_SHIFT);
	size_t pos = 0;
	uint32_t id;

	while (rp_table_next(&run->by_dma, key, &pos, &id)) {
		struct rp_entry *e = &run->entries[id];

		if (e->dev == dev && e->trace_dma == dma && (kinds & (1u << e->kind)))
			return id;
	}
	return UINT32_MAX;
}

/* The live streaming mapping whose trace range holds dma. */
static uint32_t find_range(struct rp_run *run, unsigned dev, uint64_t dma)
{
	uint64_t unit = dma >> KEY_SHIFT;

	for (uint64_t back = 0; back <= SYNC_LOOKBACK && back <= unit; back++) {
		uint64_t key = rp_table_key(dev, unit - back);
		size_t pos = 0;
		uint32_t id;

		while (rp_table_next(&run->by_dma, key, &pos, &id)) {
			struct rp_entry *e = &run->entries[id];

			if (e->dev == dev && e->kind != E_ALLOC && e->trace_dma <= dma &&
			    dma - e->trace_dma < (e->size ? e->size : 1))
				return id;
		}
	}
	return UINT32_MAX;
}

static void note_unmatched(struct rp_run *run, unsigned line)
{
	run->c.unmatched_unmaps++;
	if (run->nunmatched_lines < RP_MAX_NOTES)
		run->unmatched_lines[run->nunmatched_lines++] = line;
}

static void release(struct rp_run *run, uint32_t id, const struct rp_event *ev, uint64_t size)
{
	struct rp_entry *e = &run->entries[id];
	struct iotlb_dev *dev = run->devs[e->dev].dev;
	int err;

	if (!e->replayed) {
		/* nothing was mapped */
	} else if (!e->ok) {
		run->c.skipped_after_failure++;
	} else if (e->kind == E_ALLOC) {
		err = iotlb_free(dev, e->lib_dma, (size_t)size);
		if (err) {
			/* The kernel freed it: do so with the recorded size. */
			run->c.call_errors++;
			iotlb_free(dev, e->lib_dma, (size_t)e->size);
		} else {
			run->c.frees++;
		}
	} else {
		err = iotlb_unmap(dev, e->lib_dma, (size_t)size, (enum iotlb_dir)ev->dir,
				  ev->skip_cpu_sync ? IOTLB_ATTR_SKIP_CPU_SYNC : 0);
		if (err) {
			/* Refused (a size of 0, direction NONE): the kernel unmapped
			 * it, so release it as it was mapped to stay in step. */
			run->c.call_errors++;
			iotlb_unmap(dev, e->lib_dma, (size_t)e->size, (enum iotlb_dir)e->dir,
				    IOTLB_ATTR_SKIP_CPU_SYNC);
		} else {
			run->c.unmaps++;
		}
	}
	drop_entry(run, id);
}

static void sync_one(struct rp_run *run, unsigned dev, uint64_t dma, uint64_t size, unsigned dir,
		     bool for_cpu)
{
	uint32_t id = find_range(run, dev, dma);
	struct rp_entry *e;
	uint64_t at;
	int err;

	if (id == UINT32_MAX) {
		run->c.unmatched_syncs++;
		return;
	}
	e = &run->entries[id];
	if (!e->ok) {
		if (e->replayed)
			run->c.skipped_after_failure++;
		return;
	}
	at = e->lib_dma + (dma - e->trace_dma);
	if (for_cpu)
		err = iotlb_sync_for_cpu(run->devs[dev].dev, at, (size_t)size, (enum iotlb_dir)dir);
	else
		err = iotlb_sync_for_device(run->devs[dev].dev, at, (size_t)size,
					    (enum iotlb_dir)dir);
	if (err)
		run->c.call_errors++;
	else
		run->c.syncs++;
}

/* ----------------------------------------------------------------- sampling */

static uint64_t used_now(struct rp_run *run)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t used;

	if (iotlb_mem_stats(run->mem, &st))
		return 0;
	used = st.used;
	/* Carved slots count as used in the shared pools; count what the
	 * private pools actually hold instead. */
	for (unsigned i = 0; i < run->ndevs; i++) {
		struct iotlb_stats ds = IOTLB_STATS_INIT;

		if (!run->devs[i].is_private || iotlb_dev_stats(run->devs[i].dev, &ds))
			continue;
		used = used - run->devs[i].carved + ds.used;
	}
	return used;
}

static void sample(struct rp_run *run, uint64_t t_ns)
{
	struct rp_series *s = &run->series;
	uint64_t used = used_now(run);

	if (used > run->c.used_hiwater)
		run->c.used_hiwater = used;
	for (unsigned a = 0; a < run->nareas; a++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		if (iotlb_mem_area_stats(run->mem, 0, a, &as))
			continue;
		if (as.used > run->areas[a].used_peak)
			run->areas[a].used_peak = as.used;
	}
	if (s->pending == 0) {
		if (s->n == RP_SERIES_MAX) {
			/* Full: halve the resolution, keeping each pair's peak. */
			for (unsigned i = 0; i < RP_SERIES_MAX / 2; i++) {
				uint64_t a = s->used[2 * i], b = s->used[2 * i + 1];

				s->t_ns[i] = s->t_ns[2 * i];
				s->used[i] = a > b ? a : b;
			}
			s->n = RP_SERIES_MAX / 2;
			s->stride *= 2;
		}
		s->t_ns[s->n] = t_ns;
		s->used[s->n] = used;
		s->n++;
	} else if (used > s->used[s->n - 1]) {
		s->used[s->n - 1] = used;
	}
	if (++s->pending >= s->stride)
		s->pending = 0;
}

/* ------------------------------------------------------------------- events */

void rp_run_event(struct rp_run *run, const struct rp_event *ev, unsigned line)
{
	unsigned dev;
	uint32_t id;

	if (ev->kind == RP_IGNORED) {
		run->c.ignored++;
		return;
	}
	dev = rp_run_dev(run, ev->dev);
	if (dev == UINT32_MAX)
		return;
	switch (ev->kind) {
	case RP_MAP:
		if (ev->dma == RP_DMA_ERROR) {
			run->c.kernel_failed++; /* the driver never unmaps it */
			return;
		}
		map_one(run, ev, line, dev, E_MAP, ev->phys, ev->dma, ev->size);
		break;
	case RP_MAP_SG:
		run->c.sg_maps++;
		for (unsigned i = 0; i < ev->n; i++) {
			map_one(run, ev, line, dev, E_SG, ev->sg_phys[i], ev->sg_dma[i],
				ev->sg_size[i]);
		}
		break;
	case RP_ALLOC:
		if (ev->dma == 0) {
			run->c.kernel_failed++; /* a failed alloc prints dma_addr=0 */
			return;
		}
		map_one(run, ev, line, dev, E_ALLOC, 0, ev->dma, ev->size);
		break;
	case RP_UNMAP:
	case RP_FREE:
		id = find_exact(run, dev, ev->dma,
				ev->kind == RP_FREE ? 1u << E_ALLOC : (1u << E_MAP) | (1u << E_SG));
		if (id == UINT32_MAX)
			note_unmatched(run, line);
		else
			release(run, id, ev, ev->size);
		break;
	case RP_UNMAP_SG:
		run->c.sg_unmaps++;
		for (unsigned i = 0; i < ev->n; i++) {
			uint64_t key = rp_table_key(dev, ev->sg_phys[i]);
			size_t pos = 0;
			bool found = false;

			while (!found && rp_table_next(&run->by_phys, key, &pos, &id)) {
				struct rp_entry *e = &run->entries[id];

				if (e->dev == dev && e->trace_phys == ev->sg_phys[i]) {
					release(run, id, ev, e->size);
					found = true;
				}
			}
			if (!found)
				note_unmatched(run, line);
		}
		break;
	case RP_SYNC_CPU:
	case RP_SYNC_DEV:
		sync_one(run, dev, ev->dma, ev->size, ev->dir, ev->kind == RP_SYNC_CPU);
		break;
	case RP_SYNC_SG_CPU:
	case RP_SYNC_SG_DEV:
		for (unsigned i = 0; i < ev->n; i++)
			sync_one(run, dev, ev->sg_dma[i], ev->sg_size[i], ev->dir,
				 ev->kind == RP_SYNC_SG_CPU);
		break;
	default:
		break;
	}
	sample(run, ev->ts_ns);
}
