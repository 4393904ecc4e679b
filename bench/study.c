/* SPDX-License-Identifier: MIT */
/*
 * iotlb-study, the main job of `make run`: lock contention across the three
 * area layouts the kernel has had (one lock; per-CPU areas; private child
 * pools) and the five lock kinds, at 1 to 8 threads, within a time budget.
 *
 * Threads are bound to CPUs (thread i on CPU i mod ncpus), and the cells are
 * measured round-robin, several rounds, so that a burst of load elsewhere
 * touches one round of many cells rather than every round of one cell. Each
 * cell gets a median and a range; a difference is claimed only where the
 * ranges do not overlap. Files (data, JSON context, plot): study_out.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "study.h"

static const char *const help_hint = "Try 'iotlb-study --help' for more information.\n";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iotlb-study [options]\n"
		"Measures map+unmap throughput for layouts {single, percpu, private} x\n"
		"locks {mutex, spin, ticket, mcs, ttas} x threads {1, 2, 4, 8}, with the\n"
		"malloc baseline and the copy alone for reference. Cells are measured\n"
		"round-robin over several rounds with thread i bound to CPU i mod ncpus;\n"
		"each cell reports its median and range over the rounds. Prints a table and\n"
		"the conclusions the ranges support, writes the data, a JSON context file\n"
		"and a gnuplot plot.\n"
		"\n"
		"  --budget S     total time for the measurements in seconds, 0.5..3600\n"
		"                 (default 60)\n"
		"  --rounds N     rounds over all cells, 1..%d (default 5)\n"
		"  --quick        a smoke run: budget 3 s, 3 rounds, 8 MiB pools\n"
		"  --pool-mb N    bounce memory per cell in MiB, 4..4096 (default 64)\n"
		"  --unbound      leave threads to the scheduler (reported in the output)\n"
		"  --out DIR      where the data, JSON, script and plots go (default build/study)\n"
		"  --no-plot      do not run gnuplot\n"
		"  -h, --help     this text\n"
		"\n"
		"Exit status: 0 done, 1 failure, 2 bad usage.\n",
		MAX_ROUNDS);
}

static bool bad_value(const char *opt, const char *value, const char *why)
{
	fprintf(stderr, "iotlb-study: bad value for %s: '%s' (%s)\n%s", opt, value, why,
		help_hint);
	return false;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && end != s && !*end && *out >= lo && *out <= hi;
}

static bool parse_args(int argc, char **argv, struct study *s)
{
	enum { OPT_BUDGET = 256, OPT_ROUNDS, OPT_QUICK, OPT_POOL, OPT_OUT, OPT_NOPLOT,
	       OPT_UNBOUND };
	static const struct option longs[] = {
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "pool-mb", required_argument, NULL, OPT_POOL },
		{ "unbound", no_argument, NULL, OPT_UNBOUND },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "no-plot", no_argument, NULL, OPT_NOPLOT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case OPT_BUDGET:
			s->budget_s = strtod(optarg, &end);
			if (end == optarg || *end || !(s->budget_s >= 0.5 && s->budget_s <= 3600))
				return bad_value("--budget", optarg, "seconds, 0.5 to 3600");
			break;
		case OPT_ROUNDS:
			if (!parse_long(optarg, 1, MAX_ROUNDS, &v))
				return bad_value("--rounds", optarg, "1 to 15");
			s->rounds = (unsigned)v;
			break;
		case OPT_QUICK:
			s->budget_s = 3;
			s->rounds = 3;
			s->pool_bytes = (size_t)8 << 20;
			break;
		case OPT_POOL:
			if (!parse_long(optarg, 4, 4096, &v))
				return bad_value("--pool-mb", optarg, "MiB, 4 to 4096");
			s->pool_bytes = (size_t)v << 20;
			break;
		case OPT_UNBOUND:
			s->unbound = true;
			break;
		case OPT_OUT:
			s->out_dir = optarg;
			break;
		case OPT_NOPLOT:
			s->plot = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			/* getopt has named the option already. */
			fputs(help_hint, stderr);
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "iotlb-study: unexpected argument '%s'\n%s", argv[optind], help_hint);
		return false;
	}
	return true;
}

/* ----------------------------------------------------------- measurement */

/*
 * Spreads what is left of the budget over the runs still to come, so that
 * time lost to set-up and thread start and stop is made up later; kept
 * within half and one and a half times the even share, so that no cell is
 * measured too briefly when the machine is busy (the total may then run a
 * little over the budget).
 */
