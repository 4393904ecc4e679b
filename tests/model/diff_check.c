/* SPDX-License-Identifier: MIT */
/*
 * The differential test's comparisons: after every operation the library's
 * answer, log lines, bytes, free-run counters, per-slot state, areas and
 * statistics must equal the model's; any difference ends the run with a replay line.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

void diff_describe(const struct run *r, FILE *f)
{
	const struct model *m = &r->m;

	fprintf(f, "config %u: nslots %" PRIu64 " dma_addr 0x%" PRIx64 " slot_shift %u "
		   "segment_slots %u block_slots %" PRIu64 " page_size %" PRIu64
		   " nareas requested %u -> %u (area_nslots %" PRIu64 ") lock %s select %d "
		   "flags 0x%x%s\n",
		r->cfg_index, r->mp.nslots, r->mp.dma_addr, r->mp.slot_shift, r->mp.segment_slots,
		m->block_slots, r->mp.page_size, r->mp.nareas_req, m->nareas, m->area_nslots,
		r->lock == IOTLB_LOCK_NONE ? "none" : "mutex", (int)r->select, r->flags,
		r->huge ? " (huge, mmap NORESERVE)" : "");
	for (unsigned k = 1; k < m->shared.npools; k++)
		fprintf(f, "  pool %u: nslots %" PRIu64 " dma_addr 0x%" PRIx64 " nareas %u\n", k,
			m->shared.pools[k]->nslots, m->shared.pools[k]->dma_addr,
			m->shared.pools[k]->nareas);
	for (unsigned k = 0; k < MAX_DEVS; k++) {
		const struct model_private *pv;

		if (!r->ldev[k])
			continue;
		fprintf(f, "  dev%u: min_align 0x%" PRIx64 " alloc_align 0x%" PRIx64
			   " seg_boundary 0x%" PRIx64 "\n",
			k, r->mdev[k].min_align_mask, r->mdev[k].alloc_align_mask,
			r->mdev[k].seg_boundary_mask);
		pv = model_private_of(m, k);
		if (pv)
			fprintf(f, "        private: pool %u slot %" PRIu64 ", %" PRIu64
				   " slots at 0x%" PRIx64 ", %u children (asked %" PRIu64
				   " bytes, %u queues)\n",
				pv->dom.pools[0]->parent->index, pv->dom.pools[0]->parent_slot,
				pv->dom.pools[0]->nslots, pv->dom.pools[0]->dma_addr,
				pv->dom.pools[0]->nareas, r->priv_size[k], r->priv_queues[k]);
	}
}

void diff_mismatch(struct run *r, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "\nMISMATCH: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	diff_describe(r, stderr);
	fprintf(stderr, "operation %u: %s\n", r->op, r->opdesc);
	fprintf(stderr, "earlier operations (oldest first):\n");
	for (unsigned k = HISTORY - 1; k > 0; k--)
		if (r->op >= k && r->history[(r->op - k) % HISTORY][0])
			fprintf(stderr, "  %u: %s\n", r->op - k, r->history[(r->op - k) % HISTORY]);
	fprintf(stderr, "replay with IOTLB_SEED=%" PRIu64 " (or --seed %" PRIu64 " --config %u)\n",
		r->seed, r->seed, r->cfg_index);
	exit(1);
}

void diff_set_op(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->opdesc, sizeof(r->opdesc), fmt, ap);
	va_end(ap);
	snprintf(r->history[r->op % HISTORY], sizeof(r->history[0]), "%s", r->opdesc);
	r->nlogs = 0;
	if (r->verbose)
		printf("  op %u: %s\n", r->op, r->opdesc);
}

void diff_log_cb(void *ctx, int level, const char *msg)
{
	struct run *r = ctx;

	if (r->nlogs < MAX_LOGS) {
		r->log_level[r->nlogs] = level;
		snprintf(r->log_msg[r->nlogs], sizeof(r->log_msg[0]), "%s", msg);
	}
	r->nlogs++;
}

/* ------------------------------------------------------------------ checks */

void diff_expect_rc(struct run *r, const char *what, int got, int want)
{
	if (got != want)
		diff_mismatch(r, "%s returned %d (%s), model says %d (%s)", what, got,
			 iotlb_strerror(got), want, iotlb_strerror(want));
}

