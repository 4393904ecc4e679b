/* SPDX-License-Identifier: MIT */
/*
 * iotlb-replay's parser and engine, driven directly: the hand-written
 * captures give the counts docs/replay.md documents, an emitted workload
 * replays with every bounce address identical, and bad input never crashes.
 * Argument: the folder of the captures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver.h"
#include "emit.h"
#include "engine.h"
#include "trace.h"

static const char *captures = ".";

struct result {
	struct rp_parse_stats ps;
	struct rp_run run;
};

static void replay_text(const char *buf, size_t len, const struct rp_config *cfg, bool check,
			struct result *r)
{
	assert_int_equal(rp_run_init(&r->run, cfg, check), 0);
	assert_int_equal(rp_replay_buffer(buf, len, &r->run, &r->ps), 0);
	rp_run_finish(&r->run);
}

static void replay_capture(const char *name, const struct rp_config *cfg, struct result *r)
{
	char path[1024];
	char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", captures, name);
	assert_int_equal(rp_read_input(path, &buf, &len), 0);
	replay_text(buf, len, cfg, true, r);
	free(buf);
}

static void config(struct rp_config *cfg, size_t pool, unsigned areas)
{
	rp_config_defaults(cfg);
	cfg->pool_size = pool;
	cfg->nareas = areas;
	rp_config_rule(cfg, "0000:00:05.0", true)->min_align_mask = 0xfff;
}

/* every_kind.txt: each event kind, an sg list, two devices on two CPUs. */
static void test_every_kind_capture_gives_documented_counts(void **state)
{
	struct rp_config cfg;
	struct result *r = calloc(1, sizeof(*r));

	(void)state;
	config(&cfg, 1u << 20, 2);
	replay_capture("every_kind.txt", &cfg, r);
	assert_int_equal(r->ps.events, 16);
	assert_int_equal(r->ps.other, 1); /* sched_switch */
	assert_int_equal(r->ps.unknown + r->ps.malformed + r->ps.unrelated, 0);
	assert_int_equal(r->ps.max_cpu, 1);
	assert_int_equal(r->run.c.maps, 4);
	assert_int_equal(r->run.c.sg_maps, 1);
	assert_int_equal(r->run.c.sg_entries, 2);
	assert_int_equal(r->run.c.unmaps, 6);
	assert_int_equal(r->run.c.syncs, 4);
	/* The coherent alloc came from outside the pool: not replayed. */
	assert_int_equal(r->run.c.allocs, 0);
	assert_int_equal(r->run.c.frees, 0);
	assert_int_equal(r->run.c.unbounced, 1);
	assert_int_equal(r->run.c.not_comparable, 1);
	assert_int_equal(r->run.c.ignored, 1); /* dma_alloc_pages */
	/* The map at 0x80040000 is not where the kernel's next fit puts it. */
	assert_int_equal(r->run.c.identical, 5);
	assert_int_equal(r->run.c.differs, 1);
	assert_int_equal(r->run.ndiffs, 1);
	assert_int_equal(r->run.diffs[0].line, 27);
	assert_int_equal(r->run.diffs[0].trace_dma, 0x80040000);
	assert_int_equal(r->run.diffs[0].lib_dma, 0x80001800);
	assert_non_null(strstr(r->run.diffs[0].text[r->run.diffs[0].ntext - 1], "80040000"));
	assert_int_equal(r->run.c.unmatched_unmaps + r->run.c.unmatched_syncs, 0);
	assert_int_equal(r->run.c.never_unmapped, 0);
	assert_int_equal(r->run.c.call_errors + r->run.c.skipped_after_failure, 0);
	assert_int_equal(r->run.c.devices, 2);
	/* 2 + 1 + 2 + 1 slots live at once at most (the 4 KiB map, the 2 KiB map, the sg list). */
	assert_int_equal(r->run.c.used_hiwater, 6);
	free(r);
}

/* mid_stream.txt (trace-cmd layout): tracing began while mappings were live,
 * bad lines, a failed kernel map, mappings still live at the end. */
