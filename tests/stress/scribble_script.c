/* SPDX-License-Identifier: MIT */
/*
 * A fixed script of maps, allocations, syncs and releases applied to several
 * instances in lockstep. The first instance is the reference; after every
 * operation the others must return the same results and hold the same
 * metadata (free runs, per-slot records, cursors, used counts).
 */
#include "scribble.h"

static void fill_region(struct inst *in, int mode, uint64_t *rng)
{
	if (mode == FILL_NONE || mode == FILL_CONCURRENT)
		return;
	if (mode == FILL_RANDOM) {
		uint64_t *w = (uint64_t *)(void *)in->region;

		for (size_t i = 0; i < in->region_size / sizeof(*w); i++)
			w[i] = splitmix64(rng);
	} else {
		memset(in->region, mode, in->region_size);
	}
}

void assert_same_state(const struct inst *ref, const struct inst *in, unsigned step,
		       bool cursors)
{
	const struct iotlb__pool *a = inst_pool(ref), *b = inst_pool(in);
	struct iotlb_stats sa = IOTLB_STATS_INIT, sb = IOTLB_STATS_INIT;

	assert_int_equal(a->nslots, b->nslots);
	assert_int_equal(a->nareas, b->nareas);
	for (uint64_t i = 0; i < a->nslots; i++) {
		const struct iotlb__slot *x = &a->slots[i], *y = &b->slots[i];
		uint64_t xo = x->orig ? x->orig - (uintptr_t)ref->arena : 0;
		uint64_t yo = y->orig ? y->orig - (uintptr_t)in->arena : 0;

		if (iotlb__slots_free_run(a, i) != iotlb__slots_free_run(b, i) || x->kind != y->kind || x->owner != y->owner ||
		    x->alloc_size != y->alloc_size || x->pad_slots != y->pad_slots || xo != yo)
			fail_msg("step %u, %s vs %s, slot %llu: list %u/%u kind %u/%u owner %u/%u "
				 "alloc_size %lld/%lld pad %u/%u orig+%llu/+%llu",
				 step, ref->name, in->name, (unsigned long long)i, iotlb__slots_free_run(a, i),
				 iotlb__slots_free_run(b, i), x->kind, y->kind, x->owner, y->owner,
				 (long long)x->alloc_size, (long long)y->alloc_size, x->pad_slots,
				 y->pad_slots, (unsigned long long)xo, (unsigned long long)yo);
	}
	for (unsigned k = 0; k < a->nareas; k++) {
		const struct iotlb__area *x = iotlb__area_at(a, k), *y = iotlb__area_at(b, k);

		if ((cursors && x->index != y->index) || x->used != y->used)
			fail_msg("step %u, %s vs %s, area %u: cursor %llu/%llu used %llu/%llu",
				 step, ref->name, in->name, k, (unsigned long long)x->index,
				 (unsigned long long)y->index, (unsigned long long)x->used,
				 (unsigned long long)y->used);
	}
	assert_int_equal(iotlb_mem_stats(ref->mem, &sa), 0);
	assert_int_equal(iotlb_mem_stats(in->mem, &sb), 0);
	assert_int_equal(sa.used, sb.used);
}

static unsigned char orig_byte(unsigned step, size_t i)
{
	return (unsigned char)(i * 7u + step);
}

static bool holds_orig_bytes(const unsigned char *p, size_t n, unsigned step)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != orig_byte(step, i))
			return false;
	return true;
}

/* The bytes a pretend device writes into a FROM_DEVICE / BIDIRECTIONAL bounce. */
static unsigned char device_byte(unsigned step, size_t i)
{
	return (unsigned char)(step * 13u + i * 5u + 1u);
}


