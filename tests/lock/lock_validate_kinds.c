/* SPDX-License-Identifier: MIT */
/*
 * The lock validation tests that belong to one kind: custom tables (what is
 * refused, older tables, the copy made at create, a failing init, the ctx
 * and lock memory promises) and the "none" kind's misuse counter. Every kind
 * runs them and skips all but its own, so the harness stays one executable
 * per kind; see lock_validate.c.
 */
#include "lock_validate.h"

/* ---------------------------------------------- custom tables: refusals */

static int failing_init_calls;
static int failing_init_at;

static int failing_init(void *lock)
{
	if (++failing_init_calls == failing_init_at)
		return -EAGAIN;
	return custom_init(lock);
}

static int create_with(const struct iotlb_lock_ops *o, struct iotlb_mem **out)
{
	static unsigned char region[1u << 20] __attribute__((aligned(4096)));
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;

	cfg.vaddr = region;
	cfg.dma_addr = LIB_DMA;
	cfg.size = sizeof(region);
	cfg.nareas = 4;
	cfg.lock = IOTLB_LOCK_CUSTOM;
	cfg.lock_ops = o;
	return iotlb_mem_create(&cfg, out);
}

static void expect_refused(const struct iotlb_lock_ops *o, const char *why)
{
	struct iotlb_mem *sentinel = (struct iotlb_mem *)(uintptr_t)0x1234;
	struct iotlb_mem *mem = sentinel;
	int err;

	custom_counters_reset();
	err = iotlb__lock_ops_check(o);
	if (err != -EINVAL)
		fail_msg("iotlb__lock_ops_check accepted a table with %s: %d", why, err);
	err = create_with(o, &mem);
	if (err != -EINVAL)
		fail_msg("iotlb_mem_create with %s: got %d, want -EINVAL", why, err);
	assert_ptr_equal(mem, sentinel);
	assert_int_equal(custom_inits, 0);
}

void test_bad_custom_tables_are_refused(void **state)
{
	struct {
		struct iotlb_lock_ops ops;
		uint64_t newer_field;
	} newer = {custom_ops, 1};
	struct iotlb_lock_ops o;
	struct iotlb_mem *mem = NULL;

	(void)state;
	if (kind != IOTLB_LOCK_CUSTOM)
		skip();

	o = custom_ops, o.init = NULL;
	expect_refused(&o, "no init");
	o = custom_ops, o.destroy = NULL;
	expect_refused(&o, "no destroy");
	o = custom_ops, o.lock = NULL;
	expect_refused(&o, "no lock");
	o = custom_ops, o.unlock = NULL;
	expect_refused(&o, "no unlock");
	o = custom_ops, o.lock_size = 0;
	expect_refused(&o, "lock_size 0");
	o = custom_ops, o.lock_align = 0;
	expect_refused(&o, "lock_align 0");
	o = custom_ops, o.lock_align = 3;
	expect_refused(&o, "lock_align 3");
	o = custom_ops, o.lock_align = 24;
	expect_refused(&o, "lock_align 24");
	o = custom_ops, o.struct_size = 0;
	expect_refused(&o, "struct_size 0");
	o = custom_ops, o.ctx_size = IOTLB_LOCK_CTX_MAX + 1;
	expect_refused(&o, "ctx_size over IOTLB_LOCK_CTX_MAX");
	newer.ops.struct_size = sizeof(newer);
	expect_refused(&newer.ops, "a newer struct_size and a non-zero tail");
	expect_refused(NULL, "no table at all");

	/* a table goes with IOTLB_LOCK_CUSTOM only */
	{
		static unsigned char region[1u << 20] __attribute__((aligned(4096)));
		struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;

		cfg.vaddr = region;
		cfg.dma_addr = LIB_DMA;
		cfg.size = sizeof(region);
		cfg.lock = IOTLB_LOCK_MUTEX;
		cfg.lock_ops = &custom_ops;
		assert_int_equal(iotlb_mem_create(&cfg, &mem), -EINVAL);
		assert_null(mem);
	}

	/* a newer table whose unknown tail is zero is fine */
	newer.newer_field = 0;
	custom_counters_reset();
	assert_int_equal(create_with(&newer.ops, &mem), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	assert_int_equal(custom_destroys, custom_inits);
}

static int older_trylock_calls;

static bool older_trylock(void *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
	__atomic_fetch_add(&older_trylock_calls, 1, __ATOMIC_RELAXED);
	return false;
}

/* A table from a header that predates trylock: the field is not read. */
void test_older_custom_table_without_trylock_is_accepted(void **state)
{
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_lock_ops o = custom_ops;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev;
	static unsigned char buf[3000];
	uint64_t dma;

	(void)state;
	if (kind != IOTLB_LOCK_CUSTOM)
		skip();
	o.struct_size = offsetof(struct iotlb_lock_ops, trylock);
	o.trylock = older_trylock; /* beyond struct_size: garbage to the library */
	older_trylock_calls = 0;
	custom_counters_reset();
	assert_int_equal(create_with(&o, &mem), 0);
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &dev), 0);
	for (int q = 0; q < 8; q++) {
		assert_int_equal(iotlb_map(dev, q, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma), 0);
		assert_int_equal(iotlb_unmap(dev, dma, sizeof(buf), IOTLB_FROM_DEVICE, 0), 0);
	}
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	assert_int_equal(older_trylock_calls, 0);
	assert_true(custom_acquired_at_destroy >= 16);
}

