/* SPDX-License-Identifier: MIT */
/*
 * iotlb-study, the main job of `make run`: lock contention across the three
 * area layouts the kernel has had (one lock; per-CPU areas; private child
 * pools) and the five lock kinds, at 1 to 8 threads, within a time budget.
 * Prints a table and plots throughput against threads with gnuplot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define NTHREADS 4
static const unsigned thread_counts[NTHREADS] = { 1, 2, 4, 8 };

static const enum iotlb_lock_kind lock_kinds[] = {
	IOTLB_LOCK_MUTEX, IOTLB_LOCK_SPIN, IOTLB_LOCK_TICKET, IOTLB_LOCK_MCS, IOTLB_LOCK_TTAS,
};
#define NLOCKS (sizeof(lock_kinds) / sizeof(lock_kinds[0]))

/* What every cell runs: one slot mapped to the device (copied once, as map
 * always copies) and unmapped without a copy back. */
static const struct wl_op study_op = { 2048, IOTLB_TO_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC, 0 };

#define MAX_REPS 9

struct row {
	enum wl_layout layout;
	enum iotlb_lock_kind lock;
	bool available;           /* false: the layout is not in this build */
	double mops[NTHREADS];    /* median M pairs/s; NAN when not measured */
};

struct study {
	double budget_s;
	unsigned reps;
	size_t pool_bytes;
	const char *out_dir;
	bool plot;
	struct row rows[3 * NLOCKS + 1];
	unsigned nrows;
	uint64_t start_ns, deadline_ns;
	double rep_s_min, rep_s_max;  /* shortest and longest repetition run */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iotlb-study [options]\n"
		"Measures map+unmap throughput for layouts {single, percpu, private} x\n"
		"locks {mutex, spin, ticket, mcs, ttas} x threads {1, 2, 4, 8} (and the\n"
		"malloc baseline), prints a table and plots it with gnuplot.\n"
		"\n"
		"  --budget S     total time for the measurements (default 40)\n"
		"  --reps N       repetitions per cell, the median is kept (default 3)\n"
		"  --quick        a smoke run: budget 3 s, 8 MiB pools\n"
		"  --pool-mb N    bounce memory per cell in MiB (default 64)\n"
		"  --out DIR      where the data, script and plots go (default build/study)\n"
		"  --no-plot      do not run gnuplot\n"
		"  -h, --help     this text\n");
}

static bool parse_args(int argc, char **argv, struct study *s)
{
	enum { OPT_BUDGET = 256, OPT_REPS, OPT_QUICK, OPT_POOL, OPT_OUT, OPT_NOPLOT };
	static const struct option longs[] = {
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "pool-mb", required_argument, NULL, OPT_POOL },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "no-plot", no_argument, NULL, OPT_NOPLOT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case OPT_BUDGET:
			s->budget_s = strtod(optarg, &end);
			if (end == optarg || *end || s->budget_s < 0.5 || s->budget_s > 3600)
				goto bad;
			break;
		case OPT_REPS:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 1 || v > MAX_REPS)
				goto bad;
			s->reps = (unsigned)v;
			break;
		case OPT_QUICK:
			s->budget_s = 3;
			s->pool_bytes = (size_t)8 << 20;
			break;
		case OPT_POOL:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 4 || v > 4096)
				goto bad;
			s->pool_bytes = (size_t)v << 20;
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
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "iotlb-study: unexpected argument '%s'\n", argv[optind]);
		return false;
	}
	return true;
bad:
	fprintf(stderr, "iotlb-study: bad value for %s: '%s'\n", argv[optind - 1], optarg);
	return false;
}

static const char *row_lock_name(const struct row *r)
{
	return r->layout == WL_MALLOC ? "mutex" : iotlb_lock_kind_name(r->lock);
}

/* ----------------------------------------------------------- measurement */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static unsigned reps_left(const struct study *s, unsigned row, unsigned col)
{
	unsigned cells = 0;

	for (unsigned r = row; r < s->nrows; r++)
		if (s->rows[r].available)
			cells += NTHREADS - (r == row ? col : 0);
	return cells * s->reps;
}