static void test_mid_stream_capture_reports_unmatched_and_live(void **state)
{
	struct rp_config cfg;
	struct result *r = calloc(1, sizeof(*r));

	(void)state;
	config(&cfg, 2u << 20, 4);
	replay_capture("mid_stream.txt", &cfg, r);
	assert_int_equal(r->ps.events, 10);
	assert_int_equal(r->ps.unrelated, 2); /* cpus=4, CPU 2 is empty */
	assert_int_equal(r->ps.malformed, 2);
	assert_int_equal(r->ps.unknown, 1);
	assert_int_equal(r->ps.other, 1); /* dma_fence_* is another system */
	assert_int_equal(r->ps.nbad, 3);
	assert_int_equal(r->ps.bad_line[0], 9);
	assert_int_equal(r->ps.bad_line[1], 10);
	assert_int_equal(r->ps.bad_line[2], 11);
	assert_int_equal(r->run.c.unmatched_unmaps, 2);
	assert_int_equal(r->run.unmatched_lines[0], 3);
	assert_int_equal(r->run.unmatched_lines[1], 4);
	assert_int_equal(r->run.c.unmatched_syncs, 1);
	assert_int_equal(r->run.c.kernel_failed, 1);
	assert_int_equal(r->run.c.maps, 3);
	assert_int_equal(r->run.c.sg_entries, 1);
	assert_int_equal(r->run.c.unmaps, 2);
	assert_int_equal(r->run.c.never_unmapped, 2);
	assert_int_equal(r->run.live_lines[0] + r->run.live_lines[1], 7 + 8);
	/* CPUs 3, 1 and 2 pick areas 3, 1 and 2; min-align keeps 0xf00. */
	assert_int_equal(r->run.c.identical, 4);
	assert_int_equal(r->run.c.differs, 0);
	assert_int_equal(r->run.areas[3].used_peak, 2);
	assert_int_equal(r->run.areas[2].used_peak, 4);
	assert_int_equal(r->run.areas[0].used_peak, 0);
	free(r);
}

