/* SPDX-License-Identifier: MIT */
/*
 * Private pools under threads: four queue threads on one private device, two
 * threads on the shared pool and one thread carving and destroying more
 * private devices, all at once. Every unmap verifies its bytes; quiescent
 * points between phases run the invariant checker; the end state must equal
 * a fresh pool. Labelled tsan: it must be clean under ThreadSanitizer.
 */
#include <pthread.h>
#include <time.h>

#include "devfx.h"

#define SEG 128u
#define BLK 256u
#define BB ((size_t)BLK * DF_SLOT)
#define POOL_BLOCKS 16u
#define AREAS 4u

#define NQUEUE 4u  /* queue threads on the private device P */
#define NSHARED 2u /* threads on the shared pool */
#define NWORKERS (NQUEUE + NSHARED + 1u)
#define MAXLIVE 8u   /* live mappings per mapping thread */
#define Q_MAX 16384u /* largest map of a queue thread */
#define SHARED_MAX 65536u
#define CREATOR_MAX 16384u
#define CREATOR_DEVS 2u /* private devices the creator keeps at once */
#define NPHASES 5u

enum role { ROLE_QUEUE, ROLE_SHARED, ROLE_CREATOR };

struct live {
	bool used;
	uint64_t dma;
	size_t size;
	enum iotlb_dir dir;
	uint64_t tag;
	unsigned char *orig; /* this entry's own original buffer */
};

struct cdev {
	struct iotlb_dev *dev;
	uint64_t dma, bytes; /* its private pool */
};

struct worker {
	pthread_t th;
	enum role role;
	unsigned id;
	int queue;
	uint64_t seed;
	struct iotlb_dev *dev;
	struct live live[MAXLIVE];
	unsigned char *slab;
	bool broken;
	uint64_t ops, carves, carve_nospace, destroys;
};

static struct df fx;
static struct iotlb_dev *pdev, *sdev; /* P (private, NQUEUE children) and the shared device */
static uint64_t p_dma, p_bytes, child_bytes;
static pthread_barrier_t barrier;
static int stop_phase; /* atomic */

/*
 * The creator's live private devices (its own; main reads them only at
 * quiescent points) and their ranges for the shared threads: one relaxed
 * atomic word each, (first block << 16 | blocks), 0 when empty. Relaxed on
 * purpose: a lock here would order the threads and hide from ThreadSanitizer
 * a race between carving and mapping. A range cleared before its device is
 * destroyed is still seen cleared by any map that reuses those slots, because
 * the library's own area locks order the two.
 */
static struct cdev cdevs[CREATOR_DEVS];
static uint64_t cranges[CREATOR_DEVS];

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char fail_text[512];
static int failed; /* atomic */

__attribute__((format(printf, 2, 3))) static void worker_fail(struct worker *w, const char *fmt,
							      ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	if (!__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
		int n = snprintf(fail_text, sizeof(fail_text), "worker %u: ", w->id);

		va_start(ap, fmt);
		vsnprintf(fail_text + n, sizeof(fail_text) - (size_t)n, fmt, ap);
		va_end(ap);
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&fail_lock);
	w->broken = true;
}

static void check_no_failure(void)
{
	pthread_mutex_lock(&fail_lock);
	if (__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&fail_lock);
		fail_msg("%s", fail_text);
	}
	pthread_mutex_unlock(&fail_lock);
}

static uint64_t rnd_below(struct worker *w, uint64_t n)
{
	return df_rnd(&w->seed) % n;
}

static uint64_t device_tag(uint64_t tag)
{
	return tag ^ 0xd00dfeedull;
}

/* ------------------------------------------------------------ mapping */

