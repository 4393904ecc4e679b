/* SPDX-License-Identifier: MIT */
/*
 * Statistics (docs/algorithm.md#statistics, include/iotlb/stats.h) and
 * diagnostics: exact counters, versioned stats structs, per-area figures,
 * the kernel's "buffer is full" wording, NO_WARN, and silence when no log
 * callback is given.
 */
#include "fixture.h"

#include <sys/stat.h>
#include <unistd.h>

static void test_counters_count_each_kind_of_call(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;
	uint64_t a, b, c;
	void *va;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 3000, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x10000, 1000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_alloc(f->dev, 4096, &va, &c), 0);
	assert_int_equal(iotlb_sync_for_device(f->dev, a, 100, IOTLB_TO_DEVICE), 0);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, b, 1000, IOTLB_FROM_DEVICE), 0);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, b, 1000, IOTLB_TO_DEVICE), 0); /* no copy */
	st = fx_stats(f);
	assert_int_equal(st.maps, 2);
	assert_int_equal(st.allocs, 1);
	assert_int_equal(st.syncs, 3);
	assert_int_equal(st.unmaps, 0);
	assert_int_equal(st.frees, 0);
	assert_int_equal(st.used, 2 + 1 + 2);
	assert_int_equal(st.used_hiwater, 5);
	assert_int_equal(st.bounced_to_device, 3000 + 1000 + 100);
	assert_int_equal(st.bounced_to_cpu, 1000);
	assert_int_equal(st.overflow_clamps, 0);
	assert_int_equal(st.map_fail_nospace, 0);
	assert_int_equal(st.map_fail_too_big, 0);
	assert_int_equal(st.nslots, 256);
	assert_int_equal(st.npools, 1);
	assert_int_equal(st.transient_nslots, 0);
	assert_int_equal(st.transient_pools, 0);

	fx_unmap(f, f->dev, a, 3000, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 1000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_free(f->dev, c, 4096), 0);
	st = fx_stats(f);
	assert_int_equal(st.unmaps, 2);
	assert_int_equal(st.frees, 1);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.used_hiwater, 5);
	assert_int_equal(st.bounced_to_cpu, 2000);
}

static void test_failed_requests_are_counted_by_reason(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;
	uint64_t a, b, dma;
	void *va;

	fx_init(f, 256);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 262145, IOTLB_TO_DEVICE, 0, &dma),
			 -E2BIG);
	assert_int_equal(iotlb_alloc(f->dev, 300000, &va, &dma), -E2BIG);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 0, IOTLB_TO_DEVICE, 0, &dma), -EINVAL);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0), 100, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma),
		-ENOSPC);
	assert_int_equal(iotlb_alloc(f->dev, 2048, &va, &dma), -ENOSPC);
	st = fx_stats(f);
	assert_int_equal(st.map_fail_too_big, 2);
	assert_int_equal(st.map_fail_nospace, 3);
	assert_int_equal(st.maps, 2);
	assert_int_equal(st.allocs, 0);
	assert_int_equal(st.used, 256);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

static void test_nospace_message_uses_the_kernel_wording(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t a, b, dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 200 * 1024, IOTLB_TO_DEVICE); /* 100 slots */
	fx_log_clear(f);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 60000, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full (sz: 60000 bytes), total 256 "
					 "(slots), used 228 (slots)"),
			 1);
	/* sz is the padded size: 0x200 kept by min_align */
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0x200), 60000, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full (sz: 60512 bytes), total 256 "
					 "(slots), used 228 (slots)"),
			 1);
	assert_int_equal(f->log.count, 2);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 200 * 1024, IOTLB_TO_DEVICE);
}

static void test_too_big_logs_the_same_line_with_the_padded_size(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 262145, IOTLB_TO_DEVICE, 0, &dma),
			 -E2BIG);
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full (sz: 262145 bytes), total 256 "
					 "(slots), used 0 (slots)"),
			 1);
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0x200), 262144, IOTLB_TO_DEVICE, 0, &dma),
			 -E2BIG);
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full (sz: 262656 bytes), total 256 "
					 "(slots), used 0 (slots)"),
			 1);
}

