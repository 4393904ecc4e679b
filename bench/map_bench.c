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

#include "report.h"
#include "scaling.h"
#include "wait_bench.h"
#include "workload.h"

#define PAGE_BYTES 4096u
#define EXIT_UNAVAILABLE 77 /* the layout is not in this build (ctest: skipped) */

static const char *const help_hint = "Try 'iotlb-map-bench --help' for more information.\n";

struct options {
	unsigned threads;
	double seconds;
	bool seconds_set;
	unsigned granule;        /* pages per mapping */
	enum iotlb_dir dir;
	unsigned attrs;
	uint64_t delay_ns;
	enum iotlb_lock_kind lock;
	unsigned areas;
	enum wl_layout layout;
	size_t pool_bytes;
	bool json;
	bool progress;
	bool may_block; /* --may-block: wait_bench.c */
	bool unbound;
	bool scaling;
	struct wl_scaling_cfg scale;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iotlb-map-bench [options]\n"
		"       iotlb-map-bench --scaling [--threads-list N,N,...] [options]\n"
		"Maps and unmaps a buffer from every thread for a while, then prints\n"
		"map and unmap latency (average, standard deviation, p99, in ns) and\n"
		"throughput (map+unmap pairs per second). A progress line goes to\n"
		"stderr once a second. Thread i runs on CPU i mod ncpus, as the kernel's\n"
		"dma_map_benchmark binds its threads, unless --unbound.\n"
		"\n"
		"  -t, --threads N     threads (default 1)\n"
		"  -s, --seconds S     run time in seconds, fractions allowed (default 5;\n"
		"                      with --scaling: each cell of each round, default 0.5)\n"
		"  -g, --granule N     mapping size in 4 KiB pages, 1..64 (default 1)\n"
		"  -d, --dir DIR       bidirectional|to_device|from_device, or the kernel's\n"
		"                      0|1|2 (default bidirectional)\n"
		"      --skip-sync     unmap with IOTLB_ATTR_SKIP_CPU_SYNC (no copy back;\n"
		"                      map always copies)\n"
		"  -x, --delay NS      busy wait between map and unmap, the device's time,\n"
		"                      0..1000000000 (default 0; -x as in dma_map_benchmark)\n"
		"      --lock KIND     default|mutex|spin|ticket|mcs|ttas|none (default: default,\n"
		"                      which is ttas); none only with one thread\n"
		"      --layout L      single   one area, one lock (kernel before 6.0)\n"
		"                      percpu   areas chosen by CPU (kernel 6.0+, the default)\n"
		"                      private  private pool, one child per thread (2022 proposal)\n"
		"                      malloc   mutex + malloc + memcpy + free (no libiotlb)\n"
		"                      copy     the map's copy alone (no libiotlb, no allocation)\n"
		"      --areas N       force the number of areas, 1..65536 (the library rounds\n"
		"                      it up to a power of two; default: from the layout)\n"
		"      --pool-size SIZE  bounce memory, bytes or with a K, M or G suffix\n"
		"                      (default 64M, the kernel's)\n"
		"      --pool-mb N     the same in MiB\n"
		"      --unbound       leave threads to the scheduler (reported in the output)\n"
		"      --may-block     waiting (IOTLB_ATTR_MAY_BLOCK) against fail-and-retry,\n"
		"                      one run each: throughput and time-to-map p50/p99;\n"
		"                      give more threads x bytes than the pool holds\n"
		"      --json          print the result as one JSON object\n"
		"      --no-progress   no progress line\n"
		"      --scaling       the scaling report: N threads against 1 for private\n"
		"                      child pools, per-CPU areas and one area, 64 B and\n"
		"                      2 KiB to_device skip-sync maps, with the copy alone\n"
		"                      for reference; rounds interleaved\n"
		"      --threads-list L  thread counts for --scaling, e.g. 1,2,4,8,16\n"
		"                      (default: 1 and the number of CPUs)\n"
		"      --rounds N      rounds for --scaling, 1..%d (default 5)\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 done, 1 failure, 2 bad usage, 77 layout not available\n"
		"in this build of the library.\n",
		WL_SCALING_MAX_ROUNDS);
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

