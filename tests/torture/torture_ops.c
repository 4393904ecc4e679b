/* SPDX-License-Identifier: MIT */
/*
 * The torture test's threads: workers doing random valid and invalid calls
 * (every round-tripped byte checked, every failed call checked to have
 * changed nothing the worker can see), and a pair of racers releasing one
 * handle from two threads at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torture.h"

/* Masks of the shared devices (set by main) and what a worker may pick. */
uint64_t t_shared_min[T_NSHARED], t_shared_align[T_NSHARED];

static const uint64_t mins[] = {0, 0x7ff, 0xfff};
static const uint64_t aligns[] = {0, 0xfff, 0x7fff};

static uint64_t below(struct t_worker *w, uint64_t n)
{
	return rng_below(&w->rng, n);
}

/* Slots an item occupies in its pool: padding and data, or a coherent run. */
static uint64_t slots_of(enum t_kind kind, uint64_t orig, size_t size, uint64_t min_align,
			 uint64_t alloc_align)
{
	uint64_t off, padded;

	if (kind == T_COHERENT)
		return (size + T_SLOT - 1) / T_SLOT;
	off = orig & min_align & (alloc_align | (T_SLOT - 1));
	padded = (size + off + alloc_align) & ~alloc_align;
	return (padded + T_SLOT - 1) / T_SLOT;
}

static void dev_masks(struct t_worker *w, struct iotlb_dev *d, uint64_t *min, uint64_t *align)
{
	for (unsigned i = 0; i < T_NSHARED; i++)
		if (T.shared[i] == d) {
			*min = t_shared_min[i];
			*align = t_shared_align[i];
			return;
		}
	*min = d->min_align_mask; /* the worker's own device: read back */
	*align = d->alloc_align_mask;
	(void)w;
}

static struct t_books *books(struct t_worker *w, const struct t_item *it)
{
	return it->own && w->own_private ? &w->priv : &w->shared;
}

static void count_fail(struct t_books *b, int rc)
{
	if (rc == -E2BIG)
		b->too_big++;
	else if (rc == -ENOSPC)
		b->nospace++;
}

/* Every original of the worker holds what it should, canaries included. */
static void check_originals(struct t_worker *w, const char *after)
{
	for (unsigned i = 0; i < T_LIVE; i++) {
		const struct t_item *it = &w->live[i];
		const unsigned char *c;

		if (it->kind != T_MAP)
			continue;
		if (memcmp(it->orig, it->orig_exp, it->size) != 0)
			t_fail("worker %u: original of %#llx+%zu changed after %s", w->id,
			       (unsigned long long)it->dma, it->size, after);
		c = it->orig + it->size;
		for (unsigned k = 0; k < T_CANARY; k++)
			if (c[k] != (unsigned char)(0xC0 | i))
				t_fail("worker %u: canary after %#llx+%zu hit (byte %u) after %s",
				       w->id, (unsigned long long)it->dma, it->size, k, after);
	}
}

static void check_bounce(struct t_worker *w, const struct t_item *it, const char *after)
{
	const unsigned char *b = iotlb_dma_to_virt(it->dev, it->dma);

	if (!b || memcmp(b, it->bounce_exp, it->size) != 0)
		t_fail("worker %u: bounce of %#llx+%zu wrong after %s", w->id,
		       (unsigned long long)it->dma, it->size, after);
}

static void item_free(struct t_item *it)
{
	free(it->orig_exp);
	free(it->bounce_exp);
	memset(it, 0, sizeof(*it));
}

static struct iotlb_dev *pick_dev(struct t_worker *w, bool *own)
{
	*own = w->own && below(w, 3) == 0;
	return *own ? w->own : T.shared[below(w, T_NSHARED)];
}

/* ------------------------------------------------------------ valid */