/* Device address range a mapping of this worker must fall in: [lo, hi). */
static void allowed_range(const struct worker *w, uint64_t *lo, uint64_t *hi)
{
	if (w->role == ROLE_QUEUE) {
		/* docs/algorithm.md#blocks: queue q starts at child q; the child never fills
		 * (MAXLIVE * Q_MAX is a quarter of it), so it never falls back. */
		*lo = p_dma + (uint64_t)w->queue * child_bytes;
		*hi = *lo + child_bytes;
	} else {
		*lo = fx.pool[0].dma;
		*hi = fx.pool[0].dma + (uint64_t)POOL_BLOCKS * BB;
	}
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* A live shared mapping may not lie in any live private pool. */
static void check_outside_private(struct worker *w, uint64_t dma, size_t size)
{
	if (overlap(dma, size, p_dma, p_bytes))
		worker_fail(w, "shared map 0x%llx inside P", (unsigned long long)dma);
	for (unsigned i = 0; i < CREATOR_DEVS; i++) {
		uint64_t r = __atomic_load_n(&cranges[i], __ATOMIC_RELAXED);
		uint64_t rdma = fx.pool[0].dma + (r >> 16) * BB, rbytes = (r & 0xffff) * BB;

		if (r && overlap(dma, size, rdma, rbytes))
			worker_fail(w, "shared map 0x%llx inside a private pool at 0x%llx",
				    (unsigned long long)dma, (unsigned long long)rdma);
	}
}

/*
 * Maps entry e on `dev` in [lo, hi); the device then checks the bounce bytes
 * and, for data it sends back, overwrites them.
 */
static bool do_map(struct worker *w, struct iotlb_dev *dev, int queue, struct live *e, size_t max,
		   uint64_t lo, uint64_t hi)
{
	static const enum iotlb_dir dirs[3] = {IOTLB_TO_DEVICE, IOTLB_FROM_DEVICE,
					       IOTLB_BIDIRECTIONAL};
	unsigned char *bounce;
	size_t bad;
	int rc;

	e->size = 1 + (size_t)rnd_below(w, max);
	e->dir = dirs[rnd_below(w, 3)];
	e->tag = ((uint64_t)w->id << 48) | w->ops++;
	df_pattern(e->orig, e->size, e->tag);
	rc = iotlb_map(dev, queue, e->orig, e->size, e->dir, 0, &e->dma);
	if (rc) {
		worker_fail(w, "map of %zu bytes: %d (%s)", e->size, rc, iotlb_strerror(rc));
		return false;
	}
	e->used = true;
	if (e->dma < lo || e->dma + e->size > hi) {
		worker_fail(w, "map at 0x%llx (%zu bytes) outside [0x%llx, 0x%llx)",
			    (unsigned long long)e->dma, e->size, (unsigned long long)lo,
			    (unsigned long long)hi);
		return false;
	}
	bounce = iotlb_dma_to_virt(dev, e->dma);
	if (!bounce) {
		worker_fail(w, "no bounce memory at 0x%llx", (unsigned long long)e->dma);
		return false;
	}
	bad = df_pattern_mismatch(bounce, e->size, e->tag);
	if (bad != e->size) {
		worker_fail(w, "bounce byte %zu of %zu differs from the original", bad, e->size);
		return false;
	}
	if (e->dir != IOTLB_TO_DEVICE)
		df_pattern(bounce, e->size, device_tag(e->tag));
	return true;
}

/* Unmaps entry e and checks the original holds what it must. */
static bool do_unmap(struct worker *w, struct iotlb_dev *dev, struct live *e)
{
	uint64_t want = e->dir == IOTLB_TO_DEVICE ? e->tag : device_tag(e->tag);
	size_t bad;
	int rc = iotlb_unmap(dev, e->dma, e->size, e->dir, 0);

	e->used = false;
	if (rc) {
		worker_fail(w, "unmap of 0x%llx: %d (%s)", (unsigned long long)e->dma, rc,
			    iotlb_strerror(rc));
		return false;
	}
	bad = df_pattern_mismatch(e->orig, e->size, want);
	if (bad != e->size) {
		worker_fail(w, "after unmap (dir %d) byte %zu of %zu is wrong", (int)e->dir, bad,
			    e->size);
		return false;
	}
	return true;
}

static struct live *pick(struct worker *w, bool used)
{
	unsigned start = (unsigned)rnd_below(w, MAXLIVE);

	for (unsigned k = 0; k < MAXLIVE; k++) {
		struct live *e = &w->live[(start + k) % MAXLIVE];

		if (e->used == used)
			return e;
	}
	return NULL;
}

/* One map or unmap of a queue or shared thread. */
static void mapper_op(struct worker *w)
{
	bool map = rnd_below(w, 2) == 0;
	struct live *e = pick(w, !map);
	uint64_t lo, hi;

	if (!e) {
		map = !map;
		e = pick(w, !map);
	}
	if (!map) {
		do_unmap(w, w->dev, e);
		return;
	}
	allowed_range(w, &lo, &hi);
	if (w->role == ROLE_QUEUE) {
		do_map(w, w->dev, w->queue, e, Q_MAX, lo, hi);
		return;
	}
	if (do_map(w, w->dev, IOTLB_ANY_QUEUE, e, SHARED_MAX, lo, hi))
		check_outside_private(w, e->dma, e->size);
	if (w->ops % 32 == 0) {
		/* Statistics are readable while everyone maps. */
		struct iotlb_stats m = IOTLB_STATS_INIT, p = IOTLB_STATS_INIT;

		if (iotlb_mem_stats(fx.mem, &m) || iotlb_dev_stats(pdev, &p))
			worker_fail(w, "stats refused");
		else if (m.used > m.nslots || p.used > p.nslots || p.nqueues != NQUEUE)
			worker_fail(w, "stats out of range: mem %llu/%llu, P %llu/%llu",
				    (unsigned long long)m.used, (unsigned long long)m.nslots,
				    (unsigned long long)p.used, (unsigned long long)p.nslots);
	}
}

static void mapper_drain(struct worker *w)
{
	for (unsigned i = 0; i < MAXLIVE; i++)
		if (w->live[i].used && !w->broken)
			do_unmap(w, w->dev, &w->live[i]);
}

/* ------------------------------------------------------------ creator */

static void creator_create(struct worker *w, unsigned slot)
{
	struct iotlb_dev *d = NULL;
	size_t size = 1 + (size_t)rnd_below(w, 2 * BB);
	unsigned nq = 1 + (unsigned)rnd_below(w, 4);
	const struct iotlb__pool *p;
	int rc = df_dev_try(fx.mem, size, nq, &d);

	if (rc == -ENOSPC) {
		w->carve_nospace++;
		return;
	}
	if (rc) {
		worker_fail(w, "private create: %d (%s)", rc, iotlb_strerror(rc));
		return;
	}
	p = df_private_pool(d);
	cdevs[slot] = (struct cdev){d, p->dma_addr, p->nslots * DF_SLOT};
	__atomic_store_n(&cranges[slot],
			 ((p->dma_addr - fx.pool[0].dma) / BB) << 16 | (p->nslots / BLK),
			 __ATOMIC_RELAXED);
	w->carves++;
}

static void creator_destroy(struct worker *w, unsigned slot)
{
	struct iotlb_dev *d;
	int rc;

	d = cdevs[slot].dev;
	cdevs[slot].dev = NULL;
	__atomic_store_n(&cranges[slot], 0, __ATOMIC_RELAXED);
	rc = iotlb_dev_destroy(d);
	if (rc)
		worker_fail(w, "private destroy: %d (%s)", rc, iotlb_strerror(rc));
	w->destroys++;
}

/* A short burst of maps on a private device, then everything unmapped. */
static void creator_burst(struct worker *w, const struct cdev *c)
{
	unsigned n = 1 + (unsigned)rnd_below(w, 6), i;

	for (i = 0; i < n && !w->broken; i++)
		do_map(w, c->dev, (int)rnd_below(w, 8), &w->live[i], CREATOR_MAX, c->dma,
		       c->dma + c->bytes);
	for (i = 0; i < n; i++)
		if (w->live[i].used && !w->broken)
			do_unmap(w, c->dev, &w->live[i]);
}

static void creator_op(struct worker *w)
{
	unsigned slot = (unsigned)rnd_below(w, CREATOR_DEVS);
	struct cdev c = cdevs[slot];

	if (!c.dev) {
		creator_create(w, slot);
		return;
	}
	creator_burst(w, &c);
	if (!w->broken && rnd_below(w, 2) == 0)
		creator_destroy(w, slot);
}

static void creator_drain(struct worker *w)
{
	for (unsigned slot = 0; slot < CREATOR_DEVS; slot++)
		if (cdevs[slot].dev)
			creator_destroy(w, slot);
}

/* ------------------------------------------------------------ threads */

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned phase = 0; phase < NPHASES; phase++) {
		while (!__atomic_load_n(&stop_phase, __ATOMIC_ACQUIRE) && !w->broken) {
			if (w->role == ROLE_CREATOR)
				creator_op(w);
			else
				mapper_op(w);
		}
		pthread_barrier_wait(&barrier); /* everyone quiet: main checks */
		pthread_barrier_wait(&barrier); /* checks done */
	}
	if (w->role == ROLE_CREATOR)
		creator_drain(w);
	else
		mapper_drain(w);
	return NULL;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The quiescent-point checks: the whole structure, P and the creator's devices. */