void diff_tally(struct run *r, enum op_kind op, int rc)
{
	enum op_result res = RES_OK;

	if (rc == -ENOSPC)
		res = RES_ENOSPC;
	else if (rc == -E2BIG)
		res = RES_E2BIG;
	else if (rc == -EINVAL)
		res = RES_EINVAL;
	else if (rc == -ENOENT)
		res = RES_ENOENT;
	else if (rc == -EBUSY)
		res = RES_EBUSY;
	r->tally[op][res]++;
}

/* The log lines of one operation: none, or exactly the expected ones. */
static void expect_logs(struct run *r, unsigned n, const int *levels, char (*msgs)[256])
{
	if (r->nlogs != n)
		diff_mismatch(r, "%u log lines, expected %u (first: '%s')", r->nlogs, n,
			 r->nlogs ? r->log_msg[0] : "");
	for (unsigned k = 0; k < n && k < MAX_LOGS; k++) {
		if (r->log_level[k] != levels[k] || strcmp(r->log_msg[k], msgs[k]))
			diff_mismatch(r, "log line %u: level %d '%s', expected level %d '%s'", k,
				 r->log_level[k], r->log_msg[k], levels[k], msgs[k]);
	}
}

void diff_expect_no_logs(struct run *r)
{
	expect_logs(r, 0, NULL, NULL);
}

void diff_expect_full_log(struct run *r, uint64_t padded, uint64_t total, uint64_t used_before)
{
	int level = IOTLB_LOG_ERR;
	char msg[1][256];

	snprintf(msg[0], sizeof(msg[0]),
		 "swiotlb buffer is full (sz: %zu bytes), total %lu (slots), used %lu (slots)",
		 (size_t)padded, (unsigned long)total, (unsigned long)used_before);
	expect_logs(r, 1, &level, msg);
}

void diff_expect_copy_logs(struct run *r, const struct model_copy *c)
{
	int level = IOTLB_LOG_WARNING;
	char msg[1][256];

	if (!c->any || !c->clamped) {
		diff_expect_no_logs(r);
		return;
	}
	snprintf(msg[0], sizeof(msg[0]),
		 "Buffer overflow detected. Allocation size: %zu. Mapping size: %zu.",
		 (size_t)c->avail, (size_t)c->requested);
	expect_logs(r, 1, &level, msg);
}

static uint8_t lib_kind(enum model_slot_kind k)
{
	switch (k) {
	case MODEL_SLOT_PAD:
		return IOTLB__SLOT_PAD;
	case MODEL_SLOT_MAP_HEAD:
		return IOTLB__SLOT_MAP_HEAD;
	case MODEL_SLOT_MAP_DATA:
		return IOTLB__SLOT_MAP_DATA;
	case MODEL_SLOT_COHERENT_HEAD:
		return IOTLB__SLOT_COHERENT_HEAD;
	case MODEL_SLOT_COHERENT_DATA:
		return IOTLB__SLOT_COHERENT_DATA;
	case MODEL_SLOT_CARVED:
		return IOTLB__SLOT_CARVED;
	case MODEL_SLOT_FREE:
	default:
		return IOTLB__SLOT_FREE;
	}
}

/* The figures of one domain: iotlb_mem_stats, or iotlb_dev_stats of a device. */
static void compare_stats(struct run *r, const char *who, const struct iotlb_stats *s,
			  const struct model_domain *dom, const struct model_stats *ms,
			  uint64_t nqueues)
{
#define SAME(field, want)                                                               \
	do {                                                                            \
		if (s->field != (uint64_t)(want))                                       \
			diff_mismatch(r, "%s stats." #field " %" PRIu64 ", model %" PRIu64, \
				      who, (uint64_t)s->field, (uint64_t)(want));       \
	} while (0)
	SAME(nslots, dom->nslots);
	SAME(used, ms->used);
	SAME(used_hiwater, ms->used_hiwater);
	SAME(transient_nslots, 0);
	SAME(npools, dom->npools);
	SAME(nareas, dom->max_nareas);
	SAME(nqueues, nqueues);
	SAME(maps, ms->maps);
	SAME(map_fail_nospace, ms->map_fail_nospace);
	SAME(map_fail_too_big, ms->map_fail_too_big);
	SAME(unmaps, ms->unmaps);
	SAME(allocs, ms->allocs);
	SAME(frees, ms->frees);
	SAME(syncs, ms->syncs);
	SAME(bounced_to_device, ms->bounced_to_device);
	SAME(bounced_to_cpu, ms->bounced_to_cpu);
	SAME(overflow_clamps, ms->overflow_clamps);
	SAME(area_fallbacks, ms->area_fallbacks);
#undef SAME
}