static void op_map(struct t_worker *w, unsigned i)
{
	struct t_item *it = &w->live[i];
	uint64_t min, align, dma = T_SENTINEL;
	size_t size = 1 + (size_t)below(w, below(w, 2) ? 8192 : T_MAX_MAP);
	unsigned char *orig = w->buf + (size_t)i * T_BUF_SLOT + below(w, 2 * T_PAGE);
	bool own;
	struct iotlb_dev *d = pick_dev(w, &own);
	int rc;

	rng_fill(&w->rng, orig, size);
	memset(orig + size, 0xC0 | i, T_CANARY);
	it->kind = T_MAP; /* for books() */
	it->own = own;
	rc = iotlb_map(d, (int)below(w, 4) - 1, orig, size, (enum iotlb_dir)below(w, 3), 0, &dma);
	if (rc) {
		if (rc != -ENOSPC || dma != T_SENTINEL)
			t_fail("worker %u: map of %zu: %d", w->id, size, rc);
		count_fail(books(w, it), rc);
		it->kind = T_NONE;
		return;
	}
	dev_masks(w, d, &min, &align);
	*it = (struct t_item){.kind = T_MAP,
			      .dev = d,
			      .own = own,
			      .dma = dma,
			      .size = size,
			      .orig = orig,
			      .orig_exp = malloc(size),
			      .bounce_exp = malloc(size),
			      .nslots = slots_of(T_MAP, (uintptr_t)orig, size, min, align)};
	memcpy(it->orig_exp, orig, size);
	memcpy(it->bounce_exp, orig, size);
	books(w, it)->maps++;
	if ((dma & min) != ((uintptr_t)orig & min))
		t_fail("worker %u: %#llx breaks the masks of its device", w->id,
		       (unsigned long long)dma);
	check_bounce(w, it, "map");
	__atomic_store_n(&T.recent_handle, dma, __ATOMIC_RELAXED);
	/* The device answers in part of the buffer. */
	if (below(w, 2)) {
		size_t a = (size_t)below(w, size), n = 1 + (size_t)below(w, size - a);
		unsigned char *b = iotlb_dma_to_virt(d, dma);

		rng_fill(&w->rng, b + a, n);
		memcpy(it->bounce_exp + a, b + a, n);
	}
}

static void op_alloc(struct t_worker *w, unsigned i)
{
	struct t_item *it = &w->live[i];
	size_t size = 1 + (size_t)below(w, below(w, 8) ? 16384 : T_SEG);
	void *va = (void *)T_SENTINEL;
	uint64_t dma = T_SENTINEL;
	bool own;
	struct iotlb_dev *d = pick_dev(w, &own);
	int rc;

	it->kind = T_COHERENT;
	it->own = own;
	rc = iotlb_alloc(d, size, &va, &dma);
	if (rc) {
		if ((rc != -ENOSPC && rc != -E2BIG) || dma != T_SENTINEL)
			t_fail("worker %u: alloc of %zu: %d", w->id, size, rc);
		count_fail(books(w, it), rc);
		it->kind = T_NONE;
		return;
	}
	*it = (struct t_item){.kind = T_COHERENT,
			      .dev = d,
			      .own = own,
			      .dma = dma,
			      .size = size,
			      .orig = va,
			      .nslots = slots_of(T_COHERENT, 0, size, 0, 0)};
	books(w, it)->allocs++;
	if (iotlb_dma_to_virt(d, dma) != va)
		t_fail("worker %u: coherent %#llx not at its CPU address", w->id,
		       (unsigned long long)dma);
	for (size_t k = 0; k < size; k++)
		if (((unsigned char *)va)[k])
			t_fail("worker %u: coherent memory not zeroed", w->id);
	memset(va, 0x5A, size);
}

static void op_release(struct t_worker *w, unsigned i)
{
	struct t_item *it = &w->live[i];
	int rc;

	if (it->kind == T_COHERENT) {
		for (size_t k = 0; k < it->size; k++)
			if (it->orig[k] != 0x5A)
				t_fail("worker %u: coherent %#llx lost a byte", w->id,
				       (unsigned long long)it->dma);
		rc = iotlb_free(it->dev, it->dma, it->size);
		if (rc)
			t_fail("worker %u: free: %d", w->id, rc);
		books(w, it)->frees++;
		item_free(it);
		return;
	}
	check_bounce(w, it, "before unmap");
	{
		enum iotlb_dir dir = (enum iotlb_dir)below(w, 3);
		bool skip = below(w, 8) == 0;
		size_t size = it->size;

		/* A wrong (larger) size copies back the mapped bytes only. */
		if (T.o.oversize && below(w, 8) == 0)
			size += 1 + (size_t)below(w, 2 * T_PAGE);
		rc = iotlb_unmap(it->dev, it->dma, size, dir, skip ? IOTLB_ATTR_SKIP_CPU_SYNC : 0);
		if (rc)
			t_fail("worker %u: unmap of %#llx: %d", w->id, (unsigned long long)it->dma,
			       rc);
		books(w, it)->unmaps++;
		if (!skip && dir != IOTLB_TO_DEVICE)
			memcpy(it->orig_exp, it->bounce_exp, it->size);
	}
	check_originals(w, "unmap");
	item_free(it);
}