static void test_no_warn_suppresses_the_line_but_still_counts(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, dma = FX_DMA_SENTINEL;

	fx_init(f, 256);
	fx_log_clear(f);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 262145, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_NO_WARN, &dma),
			 -E2BIG);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(f->log.count, 0);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 100, IOTLB_FROM_DEVICE,
				   IOTLB_ATTR_NO_WARN | IOTLB_ATTR_SKIP_CPU_SYNC, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	assert_int_equal(f->log.count, 0);
	assert_int_equal(fx_stats(f).map_fail_too_big, 1);
	assert_int_equal(fx_stats(f).map_fail_nospace, 1);
	/* without the attribute the same failure is logged */
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 100, IOTLB_FROM_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(f->log.count, 1);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

/* Every diagnostic path, with no log callback: nothing reaches fd 1 or 2. */
static void test_nothing_is_printed_without_a_callback(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/iotlb-unit-XXXXXX";
	int tmp, out, err, rc[12];
	uint64_t a, b, m, dma;
	struct stat sb;
	void *va;

	fx_prepare(f, 256);
	f->cfg.log = NULL;
	f->cfg.log_ctx = NULL;
	fx_create(f);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	m = fx_map(f, f->dev, 0x40000, 1000, IOTLB_FROM_DEVICE);

	tmp = mkstemp(path);
	assert_true(tmp >= 0);
	unlink(path);
	fflush(stdout);
	fflush(stderr);
	out = dup(1);
	err = dup(2);
	dup2(tmp, 1);
	dup2(tmp, 2);

	rc[0] = iotlb_map(f->dev, 0, fx_orig(f, 0), 262145, IOTLB_TO_DEVICE, 0, &dma);
	rc[1] = iotlb_map(f->dev, 0, fx_orig(f, 0), 262144, IOTLB_TO_DEVICE, 0, &dma);
	rc[2] = iotlb_sync_for_cpu(f->dev, m, 2000, IOTLB_FROM_DEVICE); /* clamp */
	rc[3] = iotlb_unmap(f->dev, m + 1, 1000, IOTLB_FROM_DEVICE, 0); /* inner */
	rc[4] = iotlb_unmap(f->dev, 0, 1000, IOTLB_FROM_DEVICE, 0);	/* outside */
	rc[5] = iotlb_map(f->dev, 0, NULL, 100, IOTLB_TO_DEVICE, 0, &dma);
	rc[6] = iotlb_map(NULL, 0, fx_orig(f, 0), 100, IOTLB_TO_DEVICE, 0, &dma);
	rc[7] = iotlb_alloc(f->dev, 1u << 20, &va, &dma);
	rc[8] = iotlb_mem_destroy(f->mem);
	rc[9] = iotlb_dev_destroy(f->dev);
	rc[10] = iotlb_mem_create(NULL, NULL);
	rc[11] = iotlb_unmap(f->dev, m, 5000, IOTLB_FROM_DEVICE, 0); /* clamp, frees */
	b = fx_map(f, f->dev, 0x80000, 262144, IOTLB_TO_DEVICE);     /* fills the pool */
	(void)iotlb_alloc(f->dev, 2048, &va, &dma);

	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	assert_int_equal(fstat(tmp, &sb), 0);
	close(tmp);
	assert_int_equal(sb.st_size, 0);

	assert_int_equal(rc[0], -E2BIG);
	assert_int_equal(rc[1], -ENOSPC); /* 128 + 1 slots used: no free segment */
	assert_int_equal(rc[2], 0);
	assert_int_equal(rc[3], -ENOENT);
	assert_int_equal(rc[4], -ENOENT);
	assert_int_equal(rc[5], -EINVAL);
	assert_int_equal(rc[6], -EINVAL);
	assert_int_equal(rc[7], -E2BIG);
	assert_int_equal(rc[8], -EBUSY);
	assert_int_equal(rc[9], -EBUSY);
	assert_int_equal(rc[10], -EINVAL);
	assert_int_equal(rc[11], 0);
	assert_int_equal(fx_stats(f).overflow_clamps, 2);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

/* A caller built against an older stats.h passes a smaller struct_size and
 * gets only the fields that fit. */
static void test_partial_stats_struct_gets_only_its_prefix(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats s;
	uint64_t a;
	size_t cut = offsetof(struct iotlb_stats, used) + sizeof(uint64_t);
	unsigned char tail[sizeof(s)];

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 3000, IOTLB_TO_DEVICE);
	memset(&s, 0xEE, sizeof(s));
	s.struct_size = cut;
	memset(tail, 0xEE, sizeof(tail));
	assert_int_equal(iotlb_mem_stats(f->mem, &s), 0);
	assert_int_equal(s.nslots, 256);
	assert_int_equal(s.used, 2);
	assert_memory_equal((unsigned char *)&s + cut, tail, sizeof(s) - cut);

	memset(&s, 0xEE, sizeof(s));
	s.struct_size = cut;
	assert_int_equal(iotlb_dev_stats(f->dev, &s), 0);
	assert_int_equal(s.used, 2);
	assert_memory_equal((unsigned char *)&s + cut, tail, sizeof(s) - cut);

	/* Too small to hold even struct_size: refused, nothing written. */
	memset(&s, 0xEE, sizeof(s));
	s.struct_size = sizeof(size_t) - 1;
	assert_int_equal(iotlb_mem_stats(f->mem, &s), -EINVAL);
	assert_int_equal(iotlb_dev_stats(f->dev, &s), -EINVAL);
	assert_int_equal(s.struct_size, sizeof(size_t) - 1);
	assert_memory_equal((unsigned char *)&s + sizeof(size_t), tail, sizeof(s) - sizeof(size_t));
	fx_unmap(f, f->dev, a, 3000, IOTLB_TO_DEVICE);
}

