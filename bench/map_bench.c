/* SPDX-License-Identifier: MIT */
/*
 * iotlb-map-bench: threads mapping and unmapping one buffer each as fast as
 * they can, modelled on the kernel's dma_map_benchmark; reports map and
 * unmap latency (average, standard deviation, p99) and throughput.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wait_bench.h"
#include "workload.h"

#define PAGE_BYTES 4096u
#define EXIT_UNAVAILABLE 77 /* the layout is not in this build (ctest: skipped) */

struct options {
	unsigned threads;
	double seconds;
	unsigned granule;        /* pages per mapping */
	enum iotlb_dir dir;
	unsigned attrs;
	uint64_t delay_ns;
	enum iotlb_lock_kind lock;
	unsigned areas;
	enum wl_layout layout;
	unsigned pool_mb;
	bool json;
	bool progress;
	bool may_block; /* --may-block: wait_bench.c */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iotlb-map-bench [options]\n"
		"Maps and unmaps a buffer from every thread for a while, then prints\n"
		"map and unmap latency (average, standard deviation, p99, in ns) and\n"
		"throughput (map+unmap pairs per second). A progress line goes to\n"
		"stderr once a second.\n"
		"\n"
		"  -t, --threads N     threads (default 1)\n"
		"  -s, --seconds S     run time in seconds, fractions allowed (default 5)\n"
		"  -g, --granule N     mapping size in 4 KiB pages, 1..64 (default 1)\n"
		"  -d, --dir DIR       bidirectional|to_device|from_device, or the kernel's\n"
		"                      0|1|2 (default bidirectional)\n"
		"      --skip-sync     unmap with IOTLB_ATTR_SKIP_CPU_SYNC (no copy back;\n"
		"                      map always copies)\n"
		"      --delay NS      busy wait between map and unmap, the device's time\n"
		"                      (default 0)\n"
		"      --lock KIND     default|mutex|spin|ticket|mcs|ttas|none (default: default)\n"
		"      --layout L      single   one area, one lock (kernel before 6.0)\n"
		"                      percpu   areas chosen by CPU (kernel 6.0+, the default)\n"
		"                      private  private pool, one child per thread (2022 proposal)\n"
		"                      malloc   mutex + malloc + memcpy + free (no libiotlb)\n"
		"      --areas N       force the number of areas (default: from the layout)\n"
		"      --pool-mb N     bounce memory in MiB (default 64, the kernel's)\n"
		"      --may-block     waiting (IOTLB_ATTR_MAY_BLOCK) against fail-and-retry,\n"
		"                      one run each: throughput and time-to-map p50/p99;\n"
		"                      give more threads x bytes than the pool holds\n"
		"      --json          print the result as one JSON object\n"
		"      --no-progress   no progress line\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 done, 1 failure, 2 bad usage, 77 layout not available\n"
		"in this build of the library.\n");
}

static bool parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_DELAY = 256, OPT_LOCK, OPT_LAYOUT, OPT_AREAS, OPT_POOL, OPT_JSON,
	       OPT_SKIP, OPT_NOPROG, OPT_MAY_BLOCK };
	static const struct option longs[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "granule", required_argument, NULL, 'g' },
		{ "dir", required_argument, NULL, 'd' },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "lock", required_argument, NULL, OPT_LOCK },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "areas", required_argument, NULL, OPT_AREAS },
		{ "pool-mb", required_argument, NULL, OPT_POOL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "skip-sync", no_argument, NULL, OPT_SKIP },
		{ "no-progress", no_argument, NULL, OPT_NOPROG },
		{ "may-block", no_argument, NULL, OPT_MAY_BLOCK },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned delay = 0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "t:s:g:d:h", longs, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 't':
			ok = parse_uint(optarg, 1024, &o->threads) && o->threads;
			break;
		case 's':
			o->seconds = strtod(optarg, &end);
			ok = end != optarg && !*end && o->seconds > 0 && o->seconds <= 86400;
			break;
		case 'g':
			ok = parse_uint(optarg, 64, &o->granule) && o->granule;
			break;
		case 'd':
			ok = !wl_dir_parse(optarg, &o->dir);
			break;
		case OPT_DELAY:
			ok = parse_uint(optarg, 1000000000, &delay);
			o->delay_ns = delay;
			break;
		case OPT_LOCK:
			ok = !wl_lock_parse(optarg, &o->lock);
			break;
		case OPT_LAYOUT:
			ok = !wl_layout_parse(optarg, &o->layout);
			break;
		case OPT_AREAS:
			ok = parse_uint(optarg, 1u << 16, &o->areas);
			break;
		case OPT_POOL:
			ok = parse_uint(optarg, 1u << 20, &o->pool_mb) && o->pool_mb;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SKIP:
			o->attrs |= IOTLB_ATTR_SKIP_CPU_SYNC;
			break;
		case OPT_NOPROG:
			o->progress = false;
			break;
		case OPT_MAY_BLOCK:
			o->may_block = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return false;
		}
		if (!ok) {
			fprintf(stderr, "iotlb-map-bench: bad value for option %s: '%s'\n",
				argv[optind - 1], optarg ? optarg : "");
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "iotlb-map-bench: unexpected argument '%s'\n", argv[optind]);
		return false;
	}
	return true;
}

