/* SPDX-License-Identifier: MIT */
/*
 * iotlb-study's files: study.dat (median and range per cell, one block per
 * row), study.json (the run's context and every round's figure), study.gp
 * and the plot it draws (one panel per layout, error bars from the range,
 * the malloc baseline and the copy alone as reference lines).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "study.h"

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
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->abs_out, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "iotlb-study: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static int close_out(FILE *f)
{
	return fclose(f) ? -1 : 0;
}

/* study.dat: gnuplot block i (`index i`) is row i: threads median min max. */
static int write_data(const struct study *s)
{
	FILE *f = open_out(s, "study.dat");

	if (!f)
		return -1;
	fprintf(f, "# iotlb-study %s: M map+unmap pairs/s, median and range over %u rounds\n",
		s->ctx.date, s->rounds);
	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		fprintf(f, "%s# %s/%s\n# threads median min max\n", i ? "\n\n" : "",
			wl_layout_name(r->layout), row_lock_name(r));
		for (unsigned c = 0; c < NTHREADS; c++) {
			const struct wl_spread *p = &r->cell[c];

			if (r->available)
				fprintf(f, "%u %.4f %.4f %.4f\n", thread_counts[c], p->median,
					p->lo, p->hi);
			else
				fprintf(f, "%u NaN NaN NaN\n", thread_counts[c]);
		}
	}
	return close_out(f);
}

static void json_cells(FILE *f, const struct study *s)
{
	bool first = true;

	fprintf(f, "  \"cells\": [");
	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		if (!r->available)
			continue;
		for (unsigned c = 0; c < NTHREADS; c++) {
			const struct wl_spread *p = &r->cell[c];

			fprintf(f, "%s\n    {\"layout\": \"%s\", \"lock\": \"%s\", \"threads\": %u, "
				   "\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"rounds\": [",
				first ? "" : ",", wl_layout_name(r->layout), row_lock_name(r),
				thread_counts[c], p->median, p->lo, p->hi);
			for (unsigned k = 0; k < s->rounds; k++)
				fprintf(f, "%s%.4f", k ? ", " : "", r->mops[c][k]);
			fprintf(f, "]}");
			first = false;
		}
	}
	fprintf(f, "\n  ]\n");
}

/* study.json: everything a reader needs to trust or redo the table. */
static int write_json(const struct study *s)
{
	FILE *f = open_out(s, "study.json");

	if (!f)
		return -1;
	fprintf(f, "{\n  \"tool\": \"iotlb-study\",\n");
	wl_context_json(f, &s->ctx, !s->unbound);
	fprintf(f, "  \"locks\": [");
	for (unsigned k = 0; k < NLOCKS; k++)
		fprintf(f, "%s\"%s\"", k ? ", " : "", wl_lock_resolved(lock_kinds[k]));
	fprintf(f, "],\n  \"malloc_lock\": \"pthread mutex\",\n");
	fprintf(f, "  \"pool_bytes\": %zu,\n  \"op_bytes\": %zu,\n  \"direction\": \"%s\",\n"
		   "  \"skip_cpu_sync\": true,\n  \"rounds\": %u,\n  \"budget_s\": %.1f,\n"
		   "  \"cell_seconds_min\": %.3f,\n  \"cell_seconds_max\": %.3f,\n"
		   "  \"thread_counts\": [1, 2, 4, 8],\n  \"units\": \"M map+unmap pairs/s\",\n",
		s->pool_bytes, study_op.size, wl_dir_name(study_op.dir), s->rounds, s->budget_s,
		s->run_s_min, s->run_s_max);
	json_cells(f, s);
	fprintf(f, "}\n");
	return close_out(f);
}

/* Line colour of each lock kind (same order as lock_kinds). */
static const char *const lock_colours[NLOCKS] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
};

/* The y range of every panel: the libiotlb cells set it; the reference
 * lines may run off the top (their figures then go in their key entries). */
static double y_top(const struct study *s)
{
	double top = 0;

	for (unsigned i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];

		if (!r->available || r->layout == WL_MALLOC || r->layout == WL_COPY)
			continue;
		for (unsigned c = 0; c < NTHREADS; c++)
			if (r->cell[c].hi > top)
				top = r->cell[c].hi;
	}
	return top > 0 ? top * 1.15 : 1;
}

/* A reference row as a dashed line. */
static void script_reference(FILE *f, int row, const char *title, const char *style)
{
	if (row >= 0)
		fprintf(f, ", \\\n  'study.dat' index %d using 1:2:3:4 with yerrorlines title '%s' %s",
			row, title, style);
}