static void test_dev_stats_of_shared_device_equal_mem_stats(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats ms = IOTLB_STATS_INIT, ds = IOTLB_STATS_INIT;
	struct iotlb_dev *other;
	uint64_t a, b, dma;

	fx_init(f, 256);
	other = fx_dev(f, 0x7ff, 0, 0);
	a = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
	b = fx_map(f, other, 0x10064, 5000, IOTLB_TO_DEVICE);
	(void)iotlb_map(f->dev, 0, fx_orig(f, 0), 300000, IOTLB_TO_DEVICE, 0, &dma);
	assert_int_equal(iotlb_mem_stats(f->mem, &ms), 0);
	assert_int_equal(iotlb_dev_stats(f->dev, &ds), 0);
#define CMP_(name, desc)                                                    \
	if (strncmp(#name, "lock_", 5) != 0 && ms.name != ds.name)          \
		fail_msg("dev_stats.%s = %llu, mem_stats.%s = %llu", #name, \
			 (unsigned long long)ds.name, #name, (unsigned long long)ms.name);
	IOTLB_STATS_FIELDS(CMP_)
	assert_int_equal(iotlb_dev_stats(other, &ds), 0);
	IOTLB_STATS_FIELDS(CMP_)
#undef CMP_
	assert_int_equal(ds.nqueues, 0);
	assert_int_equal(ds.maps, 2);
	fx_unmap(f, f->dev, a, 3000, IOTLB_TO_DEVICE);
	fx_unmap(f, other, b, 5000, IOTLB_TO_DEVICE);
}

static void test_area_stats_report_layout_cursor_and_use(void **state)
{
	struct fx *f = *state;
	struct iotlb_area_stats a0 = IOTLB_AREA_STATS_INIT, a1 = IOTLB_AREA_STATS_INIT;
	uint64_t m, n;

	fx_prepare(f, 384);
	f->cfg.nareas = 2;
	fx_create(f);
	m = FX_DMA_SENTINEL;
	assert_int_equal(iotlb_map(f->dev, 1, fx_orig(f, 0), 3000, IOTLB_TO_DEVICE, 0, &m), 0);
	assert_int_equal(m, fx_slot_dma(128));
	assert_int_equal(iotlb_map(f->dev, 3, fx_orig(f, 0x10000), 100, IOTLB_TO_DEVICE, 0, &n), 0);
	assert_int_equal(n, fx_slot_dma(130));

	assert_int_equal(iotlb_mem_area_stats(f->mem, 0, 0, &a0), 0);
	assert_int_equal(iotlb_mem_area_stats(f->mem, 0, 1, &a1), 0);
	assert_int_equal(a0.first_slot, 0);
	assert_int_equal(a0.nslots, 128);
	assert_int_equal(a0.used, 0);
	assert_int_equal(a0.cursor, 0);
	assert_int_equal(a0.acquisitions, 0);
	assert_int_equal(a1.first_slot, 128);
	assert_int_equal(a1.nslots, 256);
	assert_int_equal(a1.used, 3);
	assert_int_equal(a1.cursor, 3);
	assert_true(a1.acquisitions >= 2);
	assert_true(a1.contended <= a1.acquisitions);

	/* for a shared device, the areas of the first pool */
	memset(&a1, 0, sizeof(a1));
	a1.struct_size = sizeof(a1);
	assert_int_equal(iotlb_dev_area_stats(f->dev, 1, &a1), 0);
	assert_int_equal(a1.first_slot, 128);
	assert_int_equal(a1.used, 3);
	assert_int_equal(fx_stats(f).area_fallbacks, 0);
	fx_unmap(f, f->dev, m, 3000, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, n, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_mem_area_stats(f->mem, 0, 1, &a1), 0);
	assert_int_equal(a1.used, 0);
}

struct lines {
	unsigned n;
	bool has_used, has_area, newline;
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;

	l->n++;
	if (strstr(line, "used"))
		l->has_used = true;
	if (strstr(line, "area"))
		l->has_area = true;
	if (strchr(line, '\n'))
		l->newline = true;
}

static void test_stats_print_goes_through_the_callback(void **state)
{
	struct fx *f = *state;
	struct lines l = {0};
	uint64_t a;

	fx_prepare(f, 256);
	f->cfg.nareas = 2;
	fx_create(f);
	a = fx_map(f, f->dev, 0, 3000, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_stats_print(f->mem, NULL, collect, &l), 0);
	assert_true(l.n >= 2 + 1);
	assert_true(l.has_used);
	assert_true(l.has_area);
	assert_false(l.newline);
	memset(&l, 0, sizeof(l));
	assert_int_equal(iotlb_stats_print(NULL, f->dev, collect, &l), 0);
	assert_true(l.n > 0);
	assert_int_equal(iotlb_stats_print(f->mem, NULL, NULL, &l), -EINVAL);
	assert_int_equal(iotlb_stats_print(NULL, NULL, collect, &l), -EINVAL);
	fx_unmap(f, f->dev, a, 3000, IOTLB_TO_DEVICE);
}

/* The overflow warning reaches the callback once per clamp, as a warning. */
static void test_overflow_warning_is_logged_with_the_sizes(void **state)
{
	struct fx *f = *state;
	uint64_t dma;

	fx_init(f, 256);
	dma = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
	fx_log_clear(f);
	assert_int_equal(iotlb_sync_for_device(f->dev, dma + 2000, 1500, IOTLB_TO_DEVICE), 0);
	assert_int_equal(f->log.count, 1);
	assert_non_null(
		strstr(f->log.msg[0],
		       "Buffer overflow detected. Allocation size: 1000. Mapping size: 1500."));
	assert_int_equal(f->log.level[0], IOTLB_LOG_WARNING);
	assert_int_equal(fx_stats(f).overflow_clamps, 1);
	assert_int_equal(fx_stats(f).bounced_to_device, 3000 + 1000);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_counters_count_each_kind_of_call),
		FX_TEST(test_failed_requests_are_counted_by_reason),
		FX_TEST(test_nospace_message_uses_the_kernel_wording),
		FX_TEST(test_too_big_logs_the_same_line_with_the_padded_size),
		FX_TEST(test_no_warn_suppresses_the_line_but_still_counts),
		FX_TEST(test_nothing_is_printed_without_a_callback),
		FX_TEST(test_partial_stats_struct_gets_only_its_prefix),
		FX_TEST(test_dev_stats_of_shared_device_equal_mem_stats),
		FX_TEST(test_area_stats_report_layout_cursor_and_use),
		FX_TEST(test_stats_print_goes_through_the_callback),
		FX_TEST(test_overflow_warning_is_logged_with_the_sizes),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