/* The library keeps its own copy: the caller's table may go away. */
void test_custom_table_may_go_away_after_create(void **state)
{
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_lock_ops *o;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev;
	static unsigned char buf[5000];
	uint64_t dma;

	(void)state;
	if (kind != IOTLB_LOCK_CUSTOM)
		skip();
	o = malloc(sizeof(*o));
	assert_non_null(o);
	*o = custom_ops;
	custom_counters_reset();
	assert_int_equal(create_with(o, &mem), 0);
	memset(o, 0, sizeof(*o));
	free(o);
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &dev), 0);
	for (int q = 0; q < 8; q++) {
		assert_int_equal(iotlb_map(dev, q, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma), 0);
		assert_int_equal(iotlb_unmap(dev, dma, sizeof(buf), IOTLB_FROM_DEVICE, 0), 0);
	}
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	assert_int_equal(custom_destroys, custom_inits);
	assert_true(custom_acquired_at_destroy >= 16);
}

void test_failing_custom_init_undoes_the_others(void **state)
{
	struct iotlb_lock_ops o = custom_ops;
	struct iotlb_mem *sentinel = (struct iotlb_mem *)(uintptr_t)0x1234;
	struct iotlb_mem *mem = sentinel;

	(void)state;
	if (kind != IOTLB_LOCK_CUSTOM)
		skip();
	o.init = failing_init;
	custom_counters_reset();
	failing_init_calls = 0;
	failing_init_at = 3;
	assert_int_equal(create_with(&o, &mem), -EAGAIN);
	assert_ptr_equal(mem, sentinel);
	/* two locks were made before the failure; both are gone again */
	assert_int_equal(custom_inits, 2);
	assert_int_equal(custom_destroys, 2);
}

/* ---------------------------------------- custom tables: the ctx contract */

/* A lock that checks what the core promises about lock memory and ctx. */
#define CTX_LOCK_ALIGN 256
#define CTX_SIZE 96

struct ctx_lock {
	uint32_t held;
	uint64_t token; /* what the holder wrote into its ctx */
	uint64_t next_token;
	uint64_t errors; /* broken promises, written by the holder */
	uint64_t acquisitions;
};

static uintptr_t ctx_lock_addrs[MAX_LOCKS];
static unsigned ctx_lock_count;
static uint64_t ctx_errors_total, ctx_acq_total, ctx_bad_lock_align;

static int ctx_init(void *lock)
{
	struct ctx_lock *c = lock;

	if ((uintptr_t)lock % CTX_LOCK_ALIGN)
		ctx_bad_lock_align++;
	if (ctx_lock_count < MAX_LOCKS)
		ctx_lock_addrs[ctx_lock_count++] = (uintptr_t)lock;
	memset(c, 0, sizeof(*c));
	return 0;
}

static void ctx_destroy(void *lock)
{
	struct ctx_lock *c = lock;

	ctx_errors_total += c->errors;
	ctx_acq_total += c->acquisitions;
}

/* Holder only: stamps the ctx, so unlock can tell it got the same one. */
static void ctx_stamp(struct ctx_lock *c, void *ctx)
{
	if (!ctx || (uintptr_t)ctx % IOTLB__CACHELINE) {
		c->errors++;
		c->token = 0;
		return;
	}
	c->token = ++c->next_token;
	memcpy(ctx, &c->token, sizeof(c->token));
	/* the whole ctx_size must be writable */
	memset((char *)ctx + sizeof(c->token), 0xc3, CTX_SIZE - sizeof(c->token));
	c->acquisitions++;
}