static double run_seconds(struct study *s)
{
	double left = (double)(int64_t)(s->deadline_ns - wl_now_ns()) / 1e9;
	double share = 0.85 * s->budget_s / s->runs_total;
	double t = 0.9 * left / (s->runs_total - s->runs_done);

	if (t < 0.5 * share)
		t = 0.5 * share;
	if (t > 1.5 * share)
		t = 1.5 * share;
	if (t < s->run_s_min || s->run_s_min == 0)
		s->run_s_min = t;
	if (t > s->run_s_max)
		s->run_s_max = t;
	return t;
}

/* One run of one cell on a fresh bed: M pairs/s, or NAN with *err set. */
static double measure(struct study *s, const struct row *r, unsigned col, int *err)
{
	struct wl_setup setup = { r->layout, r->lock, thread_counts[col], 0, s->pool_bytes };
	struct wl_run_cfg run = { .nthreads = thread_counts[col], .op = study_op,
				  .unbound = s->unbound };
	struct wl_result res = { 0 };
	struct wl_bed *bed = NULL;

	run.seconds = run_seconds(s);
	*err = wl_bed_create(&setup, &bed);
	if (!*err)
		*err = wl_run(bed, &run, &res);
	if (!*err && res.errors)
		*err = -EIO;
	wl_bed_destroy(bed);
	s->runs_done++;
	return *err ? NAN : res.pairs_per_s / 1e6;
}

static void add_rows(struct study *s)
{
	static const enum wl_layout layouts[NLAYOUTS] = { WL_SINGLE, WL_PERCPU, WL_PRIVATE };

	for (unsigned l = 0; l < NLAYOUTS; l++)
		for (unsigned k = 0; k < NLOCKS; k++)
			s->rows[s->nrows++] = (struct row){ .layout = layouts[l],
							    .lock = lock_kinds[k],
							    .available = true };
	s->rows[s->nrows++] = (struct row){ .layout = WL_MALLOC, .lock = IOTLB_LOCK_MUTEX,
					    .available = true };
	s->rows[s->nrows++] = (struct row){ .layout = WL_COPY, .lock = IOTLB_LOCK_DEFAULT,
					    .available = true };
}

/* Layouts the library cannot set up are dropped before the budget is shared
 * out, so they cost nothing. */
static unsigned probe_layouts(struct study *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nrows; i++) {
		struct row *r = &s->rows[i];
		struct wl_setup setup = { r->layout, r->lock, 2, 0, (size_t)4 << 20 };
		struct wl_bed *bed;

		r->available = !wl_bed_create(&setup, &bed);
		if (r->available)
			wl_bed_destroy(bed);
		n += r->available;
	}
	return n;
}

/* Round r visits the cells forwards when even and backwards when odd, so
 * that a slow drift of the machine does not always favour the same cells. */
static int run_round(struct study *s, unsigned round)
{
	unsigned ncells = s->nrows * NTHREADS;

	for (unsigned k = 0; k < ncells; k++) {
		unsigned cell = round % 2 ? ncells - 1 - k : k;
		struct row *r = &s->rows[cell / NTHREADS];
		unsigned col = cell % NTHREADS;
		int err;

		if (!r->available)
			continue;
		r->mops[col][round] = measure(s, r, col, &err);
		if (err) {
			fprintf(stderr, "iotlb-study: %s/%s at %u threads failed: %s\n",
				wl_layout_name(r->layout), row_lock_name(r), thread_counts[col],
				iotlb_strerror(err));
			return 1;
		}
	}
	return 0;
}

/* One unmeasured run first: the first run of a process pays for page
 * faults in the allocator's and the C library's own memory, and CPUs that
 * were idle may still be clocked down. */
static void warm_up(const struct study *s)
{
	struct wl_setup setup = { WL_SINGLE, IOTLB_LOCK_MUTEX, 1, 0, s->pool_bytes };
	struct wl_run_cfg run = { .nthreads = 1, .op = study_op, .unbound = s->unbound,
				  .seconds = s->budget_s < 10 ? 0.05 : 0.3 };
	struct wl_result res;
	struct wl_bed *bed;

	if (wl_bed_create(&setup, &bed))
		return;
	wl_run(bed, &run, &res);
	wl_bed_destroy(bed);
}