static void script_map(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];
	unsigned d = (unsigned)rnd_below(&s->rng, NDEVS);
	int queue = (int)rnd_below(&s->rng, 8); /* explicit, to start in every area */
	bool coherent = rnd_below(&s->rng, 8) == 0;
	int err0 = 0;

	*l = (struct step_live){ .dev = d, .coherent = coherent, .map_step = step };
	l->off = (size_t)rnd_below(&s->rng, 4096);
	l->size = coherent ? 1 + (size_t)rnd_below(&s->rng, COHERENT_MAX) : pick_size(&s->rng);
	l->dir = (enum iotlb_dir)rnd_below(&s->rng, 3);

	for (unsigned k = 0; k < s->ninst; k++) {
		struct inst *in = &s->in[k];
		unsigned char *orig = orig_at(in, j, l->off);
		struct iotlb_dev *dev = in->dev[d];
		uint64_t dma = 0;
		void *va = NULL;
		int err;

		guards_set(in, j, l->off, l->size);
		for (size_t i = 0; i < l->size; i++)
			orig[i] = orig_byte(step, i);
		if (coherent)
			err = iotlb_alloc(dev, l->size, &va, &dma);
		else
			err = iotlb_map(dev, queue, orig, l->size, l->dir, IOTLB_ATTR_NO_WARN,
					&dma);
		if (k == 0) {
			err0 = err;
			l->dma = dma;
			if (coherent)
				assert_true(err == 0 || err == -ENOSPC);
			else if (!map_result_allowed(dev, l->size, err))
				fail_msg("step %u: map %zu on dev %u: %d", step, l->size, d, err);
		} else if (err != err0 || (!err && dma != l->dma)) {
			fail_msg("step %u, %s: %s %zu on dev %u gave %d %#llx, reference %d %#llx",
				 step, in->name, coherent ? "alloc" : "map", l->size, d, err,
				 (unsigned long long)dma, err0, (unsigned long long)l->dma);
		}
		if (err)
			continue;
		if (coherent) {
			assert_ptr_equal(va, in->region + (dma - DMA_BASE));
			if (s->mode[k] != FILL_CONCURRENT)
				assert_true(all_bytes(va, l->size, 0));
			continue;
		}
		assert_int_equal(dma & dev_shapes[d].min_align,
				 (uintptr_t)orig & dev_shapes[d].min_align);
		if (s->mode[k] == FILL_CONCURRENT)
			continue;
		/* The map copied the original in, over whatever the region held. */
		assert_memory_equal(in->region + (dma - DMA_BASE), orig, l->size);
		if (l->dir != IOTLB_TO_DEVICE)
			for (size_t i = 0; i < l->size; i++)
				in->region[dma - DMA_BASE + i] = device_byte(step, i);
	}
	l->used = err0 == 0;
	s->maps += err0 == 0;
	s->nospace += err0 == -ENOSPC;
	s->too_big += err0 == -E2BIG;
}

static void script_sync(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];
	size_t from = (size_t)rnd_below(&s->rng, l->size);
	size_t len = 1 + (size_t)rnd_below(&s->rng, l->size - from);
	bool to_cpu = rnd_below(&s->rng, 2);

	for (unsigned k = 0; k < s->ninst; k++) {
		struct iotlb_dev *dev = s->in[k].dev[l->dev];
		int err = to_cpu ? iotlb_sync_for_cpu(dev, l->dma + from, len, l->dir)
				 : iotlb_sync_for_device(dev, l->dma + from, len, l->dir);

		if (err)
			fail_msg("step %u, %s: sync of a live mapping: %d", step, s->in[k].name,
				 err);
	}
}

static void script_release(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];

	for (unsigned k = 0; k < s->ninst; k++) {
		struct inst *in = &s->in[k];
		struct iotlb_dev *dev = in->dev[l->dev];
		unsigned char *orig = orig_at(in, j, l->off);
		const unsigned char *bounce = in->region + (l->dma - DMA_BASE);
		bool racy = s->mode[k] == FILL_CONCURRENT;
		int err;

		if (l->coherent) {
			assert_int_equal(iotlb_free(dev, l->dma, l->size), 0);
		} else {
			if (!racy)
				memcpy(s->before, bounce, l->size);
			err = iotlb_unmap(dev, l->dma, l->size, l->dir, 0);
			if (err)
				fail_msg("step %u, %s: unmap of live %#llx: %d", step, in->name,
					 (unsigned long long)l->dma, err);
			/* Exactly the mapped bytes come back: what the bounce held. */
			if (!racy && l->dir != IOTLB_TO_DEVICE)
				assert_memory_equal(orig, s->before, l->size);
			/* TO_DEVICE copies nothing back, whatever the bounce holds. */
			if (l->dir == IOTLB_TO_DEVICE &&
			    !holds_orig_bytes(orig, l->size, l->map_step))
				fail_msg("step %u, %s: TO_DEVICE original changed", step, in->name);
		}
		if (!guards_intact(in, j, l->off, l->size))
			fail_msg("step %u, %s: guard around %#llx overwritten", step, in->name,
				 (unsigned long long)l->dma);
	}
	l->used = false;
}

/* Runs `nsteps` operations in lockstep, filling regions before each one. */
void script_run(struct script *s, unsigned nsteps)
{
	s->before = malloc(MAX_MAP);
	assert_non_null(s->before);
	for (unsigned step = 0; step < nsteps + NLIVE; step++) {
		/* After nsteps, only releases: every script ends empty. */
		unsigned j = step < nsteps ? (unsigned)rnd_below(&s->rng, NLIVE) : step - nsteps;

		for (unsigned k = 0; k < s->ninst; k++)
			fill_region(&s->in[k], s->mode[k], &s->fill_rng[k]);
		if (!s->live[j].used) {
			if (step < nsteps)
				script_map(s, step, j);
		} else {
			if (step < nsteps && !s->live[j].coherent && rnd_below(&s->rng, 3) == 0) {
				script_sync(s, step, j);
				for (unsigned k = 0; k < s->ninst; k++)
					fill_region(&s->in[k], s->mode[k], &s->fill_rng[k]);
			}
			script_release(s, step, j);
		}
		for (unsigned k = 0; k < s->ninst; k++) {
			assert_consistent(&s->in[k], "during the script");
			if (k)
				assert_same_state(&s->in[0], &s->in[k], step, true);
		}
	}
	free(s->before);
}