static void progress(void *ctx, double elapsed, uint64_t pairs)
{
	const struct options *o = ctx;
	static uint64_t last;

	fprintf(stderr, "iotlb-map-bench: %3.0f / %.0f s: %.3f M pairs/s (last second), %llu pairs\n",
		elapsed, o->seconds, (double)(pairs - last) / 1e6, (unsigned long long)pairs);
	last = pairs;
}

/* Areas (or child pools) the threads actually map from. */
static unsigned bed_areas(const struct wl_bed *bed)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;

	if (!wl_bed_dev(bed) || iotlb_dev_stats(wl_bed_dev(bed), &st))
		return 0;
	return (unsigned)(st.nqueues ? st.nqueues : st.nareas);
}

static void print_lat_text(const char *what, const struct wl_lat *l)
{
	printf("%-18s average %.1f  standard deviation %.1f  p99 %llu  (p50 %llu, max %llu)\n",
	       what, l->avg_ns, l->stddev_ns, (unsigned long long)l->p99_ns,
	       (unsigned long long)l->p50_ns, (unsigned long long)l->max_ns);
}

static void print_lat_json(const char *what, const struct wl_lat *l, const char *sep)
{
	printf("  \"%s\": {\"samples\": %llu, \"avg_ns\": %.1f, \"stddev_ns\": %.1f, "
	       "\"p50_ns\": %llu, \"p99_ns\": %llu, \"max_ns\": %llu}%s\n",
	       what, (unsigned long long)l->n, l->avg_ns, l->stddev_ns,
	       (unsigned long long)l->p50_ns, (unsigned long long)l->p99_ns,
	       (unsigned long long)l->max_ns, sep);
}

/*
 * Per-area lock figures, as the kernel shows per-area use in debugfs: which
 * areas the threads really used (the CPU decides for percpu) and how often
 * their first try at the lock failed.
 */
static void report_areas(const struct options *o, const struct wl_bed *bed)
{
	struct iotlb_dev *dev = wl_bed_dev(bed);

	if (!dev)
		return;
	printf(o->json ? "  \"areas_detail\": [" : "per-area lock use:\n");
	for (unsigned a = 0;; a++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;
		double pct;

		if (iotlb_dev_area_stats(dev, a, &as))
			break;
		pct = as.acquisitions ? 100.0 * (double)as.contended / (double)as.acquisitions : 0;
		if (o->json)
			printf("%s\n    {\"area\": %u, \"acquisitions\": %llu, \"contended\": %llu, "
			       "\"wait_ns\": %llu}", a ? "," : "", a,
			       (unsigned long long)as.acquisitions, (unsigned long long)as.contended,
			       (unsigned long long)as.wait_ns);
		else
			printf("  area %u: %llu acquisitions, %llu contended (%.1f %%), waited %.3f ms\n",
			       a, (unsigned long long)as.acquisitions,
			       (unsigned long long)as.contended, pct, (double)as.wait_ns / 1e6);
	}
	if (o->json)
		printf("\n  ],\n");
}