static int run_study(struct study *s, unsigned available)
{
	warm_up(s);
	s->deadline_ns = s->ctx.start_ns + (uint64_t)(s->budget_s * 1e9);
	s->runs_total = available * NTHREADS * s->rounds;
	for (unsigned round = 0; round < s->rounds; round++) {
		if (run_round(s, round))
			return 1;
		printf("iotlb-study: round %u/%u done (%.1f s elapsed)\n", round + 1, s->rounds,
		       (double)(wl_now_ns() - s->ctx.start_ns) / 1e9);
	}
	for (unsigned i = 0; i < s->nrows; i++)
		for (unsigned c = 0; c < NTHREADS; c++)
			wl_spread_of(s->rows[i].mops[c], s->rounds, &s->rows[i].cell[c]);
	return 0;
}

/* ----------------------------------------------------------------- report */

static void print_table(const struct study *s)
{
	printf("\nlibiotlb lock-contention study, %s: %zu B map (%s, copied once) + unmap "
	       "(no copy back) per op\n", s->ctx.date, study_op.size, wl_dir_name(study_op.dir));
	printf("machine: %u CPUs, %s; load average %.2f before, %.2f after; threads %s\n",
	       wl_ncpus(), wl_cpu_model(), s->ctx.load_before[0], s->ctx.load_after[0],
	       s->unbound ? "NOT bound (--unbound)" : "bound, thread i on CPU i mod ncpus");
	printf("%zu MiB bounce pool per cell; %u rounds over all cells, runs of %.3f-%.3f s "
	       "(study took %.1f s)\n", s->pool_bytes >> 20, s->rounds, s->run_s_min,
	       s->run_s_max, s->ctx.seconds);
	wl_context_warn(stdout, &s->ctx);
	printf("each cell: median [min-max] over the rounds, M ops/s (one op = one map+unmap "
	       "pair)\n\n");
	printf("%-8s %-6s", "layout", "lock");
	for (unsigned c = 0; c < NTHREADS; c++) {
		char head[32];

		snprintf(head, sizeof(head), "%u thread%s", thread_counts[c],
			 thread_counts[c] > 1 ? "s" : "");
		printf(" | %-19s", head);
	}
	printf("\n");
	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		printf("%-8s %-6s", wl_layout_name(r->layout), row_lock_name(r));
		if (!r->available) {
			printf(" | n/a: layout not available in this build of libiotlb\n");
			continue;
		}
		for (unsigned c = 0; c < NTHREADS; c++)
			printf(" | %5.2f [%5.2f-%5.2f]", r->cell[c].median, r->cell[c].lo,
			       r->cell[c].hi);
		printf("\n");
	}
	printf("(malloc = no libiotlb: pthread mutex + malloc + memcpy + free; copy = the "
	       "map's copy alone,\nsweeping the pool as the cursors do: the ceiling of any "
	       "bounce allocator here)\n");
}

/* Ratio a/b per round: median and range. */
static void ratio_spread(const struct study *s, const struct row *a, const struct row *b,
			 unsigned col, struct wl_spread *out)
{
	double q[MAX_ROUNDS];

	for (unsigned i = 0; i < s->rounds; i++)
		q[i] = a->mops[col][i] / b->mops[col][i];
	wl_spread_of(q, s->rounds, out);
}

/* "1.93x [1.80-2.05]" where the cells' ranges do not overlap, else "no clear
 * difference"; returns whether a difference was claimed. */
static bool compare(const struct study *s, const struct row *a, const struct row *b,
		    unsigned col, char *buf, size_t len)
{
	struct wl_spread q;

	ratio_spread(s, a, b, col, &q);
	if (!wl_spread_apart(&a->cell[col], &b->cell[col])) {
		snprintf(buf, len, "no clear diff.");
		return false;
	}
	snprintf(buf, len, "%.2fx [%.2f-%.2f]", q.median, q.lo, q.hi);
	return true;
}

static void print_layout_pair(const struct study *s, unsigned la, unsigned lb)
{
	const struct row *ra = &s->rows[la * NLOCKS], *rb = &s->rows[lb * NLOCKS];
	char buf[64];

	if (!ra->available || !rb->available)
		return;
	printf("\n%s over %s, same lock and threads: per-round ratio, median [min-max]\n",
	       wl_layout_name(ra->layout), wl_layout_name(rb->layout));
	printf("%-8s", "threads");
	for (unsigned k = 0; k < NLOCKS; k++)
		printf(" %-20s", row_lock_name(&ra[k]));
	printf("\n");
	for (unsigned c = 1; c < NTHREADS; c++) {
		printf("%-8u", thread_counts[c]);
		for (unsigned k = 0; k < NLOCKS; k++) {
			compare(s, &ra[k], &rb[k], c, buf, sizeof(buf));
			printf(" %-20s", buf);
		}
		printf("\n");
	}
}