static bool ctx_trylock(void *lock, void *ctx)
{
	struct ctx_lock *c = lock;
	uint32_t expected = 0;

	if (!__atomic_compare_exchange_n(&c->held, &expected, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	ctx_stamp(c, ctx);
	return true;
}

static void ctx_lockfn(void *lock, void *ctx)
{
	while (!ctx_trylock(lock, ctx))
		sched_yield();
}

static void ctx_unlock(void *lock, void *ctx)
{
	struct ctx_lock *c = lock;
	uint64_t token = 0;

	if (ctx)
		memcpy(&token, ctx, sizeof(token));
	if (!c->token || token != c->token)
		c->errors++;
	__atomic_store_n(&c->held, 0, __ATOMIC_RELEASE);
}

static const struct iotlb_lock_ops ctx_ops = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "test-ctx",
	.lock_size = sizeof(struct ctx_lock),
	.lock_align = CTX_LOCK_ALIGN,
	.ctx_size = CTX_SIZE,
	.init = ctx_init,
	.destroy = ctx_destroy,
	.lock = ctx_lockfn,
	.unlock = ctx_unlock,
	.trylock = ctx_trylock,
};

static int cmp_uintptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

void test_core_keeps_the_ctx_and_lock_memory_promises(void **state)
{
	const struct iotlb_lock_ops *saved = ops;
	uint64_t acq;

	(void)state;
	if (kind != IOTLB_LOCK_CUSTOM)
		skip();
	ctx_lock_count = 0;
	ctx_errors_total = ctx_acq_total = ctx_bad_lock_align = 0;
	ops = &ctx_ops;
	acq = run_library(nthreads, iters / 40 + 1);
	ops = saved;

	assert_int_equal(ctx_bad_lock_align, 0);
	assert_int_equal(ctx_errors_total, 0);
	assert_int_equal(ctx_acq_total, acq);
	/* each lock on cache lines of its own */
	assert_true(ctx_lock_count >= 4);
	qsort(ctx_lock_addrs, ctx_lock_count, sizeof(ctx_lock_addrs[0]), cmp_uintptr);
	for (unsigned i = 1; i < ctx_lock_count; i++) {
		uintptr_t prev_end = ctx_lock_addrs[i - 1] + sizeof(struct ctx_lock) - 1;

		assert_true(prev_end / IOTLB__CACHELINE < ctx_lock_addrs[i] / IOTLB__CACHELINE);
	}
}

/* ----------------------------------------------------- the "none" kind */

void test_none_counts_misuse_only_in_debug_builds(void **state)
{
	struct acq_ctx ctx;
	void *lock;
	uint64_t want_overlap = IOTLB_DEBUG_LEVEL >= 1 ? 1 : 0;
	struct probe p = {.o = ops};

	(void)state;
	if (kind != IOTLB_LOCK_NONE)
		skip();
	lock = lock_alloc(ops);
	p.lock = lock;
	assert_int_equal(iotlb__lock_none_violations(lock), 0);
	ops->lock(lock, ctx.bytes);
	ops->unlock(lock, ctx.bytes);
	assert_true(ops->trylock(lock, ctx.bytes));
	ops->unlock(lock, ctx.bytes);
	assert_int_equal(iotlb__lock_none_violations(lock), 0);

	/* lock while held, from this thread and from another */
	ops->lock(lock, ctx.bytes);
	ops->lock(lock, ctx.bytes);
	assert_int_equal(iotlb__lock_none_violations(lock), want_overlap);
	assert_true(probe_run(&p, probe_try));
	/* none's trylock never fails: the lock stands for no contention */
	assert_true(p.try_result);
	assert_int_equal(iotlb__lock_none_violations(lock), 2 * want_overlap);

	/* the probe's unlock released it: this unlock has nothing to release */
	ops->unlock(lock, ctx.bytes);
	assert_int_equal(iotlb__lock_none_violations(lock), 3 * want_overlap);
	ops->lock(lock, ctx.bytes);
	ops->unlock(lock, ctx.bytes);
	assert_int_equal(iotlb__lock_none_violations(lock), 3 * want_overlap);
	lock_free(ops, lock);
}

void test_none_sees_no_misuse_from_single_threaded_library(void **state)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	static unsigned char buf[8192];
	unsigned checked = 0;
	uint64_t dma[8];
	void *region;

	(void)state;
	if (kind != IOTLB_LOCK_NONE)
		skip();
	region = aligned_alloc(4096, 1u << 20);
	assert_non_null(region);
	cfg.vaddr = region;
	cfg.dma_addr = LIB_DMA;
	cfg.size = 1u << 20;
	cfg.nareas = 2;
	cfg.lock = IOTLB_LOCK_NONE;
	assert_int_equal(iotlb_mem_create(&cfg, &mem), 0);
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &dev), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(
			iotlb_map(dev, (int)i, buf, 1000 * (i + 1), IOTLB_TO_DEVICE, 0, &dma[i]),
			0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(iotlb_unmap(dev, dma[i], 1000 * (i + 1), IOTLB_FROM_DEVICE, 0), 0);
	/* every area lock was taken and released in pairs */
	for (struct iotlb__pool *pool = mem->shared.pools; pool; pool = pool->next)
		for (unsigned a = 0; a < pool->nareas; a++, checked++)
			assert_int_equal(iotlb__lock_none_violations(iotlb__area_at(pool, a)->lock),
					 0);
	assert_true(checked >= 2);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(region);
}