static void compare_all_stats(struct run *r)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;
	char who[32];

	if (iotlb_mem_stats(r->mem, &s))
		diff_mismatch(r, "iotlb_mem_stats failed");
	compare_stats(r, "mem", &s, &r->m.shared, &r->m.st, 0);
	for (unsigned k = 0; k < MAX_DEVS; k++) {
		const struct model_private *pv = model_private_of(&r->m, k);

		if (!r->ldev[k] || (!pv && k > 0))
			continue; /* a shared device reads the mem's figures: dev0 shows it */
		s = (struct iotlb_stats)IOTLB_STATS_INIT;
		if (iotlb_dev_stats(r->ldev[k], &s))
			diff_mismatch(r, "iotlb_dev_stats(dev%u) failed", k);
		snprintf(who, sizeof(who), "dev%u", k);
		compare_stats(r, who, &s, model_dev_domain(&r->m, k), model_dev_stats(&r->m, k),
			      pv ? pv->dom.pools[0]->nareas : 0);
	}
}

/* One pool: geometry, areas, free-run counters and per-slot state. */
static void compare_pool(struct run *r, const char *who, const struct iotlb__pool *pool,
			 const struct model_pool *mp)
{
	const struct model *m = &r->m;
	uint64_t i;

	if (pool->nslots != mp->nslots || pool->nareas != mp->nareas ||
	    pool->dma_addr != mp->dma_addr || (uint64_t)(uintptr_t)pool->vaddr != mp->vaddr ||
	    pool->index != mp->index)
		diff_mismatch(r, "%s: %" PRIu64 " slots / %u areas at 0x%" PRIx64 " (va %p), "
				 "index %u; model %" PRIu64 " / %u at 0x%" PRIx64 " (va 0x%" PRIx64
				 "), index %u",
			      who, pool->nslots, pool->nareas, pool->dma_addr, (void *)pool->vaddr,
			      pool->index, mp->nslots, mp->nareas, mp->dma_addr, mp->vaddr,
			      mp->index);
	for (unsigned a = 0; a < mp->nareas; a++) {
		const struct iotlb__area *la = iotlb__area_at(pool, a);
		const struct model_area *ma = &mp->areas[a];

		if (la->base != ma->base || la->nslots != ma->nslots || la->index != ma->index ||
		    la->used != ma->used)
			diff_mismatch(r,
				 "%s area %u: base %" PRIu64 " nslots %" PRIu64 " cursor %" PRIu64
				 " used %" PRIu64 "; model base %" PRIu64 " nslots %" PRIu64
				 " cursor %" PRIu64 " used %" PRIu64,
				 who, a, la->base, la->nslots, la->index, la->used, ma->base,
				 ma->nslots, ma->index, ma->used);
	}

	if (r->runs_cap < mp->nslots) {
		free(r->runs);
		r->runs_cap = mp->nslots;
		r->runs = malloc(r->runs_cap * sizeof(*r->runs));
		if (!r->runs)
			diff_mismatch(r, "test: out of memory");
	}
	model_pool_free_runs(m, mp, r->runs);
	/* The library's counters are derived from its bitmap: the one-pass
	 * derivation against the model, and the per-slot one at every slot. */
	if (r->lib_runs_cap < mp->nslots) {
		free(r->lib_runs);
		r->lib_runs_cap = mp->nslots;
		r->lib_runs = malloc(r->lib_runs_cap * sizeof(*r->lib_runs));
		if (!r->lib_runs)
			diff_mismatch(r, "test: out of memory");
	}
	iotlb__slots_free_runs(pool, r->lib_runs);
	for (i = 0; i < mp->nslots; i++)
		if (iotlb__slots_free_run(pool, i) != r->runs[i] || r->lib_runs[i] != r->runs[i])
			diff_mismatch(r,
				      "%s: list[%" PRIu64 "] = %u, model counts %u (and %" PRIu64 ")",
				      who, i, iotlb__slots_free_run(pool, i), r->runs[i],
				      model_pool_free_run(m, mp, i));
	for (i = 0; i < mp->nslots; i++) {
		const struct iotlb__slot *s = &pool->slots[i];
		uint64_t want_orig;
		enum model_slot_kind kind;
		int dev;
		uint32_t want_owner;

		/* a free slot carries nothing (2.2 resets it) */
		if (!mp->owner[i] && !s->orig && !s->alloc_size && !s->pad_slots &&
		    s->kind == IOTLB__SLOT_FREE && !s->owner)
			continue;
		want_orig = mp->orig_valid[i] ? mp->orig[i] : 0;
		kind = model_pool_slot_kind(m, mp, i);
		dev = model_pool_slot_dev(m, mp, i);
		want_owner = dev < 0 ? 0 : r->ldev[dev]->id;
		/* what a carved slot records beyond its kind and owner is not specified */
		if (s->orig != want_orig ||
		    (kind != MODEL_SLOT_CARVED && s->alloc_size != mp->alloc_size[i]) ||
		    s->pad_slots != mp->pad_slots[i] || s->kind != lib_kind(kind) ||
		    s->owner != want_owner)
			diff_mismatch(r,
				 "%s slot %" PRIu64 ": orig 0x%" PRIx64 " alloc_size %" PRId64
				 " pad_slots %u kind %u owner %u; model orig 0x%" PRIx64
				 " alloc_size %" PRId64 " pad_slots %" PRIu64 " kind %u owner %u",
				 who, i, s->orig, s->alloc_size, s->pad_slots, s->kind, s->owner,
				 want_orig, mp->alloc_size[i], mp->pad_slots[i], lib_kind(kind),
				 want_owner);
	}
}