static void check_quiescent(unsigned phase)
{
	char step[64];

	check_no_failure();
	snprintf(step, sizeof(step), "phase %u", phase);
	df_check_mem(fx.mem, step);
	df_check_dev(pdev, step);
	for (unsigned i = 0; i < CREATOR_DEVS; i++)
		if (cdevs[i].dev)
			df_check_dev(cdevs[i].dev, step);
}

static void test_private_and_shared_devices_under_threads(void **state)
{
	struct worker *w;
	unsigned phase_ms = test_scale_reduced() ? 250 : 1200;
	uint64_t carves = 0, nospace = 0, destroys = 0, qops = 0, sops = 0;
	struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;
	struct iotlb_stats ps;
	const struct iotlb__pool *pp;

	(void)state;
	/* The library's default lock kind: the one most users get. */
	df_create_lock(&fx, POOL_BLOCKS * BLK, SEG, BLK, AREAS, IOTLB_LOCK_DEFAULT);
	sdev = df_dev(fx.mem, 0, 0);
	pdev = df_dev(fx.mem, 4 * BB, NQUEUE);
	pp = df_private_pool(pdev);
	p_dma = pp->dma_addr;
	p_bytes = pp->nslots * DF_SLOT;
	assert_int_equal(df_dev_stats(pdev).nqueues, NQUEUE);
	child_bytes = p_bytes / NQUEUE;

	w = calloc(NWORKERS, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(pthread_barrier_init(&barrier, NULL, NWORKERS + 1), 0);
	for (unsigned i = 0; i < NWORKERS; i++) {
		size_t max = i < NQUEUE ? Q_MAX : i < NQUEUE + NSHARED ? SHARED_MAX : CREATOR_MAX;

		w[i].id = i;
		w[i].seed = 0x1234567ull * (i + 1);
		w[i].role = i < NQUEUE		   ? ROLE_QUEUE
			    : i < NQUEUE + NSHARED ? ROLE_SHARED
						   : ROLE_CREATOR;
		w[i].queue = (int)i;
		w[i].dev = w[i].role == ROLE_QUEUE ? pdev : sdev;
		w[i].slab = malloc(MAXLIVE * max);
		assert_non_null(w[i].slab);
		for (unsigned k = 0; k < MAXLIVE; k++)
			w[i].live[k].orig = w[i].slab + k * max;
	}
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);

	for (unsigned phase = 0; phase < NPHASES; phase++) {
		sleep_ms(phase_ms);
		__atomic_store_n(&stop_phase, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&barrier);
		check_quiescent(phase);
		__atomic_store_n(&stop_phase, 0, __ATOMIC_RELEASE);
		pthread_barrier_wait(&barrier);
	}
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(pthread_join(w[i].th, NULL), 0);
	check_no_failure();

	for (unsigned i = 0; i < NWORKERS; i++) {
		carves += w[i].carves;
		nospace += w[i].carve_nospace;
		destroys += w[i].destroys;
		if (w[i].role == ROLE_QUEUE)
			qops += w[i].ops;
		if (w[i].role == ROLE_SHARED)
			sops += w[i].ops;
		free(w[i].slab);
	}
	print_message("queue maps %llu, shared maps %llu, private devices %llu created "
		      "(%llu refused for room), %llu destroyed\n",
		      (unsigned long long)qops, (unsigned long long)sops,
		      (unsigned long long)carves, (unsigned long long)nospace,
		      (unsigned long long)destroys);
	assert_true(qops > 0 && sops > 0 && carves > 0);
	assert_int_equal(carves, destroys);

	/* Each queue used its own child, first choice every time. */
	ps = df_dev_stats(pdev);
	assert_int_equal(ps.used, 0);
	assert_int_equal(ps.area_fallbacks, 0);
	assert_int_equal(ps.map_fail_nospace, 0);
	for (unsigned q = 0; q < NQUEUE; q++) {
		assert_int_equal(iotlb_dev_area_stats(pdev, q, &as), 0);
		assert_true(as.acquisitions > 0);
		assert_int_equal(as.used, 0);
	}
	df_check_dev(pdev, "end");
	assert_int_equal(iotlb_dev_destroy(pdev), 0);
	assert_int_equal(iotlb_dev_destroy(sdev), 0);
	df_check_mem(fx.mem, "end");
	assert_int_equal(df_mem_stats(fx.mem).used, 0);
	df_assert_list_fresh(df_shared_pool(&fx, 0), SEG);
	pthread_barrier_destroy(&barrier);
	free(w);
	df_destroy(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_and_shared_devices_under_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
