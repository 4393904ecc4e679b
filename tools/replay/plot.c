/* SPDX-License-Identifier: MIT */
/*
 * The occupancy plot: used slots over trace time, one line per configuration,
 * drawn by gnuplot (a separate program, run through a pipe; data inline).
 */
#include "report.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* gnuplot single-quoted string: a quote is written twice. */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('\'', f);
}

int rp_plot(const char *png, const struct rp_parse_stats *ps, struct rp_run *const *runs,
	    unsigned nruns)
{
	FILE *gp = popen("gnuplot", "w");
	int status;

	if (!gp) {
		fprintf(stderr, "iotlb-replay: cannot run gnuplot (Debian: gnuplot-nox)\n");
		return -1;
	}
	fprintf(gp, "set terminal pngcairo size 960,540 noenhanced\nset output ");
	gp_str(gp, png);
	fprintf(gp, "\nset title 'swiotlb occupancy replayed by libiotlb'\n"
		    "set xlabel 'trace time (s)'\nset ylabel 'used slots'\n"
		    "set key outside bottom center horizontal\nset grid\nset yrange [0:*]\n"
		    "set label 1 'dashed: slots in the pool' at graph 0.01, graph 0.96 left\n");
	for (unsigned i = 0; i < nruns; i++) {
		const struct rp_series *s = &runs[i]->series;

		fprintf(gp, "$d%u << EOD\n", i);
		for (unsigned j = 0; j < s->n; j++)
			fprintf(gp, "%.9f %llu\n", (double)(s->t_ns[j] - ps->first_ns) / 1e9,
				(unsigned long long)s->used[j]);
		if (s->n == 0)
			fprintf(gp, "0 0\n");
		fprintf(gp, "EOD\n");
	}
	fprintf(gp, "plot ");
	for (unsigned i = 0; i < nruns; i++) {
		char title[160];

		snprintf(title, sizeof(title), "%s (%llu slots)", runs[i]->cfg->label,
			 (unsigned long long)runs[i]->c.nslots);
		fprintf(gp, "%s$d%u using 1:2 with steps lw 2 lc %u title ", i ? ", " : "", i,
			i + 1);
		gp_str(gp, title);
		/* The configuration's capacity, dashed, in the same colour. */
		fprintf(gp, ", $d%u using 1:(%llu) with lines dt 2 lc %u notitle", i,
			(unsigned long long)runs[i]->c.nslots, i + 1);
	}
	fprintf(gp, "\n");
	status = pclose(gp);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "iotlb-replay: gnuplot failed writing %s\n", png);
		return -1;
	}
	return 0;
}