/* Everything the two sides keep, after every operation. */
void diff_compare_state(struct run *r)
{
	const struct model *m = &r->m;
	const struct iotlb__pool *pool;
	char why[256] = "", who[48];
	unsigned n = m->shared.npools;

	/* the shared pools, newest first on the library's list */
	for (pool = r->mem->shared.pools; pool; pool = pool->next) {
		if (n == 0)
			diff_mismatch(r, "the library has more than %u shared pools",
				      m->shared.npools);
		snprintf(who, sizeof(who), "pool %u", n - 1);
		compare_pool(r, who, pool, m->shared.pools[--n]);
	}
	if (n)
		diff_mismatch(r, "the library lists %u shared pools, model %u",
			      m->shared.npools - n, m->shared.npools);
	for (unsigned k = 0; k < MAX_DEVS; k++) {
		const struct model_private *pv = r->ldev[k] ? model_private_of(m, k) : NULL;
		const struct iotlb_dev *dev = r->ldev[k];
		const struct model_pool *mp;

		if (!pv) {
			if (dev && dev->domain != &dev->mem->shared)
				diff_mismatch(r, "dev%u maps from a private domain", k);
			continue;
		}
		mp = pv->dom.pools[0];
		pool = dev->private_domain.pools;
		if (dev->domain != &dev->private_domain || !pool || pool->next ||
		    !pool->parent || pool->parent->index != mp->parent->index ||
		    pool->parent_slot != mp->parent_slot)
			diff_mismatch(r,
				      "dev%u: private pool %p (next %p) over pool %d slot %" PRIu64
				      "; model over pool %u slot %" PRIu64,
				      k, (const void *)pool, pool ? (void *)pool->next : NULL,
				      pool && pool->parent ? (int)pool->parent->index : -1,
				      pool ? pool->parent_slot : 0, mp->parent->index,
				      mp->parent_slot);
		snprintf(who, sizeof(who), "dev%u private pool", k);
		compare_pool(r, who, pool, mp);
		if (iotlb__check_dev(dev, why, sizeof(why)))
			diff_mismatch(r, "iotlb__check_dev(dev%u): %s", k, why);
	}
	compare_all_stats(r);
	if (iotlb__check_mem(r->mem, why, sizeof(why)))
		diff_mismatch(r, "iotlb__check_mem: %s", why);
}

