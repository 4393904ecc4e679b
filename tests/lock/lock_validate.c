/* SPDX-License-Identifier: MIT */
/*
 * One validation harness for every lock kind, registered once per kind by
 * tests/lock/CMakeLists.txt: the ops table alone under threads, then the
 * allocator running on it. Usage: lock_validate <kind>, kind being one of
 * mutex spin ticket mcs ttas none custom ("custom": a table written here).
 * The tests that only one kind runs (custom tables, "none") are in
 * lock_validate_kinds.c; lock_validate.h is what the two files share.
 */
#include "lock_validate.h"

/* The kind under test, set from the command line before the tests run. */
const char *kind_name;
enum iotlb_lock_kind kind;
const struct iotlb_lock_ops *ops;
unsigned nthreads;
unsigned long iters;

/* ------------------------------------------------------- the custom lock */

/* A plain CAS spinlock that also counts what the library did with it. */
struct custom_lock {
	uint32_t held;
	uint64_t acquisitions; /* written by the holder */
};

uint64_t custom_inits, custom_destroys, custom_acquired_at_destroy;

int custom_init(void *lock)
{
	struct custom_lock *c = lock;

	c->held = 0;
	c->acquisitions = 0;
	__atomic_fetch_add(&custom_inits, 1, __ATOMIC_RELAXED);
	return 0;
}

static void custom_destroy(void *lock)
{
	struct custom_lock *c = lock;

	__atomic_fetch_add(&custom_acquired_at_destroy, c->acquisitions, __ATOMIC_RELAXED);
	__atomic_fetch_add(&custom_destroys, 1, __ATOMIC_RELAXED);
}

static void custom_lock(void *lock, void *ctx)
{
	struct custom_lock *c = lock;
	uint32_t expected = 0;

	(void)ctx;
	while (!__atomic_compare_exchange_n(&c->held, &expected, 1, false, __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		expected = 0;
		sched_yield();
	}
	c->acquisitions++;
}

static void custom_unlock(void *lock, void *ctx)
{
	struct custom_lock *c = lock;

	(void)ctx;
	__atomic_store_n(&c->held, 0, __ATOMIC_RELEASE);
}

const struct iotlb_lock_ops custom_ops = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "test-cas",
	.lock_size = sizeof(struct custom_lock),
	.lock_align = _Alignof(struct custom_lock),
	.ctx_size = 0,
	.init = custom_init,
	.destroy = custom_destroy,
	.lock = custom_lock,
	.unlock = custom_unlock,
	.trylock = NULL,
};

void custom_counters_reset(void)
{
	custom_inits = 0;
	custom_destroys = 0;
	custom_acquired_at_destroy = 0;
}

/* ------------------------------------------------------------ helpers */

static unsigned scale_divisor(void)
{
	return test_scale_reduced() ? 20 : 1;
}

void *lock_alloc(const struct iotlb_lock_ops *o)
{
	size_t align = o->lock_align > IOTLB__CACHELINE ? o->lock_align : IOTLB__CACHELINE;
	size_t size = (o->lock_size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, size);

	assert_non_null(p);
	/* init must not count on zeroed memory */
	memset(p, 0xa5, size);
	assert_int_equal(o->init(p), 0);
	return p;
}

void lock_free(const struct iotlb_lock_ops *o, void *lock)
{
	o->destroy(lock);
	free(lock);
}

static void ctx_scribble(struct acq_ctx *ctx)
{
	/* lock and trylock must initialise whatever they keep in ctx */
	memset(ctx->bytes, 0x5a, sizeof(ctx->bytes));
}

/* ------------------------------------------- (a) the table under threads */

enum mode { MODE_LOCK, MODE_TRY, MODE_MIXED };

/* Plain counters, guarded only by the lock under test. */
struct shared {
	const struct iotlb_lock_ops *o;
	void *lock;
	unsigned long iters;
	uint64_t inside; /* threads in the critical section */
	uint64_t overlaps;
	uint64_t a, b, c;
	uint64_t torn; /* b != 2a seen inside the section */
};

