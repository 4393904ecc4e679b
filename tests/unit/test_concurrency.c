/* SPDX-License-Identifier: MIT */
/*
 * docs/algorithm.md#scenario-20: threads map and unmap random sizes
 * with random min_align over 4 areas; at quiescent points (all threads at a
 * barrier) the free-run counters recomputed from the live handles equal the
 * stored ones, area counts add up, every handle keeps its alignment, one
 * segment and one area, no slot is owned twice; every byte round-trips.
 */
#include "fixture.h"
#include "rng.h"
#include "scale.h"

#include <pthread.h>

#define NTHREADS 4
#define LIVE 6
#define POOL_SLOTS 4096u
#define NAREAS 4
#define PATTERN_LEN (1u << 20)
#define BUF_STRIDE (FX_SEG_BYTES + 0x1000)

static const uint64_t mins[3] = {0, 0x7ff, 0xfff};

struct handle {
	bool live;
	unsigned dev;
	unsigned char *orig;
	size_t size;
	uint64_t dma;
	size_t pat; /* offset of the bytes in the pattern */
};

struct shared;

struct worker {
	pthread_t th;
	unsigned id;
	uint64_t rng;
	struct shared *sh;
	struct handle h[LIVE];
	unsigned char *buf; /* LIVE originals of up to 256 KiB + 4 KiB */
	uint64_t maps, nospace, too_big;
	char err[256];
};

struct shared {
	struct fx *f;
	struct iotlb_dev *devs[3];
	unsigned char *pattern;
	pthread_barrier_t quiet, go;
	unsigned rounds, ops;
	struct worker w[NTHREADS];
};

static void werr(struct worker *w, const char *what, uint64_t a, uint64_t b)
{
	if (!w->err[0])
		snprintf(w->err, sizeof(w->err), "thread %u: %s (%llx, %llx)", w->id, what,
			 (unsigned long long)a, (unsigned long long)b);
}

static size_t random_size(uint64_t *rng)
{
	switch (xorshift64(rng) % 4) {
	case 0:
		return (size_t)(1 + xorshift64(rng) % 2048);
	case 1:
		return (size_t)(1 + xorshift64(rng) % 16384);
	case 2:
		return (size_t)(1 + xorshift64(rng) % 65536);
	default:
		return (size_t)(1 + xorshift64(rng) % FX_SEG_BYTES);
	}
}

static void do_unmap(struct worker *w, struct handle *h)
{
	struct shared *sh = w->sh;
	struct iotlb_dev *d = sh->devs[h->dev];
	unsigned char *b = iotlb_dma_to_virt(d, h->dma);
	size_t dpat = (h->pat + 4099) % (PATTERN_LEN - FX_SEG_BYTES);
	enum iotlb_dir dir = xorshift64(&w->rng) % 2 ? IOTLB_FROM_DEVICE : IOTLB_BIDIRECTIONAL;
	int rc;

	/* the bounce still holds what the map copied */
	if (!b || memcmp(b, sh->pattern + h->pat, h->size) != 0)
		werr(w, "bounce bytes differ from the original", h->dma, h->size);
	/* the device writes new bytes, the unmap copies them back */
	if (b)
		memcpy(b, sh->pattern + dpat, h->size);
	rc = iotlb_unmap(d, h->dma, h->size, dir, 0);
	if (rc)
		werr(w, "unmap failed", h->dma, (uint64_t)-rc);
	else if (memcmp(h->orig, sh->pattern + dpat, h->size) != 0)
		werr(w, "copy-back differs", h->dma, h->size);
	h->live = false;
}