/* Reference lines above the scale get their figures in the figure's title. */
static void script_off_scale(FILE *f, const struct study *s, double top)
{
	static const enum wl_layout refs[] = { WL_COPY, WL_MALLOC };
	bool any = false;

	for (unsigned i = 0; i < 2; i++) {
		int row = study_row_of(s, refs[i]);
		bool off = false;

		if (row < 0)
			continue;
		for (unsigned k = 0; k < NTHREADS; k++)
			off |= s->rows[row].cell[k].median > top;
		if (!off)
			continue;
		fprintf(f, "%s%s", any ? "; " : "\\noff the scale, M pairs/s at 1, 2, 4, 8 threads: ",
			refs[i] == WL_COPY ? "copy alone" : "malloc");
		for (unsigned k = 0; k < NTHREADS; k++)
			fprintf(f, "%s%.1f", k ? ", " : " ", s->rows[row].cell[k].median);
		any = true;
	}
}

/* study.gp: one panel per layout; colour = lock kind; error bars = range. */
static int write_script(const struct study *s)
{
	FILE *f = open_out(s, "study.gp");
	double top = y_top(s);

	if (!f)
		return -1;
	fprintf(f, "# Generated by iotlb-study; run from this directory: gnuplot study.gp\n"
		   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		   "  set terminal pngcairo size 1500,700 font ',10'\n"
		   "} else {\n"
		   "  set terminal png size 1500,700\n"
		   "}\n"
		   "set output 'study.png'\nset termoption noenhanced\n"
		   "set multiplot layout 1,3 title \"libiotlb lock contention: %zu B %s map+unmap, "
		   "%zu MiB pool, %u CPUs, threads %s, %s\\nmedian and min-max of %u interleaved "
		   "rounds (context: study.json)",
		study_op.size, wl_dir_name(study_op.dir), s->pool_bytes >> 20, wl_ncpus(),
		s->unbound ? "unbound" : "bound", s->ctx.date, s->rounds);
	script_off_scale(f, s, top);
	/* The key goes under the panels; the bottom margin keeps it clear of the
	 * x label. */
	fprintf(f, "\"\nset xlabel 'threads' offset 0,0.6\nset bmargin 7\nset ylabel 'M map+unmap pairs per second'\n"
		   "set logscale x 2\nset xtics (1, 2, 4, 8)\nset xrange [0.8:10]\n"
		   "set yrange [0:%.3f]\nset grid\nset key below horizontal maxrows 2 font ',9'\n",
		top);
	for (unsigned l = 0; l < NLAYOUTS; l++) {
		const struct row *rows = &s->rows[l * NLOCKS];

		fprintf(f, "set title '%s'\nplot ", wl_layout_name(rows[0].layout));
		for (unsigned k = 0; k < NLOCKS; k++)
			/* Locks are nudged apart on x so their error bars do not hide
			 * each other. */
			fprintf(f, "%s'study.dat' index %u using ($1*%.3f):2:3:4 with yerrorlines "
				   "title '%s' lc rgb '%s' pt %u lw 1.5",
				k ? ", \\\n  " : "", l * NLOCKS + k, 1 + 0.04 * ((double)k - 2),
				row_lock_name(&rows[k]), lock_colours[k], 5 + 2 * k);
		script_reference(f, study_row_of(s, WL_COPY), "copy alone",
				 "lc rgb '#777777' dt 4 pt 0 lw 2");
		script_reference(f, study_row_of(s, WL_MALLOC), "malloc",
				 "lc rgb '#000000' dt 2 pt 0 lw 2");
		fprintf(f, "\n");
	}
	fprintf(f, "unset multiplot\n");
	return close_out(f);
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
	char cmd[4300];

	if (!gnuplot_found()) {
		printf("gnuplot not found: no plot written. Install it (Debian: apt-get install "
		       "gnuplot-nox; `make deps` does) and run: cd %s && gnuplot study.gp\n",
		       s->abs_out);
		return;
	}
	if (strchr(s->abs_out, '\'')) {
		printf("not running gnuplot: a quote in %s\n", s->abs_out);
		return;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot study.gp", s->abs_out);
	if (system(cmd) != 0)
		printf("gnuplot failed: no plot written (script: %s/study.gp)\n", s->abs_out);
	else
		printf("plot: %s/study.png\n", s->abs_out);
}

int study_write(struct study *s)
{
	char *abs;
	int err = mkdir_p(s->out_dir);

	if (err) {
		fprintf(stderr, "iotlb-study: cannot create %s: %s\n", s->out_dir, strerror(-err));
		return -1;
	}
	abs = realpath(s->out_dir, NULL);
	snprintf(s->abs_out, sizeof(s->abs_out), "%s", abs ? abs : s->out_dir);
	free(abs);
	if (write_data(s) || write_json(s) || write_script(s))
		return -1;
	printf("\ncontext (date, commit, machine, load, locks): %s/study.json\n", s->abs_out);
	printf("data: %s/study.dat, gnuplot script: %s/study.gp\n", s->abs_out, s->abs_out);
	if (s->plot)
		plot(s);
	return 0;
}