struct worker {
	pthread_t tid;
	struct shared *sh;
	enum mode mode;
	unsigned id;
};

static void acquire(struct shared *sh, struct acq_ctx *ctx, bool use_try)
{
	ctx_scribble(ctx);
	if (!use_try) {
		sh->o->lock(sh->lock, ctx->bytes);
		return;
	}
	while (!sh->o->trylock(sh->lock, ctx->bytes)) {
		ctx_scribble(ctx);
		sched_yield();
	}
}

/* Keeps each plain access where it is written; without it the compiler may
 * fold inside++ and inside-- into nothing. */
#define COMPILER_BARRIER() __asm__ __volatile__("" ::: "memory")

static void critical_section(struct shared *sh, unsigned id)
{
	if (++sh->inside != 1)
		sh->overlaps++;
	COMPILER_BARRIER();
	sh->a++;
	COMPILER_BARRIER();
	/* a reader of a half-done update would see b != 2a */
	if (sh->b != 2 * (sh->a - 1))
		sh->torn++;
	sh->b += 2;
	sh->c += id + 1;
	COMPILER_BARRIER();
	sh->inside--;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct acq_ctx ctx;

	for (unsigned long i = 0; i < sh->iters; i++) {
		bool use_try = w->mode == MODE_TRY || (w->mode == MODE_MIXED && ((i + w->id) & 1));

		acquire(sh, &ctx, use_try);
		critical_section(sh, w->id);
		sh->o->unlock(sh->lock, ctx.bytes);
	}
	return NULL;
}

static void run_threads(enum mode mode, unsigned n)
{
	struct shared sh = {.o = ops, .iters = iters};
	struct worker w[NTHREADS];
	uint64_t expect_c = 0;

	sh.lock = lock_alloc(ops);
	for (unsigned t = 0; t < n; t++) {
		w[t] = (struct worker){.sh = &sh, .mode = mode, .id = t};
		/* mixed: half the threads only lock, the other half alternate */
		if (mode == MODE_MIXED && t % 2 == 0)
			w[t].mode = MODE_LOCK;
		assert_int_equal(pthread_create(&w[t].tid, NULL, worker_main, &w[t]), 0);
		expect_c += (uint64_t)(t + 1) * iters;
	}
	for (unsigned t = 0; t < n; t++)
		assert_int_equal(pthread_join(w[t].tid, NULL), 0);
	assert_int_equal(sh.overlaps, 0);
	assert_int_equal(sh.torn, 0);
	assert_int_equal(sh.inside, 0);
	assert_int_equal(sh.a, (uint64_t)n * iters);
	assert_int_equal(sh.b, 2 * (uint64_t)n * iters);
	assert_int_equal(sh.c, expect_c);
	lock_free(ops, sh.lock);
}

static void test_table_describes_its_kind(void **state)
{
	(void)state;
	assert_int_equal(ops->struct_size, sizeof(struct iotlb_lock_ops));
	assert_int_equal(iotlb__lock_ops_check(ops), 0);
	assert_non_null(ops->init);
	assert_non_null(ops->destroy);
	assert_non_null(ops->lock);
	assert_non_null(ops->unlock);
	assert_true(ops->lock_size > 0);
	assert_true(iotlb__is_pow2(ops->lock_align));
	assert_true(ops->ctx_size <= IOTLB_LOCK_CTX_MAX);
	if (kind == IOTLB_LOCK_CUSTOM)
		return;
	assert_non_null(ops->trylock);
	assert_string_equal(ops->name, kind_name);
	assert_string_equal(iotlb_lock_kind_name(kind), kind_name);
	/* each built-in kind has its own table */
	for (int k = IOTLB_LOCK_MUTEX; k < IOTLB_LOCK_CUSTOM; k++)
		if (k != (int)kind)
			assert_ptr_not_equal(iotlb__lock_builtin((enum iotlb_lock_kind)k), ops);
}