static void do_map(struct worker *w, struct handle *h, unsigned k)
{
	struct shared *sh = w->sh;
	unsigned dev = (unsigned)(xorshift64(&w->rng) % 3);
	size_t off = (size_t)(xorshift64(&w->rng) % 0x1000);
	size_t size = random_size(&w->rng);
	size_t pat = (size_t)(xorshift64(&w->rng) % (PATTERN_LEN - FX_SEG_BYTES));
	int queue = xorshift64(&w->rng) % 3 ? (int)(xorshift64(&w->rng) % 8) : IOTLB_ANY_QUEUE;
	unsigned char *o = w->buf + (size_t)k * BUF_STRIDE + off;
	uint64_t padded = size + (fx_addr(o) & mins[dev] & (FX_SLOT - 1));
	uint64_t dma = FX_DMA_SENTINEL;
	int rc;

	memcpy(o, sh->pattern + pat, size);
	rc = iotlb_map(sh->devs[dev], queue, o, size,
		       xorshift64(&w->rng) % 2 ? IOTLB_TO_DEVICE : IOTLB_BIDIRECTIONAL, 0, &dma);
	if (rc == -E2BIG) {
		if (padded <= FX_SEG_BYTES)
			werr(w, "E2BIG for a request that fits a segment", size, padded);
		w->too_big++;
		return;
	}
	if (padded > FX_SEG_BYTES)
		werr(w, "no E2BIG for a request above a segment", size, (uint64_t)rc);
	if (rc == -ENOSPC) {
		w->nospace++;
		return;
	}
	if (rc) {
		werr(w, "map failed", size, (uint64_t)-rc);
		return;
	}
	w->maps++;
	h->live = true;
	h->dev = dev;
	h->orig = o;
	h->size = size;
	h->dma = dma;
	h->pat = pat;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	unsigned r, i;

	for (r = 0; r < sh->rounds; r++) {
		for (i = 0; i < sh->ops; i++) {
			unsigned k = (unsigned)(xorshift64(&w->rng) % LIVE);

			if (w->h[k].live)
				do_unmap(w, &w->h[k]);
			else
				do_map(w, &w->h[k], k);
		}
		pthread_barrier_wait(&sh->quiet); /* the checker runs now */
		pthread_barrier_wait(&sh->go);
	}
	for (i = 0; i < LIVE; i++)
		if (w->h[i].live)
			do_unmap(w, &w->h[i]);
	return NULL;
}

/* The checks of scenario 20 on a quiescent mem; first violation into err. */
static void check_quiescent(struct shared *sh, int *owner, char *err, size_t len)
{
	const struct fx *f = sh->f;
	const struct iotlb__pool *pool = fx_pool(f);
	uint64_t used = 0, area_used = 0, i;
	uint32_t run = 0;
	char why[256] = "";
	unsigned t, k, a;
	struct iotlb_stats st = fx_stats(f);

	if (iotlb__check_mem(f->mem, why, sizeof(why)) != 0) {
		snprintf(err, len, "iotlb__check_mem: %s", why);
		return;
	}
	for (i = 0; i < POOL_SLOTS; i++)
		owner[i] = -1;
	for (t = 0; t < NTHREADS; t++) {
		for (k = 0; k < LIVE; k++) {
			const struct handle *h = &sh->w[t].h[k];
			uint64_t m = mins[h->dev], off, first, n, last;

			if (!h->live)
				continue;
			/* alloc_align 0: the offset stays inside a slot, no padding */
			off = h->dma & m & (FX_SLOT - 1);
			if ((h->dma & m) != (fx_addr(h->orig) & m)) {
				snprintf(err, len, "handle %llx loses min_align bits of %p",
					 (unsigned long long)h->dma, (void *)h->orig);
				return;
			}
			first = (h->dma - off - FX_B) / FX_SLOT;
			n = (h->size + off + FX_SLOT - 1) / FX_SLOT;
			last = first + n - 1;
			if (!m && h->size >= FX_PAGE && (first * FX_SLOT) % FX_PAGE) {
				snprintf(err, len, "page-sized handle %llx not page aligned",
					 (unsigned long long)h->dma);
				return;
			}
			if (first / FX_SEG != last / FX_SEG) {
				snprintf(err, len, "handle %llx crosses a segment",
					 (unsigned long long)h->dma);
				return;
			}
			if (iotlb__area_of_slot(pool, first) != iotlb__area_of_slot(pool, last)) {
				snprintf(err, len, "handle %llx spans two areas",
					 (unsigned long long)h->dma);
				return;
			}
			for (i = first; i <= last; i++) {
				if (owner[i] >= 0) {
					snprintf(err, len, "slot %llu owned twice",
						 (unsigned long long)i);
					return;
				}
				owner[i] = (int)(t * LIVE + k);
			}
			used += n;
		}
	}
	/* list[] recomputed from the occupancy map */
	i = POOL_SLOTS;
	while (i-- > 0) {
		if (owner[i] >= 0)
			run = 0;
		else
			run = ((i + 1) % FX_SEG == 0) ? 1 : run + 1;
		if (iotlb__slots_free_run(pool, i) != run) {
			snprintf(err, len, "list[%llu] = %u, recomputed %u", (unsigned long long)i,
				 iotlb__slots_free_run(pool, i), run);
			return;
		}
	}
	for (a = 0; a < pool->nareas; a++)
		area_used += iotlb__area_at(pool, a)->used;
	if (area_used != st.used || st.used != used) {
		snprintf(err, len, "used: areas %llu, mem %llu, handles %llu",
			 (unsigned long long)area_used, (unsigned long long)st.used,
			 (unsigned long long)used);
		return;
	}
}