/* The headline of the original question: per-CPU areas against one lock,
 * with the mutex, at 2 threads. */
static void print_headline(const struct study *s)
{
	const struct row *single = &s->rows[0], *percpu = &s->rows[NLOCKS];
	struct wl_spread q;
	char buf[64];

	if (!single->available || !percpu->available)
		return;
	ratio_spread(s, percpu, single, 1, &q);
	if (compare(s, percpu, single, 1, buf, sizeof(buf)))
		printf("\n%s %s single by %s with the mutex at 2 threads\n",
		       wl_layout_name(percpu->layout), q.median > 1 ? "beats" : "loses to",
		       buf);
	else
		printf("\npercpu against single with the mutex at 2 threads: no clear difference "
		       "(%.2fx [%.2f-%.2f])\n", q.median, q.lo, q.hi);
}

/* Geometric mean of a row over the thread counts, per round. */
static void geomean_spread(const struct study *s, const struct row *r, struct wl_spread *out)
{
	double g[MAX_ROUNDS];

	for (unsigned i = 0; i < s->rounds; i++) {
		g[i] = 0;
		for (unsigned c = 0; c < NTHREADS; c++)
			g[i] += log(r->mops[c][i]) / NTHREADS;
		g[i] = exp(g[i]);
	}
	wl_spread_of(g, s->rounds, out);
}

/* The best lock per layout by geometric mean over 1-8 threads, named only
 * when its range is clear of the runner-up's. */
static void print_best(const struct study *s)
{
	printf("\nbest lock per layout (geometric mean over 1-8 threads of each round, "
	       "median [min-max] M ops/s):\n");
	for (unsigned l = 0; l < NLAYOUTS; l++) {
		const struct row *rows = &s->rows[l * NLOCKS];
		struct wl_spread g[NLOCKS];
		int best = -1, second = -1;

		if (!rows[0].available) {
			printf("  %-8s n/a\n", wl_layout_name(rows[0].layout));
			continue;
		}
		for (int k = 0; k < NLOCKS; k++) {
			geomean_spread(s, &rows[k], &g[k]);
			if (best < 0 || g[k].median > g[best].median) {
				second = best;
				best = k;
			} else if (second < 0 || g[k].median > g[second].median) {
				second = k;
			}
		}
		if (wl_spread_apart(&g[best], &g[second]))
			printf("  %-8s %s, %.2f [%.2f-%.2f], clear of %s %.2f [%.2f-%.2f]\n",
			       wl_layout_name(rows[0].layout), row_lock_name(&rows[best]),
			       g[best].median, g[best].lo, g[best].hi, row_lock_name(&rows[second]),
			       g[second].median, g[second].lo, g[second].hi);
		else
			printf("  %-8s no clear best: %s %.2f [%.2f-%.2f] and %s %.2f [%.2f-%.2f] "
			       "overlap\n", wl_layout_name(rows[0].layout),
			       row_lock_name(&rows[best]), g[best].median, g[best].lo, g[best].hi,
			       row_lock_name(&rows[second]), g[second].median, g[second].lo,
			       g[second].hi);
	}
}

int main(int argc, char **argv)
{
	struct study s = {
		.budget_s = 60, .rounds = 5, .pool_bytes = WL_POOL_BYTES,
		.out_dir = "build/study", .plot = true,
	};
	unsigned available;

	if (!parse_args(argc, argv, &s))
		return 2;
	/* Progress and table interleave in order even when piped. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	add_rows(&s);
	available = probe_layouts(&s);
	wl_context_begin(&s.ctx);
	printf("iotlb-study: %u rows x %u thread counts x %u rounds within %.0f s on %u CPUs "
	       "(threads %s); a line per round\n", available, NTHREADS, s.rounds, s.budget_s,
	       wl_ncpus(), s.unbound ? "unbound" : "bound");
	if (run_study(&s, available))
		return 1;
	wl_context_end(&s.ctx);
	print_table(&s);
	print_headline(&s);
	print_layout_pair(&s, 1, 0);
	print_layout_pair(&s, 2, 1);
	print_best(&s);
	return study_write(&s) ? 1 : 0;
}