static void test_lock_and_unlock_exclude_threads(void **state)
{
	(void)state;
	run_threads(MODE_LOCK, nthreads);
}

static void test_trylock_loops_exclude_threads(void **state)
{
	(void)state;
	if (!ops->trylock)
		skip();
	run_threads(MODE_TRY, nthreads);
}

static void test_lock_and_trylock_mixed_exclude_threads(void **state)
{
	(void)state;
	if (!ops->trylock)
		skip();
	run_threads(MODE_MIXED, nthreads);
}

void *probe_try(void *arg)
{
	struct probe *p = arg;
	struct acq_ctx ctx;

	ctx_scribble(&ctx);
	p->try_result = p->o->trylock(p->lock, ctx.bytes);
	if (p->try_result)
		p->o->unlock(p->lock, ctx.bytes);
	return NULL;
}

static void *probe_lock(void *arg)
{
	struct probe *p = arg;
	struct acq_ctx ctx;

	ctx_scribble(&ctx);
	p->o->lock(p->lock, ctx.bytes);
	__atomic_store_n(&p->acquired, 1, __ATOMIC_RELEASE);
	p->o->unlock(p->lock, ctx.bytes);
	return NULL;
}

bool probe_run(struct probe *p, void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, p))
		return false;
	return pthread_join(t, NULL) == 0;
}

static void test_trylock_fails_while_held_and_succeeds_when_free(void **state)
{
	struct probe p = {.o = ops};
	struct acq_ctx ctx;

	(void)state;
	if (!ops->trylock || kind == IOTLB_LOCK_NONE)
		skip();
	p.lock = lock_alloc(ops);
	assert_true(probe_run(&p, probe_try));
	assert_true(p.try_result);

	ctx_scribble(&ctx);
	ops->lock(p.lock, ctx.bytes);
	assert_true(probe_run(&p, probe_try));
	assert_false(p.try_result);
	ops->unlock(p.lock, ctx.bytes);

	/* held through trylock this time */
	ctx_scribble(&ctx);
	assert_true(ops->trylock(p.lock, ctx.bytes));
	assert_true(probe_run(&p, probe_try));
	assert_false(p.try_result);
	ops->unlock(p.lock, ctx.bytes);

	assert_true(probe_run(&p, probe_try));
	assert_true(p.try_result);
	lock_free(ops, p.lock);
}

static void test_lock_waits_for_the_holder(void **state)
{
	struct probe p = {.o = ops};
	struct timespec nap = {0, 20 * 1000 * 1000};
	struct acq_ctx ctx;
	pthread_t t;

	(void)state;
	if (kind == IOTLB_LOCK_NONE)
		skip();
	p.lock = lock_alloc(ops);
	ctx_scribble(&ctx);
	ops->lock(p.lock, ctx.bytes);
	assert_int_equal(pthread_create(&t, NULL, probe_lock, &p), 0);
	/* A broken lock lets the thread through during the nap; a working
	 * one cannot, however long the nap. */
	nanosleep(&nap, NULL);
	assert_int_equal(__atomic_load_n(&p.acquired, __ATOMIC_ACQUIRE), 0);
	ops->unlock(p.lock, ctx.bytes);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(p.acquired, 1);
	lock_free(ops, p.lock);
}

/* ------------------------------------------- (b) the allocator on the lock */

#define LIB_SIZE (4u << 20)
#define LIB_LIVE 4
#define LIB_MAX_MAP (16u << 10)

struct lib_run {
	struct iotlb_dev *dev;
	unsigned long ops;
	uint64_t maps; /* summed after join */
};

struct lib_worker {
	pthread_t tid;
	struct lib_run *run;
	unsigned id;
	uint64_t rng;
	uint64_t maps;
	int err;	  /* first failure, 0 if none */
	const char *what; /* what failed */
	unsigned char *buf;
};

static void lib_fail(struct lib_worker *w, const char *what, int err)
{
	if (!w->what) {
		w->what = what;
		w->err = err;
	}
}