/*
 * Spreads what is left of the budget over the repetitions still to run, so
 * time lost to set-up and thread start and stop is made up later; kept
 * within half and one and a half times the even share, so that no cell is
 * measured too briefly when the machine is busy (the total may then run a
 * little over the budget).
 */
static double rep_seconds(struct study *s, unsigned row, unsigned col)
{
	double left = (double)(int64_t)(s->deadline_ns - wl_now_ns()) / 1e9;
	double share = 0.85 * s->budget_s / reps_left(s, 0, 0);
	double t = 0.9 * left / reps_left(s, row, col);

	if (t < 0.5 * share)
		t = 0.5 * share;
	if (t > 1.5 * share)
		t = 1.5 * share;
	if (t < s->rep_s_min || s->rep_s_min == 0)
		s->rep_s_min = t;
	if (t > s->rep_s_max)
		s->rep_s_max = t;
	return t;
}

/* One cell: a fresh bed, s->reps runs, the median. NAN on failure. */
static double measure(struct study *s, unsigned row, unsigned col, int *err_out)
{
	const struct row *r = &s->rows[row];
	struct wl_setup setup = { r->layout, r->lock, thread_counts[col], 0, s->pool_bytes };
	double mops[MAX_REPS];
	struct wl_bed *bed = NULL;
	int err;

	err = wl_bed_create(&setup, &bed);
	for (unsigned i = 0; !err && i < s->reps; i++) {
		struct wl_run_cfg run = { .nthreads = thread_counts[col], .op = study_op };
		struct wl_result res;

		run.seconds = rep_seconds(s, row, col);
		err = wl_run(bed, &run, &res);
		if (!err && res.errors)
			err = -EIO;
		mops[i] = res.pairs_per_s / 1e6;
	}
	if (bed)
		wl_bed_destroy(bed);
	*err_out = err;
	if (err)
		return NAN;
	qsort(mops, s->reps, sizeof(mops[0]), cmp_double);
	return mops[s->reps / 2];
}

static void progress_row(const struct study *s, unsigned row)
{
	const struct row *r = &s->rows[row];

	printf("iotlb-study: [%2u/%u] %-7s %-6s", row + 1, s->nrows, wl_layout_name(r->layout),
	       row_lock_name(r));
	if (!r->available) {
		printf(" n/a (layout not available in this build)\n");
		return;
	}
	for (unsigned c = 0; c < NTHREADS; c++)
		printf("  %u: %6.3f", thread_counts[c], r->mops[c]);
	printf("  M ops/s  (%.1f s elapsed)\n", (double)(wl_now_ns() - s->start_ns) / 1e9);
}

static void add_rows(struct study *s)
{
	static const enum wl_layout layouts[] = { WL_SINGLE, WL_PERCPU, WL_PRIVATE };

	for (unsigned l = 0; l < 3; l++)
		for (unsigned k = 0; k < NLOCKS; k++)
			s->rows[s->nrows++] = (struct row){ layouts[l], lock_kinds[k], true, { 0 } };
	s->rows[s->nrows++] = (struct row){ WL_MALLOC, IOTLB_LOCK_MUTEX, true, { 0 } };
}

/* Layouts the library cannot set up yet are dropped before the budget is
 * shared out, so they cost nothing. */
static void probe_layouts(struct study *s)
{
	for (unsigned i = 0; i < s->nrows; i++) {
		struct row *r = &s->rows[i];
		struct wl_setup setup = { r->layout, r->lock, 2, 0, (size_t)4 << 20 };
		struct wl_bed *bed;

		if (wl_bed_create(&setup, &bed)) {
			r->available = false;
			continue;
		}
		wl_bed_destroy(bed);
	}
}

static int run_study(struct study *s)
{
	s->start_ns = wl_now_ns();
	s->deadline_ns = s->start_ns + (uint64_t)(s->budget_s * 1e9);
	for (unsigned i = 0; i < s->nrows; i++) {
		struct row *r = &s->rows[i];

		for (unsigned c = 0; c < NTHREADS; c++) {
			int err = 0;

			r->mops[c] = r->available ? measure(s, i, c, &err) : NAN;
			if (err) {
				fprintf(stderr, "iotlb-study: %s/%s at %u threads failed: %s\n",
					wl_layout_name(r->layout), row_lock_name(r),
					thread_counts[c], iotlb_strerror(err));
				return 1;
			}
		}
		progress_row(s, i);
	}
	return 0;
}