static void report(const struct options *o, const struct wl_bed *bed, unsigned areas,
		   const struct wl_result *r)
{
	const char *lock = o->layout == WL_MALLOC ? "pthread-mutex" : iotlb_lock_kind_name(o->lock);
	size_t size = (size_t)o->granule * PAGE_BYTES;

	if (o->json) {
		printf("{\n  \"layout\": \"%s\", \"lock\": \"%s\", \"areas\": %u, \"threads\": %u,\n"
		       "  \"size\": %zu, \"dir\": \"%s\", \"skip_cpu_sync\": %s, \"delay_ns\": %llu,\n"
		       "  \"seconds\": %.3f, \"pairs\": %llu, \"errors\": %llu, \"pairs_per_s\": %.0f,\n",
		       wl_layout_name(o->layout), lock, areas, o->threads, size, wl_dir_name(o->dir),
		       (o->attrs & IOTLB_ATTR_SKIP_CPU_SYNC) ? "true" : "false",
		       (unsigned long long)o->delay_ns, r->seconds, (unsigned long long)r->pairs,
		       (unsigned long long)r->errors, r->pairs_per_s);
		report_areas(o, bed);
		print_lat_json("map", &r->map, ",");
		print_lat_json("unmap", &r->unmap, "");
		printf("}\n");
		return;
	}
	printf("iotlb-map-bench: layout %s, areas %u, lock %s, threads %u, %zu B (%u pages), "
	       "%s%s, delay %llu ns\n",
	       wl_layout_name(o->layout), areas, lock, o->threads, size, o->granule,
	       wl_dir_name(o->dir), (o->attrs & IOTLB_ATTR_SKIP_CPU_SYNC) ? " skip-sync" : "",
	       (unsigned long long)o->delay_ns);
	printf("throughput: %.3f M pairs/s (%llu pairs in %.2f s, %llu errors)\n",
	       r->pairs_per_s / 1e6, (unsigned long long)r->pairs, r->seconds,
	       (unsigned long long)r->errors);
	print_lat_text("map latency (ns):", &r->map);
	print_lat_text("unmap latency (ns):", &r->unmap);
	report_areas(o, bed);
}

int main(int argc, char **argv)
{
	struct options o = {
		.threads = 1, .seconds = 5, .granule = 1, .dir = IOTLB_BIDIRECTIONAL,
		.lock = IOTLB_LOCK_DEFAULT, .layout = WL_PERCPU, .pool_mb = 64, .progress = true,
	};
	struct wl_setup setup;
	struct wl_run_cfg run;
	struct wl_result res;
	struct wl_bed *bed;
	int err;

	if (!parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	setup = (struct wl_setup){ o.layout, o.lock, o.threads, o.areas,
				   (size_t)o.pool_mb << 20 };
	if (o.may_block) { /* its own runs: wait_bench.c */
		struct wb_opts wb = { setup, o.threads, o.seconds,
				      { (size_t)o.granule * PAGE_BYTES, o.dir, o.attrs, o.delay_ns } };

		err = wb_run(&wb);
		if (err)
			fprintf(stderr, "iotlb-map-bench: --may-block: %s\n", iotlb_strerror(err));
		return err ? 1 : 0;
	}
	err = wl_bed_create(&setup, &bed);
	if (err) {
		fprintf(stderr, "iotlb-map-bench: cannot set up layout %s: %s%s\n",
			wl_layout_name(o.layout), iotlb_strerror(err),
			err == -ENOTSUP ? " (not available in this build of libiotlb)" : "");
		return err == -ENOTSUP ? EXIT_UNAVAILABLE : 1;
	}
	if (wl_bed_dev(bed) && (size_t)o.granule * PAGE_BYTES > iotlb_max_mapping_size(wl_bed_dev(bed))) {
		fprintf(stderr, "iotlb-map-bench: %u pages exceed the largest mapping (%zu B)\n",
			o.granule, iotlb_max_mapping_size(wl_bed_dev(bed)));
		wl_bed_destroy(bed);
		return 2;
	}
	run = (struct wl_run_cfg){
		.nthreads = o.threads,
		.seconds = o.seconds,
		.op = { (size_t)o.granule * PAGE_BYTES, o.dir, o.attrs, o.delay_ns },
		.latency = true,
		.progress = o.progress ? progress : NULL,
		.progress_ctx = &o,
	};
	err = wl_run(bed, &run, &res);
	if (!err)
		report(&o, bed, bed_areas(bed), &res);
	else
		fprintf(stderr, "iotlb-map-bench: run failed: %s\n", iotlb_strerror(err));
	wl_bed_destroy(bed);
	if (!err && res.errors && !res.pairs) {
		fprintf(stderr, "iotlb-map-bench: every map failed\n");
		return 1;
	}
	return err ? 1 : 0;
}