static void op_sync(struct t_worker *w, unsigned i)
{
	struct t_item *it = &w->live[i];
	size_t a = (size_t)below(w, it->size), n = 1 + (size_t)below(w, it->size - a);
	enum iotlb_dir dir = (enum iotlb_dir)below(w, 3);
	bool to_cpu = below(w, 2);
	size_t asked = n;
	int rc;

	if (T.o.oversize && below(w, 8) == 0)
		asked += 1 + (size_t)below(w, 2 * T_PAGE);
	if (to_cpu) {
		rc = iotlb_sync_for_cpu(it->dev, it->dma + a, asked, dir);
		if (!rc && dir != IOTLB_TO_DEVICE)
			memcpy(it->orig_exp + a, it->bounce_exp + a,
			       it->size - a < asked ? it->size - a : asked);
	} else {
		/* The CPU writes first, then hands the bytes to the device. */
		rng_fill(&w->rng, it->orig + a, n);
		memcpy(it->orig_exp + a, it->orig + a, n);
		rc = iotlb_sync_for_device(it->dev, it->dma + a, asked, dir);
		if (!rc && dir != IOTLB_FROM_DEVICE)
			memcpy(it->bounce_exp + a, it->orig_exp + a,
			       it->size - a < asked ? it->size - a : asked);
	}
	if (rc)
		t_fail("worker %u: sync of %#llx+%zu: %d", w->id, (unsigned long long)it->dma, a,
		       rc);
	books(w, it)->syncs++;
	check_originals(w, "sync");
	check_bounce(w, it, "sync");
}

/* ------------------------------------------------------------ invalid */

/* Is `dma` inside (or the handle of) a live item of the worker on `d`? */
static bool mine(const struct t_worker *w, const struct iotlb_dev *d, uint64_t dma)
{
	for (unsigned i = 0; i < T_LIVE; i++)
		if (w->live[i].kind != T_NONE && w->live[i].dev == d &&
		    dma - w->live[i].dma < w->live[i].size + 2 * T_SEG)
			return true;
	return false;
}