static char *emit_text(struct rp_config *cfg, unsigned long events, bool trace_cmd, size_t *len)
{
	struct rp_emit_params p = {.seed = 42, .events = events, .trace_cmd = trace_cmd};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(rp_emit(f, cfg, &p), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void round_trip_cfg(struct rp_config *cfg, bool trace_cmd);

static void round_trip(unsigned areas, bool trace_cmd, size_t pool)
{
	struct rp_config cfg;

	rp_config_defaults(&cfg);
	cfg.pool_size = pool;
	cfg.nareas = areas;
	round_trip_cfg(&cfg, trace_cmd);
}

static void round_trip_cfg(struct rp_config *cfgp, bool trace_cmd)
{
	struct rp_config cfg = *cfgp;
	unsigned areas = cfg.nareas;
	struct result *r = calloc(1, sizeof(*r));
	size_t len;
	char *text;

	text = emit_text(&cfg, 6000, trace_cmd, &len); /* adds the min-align devices to cfg */
	assert_non_null(rp_config_rule(&cfg, "0000:00:05.0", false));
	replay_text(text, len, &cfg, true, r);
	free(text);

	assert_int_equal(r->ps.unknown + r->ps.malformed, 0);
	assert_true(r->run.c.maps > 1000);
	assert_true(r->run.c.sg_entries > 500);
	assert_true(r->run.c.allocs > 50);
	assert_true(r->run.c.syncs > 500);
	assert_int_equal(r->run.c.differs, 0);
	/* Maps the emitter saw refused are traced as failed and not replayed. */
	assert_int_equal(r->run.c.identical, r->run.c.maps + r->run.c.sg_entries + r->run.c.allocs);
	assert_int_equal(r->run.c.not_comparable, 0);
	assert_int_equal(r->run.c.unmatched_unmaps + r->run.c.unmatched_syncs, 0);
	assert_int_equal(r->run.c.call_errors, 0);
	assert_int_equal(r->run.c.never_unmapped, 0);
	assert_int_equal(r->run.nareas, areas);
	if (areas == 16)
		assert_true(r->run.c.area_fallbacks > 0);
	free(r);
}

static void test_emitted_trace_replays_identically_with_1_area(void **state)
{
	(void)state;
	round_trip(1, false, 4u << 20);
}

static void test_emitted_trace_replays_identically_with_4_areas(void **state)
{
	(void)state;
	round_trip(4, false, 4u << 20);
	round_trip(4, true, 4u << 20);
}

static void test_emitted_trace_replays_identically_with_16_areas(void **state)
{
	(void)state;
	/* 4 MiB: 128 slots (one segment) per area, so requests fall back to
	 * other areas; the replay must agree on every choice. */
	round_trip(16, false, 4u << 20);
}

/* Private pools (carved, with child pools per queue), a segment boundary
 * and an alloc-align mask, which the emitter's devices then use. */
static void test_emitted_trace_replays_identically_with_private_pool_and_masks(void **state)
{
	struct rp_config cfg;
	struct rp_dev_rule *nvme, *plain, *third;

	(void)state;
	rp_config_defaults(&cfg);
	cfg.pool_size = 8u << 20;
	cfg.nareas = 4;
	nvme = rp_config_rule(&cfg, "0000:00:05.0", true);
	nvme->min_align_mask = 0xfff;
	nvme->private_size = 2u << 20;
	nvme->nqueues = 2;
	plain = rp_config_rule(&cfg, "0000:00:04.0", true);
	plain->seg_boundary_mask = 0xffff;
	third = rp_config_rule(&cfg, "0000:00:06.0", true);
	third->alloc_align_mask = 0xfff;
	round_trip_cfg(&cfg, false);
}

/* 4 KiB slots, 64-slot segments and 16 KiB pages (an arm64-like guest). */
static void test_emitted_trace_replays_identically_with_other_slot_and_page_sizes(void **state)
{
	struct rp_config cfg;

	(void)state;
	rp_config_defaults(&cfg);
	cfg.pool_size = 8u << 20;
	cfg.nareas = 8;
	cfg.slot_shift = 12;
	cfg.segment_slots = 64;
	cfg.page_size = 16384;
	round_trip_cfg(&cfg, true);
}

/* A smaller pool on the same capture: more refusals, never above its slots. */
static void test_smaller_pool_refuses_more_on_the_same_capture(void **state)
{
	struct rp_config big, small;
	struct result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	size_t len;
	char *text;

	(void)state;
	rp_config_defaults(&big);
	big.pool_size = 4u << 20;
	big.nareas = 4;
	text = emit_text(&big, 6000, false, &len);
	small = big;
	small.pool_size = 512u << 10;
	small.trace_base = big.pool_base;
	small.trace_size = big.pool_size;
	replay_text(text, len, &big, false, a);
	replay_text(text, len, &small, false, b);
	free(text);
	assert_int_equal(a->run.c.failures[28 /* ENOSPC */], 0);
	assert_true(b->run.c.failures[28] > 0);
	assert_true(b->run.c.skipped_after_failure > 0);
	assert_true(b->run.c.used_hiwater <= b->run.c.nslots);
	assert_true(a->run.c.used_hiwater > b->run.c.used_hiwater);
	assert_true(a->run.series.n > 10);
	free(a);
	free(b);
}

static const char map_line[] =
	"  kworker/0:1-12   [003] d..1.  51.000100: dma_map_page: 0000:00:04.0 dir=TO_DEVICE "
	"dma_addr=80000000 size=4096 phys_addr=1000000 attrs=SKIP_CPU_SYNC|NO_WARN";

static void test_every_truncation_of_a_line_is_not_an_event_until_complete(void **state)
{
	struct rp_event *ev = malloc(sizeof(*ev));
	size_t full = strlen(map_line);
	size_t phys_end = (size_t)(strstr(map_line, "phys_addr=") - map_line) + 10;
	const char *why;

	(void)state;
	assert_int_equal(rp_parse_line(map_line, full, ev, &why), RP_LINE_EVENT);
	assert_int_equal(ev->cpu, 3);
	assert_int_equal(ev->ts_ns, 51000100000ull);
	assert_int_equal(ev->kind, RP_MAP);
	assert_int_equal(ev->dma, 0x80000000);
	assert_int_equal(ev->size, 4096);
	assert_int_equal(ev->phys, 0x1000000);
	assert_true(ev->skip_cpu_sync);
	for (size_t n = 0; n < phys_end; n++) {
		enum rp_line k = rp_parse_line(map_line, n, ev, &why);

		if (k == RP_LINE_EVENT)
			fail_msg("prefix of %zu bytes parsed as an event", n);
		if (k == RP_LINE_MALFORMED)
			assert_non_null(why);
	}
	free(ev);
}

/* The CPU is the bracketed number followed by a timestamp, not the first one. */
static void test_brackets_in_a_task_name_do_not_pass_for_the_cpu(void **state)
{
	static const char line[] =
		"  worker[1] x-9 [1]-77 [012] ..... 7.5: dma_sync_single_for_cpu: "
		"dev dir=FROM_DEVICE dma_addr=10 size=8";
	struct rp_event *ev = malloc(sizeof(*ev));
	const char *why;

	(void)state;
	assert_int_equal(rp_parse_line(line, strlen(line), ev, &why), RP_LINE_EVENT);
	assert_int_equal(ev->cpu, 12);
	assert_int_equal(ev->ts_ns, 7500000000ull);
	assert_int_equal(ev->kind, RP_SYNC_CPU);
	assert_int_equal(ev->dir, 2);
	assert_string_equal(ev->dev, "dev");
	free(ev);
}

/* Lists longer than 128 entries are printed in part and flagged. */
static void test_truncated_sg_list_is_flagged_and_paired(void **state)
{
	static const char line[] = "x-1 [002] 1.0: dma_map_sg: d dir=TO_DEVICE nents=2/200 "
				   "ents=2/200 [TRUNCATED] dma_addrs={0x80000000,0x80001000} "
				   "sizes={0x800,0x1000} phys_addrs={0x1000,0x2000} attrs=";
	struct rp_event *ev = malloc(sizeof(*ev));
	struct rp_parse_stats ps;
	const char *why;

	(void)state;
	assert_int_equal(rp_parse_line(line, strlen(line), ev, &why), RP_LINE_EVENT);
	assert_true(ev->truncated);
	assert_int_equal(ev->n, 2);
	assert_int_equal(ev->sg_dma[1], 0x80001000);
	assert_int_equal(ev->sg_size[1], 0x1000);
	assert_int_equal(ev->sg_phys[1], 0x2000);
	assert_int_equal(rp_replay_buffer(line, strlen(line), NULL, &ps), 0);
	assert_int_equal(ps.truncated_sg, 1);
	free(ev);
}

static void test_garbage_fields_are_malformed(void **state)
{
	static const char *const bad[] = {
		"x-1 [000] 1.0: dma_map_page: d dir=TO_DEVICE dma_addr=12g size=1 phys_addr=1 "
		"attrs=",
		"x-1 [000] 1.0: dma_map_page: d dir=SIDEWAYS dma_addr=1 size=1 phys_addr=1 attrs=",
		"x-1 [000] 1.0: dma_map_page: d dir=TO_DEVICE dma_addr=1 size=-1 phys_addr=1 "
		"attrs=",
		"x-1 [000] 1.0: dma_map_page: d dir=TO_DEVICE dma_addr=1 size=99999999999999999999 "
		"phys_addr=1",
		"x-1 [000] 1.0: dma_map_sg: d dir=TO_DEVICE dma_addrs={0x1,} sizes={0x1} "
		"phys_addrs={0x1}",
		"x-1 [000] 1.0: dma_map_sg: d dir=TO_DEVICE dma_addrs={0x1,0x2} sizes={0x1} "
		"phys_addrs={0x1}",
		"x-1 [000] 1.0: dma_sync_sg_for_cpu: d dir=TO_DEVICE dma_addrs={0x1 sizes={0x1}",
		"x-1 [000] 1.0: dma_unmap_page: d dir=TO_DEVICE dma_addr=1 size=1 junk",
		"x-1 [000] 1.0: dma_unmap_page:",
	};
	struct rp_event *ev = malloc(sizeof(*ev));
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rp_parse_line(bad[i], strlen(bad[i]), ev, &why) != RP_LINE_MALFORMED)
			fail_msg("not malformed: %s", bad[i]);
		assert_non_null(why);
	}
	free(ev);
}