struct live_map {
	uint64_t dma;
	size_t size;
	unsigned char seed;
	unsigned char *orig;
};

static void pattern(unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static bool pattern_ok(const unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return false;
	return true;
}

static void lib_unmap(struct lib_worker *w, struct live_map *m)
{
	int err;

	/* Clobber the original: the unmap must bring the bytes back. */
	memset(m->orig, 0, m->size);
	err = iotlb_unmap(w->run->dev, m->dma, m->size, IOTLB_FROM_DEVICE, 0);
	if (err)
		lib_fail(w, "unmap", err);
	else if (!pattern_ok(m->orig, m->size, m->seed))
		lib_fail(w, "round trip", 0);
	m->size = 0;
}

static void *lib_worker_main(void *arg)
{
	struct lib_worker *w = arg;
	struct live_map live[LIB_LIVE] = {{0}};

	for (unsigned long i = 0; i < w->run->ops && !w->what; i++) {
		struct live_map *m = &live[xorshift64(&w->rng) % LIB_LIVE];
		int queue = (i % 4 == 3) ? (int)(xorshift64(&w->rng) % 16) : IOTLB_ANY_QUEUE;
		int err;

		if (m->size)
			lib_unmap(w, m);
		m->orig = w->buf + (size_t)(m - live) * LIB_MAX_MAP;
		m->size = 1 + xorshift64(&w->rng) % LIB_MAX_MAP;
		m->seed = (unsigned char)xorshift64(&w->rng);
		pattern(m->orig, m->size, m->seed);
		err = iotlb_map(w->run->dev, queue, m->orig, m->size, IOTLB_TO_DEVICE, 0, &m->dma);
		if (err) {
			lib_fail(w, "map", err);
			m->size = 0;
			break;
		}
		w->maps++;
	}
	for (unsigned j = 0; j < LIB_LIVE; j++)
		if (live[j].size)
			lib_unmap(w, &live[j]);
	return NULL;
}

/* Creates a mem on the kind under test, maps and unmaps from `n` threads,
 * checks the result; returns the lock acquisitions the stats report. */
uint64_t run_library(unsigned n, unsigned long per_thread)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct lib_worker w[NTHREADS];
	struct lib_run run = {.ops = per_thread};
	struct iotlb_mem *mem = NULL;
	char why[256] = "";
	void *region = aligned_alloc(4096, LIB_SIZE);

	assert_non_null(region);
	cfg.vaddr = region;
	cfg.dma_addr = LIB_DMA;
	cfg.size = LIB_SIZE;
	cfg.nareas = 4;
	cfg.lock = kind;
	cfg.lock_ops = kind == IOTLB_LOCK_CUSTOM ? ops : NULL;
	cfg.select = IOTLB_SELECT_THREAD;
	assert_int_equal(iotlb_mem_create(&cfg, &mem), 0);
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &run.dev), 0);

	for (unsigned t = 0; t < n; t++) {
		w[t] = (struct lib_worker){
			.run = &run, .id = t, .rng = 0x9e3779b97f4a7c15ull * (t + 1)};
		w[t].buf = malloc((size_t)LIB_LIVE * LIB_MAX_MAP);
		assert_non_null(w[t].buf);
		assert_int_equal(pthread_create(&w[t].tid, NULL, lib_worker_main, &w[t]), 0);
	}
	for (unsigned t = 0; t < n; t++) {
		assert_int_equal(pthread_join(w[t].tid, NULL), 0);
		if (w[t].what)
			fail_msg("thread %u: %s failed: %d (%s)", t, w[t].what, w[t].err,
				 iotlb_strerror(w[t].err));
		run.maps += w[t].maps;
		free(w[t].buf);
	}

	if (iotlb__check_mem(mem, why, sizeof(why)))
		fail_msg("inconsistent mem after %s: %s", kind_name, why);
	assert_int_equal(iotlb_mem_stats(mem, &st), 0);
	assert_int_equal(st.maps, run.maps);
	assert_int_equal(st.unmaps, run.maps);
	assert_int_equal(st.used, 0);
	/* every map and every unmap holds at least one area lock */
	assert_true(st.lock_acquisitions >= 2 * run.maps);
	assert_true(st.lock_contended <= st.lock_acquisitions);

	assert_int_equal(iotlb_dev_destroy(run.dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(region);
	return st.lock_acquisitions;
}

static void test_library_maps_and_unmaps_concurrently(void **state)
{
	(void)state;
	custom_counters_reset();
	uint64_t acq = run_library(nthreads, iters / 20 + 1);

	if (kind != IOTLB_LOCK_CUSTOM)
		return;
	/* the library used our table, and only through init/lock/destroy pairs */
	assert_true(custom_inits > 0);
	assert_int_equal(custom_destroys, custom_inits);
	assert_int_equal(custom_acquired_at_destroy, acq);
}

/* ----------------------------------------------------------------- main */

static const struct {
	const char *name;
	enum iotlb_lock_kind kind;
} kinds[] = {
	{"mutex", IOTLB_LOCK_MUTEX},   {"spin", IOTLB_LOCK_SPIN}, {"ticket", IOTLB_LOCK_TICKET},
	{"mcs", IOTLB_LOCK_MCS},       {"ttas", IOTLB_LOCK_TTAS}, {"none", IOTLB_LOCK_NONE},
	{"custom", IOTLB_LOCK_CUSTOM},
};

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_describes_its_kind),
		cmocka_unit_test(test_lock_and_unlock_exclude_threads),
		cmocka_unit_test(test_trylock_loops_exclude_threads),
		cmocka_unit_test(test_lock_and_trylock_mixed_exclude_threads),
		cmocka_unit_test(test_trylock_fails_while_held_and_succeeds_when_free),
		cmocka_unit_test(test_lock_waits_for_the_holder),
		cmocka_unit_test(test_library_maps_and_unmaps_concurrently),
		cmocka_unit_test(test_bad_custom_tables_are_refused),
		cmocka_unit_test(test_older_custom_table_without_trylock_is_accepted),
		cmocka_unit_test(test_custom_table_may_go_away_after_create),
		cmocka_unit_test(test_failing_custom_init_undoes_the_others),
		cmocka_unit_test(test_core_keeps_the_ctx_and_lock_memory_promises),
		cmocka_unit_test(test_none_counts_misuse_only_in_debug_builds),
		cmocka_unit_test(test_none_sees_no_misuse_from_single_threaded_library),
	};
	char group[64];

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s <mutex|spin|ticket|mcs|ttas|none|custom> [test-glob]\n",
			argv[0]);
		return 2;
	}
	if (argc == 3)
		cmocka_set_test_filter(argv[2]);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(argv[1], kinds[i].name)) {
			kind_name = kinds[i].name;
			kind = kinds[i].kind;
		}
	if (!kind_name) {
		fprintf(stderr, "unknown lock kind '%s'\n", argv[1]);
		return 2;
	}
	ops = kind == IOTLB_LOCK_CUSTOM ? &custom_ops : iotlb__lock_builtin(kind);
	if (!ops) {
		fprintf(stderr, "no built-in table for '%s'\n", kind_name);
		return 1;
	}
	/* "none" excludes nothing: its users are single-threaded */
	nthreads = kind == IOTLB_LOCK_NONE ? 1 : NTHREADS;
	/* A FIFO lock hands over to one particular thread, which may not be
	 * running when threads outnumber CPUs: fewer rounds keep the run short,
	 * and 8 threads x 10,000 exact increments still prove exclusion. */
	iters = (kind == IOTLB_LOCK_TICKET || kind == IOTLB_LOCK_MCS ? 10000 : 50000) /
		scale_divisor();
	snprintf(group, sizeof(group), "lock_validate[%s]", kind_name);
	return _cmocka_run_group_tests(group, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