/* ----------------------------------------------------------------- report */

static const char *cpu_model(void)
{
	static char model[128] = "unknown CPU";
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return model;
}

/* The reference of every speed-up: single + mutex at the same thread count. */
static double baseline(const struct study *s, unsigned col)
{
	return s->rows[0].mops[col];
}

static void print_table(const struct study *s)
{
	printf("\nlibiotlb lock-contention study: %zu B map (%s, copied once) + unmap "
	       "(no copy back) per op\n", study_op.size, wl_dir_name(study_op.dir));
	printf("machine: %ld CPUs online, %s; %zu MiB bounce pool per cell\n",
	       sysconf(_SC_NPROCESSORS_ONLN), cpu_model(), s->pool_bytes >> 20);
	printf("each cell: median of %u runs of %.3f-%.3f s (study took %.1f s); M ops/s (one op "
	       "= one map+unmap pair),\nand in brackets the speed-up over \"single + mutex\" at "
	       "the same thread count\n\n", s->reps, s->rep_s_min, s->rep_s_max,
	       (double)(wl_now_ns() - s->start_ns) / 1e9);
	printf("%-8s %-7s", "layout", "lock");
	for (unsigned c = 0; c < NTHREADS; c++)
		printf(" | %2u thread%s     ", thread_counts[c], thread_counts[c] > 1 ? "s" : " ");
	printf("\n");
	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		printf("%-8s %-7s", wl_layout_name(r->layout), row_lock_name(r));
		if (!r->available) {
			printf(" | n/a: layout not available in this build of libiotlb\n");
			continue;
		}
		for (unsigned c = 0; c < NTHREADS; c++)
			printf(" | %6.3f (%5.2fx)", r->mops[c], r->mops[c] / baseline(s, c));
		printf("\n");
	}
	printf("(malloc = no libiotlb: pthread mutex + malloc + memcpy + free)\n");
}

/* The lock with the best geometric mean over the thread counts, per layout. */
static void print_best(const struct study *s)
{
	printf("\nbest lock per layout (geometric mean of M ops/s over 1-8 threads):\n");
	for (unsigned i = 0; i < s->nrows; i += NLOCKS) {
		const struct row *best = NULL;
		double best_g = 0;

		if (s->rows[i].layout == WL_MALLOC)
			break;
		for (unsigned k = 0; k < NLOCKS; k++) {
			const struct row *r = &s->rows[i + k];
			double g = 0;

			if (!r->available)
				continue;
			for (unsigned c = 0; c < NTHREADS; c++)
				g += log(r->mops[c]) / NTHREADS;
			if (!best || exp(g) > best_g) {
				best = r;
				best_g = exp(g);
			}
		}
		if (best)
			printf("  %-8s %-7s %.3f\n", wl_layout_name(best->layout),
			       row_lock_name(best), best_g);
		else
			printf("  %-8s n/a\n", wl_layout_name(s->rows[i].layout));
	}
}

/* ------------------------------------------------------------------- plot */

static int mkdir_p(const char *path)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0777) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0777) && errno != EEXIST)
		return -errno;
	return 0;
}

static FILE *open_out(const struct study *s, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->out_dir, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "iotlb-study: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

/* study.dat: one line per thread count, one column per row (NaN = none). */
static int write_data(const struct study *s)
{
	FILE *f = open_out(s, "study.dat");

	if (!f)
		return -1;
	fprintf(f, "# threads");
	for (unsigned i = 0; i < s->nrows; i++)
		fprintf(f, " %s/%s", wl_layout_name(s->rows[i].layout), row_lock_name(&s->rows[i]));
	fprintf(f, "\n");
	for (unsigned c = 0; c < NTHREADS; c++) {
		fprintf(f, "%u", thread_counts[c]);
		for (unsigned i = 0; i < s->nrows; i++)
			fprintf(f, " %.4f", s->rows[i].available ? s->rows[i].mops[c] : NAN);
		fprintf(f, "\n");
	}
	return fclose(f) ? -1 : 0;
}

/* Line colour of each lock kind (same order as lock_kinds); black = malloc. */
static const char *const lock_colours[NLOCKS] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
};