static bool stats_equal(const struct iotlb_stats *a, const struct iotlb_stats *b, int rc)
{
	struct iotlb_stats x = *a, y = *b;

	x.lock_acquisitions = y.lock_acquisitions = 0;
	x.lock_contended = y.lock_contended = 0;
	x.lock_wait_ns = y.lock_wait_ns = 0;
	x.lock_wait_max_ns = y.lock_wait_max_ns = 0;
	x.area_fallbacks = y.area_fallbacks = 0;
	if (rc == -E2BIG)
		x.map_fail_too_big++;
	if (rc == -ENOSPC)
		x.map_fail_nospace++;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

/*
 * A call that must fail on the worker's own device: garbage, foreign and
 * inner addresses, bad arguments, destroy while mapped. Afterwards every
 * original is intact and, on a private pool, its statistics moved only by
 * the failure counters.
 */
static void op_invalid(struct t_worker *w)
{
	struct iotlb_dev *d = w->own;
	struct iotlb_stats before = IOTLB_STATS_INIT, after = IOTLB_STATS_INIT;
	unsigned i = (unsigned)below(w, T_LIVE), what = (unsigned)below(w, 9);
	const struct t_item *it = &w->live[i];
	uint64_t dma = T_SENTINEL, addr;
	void *va = (void *)T_SENTINEL;
	int rc, want = -ENOENT;

	if (!d)
		return;
	iotlb_dev_stats(d, &before);
	addr = it->kind != T_NONE ? it->dma : T_INIT_DMA + below(w, T_INIT_SLOTS * T_SLOT);
	switch (what) {
	case 0: /* near a handle: inside it, before it, past it */
		addr += (uint64_t)(int64_t)((int)below(w, 8192) - 4096) | 1;
		if (mine(w, d, addr) && !(it->kind != T_NONE && addr - it->dma < it->size))
			return;
		rc = it->kind == T_COHERENT || below(w, 2)
			     ? iotlb_free(d, addr, 64)
			     : iotlb_unmap(d, addr, 64, IOTLB_FROM_DEVICE, 0);
		break;
	case 1: /* a handle of some other device */
		addr = __atomic_load_n(&T.recent_handle, __ATOMIC_RELAXED);
		if (mine(w, d, addr))
			return;
		rc = below(w, 2) ? iotlb_unmap(d, addr, 64, IOTLB_FROM_DEVICE, 0)
				 : iotlb_sync_for_cpu(d, addr, 64, IOTLB_FROM_DEVICE);
		break;
	case 2: /* the wrong kind of release */
		if (it->kind == T_NONE || it->dev != d)
			return;
		rc = it->kind == T_MAP ? iotlb_free(d, it->dma, it->size)
				       : iotlb_unmap(d, it->dma, it->size, IOTLB_TO_DEVICE, 0);
		break;
	case 3: /* sync in padding or past the end */
		if (it->kind != T_MAP || it->dev != d || (!T.o.oversize && d->alloc_align_mask))
			return;
		addr = it->dma + it->size + below(w, T_SLOT);
		if (mine(w, d, addr) && addr - it->dma >= it->size)
			for (unsigned k = 0; k < T_LIVE; k++)
				if (k != i && w->live[k].kind != T_NONE && w->live[k].dev == d &&
				    addr - w->live[k].dma < w->live[k].size + T_SEG)
					return;
		rc = iotlb_sync_for_cpu(d, addr, 1 + below(w, 4096), IOTLB_FROM_DEVICE);
		break;
	case 4: /* bad direction, size 0, unknown attribute */
		want = -EINVAL;
		if (it->kind != T_MAP || it->dev != d)
			return;
		rc = below(w, 3) == 0 ? iotlb_unmap(d, it->dma, it->size, (enum iotlb_dir)7, 0)
		     : below(w, 2)    ? iotlb_unmap(d, it->dma, 0, IOTLB_FROM_DEVICE, 0)
				   : iotlb_unmap(d, it->dma, it->size, IOTLB_FROM_DEVICE, 1u << 20);
		if (!rc)
			t_fail("worker %u: a bad unmap released %#llx", w->id,
			       (unsigned long long)it->dma);
		break;
	case 5: /* too big: never served, never grows */
		want = -E2BIG;
		rc = iotlb_map(d, -1, w->buf, T_SEG + 1 + below(w, T_SEG), IOTLB_TO_DEVICE, 0,
			       &dma);
		if (rc == -E2BIG)
			count_fail(w->own_private ? &w->priv : &w->shared, rc);
		break;
	case 6: /* NULL original, size 0 alloc */
		want = -EINVAL;
		rc = below(w, 2) ? iotlb_map(d, -1, NULL, 64, IOTLB_TO_DEVICE, 0, &dma)
				 : iotlb_alloc(d, 0, &va, &dma);
		break;
	case 7: { /* destroy while mapped */
		bool any = false;

		want = -EBUSY;
		for (unsigned k = 0; k < T_LIVE; k++)
			any |= w->live[k].kind != T_NONE && w->live[k].dev == d;
		if (!any)
			return;
		rc = iotlb_dev_destroy(d);
		break;
	}
	default: /* a random address anywhere */
		addr = below(w, 2) ? rng_next(&w->rng) : T_ADD_DMA + below(w, 1u << 24);
		if (mine(w, d, addr))
			return;
		rc = below(w, 2) ? iotlb_unmap(d, addr, 1, IOTLB_BIDIRECTIONAL, 0)
				 : iotlb_sync_for_device(d, addr, 1, IOTLB_TO_DEVICE);
		break;
	}
	w->invalid++;
	if (rc != want)
		t_fail("worker %u: invalid call %u at %#llx returned %d, expected %d", w->id, what,
		       (unsigned long long)addr, rc, want);
	if (dma != T_SENTINEL || va != (void *)T_SENTINEL)
		t_fail("worker %u: a failed call wrote its out-parameter", w->id);
	check_originals(w, "an invalid call");
	iotlb_dev_stats(d, &after);
	if (w->own_private && !stats_equal(&before, &after, rc))
		t_fail("worker %u: invalid call %u (%d) moved the private pool's statistics", w->id,
		       what, rc);
}

/* ------------------------------------------------------------ devices */

static void drop_own(struct t_worker *w)
{
	for (unsigned i = 0; i < T_LIVE; i++)
		if (w->live[i].kind != T_NONE && w->live[i].own)
			op_release(w, i);
	if (w->own && iotlb_dev_destroy(w->own))
		t_fail("worker %u: destroy of an idle device failed", w->id);
	w->own = NULL;
	w->own_private = false;
	w->own_carved = 0;
	memset(&w->priv, 0, sizeof(w->priv));
}

static void op_recreate(struct t_worker *w)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *d = (struct iotlb_dev *)T_SENTINEL;
	int rc;

	drop_own(w);
	dc.min_align_mask = mins[below(w, 3)];
	dc.alloc_align_mask = aligns[below(w, 3)];
	if (below(w, 3) == 0) {
		dc.private_size = 1 + (size_t)below(w, 2 << 20);
		dc.nqueues = (unsigned)below(w, 5);
	}
	rc = iotlb_dev_create(T.mem, &dc, &d);
	if (rc) {
		if ((rc != -ENOSPC && rc != -E2BIG) || !dc.private_size ||
		    d != (struct iotlb_dev *)T_SENTINEL)
			t_fail("worker %u: dev_create (private %zu): %d", w->id, dc.private_size,
			       rc);
		return;
	}
	w->own = d;
	w->own_private = dc.private_size != 0;
	w->own_carved = w->own_private ? 1024 : 0; /* one block: 2 MiB at most */
	w->recreated++;
}