/* ------------------------------------------------------------------ memory */

unsigned char *diff_bounce_ptr(const struct run *r, uint64_t dma)
{
	/* private pools lie inside shared ones: the shared pool has every address */
	const struct model_pool *pool = model_domain_find_pool(&r->m, &r->m.shared, dma);

	if (!pool)
		diff_mismatch((struct run *)r, "test bug: 0x%" PRIx64 " is in no pool", dma);
	return (unsigned char *)(uintptr_t)(pool->vaddr + (dma - pool->dma_addr));
}

uint64_t diff_alloc_start(const struct run *r, const struct model_alloc *al)
{
	return al->pool->dma_addr + (al->first << r->mp.slot_shift);
}

size_t diff_alloc_len(const struct run *r, const struct model_alloc *al)
{
	return (size_t)(al->nslots << r->mp.slot_shift);
}

/* The device wrote the whole allocation; remember what it holds now. */
void diff_device_writes(struct run *r, const struct model_alloc *al, bool write)
{
	unsigned char *b = diff_bounce_ptr(r, diff_alloc_start(r, al));
	size_t n = diff_alloc_len(r, al);

	if (write)
		rng_fill(&r->rng, b, n);
	memcpy(r->snap, b, n);
}

/* The CPU wrote the bytes the mapping may copy to the device. */
void diff_cpu_writes(struct run *r, const struct model_alloc *al)
{
	uint64_t lo = al->orig - (uint64_t)(uintptr_t)r->src;
	size_t n = diff_alloc_len(r, al);

	if (lo + n > SRC_LEN)
		n = SRC_LEN - lo;
	rng_fill(&r->rng, r->src + lo, n);
	memcpy(r->shadow + lo, r->src + lo, n);
}

void diff_check_src(struct run *r)
{
	if (memcmp(r->src, r->shadow, SRC_LEN)) {
		size_t k = 0;

		while (r->src[k] == r->shadow[k])
			k++;
		diff_mismatch(r, "original buffer differs at byte %zu (0x%" PRIx64 "): 0x%02x, "
			    "expected 0x%02x",
			 k, (uint64_t)(uintptr_t)(r->src + k), r->src[k], r->shadow[k]);
	}
}

void diff_check_bounce(struct run *r, const struct model_alloc *al)
{
	const unsigned char *b = diff_bounce_ptr(r, diff_alloc_start(r, al));
	size_t n = diff_alloc_len(r, al);

	if (memcmp(b, r->snap, n)) {
		size_t k = 0;

		while (b[k] == r->snap[k])
			k++;
		diff_mismatch(r, "bounce byte at 0x%" PRIx64 " (slot %" PRIu64 ") is 0x%02x, "
			    "expected 0x%02x",
			 diff_alloc_start(r, al) + k,
			 al->first + (k >> r->mp.slot_shift), b[k], r->snap[k]);
	}
}

/* Applies the model's copy to the expected bytes (src shadow or snapshot). */
void diff_apply_copy(struct run *r, const struct model_alloc *al, const struct model_copy *c)
{
	uint64_t src_base = (uint64_t)(uintptr_t)r->src;
	uint64_t b_off;

	if (!c->any)
		return;
	if (c->orig < src_base || c->orig + c->size > src_base + SRC_LEN)
		diff_mismatch(r, "test bug: model copy outside the original buffer");
	b_off = c->bounce - diff_alloc_start(r, al);
	if (b_off + c->size > diff_alloc_len(r, al))
		diff_mismatch(r, "model copy leaves the allocation (bounce 0x%" PRIx64 " + %" PRIu64
			    ")",
			 c->bounce, c->size);
	if (c->to_cpu)
		memcpy(r->shadow + (c->orig - src_base), r->snap + b_off, c->size);
	else
		memcpy(r->snap + b_off, r->shadow + (c->orig - src_base), c->size);
}