/* study.gp: colour = lock kind, dash and point = layout; pngcairo where the
 * gnuplot build has it, else the plain png terminal; then svg. */
static int write_script(const struct study *s)
{
	FILE *f = open_out(s, "study.gp");
	bool first = true;

	if (!f)
		return -1;
	fprintf(f, "# Generated by iotlb-study; run from this directory: gnuplot study.gp\n"
		   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		   "  set terminal pngcairo size 1100,700 font ',10'\n"
		   "} else {\n"
		   "  set terminal png size 1100,700\n"
		   "}\n"
		   "set output 'study.png'\n"
		   "set title 'libiotlb: %zu B map+unmap throughput against threads (%ld CPUs)'\n"
		   "set xlabel 'threads'\nset ylabel 'M map+unmap pairs per second'\n"
		   "set logscale x 2\nset xtics (1, 2, 4, 8)\nset xrange [0.9:9]\n"
		   "set yrange [0:*]\nset grid\nset key outside right top\n"
		   "plot ",
		study_op.size, sysconf(_SC_NPROCESSORS_ONLN));
	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		if (!r->available)
			continue;
		fprintf(f, "%s\\\n  'study.dat' using 1:%u with linespoints title '%s/%s' "
			   "lc rgb '%s' dt %u pt %u lw 1.5",
			first ? "" : ", ", i + 2, wl_layout_name(r->layout), row_lock_name(r),
			r->layout == WL_MALLOC ? "#000000" : lock_colours[i % NLOCKS],
			(unsigned)r->layout + 1, (unsigned)r->layout * 2 + 5);
		first = false;
	}
	fprintf(f, "\nset terminal svg size 1100,700 dynamic\nset output 'study.svg'\nreplot\n");
	return fclose(f) ? -1 : 0;
}

static bool gnuplot_found(void)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s/gnuplot", (int)n, path);
		if (!access(dir, X_OK))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static void plot(const struct study *s)
{
	char cmd[8192], *abs;
	int err = mkdir_p(s->out_dir);

	if (err) {
		fprintf(stderr, "iotlb-study: cannot create %s: %s\n", s->out_dir, strerror(-err));
		return;
	}
	abs = realpath(s->out_dir, NULL);
	if (write_data(s) || write_script(s)) {
		free(abs);
		return;
	}
	printf("\ndata: %s/study.dat, gnuplot script: %s/study.gp\n", abs, abs);
	if (!s->plot) {
		free(abs);
		return;
	}
	if (!gnuplot_found()) {
		printf("gnuplot not found: no plot written. Install it (Debian: apt-get install "
		       "gnuplot-nox; `make deps` does) and run: cd %s && gnuplot study.gp\n", abs);
		free(abs);
		return;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot study.gp", abs);
	if (system(cmd) != 0)
		printf("gnuplot failed: no plot written (script: %s/study.gp)\n", abs);
	else
		printf("plot: %s/study.png and %s/study.svg\n", abs, abs);
	free(abs);
}

int main(int argc, char **argv)
{
	struct study s = {
		.budget_s = 40, .reps = 3, .pool_bytes = WL_POOL_BYTES,
		.out_dir = "build/study", .plot = true,
	};
	int err;

	if (!parse_args(argc, argv, &s)) {
		usage(stderr);
		return 2;
	}
	add_rows(&s);
	probe_layouts(&s);
	/* Progress and table interleave in order even when piped. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("iotlb-study: %u layout x lock rows x %u thread counts x %u runs within %.0f s; "
	       "a line per row as it completes\n", s.nrows, NTHREADS, s.reps, s.budget_s);
	err = run_study(&s);
	if (err)
		return err;
	print_table(&s);
	print_best(&s);
	plot(&s);
	return 0;
}