void *t_worker_main(void *arg)
{
	struct t_worker *w = arg;

	while (!t_flag(&T.stop)) {
		unsigned i = (unsigned)below(w, T_LIVE), op = (unsigned)below(w, 100);

		t_maybe_pause();
		w->ops++;
		if (op < 12)
			op_invalid(w);
		else if (op < 13)
			op_recreate(w);
		else if (w->live[i].kind == T_NONE)
			op < 80 ? op_map(w, i) : op_alloc(w, i);
		else if (w->live[i].kind == T_MAP && op < 50)
			op_sync(w, i);
		else
			op_release(w, i);
	}
	for (unsigned i = 0; i < T_LIVE; i++)
		if (w->live[i].kind != T_NONE)
			op_release(w, i);
	drop_own(w);
	return NULL;
}

/* ------------------------------------------------------------ racers */

#define RACE_MAX 32768

/*
 * Each round: the leader maps a buffer of 0x11 on the racers' device and the
 * device writes 0xD7, then the leader unmaps TO_DEVICE (copies nothing)
 * while the follower unmaps FROM_DEVICE or syncs for the CPU. Exactly one
 * unmap wins; a failed call leaves the buffer at 0x11; a winning follower
 * leaves 0xD7 in all of it.
 */
void *t_leader_main(void *arg)
{
	struct t_racer *r = arg;
	unsigned char *buf = T.race_buf;

	for (;;) {
		int cmd = t_flag(&T.stop) ? 2 : t_flag(&T.pause_req) ? 1 : 0;
		uint64_t dma = 0;
		size_t size = 1 + (size_t)rng_below(&r->rng, RACE_MAX);
		int rc;

		if (cmd == 0) {
			memset(buf, 0x11, size);
			if (iotlb_map(T.race_dev, -1, buf, size, IOTLB_BIDIRECTIONAL, 0, &dma)) {
				T.race_books.nospace++;
				cmd = -1; /* nothing to race for this round */
			} else {
				T.race_books.maps++;
				memset(iotlb_dma_to_virt(T.race_dev, dma), 0xD7, size);
			}
		}
		T.race_cmd = cmd;
		T.race_dma = dma;
		T.race_size = size;
		T.race_mode = (int)rng_below(&r->rng, 2);
		pthread_barrier_wait(&T.race_go);
		if (cmd == 2)
			return NULL;
		if (cmd == 1) {
			t_maybe_pause();
			continue;
		}
		if (cmd < 0) {
			pthread_barrier_wait(&T.race_done);
			continue;
		}
		rc = iotlb_unmap(T.race_dev, dma, size, IOTLB_TO_DEVICE, 0);
		pthread_barrier_wait(&T.race_done);
		r->rounds++;
		if ((T.race_mode == 0 ? (rc == 0) == (T.race_rc == 0) : rc != 0) ||
		    (rc != 0 && rc != -ENOENT) || (T.race_rc != 0 && T.race_rc != -ENOENT))
			t_fail("racers: unmap %d, follower %d (mode %d)", rc, T.race_rc,
			       T.race_mode);
		T.race_books.unmaps++;
		T.race_books.syncs += T.race_mode == 1 && T.race_rc == 0;
		if (T.race_rc == 0)
			r->follower_won++;
		for (size_t k = 0; k < size; k++)
			if (buf[k] != (T.race_rc == 0 ? 0xD7 : 0x11))
				t_fail("racers: follower returned %d (mode %d) but byte %zu of %zu "
				       "is 0x%02x",
				       T.race_rc, T.race_mode, k, size, buf[k]);
	}
}

void *t_follower_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_barrier_wait(&T.race_go);
		if (T.race_cmd == 2)
			return NULL;
		if (T.race_cmd == 1) {
			t_maybe_pause();
			continue;
		}
		if (T.race_cmd == 0 && !T.o.races)
			T.race_rc = -ENOENT; /* --no-races: the leader's unmap alone */
		else if (T.race_cmd == 0)
			T.race_rc = T.race_mode == 0
					    ? iotlb_unmap(T.race_dev, T.race_dma, T.race_size,
							  IOTLB_FROM_DEVICE, 0)
					    : iotlb_sync_for_cpu(T.race_dev, T.race_dma,
								 T.race_size, IOTLB_FROM_DEVICE);
		pthread_barrier_wait(&T.race_done);
	}
}
