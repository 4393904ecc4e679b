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
	fprintf(f, "config %u: nslots %" PRIu64 " dma_addr 0x%" PRIx64 " slot_shift %u "
		   "segment_slots %u page_size %" PRIu64 " nareas requested %u -> %u "
		   "(area_nslots %" PRIu64 ") lock %s select %d flags 0x%x%s\n",
		r->cfg_index, r->mp.nslots, r->mp.dma_addr, r->mp.slot_shift, r->mp.segment_slots,
		r->mp.page_size, r->mp.nareas_req, r->m.nareas, r->m.area_nslots,
		r->lock == IOTLB_LOCK_NONE ? "none" : "mutex", (int)r->select, r->flags,
		r->huge ? " (huge, mmap NORESERVE)" : "");
	for (unsigned k = 0; k < r->ndevs && r->ldev[k]; k++)
		fprintf(f, "  dev%u: min_align 0x%" PRIx64 " alloc_align 0x%" PRIx64
			   " seg_boundary 0x%" PRIx64 "\n",
			k, r->mdev[k].min_align_mask, r->mdev[k].alloc_align_mask,
			r->mdev[k].seg_boundary_mask);
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

void diff_expect_full_log(struct run *r, uint64_t padded, uint64_t used_before)
{
	int level = IOTLB_LOG_ERR;
	char msg[1][256];

	snprintf(msg[0], sizeof(msg[0]),
		 "swiotlb buffer is full (sz: %zu bytes), total %lu (slots), used %lu (slots)",
		 (size_t)padded, (unsigned long)r->mp.nslots, (unsigned long)used_before);
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
	case MODEL_SLOT_FREE:
	default:
		return IOTLB__SLOT_FREE;
	}
}

static void compare_stats(struct run *r)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;
	const struct model_stats *ms = &r->m.st;

	if (iotlb_mem_stats(r->mem, &s))
		diff_mismatch(r, "iotlb_mem_stats failed");
#define SAME(field, want)                                                               \
	do {                                                                            \
		if (s.field != (uint64_t)(want))                                        \
			diff_mismatch(r, "stats." #field " %" PRIu64 ", model %" PRIu64,      \
				 (uint64_t)s.field, (uint64_t)(want));                  \
	} while (0)
	SAME(nslots, r->mp.nslots);
	SAME(used, ms->used);
	SAME(used_hiwater, ms->used_hiwater);
	SAME(transient_nslots, 0);
	SAME(npools, 1);
	SAME(nareas, r->m.nareas);
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

/* Everything the two sides keep, after every operation. */
void diff_compare_state(struct run *r)
{
	const struct iotlb__pool *pool = r->pool;
	const struct model *m = &r->m;
	char why[256] = "";
	uint64_t i;

	if (pool->nslots != m->p.nslots || pool->nareas != m->nareas)
		diff_mismatch(r, "pool has %" PRIu64 " slots / %u areas, model %" PRIu64 " / %u",
			 pool->nslots, pool->nareas, m->p.nslots, m->nareas);
	for (unsigned a = 0; a < m->nareas; a++) {
		const struct iotlb__area *la = iotlb__area_at(pool, a);
		const struct model_area *ma = &m->areas[a];

		if (la->base != ma->base || la->nslots != ma->nslots || la->index != ma->index ||
		    la->used != ma->used)
			diff_mismatch(r,
				 "area %u: base %" PRIu64 " nslots %" PRIu64 " cursor %" PRIu64
				 " used %" PRIu64 "; model base %" PRIu64 " nslots %" PRIu64
				 " cursor %" PRIu64 " used %" PRIu64,
				 a, la->base, la->nslots, la->index, la->used, ma->base, ma->nslots,
				 ma->index, ma->used);
	}

	model_free_runs(m, r->runs);
	if (memcmp(pool->list, r->runs, m->p.nslots * sizeof(*r->runs))) {
		for (i = 0; pool->list[i] == r->runs[i]; i++)
			;
		diff_mismatch(r, "list[%" PRIu64 "] = %u, model counts %u (and %" PRIu64 ")", i,
			 pool->list[i], r->runs[i], model_free_run(m, i));
	}
	for (i = 0; i < m->p.nslots; i++) {
		const struct iotlb__slot *s = &pool->slots[i];
		uint64_t want_orig;
		enum model_slot_kind kind;
		int dev;
		uint32_t want_owner;

		/* a free slot carries nothing (2.2 resets it) */
		if (!m->owner[i] && !s->orig && !s->alloc_size && !s->pad_slots &&
		    s->kind == IOTLB__SLOT_FREE && !s->owner)
			continue;
		want_orig = m->orig_valid[i] ? m->orig[i] : 0;
		kind = model_slot_kind(m, i);
		dev = model_slot_dev(m, i);
		want_owner = dev < 0 ? 0 : r->ldev[dev]->id;
		if (s->orig != want_orig || s->alloc_size != m->alloc_size[i] ||
		    s->pad_slots != m->pad_slots[i] || s->kind != lib_kind(kind) ||
		    s->owner != want_owner)
			diff_mismatch(r,
				 "slot %" PRIu64 ": orig 0x%" PRIx64 " alloc_size %" PRId64
				 " pad_slots %u kind %u owner %u; model orig 0x%" PRIx64
				 " alloc_size %" PRId64 " pad_slots %" PRIu64 " kind %u owner %u",
				 i, s->orig, s->alloc_size, s->pad_slots, s->kind, s->owner,
				 want_orig, m->alloc_size[i], m->pad_slots[i], lib_kind(kind),
				 want_owner);
	}
	compare_stats(r);
	if (iotlb__check_mem(r->mem, why, sizeof(why)))
		diff_mismatch(r, "iotlb__check_mem: %s", why);
}

/* ------------------------------------------------------------------ memory */

unsigned char *diff_bounce_ptr(const struct run *r, uint64_t dma)
{
	return r->region + (dma - r->mp.dma_addr);
}

uint64_t diff_alloc_start(const struct run *r, const struct model_alloc *al)
{
	return r->mp.dma_addr + (al->first << r->mp.slot_shift);
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