static void test_s20_concurrent_maps_keep_every_invariant(void **state)
{
	struct fx *f = *state;
	struct shared *sh = calloc(1, sizeof(*sh));
	void *bufmap[NTHREADS];
	size_t buflen[NTHREADS];
	int *owner = calloc(POOL_SLOTS, sizeof(int));
	char err[256] = "";
	unsigned t, r;
	uint64_t maps = 0;

	assert_non_null(sh);
	assert_non_null(owner);
	fx_prepare(f, POOL_SLOTS);
	f->cfg.nareas = NAREAS;
	fx_create(f);
	assert_int_equal(fx_pool(f)->nareas, NAREAS);
	sh->f = f;
	for (t = 0; t < 3; t++)
		sh->devs[t] = fx_dev(f, mins[t], 0, 0);
	sh->pattern = malloc(PATTERN_LEN);
	assert_non_null(sh->pattern);
	fx_pattern(sh->pattern, PATTERN_LEN, 20);
	sh->rounds = 32;
	sh->ops = 64;
	if (test_scale_reduced())
		sh->rounds = 8; /* sanitizers: less work, same checks */
	assert_int_equal(pthread_barrier_init(&sh->quiet, NULL, NTHREADS + 1), 0);
	assert_int_equal(pthread_barrier_init(&sh->go, NULL, NTHREADS + 1), 0);

	for (t = 0; t < NTHREADS; t++) {
		struct worker *w = &sh->w[t];

		w->id = t;
		w->sh = sh;
		w->rng = 0x243f6a8885a308d3ull * (t + 1);
		w->buf = fx_mmap_aligned(LIVE * BUF_STRIDE, 0x1000, false, &bufmap[t], &buflen[t]);
		assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
	}
	for (r = 0; r < sh->rounds; r++) {
		pthread_barrier_wait(&sh->quiet);
		if (!err[0])
			check_quiescent(sh, owner, err, sizeof(err));
		pthread_barrier_wait(&sh->go);
	}
	for (t = 0; t < NTHREADS; t++)
		pthread_join(sh->w[t].th, NULL);

	if (err[0])
		fail_msg("round check: %s", err);
	for (t = 0; t < NTHREADS; t++) {
		if (sh->w[t].err[0])
			fail_msg("%s", sh->w[t].err);
		maps += sh->w[t].maps;
	}
	/* all unmapped: everything is back to the initial state */
	check_quiescent(sh, owner, err, sizeof(err));
	if (err[0])
		fail_msg("final check: %s", err);
	assert_int_equal(fx_stats(f).used, 0);
	assert_int_equal(fx_stats(f).maps, maps);
	assert_int_equal(fx_stats(f).unmaps, maps);
	fx_assert_list_fresh(f, 0, POOL_SLOTS);
	assert_true(maps > 0);

	for (t = 0; t < NTHREADS; t++)
		munmap(bufmap[t], buflen[t]);
	pthread_barrier_destroy(&sh->quiet);
	pthread_barrier_destroy(&sh->go);
	free(sh->pattern);
	free(sh);
	free(owner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_s20_concurrent_maps_keep_every_invariant),
	};

	return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