/* Bytes, or with a K, M or G suffix (powers of 1024; "KiB" etc. also). */
static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || !v || v > (1ull << 40) >> shift)
		return false;
	*out = (size_t)(v << shift);
	return true;
}

/* "1,2,4,8": ascending or not, each 1..1024. */
static bool parse_list(const char *s, struct wl_scaling_cfg *c)
{
	char buf[256], *tok, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return false;
	c->nthreads_list = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned v;

		if (c->nthreads_list == WL_SCALING_MAX_COUNTS || !parse_uint(tok, 1024, &v) || !v)
			return false;
		c->threads_list[c->nthreads_list++] = v;
	}
	return c->nthreads_list > 0;
}

/* The option as the user may have spelt it, for error messages. */
static const char *opt_name(int c, const struct option *longs)
{
	static char buf[64];

	for (const struct option *o = longs; o->name; o++) {
		if (o->val != c)
			continue;
		if (c < 256)
			snprintf(buf, sizeof(buf), "-%c/--%s", c, o->name);
		else
			snprintf(buf, sizeof(buf), "--%s", o->name);
		return buf;
	}
	return "?";
}

static bool parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_LOCK = 256, OPT_LAYOUT, OPT_AREAS, OPT_POOL_MB, OPT_POOL_SIZE, OPT_JSON,
	       OPT_SKIP, OPT_NOPROG, OPT_UNBOUND, OPT_SCALING, OPT_LIST, OPT_ROUNDS,
	       OPT_MAY_BLOCK };
	static const struct option longs[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "granule", required_argument, NULL, 'g' },
		{ "dir", required_argument, NULL, 'd' },
		{ "delay", required_argument, NULL, 'x' },
		{ "lock", required_argument, NULL, OPT_LOCK },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "areas", required_argument, NULL, OPT_AREAS },
		{ "pool-mb", required_argument, NULL, OPT_POOL_MB },
		{ "pool-size", required_argument, NULL, OPT_POOL_SIZE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "skip-sync", no_argument, NULL, OPT_SKIP },
		{ "no-progress", no_argument, NULL, OPT_NOPROG },
		{ "may-block", no_argument, NULL, OPT_MAY_BLOCK },
		{ "unbound", no_argument, NULL, OPT_UNBOUND },
		{ "scaling", no_argument, NULL, OPT_SCALING },
		{ "threads-list", required_argument, NULL, OPT_LIST },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned v = 0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "t:s:g:d:x:h", longs, NULL)) != -1) {
		const char *why = NULL;

		switch (c) {
		case 't':
			if (!parse_uint(optarg, 1024, &o->threads) || !o->threads)
				why = "1 to 1024";
			break;
		case 's':
			o->seconds = strtod(optarg, &end);
			o->seconds_set = true;
			if (end == optarg || *end || !(o->seconds > 0 && o->seconds <= 86400))
				why = "seconds, more than 0 and at most 86400";
			break;
		case 'g':
			if (!parse_uint(optarg, 64, &o->granule) || !o->granule)
				why = "4 KiB pages, 1 to 64";
			break;
		case 'd':
			if (wl_dir_parse(optarg, &o->dir))
				why = "bidirectional, to_device, from_device, 0, 1 or 2";
			break;
		case 'x':
			if (!parse_uint(optarg, 1000000000, &v))
				why = "nanoseconds, 0 to 1000000000";
			o->delay_ns = v;
			break;
		case OPT_LOCK:
			if (wl_lock_parse(optarg, &o->lock))
				why = "default, mutex, spin, ticket, mcs, ttas or none";
			break;
		case OPT_LAYOUT:
			if (wl_layout_parse(optarg, &o->layout))
				why = "single, percpu, private, malloc or copy";
			break;
		case OPT_AREAS:
			if (!parse_uint(optarg, 1u << 16, &o->areas) || !o->areas)
				why = "1 to 65536";
			break;
		case OPT_POOL_MB:
			if (!parse_uint(optarg, 1u << 20, &v) || !v)
				why = "MiB, 1 to 1048576";
			o->pool_bytes = (size_t)v << 20;
			break;
		case OPT_POOL_SIZE:
			if (!parse_size(optarg, &o->pool_bytes))
				why = "bytes, or a number with K, M or G, up to 1T";
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SKIP:
			o->attrs |= IOTLB_ATTR_SKIP_CPU_SYNC;
			break;
		case OPT_MAY_BLOCK:
			o->may_block = true;
			break;
		case OPT_NOPROG:
			o->progress = false;
			break;
		case OPT_UNBOUND:
			o->unbound = true;
			break;
		case OPT_SCALING:
			o->scaling = true;
			break;
		case OPT_LIST:
			if (!parse_list(optarg, &o->scale))
				why = "comma-separated thread counts, each 1 to 1024, at most 16";
			break;
		case OPT_ROUNDS:
			if (!parse_uint(optarg, WL_SCALING_MAX_ROUNDS, &o->scale.rounds) ||
			    !o->scale.rounds)
				why = "1 to 15";
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			/* getopt has named the option already. */
			fputs(help_hint, stderr);
			return false;
		}
		if (why) {
			fprintf(stderr, "iotlb-map-bench: bad value for %s: '%s' (%s)\n%s",
				opt_name(c, longs), optarg, why, help_hint);
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "iotlb-map-bench: unexpected argument '%s'\n%s", argv[optind],
			help_hint);
		return false;
	}
	if (o->lock == IOTLB_LOCK_NONE && o->scaling) {
		fprintf(stderr, "iotlb-map-bench: --lock none is for one thread only; --scaling "
			"runs several\n%s", help_hint);
		return false;
	}
	if (o->lock == IOTLB_LOCK_NONE && o->threads > 1) {
		fprintf(stderr, "iotlb-map-bench: --lock none is for one thread only, not "
			"--threads %u\n%s", o->threads, help_hint);
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

/* Where the threads run, for the header line. */
static void print_binding(const struct options *o)
{
	if (o->unbound) {
		printf("threads: unbound (--unbound), placed by the scheduler\n");
		return;
	}
	printf("threads: bound, thread i on CPU i mod %u (CPUs", wl_ncpus());
	for (unsigned i = 0; i < o->threads && i < wl_ncpus(); i++)
		printf(" %d", wl_cpu_of(i));
	printf(")\n");
}

static const char *lock_text(const struct options *o)
{
	static char buf[64];

	if (o->layout == WL_MALLOC)
		return "pthread-mutex";
	if (o->layout == WL_COPY)
		return "none (no libiotlb)";
	snprintf(buf, sizeof(buf), "%s%s", wl_lock_resolved(o->lock),
		 o->lock == IOTLB_LOCK_DEFAULT ? " (default)" : "");
	return buf;
}

static void report(const struct options *o, const struct wl_bed *bed, unsigned areas,
		   const struct wl_result *r)
{
	size_t size = (size_t)o->granule * PAGE_BYTES;

	if (o->json) {
		printf("{\n  \"layout\": \"%s\", \"lock\": \"%s\", \"lock_requested\": \"%s\",\n"
		       "  \"areas\": %u, \"threads\": %u, \"threads_bound\": %s,\n"
		       "  \"pool_bytes\": %zu, \"size\": %zu, \"dir\": \"%s\", \"skip_cpu_sync\": %s,\n"
		       "  \"delay_ns\": %llu, \"seconds\": %.3f, \"pairs\": %llu, \"errors\": %llu,\n"
		       "  \"pairs_per_s\": %.0f,\n",
		       wl_layout_name(o->layout),
		       o->layout == WL_MALLOC ? "pthread-mutex" : wl_lock_resolved(o->lock),
		       iotlb_lock_kind_name(o->lock), areas, o->threads,
		       o->unbound ? "false" : "true", o->pool_bytes, size, wl_dir_name(o->dir),
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
	       "%s%s, delay %llu ns, pool %.1f MiB\n",
	       wl_layout_name(o->layout), areas, lock_text(o), o->threads, size, o->granule,
	       wl_dir_name(o->dir), (o->attrs & IOTLB_ATTR_SKIP_CPU_SYNC) ? " skip-sync" : "",
	       (unsigned long long)o->delay_ns, (double)o->pool_bytes / (1 << 20));
	print_binding(o);
	printf("throughput: %.3f M pairs/s (%llu pairs in %.2f s, %llu errors)\n",
	       r->pairs_per_s / 1e6, (unsigned long long)r->pairs, r->seconds,
	       (unsigned long long)r->errors);
	print_lat_text("map latency (ns):", &r->map);
	print_lat_text("unmap latency (ns):", &r->unmap);
	report_areas(o, bed);
}

/* Values the library changed, said aloud (on stderr, so that --json output
 * stays one object): areas round up to a power of two; a private pool is
 * whole IO TLB blocks. */
static void report_adjusted(const struct options *o, const struct wl_bed *bed)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct iotlb_mem *mem = wl_bed_mem(bed);

	if (wl_bed_dev(bed) && !iotlb_dev_stats(wl_bed_dev(bed), &st) &&
	    st.nslots * 2048 != o->pool_bytes)
		fprintf(stderr, "iotlb-map-bench: note: pool size %zu B became %llu B (%s)\n",
			o->pool_bytes, (unsigned long long)st.nslots * 2048,
			o->layout == WL_PRIVATE ? "a private pool is whole IO TLB blocks"
						: "what the library made of it");
	st = (struct iotlb_stats)IOTLB_STATS_INIT;
	if (!mem || iotlb_mem_stats(mem, &st))
		return;
	if (o->areas && st.nareas != o->areas)
		fprintf(stderr, "iotlb-map-bench: note: --areas %u became %llu (%s)\n", o->areas,
			(unsigned long long)st.nareas,
			st.nareas > o->areas ? "rounded up to a power of two"
					     : "clamped: an area needs at least one segment");
}

int main(int argc, char **argv)
{
	struct options o = {
		.threads = 1, .seconds = 5, .granule = 1, .dir = IOTLB_BIDIRECTIONAL,
		.lock = IOTLB_LOCK_DEFAULT, .layout = WL_PERCPU, .pool_bytes = WL_POOL_BYTES,
		.progress = true, .scale = WL_SCALING_CFG_INIT,
	};
	struct wl_setup setup;
	struct wl_run_cfg run;
	struct wl_result res;
	struct wl_bed *bed;
	size_t rounded;
	int err;

	if (!parse_args(argc, argv, &o))
		return 2;
	/* The library's pool is whole slots; say so rather than fail. */
	rounded = (o.pool_bytes + 2047) & ~(size_t)2047;
	if (rounded != o.pool_bytes) {
		fprintf(stderr, "iotlb-map-bench: note: pool size %zu B rounded up to %zu B "
			"(whole 2 KiB slots)\n", o.pool_bytes, rounded);
		o.pool_bytes = rounded;
	}
	if (o.scaling) {
		o.scale.seconds = o.seconds_set ? o.seconds : o.scale.seconds;
		o.scale.pool_bytes = o.pool_bytes;
		o.scale.lock = o.lock;
		o.scale.unbound = o.unbound;
		o.scale.json = o.json;
		return wl_scaling(&o.scale) ? 1 : 0;
	}
	setup = (struct wl_setup){ o.layout, o.lock, o.threads, o.areas, o.pool_bytes };
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
	report_adjusted(&o, bed);
	if (wl_bed_dev(bed) && (size_t)o.granule * PAGE_BYTES > iotlb_max_mapping_size(wl_bed_dev(bed))) {
		fprintf(stderr, "iotlb-map-bench: bad value for -g/--granule: '%u' (%u pages "
			"exceed the largest mapping, %zu B)\n%s", o.granule, o.granule,
			iotlb_max_mapping_size(wl_bed_dev(bed)), help_hint);
		wl_bed_destroy(bed);
		return 2;
	}
	run = (struct wl_run_cfg){
		.nthreads = o.threads,
		.seconds = o.seconds,
		.op = { (size_t)o.granule * PAGE_BYTES, o.dir, o.attrs, o.delay_ns },
		.latency = true,
		.unbound = o.unbound,
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