static void test_binary_and_empty_input_yield_no_event(void **state)
{
	struct rp_parse_stats ps;
	unsigned char *bin = malloc(1u << 16);
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (size_t i = 0; i < (1u << 16); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bin[i] = (unsigned char)x;
	}
	assert_int_equal(rp_replay_buffer((const char *)bin, 1u << 16, NULL, &ps), 0);
	assert_int_equal(ps.events, 0);
	assert_true(ps.lines > 0);
	assert_int_equal(rp_replay_buffer("", 0, NULL, &ps), 0);
	assert_int_equal(ps.lines + ps.events, 0);
	free(bin);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_capture_gives_documented_counts),
		cmocka_unit_test(test_mid_stream_capture_reports_unmatched_and_live),
		cmocka_unit_test(test_emitted_trace_replays_identically_with_1_area),
		cmocka_unit_test(test_emitted_trace_replays_identically_with_4_areas),
		cmocka_unit_test(test_emitted_trace_replays_identically_with_16_areas),
		cmocka_unit_test(
			test_emitted_trace_replays_identically_with_private_pool_and_masks),
		cmocka_unit_test(
			test_emitted_trace_replays_identically_with_other_slot_and_page_sizes),
		cmocka_unit_test(test_smaller_pool_refuses_more_on_the_same_capture),
		cmocka_unit_test(test_every_truncation_of_a_line_is_not_an_event_until_complete),
		cmocka_unit_test(test_brackets_in_a_task_name_do_not_pass_for_the_cpu),
		cmocka_unit_test(test_truncated_sg_list_is_flagged_and_paired),
		cmocka_unit_test(test_garbage_fields_are_malformed),
		cmocka_unit_test(test_binary_and_empty_input_yield_no_event),
	};

	if (argc > 1)
		captures = argv[1];
	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
