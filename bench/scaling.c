/* SPDX-License-Identifier: MIT */
/*
 * iotlb-map-bench --scaling: N threads against 1 thread for the three ways a
 * device's queues can share bounce memory, with 64-byte maps (the copy is
 * negligible, so the allocator's own shared state shows) and 2 KiB maps
 * (one slot), and the 2 KiB copy alone as the ceiling for the latter.
 *
 * Every round runs every cell once, forwards on even rounds and backwards on
 * odd ones; a ratio is taken within a round (N threads and 1 thread measured
 * minutes apart would compare two machines), and its median and range over
 * the rounds are printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "scaling.h"
#include "workload.h"

/* Maps: to the device, no copy back; the cheapest legal pair. */
#define SC_DIR IOTLB_TO_DEVICE
#define SC_ATTRS IOTLB_ATTR_SKIP_CPU_SYNC

struct sc_row {
	const char *name;
	enum wl_layout layout;
	size_t size;
};

static const struct sc_row sc_rows[] = {
	{ "private pool, one device, nqueues = threads", WL_PRIVATE, 64 },
	{ "private pool, one device, nqueues = threads", WL_PRIVATE, 2048 },
	{ "per-CPU areas, one device, nareas = CPUs", WL_PERCPU, 64 },
	{ "per-CPU areas, one device, nareas = CPUs", WL_PERCPU, 2048 },
	{ "single area, one device", WL_SINGLE, 64 },
	{ "single area, one device", WL_SINGLE, 2048 },
	{ "copy alone (memcpy, sweeping the pool)", WL_COPY, 2048 },
};
#define SC_NROWS (sizeof(sc_rows) / sizeof(sc_rows[0]))
#define SC_OVER_ROW 2 /* per-CPU areas, 64 B: also run oversubscribed */

struct sc_cell {
	unsigned row;
	unsigned threads;
	double mops[WL_SCALING_MAX_ROUNDS];
	struct wl_spread spread;
};

struct scaling {
	struct wl_scaling_cfg cfg;
	unsigned counts[WL_SCALING_MAX_COUNTS + 1];
	unsigned ncounts;
	unsigned over;           /* threads of the oversubscribed cell: 4 per CPU */
	struct sc_cell cells[SC_NROWS * (WL_SCALING_MAX_COUNTS + 1) + 1];
	unsigned ncells;
	struct wl_context ctx;
};

static const char *size_name(size_t size)
{
	return size >= 1024 ? "2 KiB" : "64 B";
}

/* The counts asked for, 1 first (every ratio needs it), no duplicates. */
static void set_counts(struct scaling *sc)
{
	const struct wl_scaling_cfg *c = &sc->cfg;
	unsigned ncpus = wl_ncpus();

	sc->counts[sc->ncounts++] = 1;
	if (!c->nthreads_list && ncpus > 1)
		sc->counts[sc->ncounts++] = ncpus;
	for (unsigned i = 0; i < c->nthreads_list; i++) {
		bool dup = false;

		for (unsigned k = 0; k < sc->ncounts; k++)
			dup |= sc->counts[k] == c->threads_list[i];
		if (!dup)
			sc->counts[sc->ncounts++] = c->threads_list[i];
	}
	sc->over = 4 * ncpus;
}

static struct sc_cell *find_cell(struct scaling *sc, unsigned row, unsigned threads)
{
	for (unsigned i = 0; i < sc->ncells; i++)
		if (sc->cells[i].row == row && sc->cells[i].threads == threads)
			return &sc->cells[i];
	return NULL;
}

static void set_cells(struct scaling *sc)
{
	for (unsigned r = 0; r < SC_NROWS; r++)
		for (unsigned k = 0; k < sc->ncounts; k++)
			sc->cells[sc->ncells++] = (struct sc_cell){ .row = r, .threads = sc->counts[k] };
	if (!find_cell(sc, SC_OVER_ROW, sc->over))
		sc->cells[sc->ncells++] = (struct sc_cell){ .row = SC_OVER_ROW, .threads = sc->over };
}

static int measure(const struct scaling *sc, struct sc_cell *cell, unsigned round)
{
	const struct sc_row *row = &sc_rows[cell->row];
	struct wl_setup setup = { row->layout, sc->cfg.lock, cell->threads,
				  row->layout == WL_PERCPU ? wl_ncpus() : 0, sc->cfg.pool_bytes };
	struct wl_run_cfg run = {
		.nthreads = cell->threads,
		.seconds = sc->cfg.seconds,
		.op = { row->size, SC_DIR, SC_ATTRS, 0 },
		.unbound = sc->cfg.unbound,
	};
	struct wl_result res = { 0 };
	struct wl_bed *bed = NULL;
	int err = wl_bed_create(&setup, &bed);

	if (!err)
		err = wl_run(bed, &run, &res);
	if (!err && res.errors)
		err = -EIO;
	wl_bed_destroy(bed);
	if (err)
		fprintf(stderr, "iotlb-map-bench: --scaling: %s, %s, %u threads failed: %s\n",
			row->name, size_name(row->size), cell->threads, iotlb_strerror(err));
	cell->mops[round] = err ? NAN : res.pairs_per_s / 1e6;
	return err;
}

static int run_rounds(struct scaling *sc)
{
	for (unsigned round = 0; round < sc->cfg.rounds; round++) {
		for (unsigned k = 0; k < sc->ncells; k++) {
			unsigned i = round % 2 ? sc->ncells - 1 - k : k;

			if (measure(sc, &sc->cells[i], round))
				return -1;
		}
		fprintf(stderr, "iotlb-map-bench: --scaling: round %u/%u done (%.1f s)\n",
			round + 1, sc->cfg.rounds, (double)(wl_now_ns() - sc->ctx.start_ns) / 1e9);
	}
	for (unsigned i = 0; i < sc->ncells; i++)
		wl_spread_of(sc->cells[i].mops, sc->cfg.rounds, &sc->cells[i].spread);
	return 0;
}

/* a / b within each round: median and range. */
static void ratio(const struct scaling *sc, const struct sc_cell *a, const struct sc_cell *b,
		  struct wl_spread *out)
{
	double q[WL_SCALING_MAX_ROUNDS];

	for (unsigned i = 0; i < sc->cfg.rounds; i++)
		q[i] = a->mops[i] / b->mops[i];
	wl_spread_of(q, sc->cfg.rounds, out);
}

static const char *lock_text(const struct scaling *sc)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s", wl_lock_resolved(sc->cfg.lock),
		 sc->cfg.lock == IOTLB_LOCK_DEFAULT ? " (default)" : "");
	return buf;
}

static void print_text(struct scaling *sc)
{
	struct wl_spread q;

	printf("iotlb-map-bench --scaling, %s: %s + skip-sync maps, %zu MiB pool, lock %s\n",
	       sc->ctx.date, wl_dir_name(SC_DIR), sc->cfg.pool_bytes >> 20, lock_text(sc));
	printf("machine: %u CPUs, %s; load average %.2f before, %.2f after; threads %s\n",
	       wl_ncpus(), wl_cpu_model(), sc->ctx.load_before[0], sc->ctx.load_after[0],
	       sc->cfg.unbound ? "NOT bound (--unbound)" : "bound, thread i on CPU i mod ncpus");
	printf("%u interleaved rounds of %.2f s per cell (%.1f s in all), commit %s\n",
	       sc->cfg.rounds, sc->cfg.seconds, sc->ctx.seconds, wl_git_commit());
	wl_context_warn(stdout, &sc->ctx);
	printf("1 thread: M pairs/s; N threads: N threads / 1 thread, the ratio within each "
	       "round; median [min-max]\n\n");
	printf("%-44s %-5s | %-19s", "configuration", "size", "1 thread (M/s)");
	for (unsigned k = 1; k < sc->ncounts; k++)
		printf(" | %2u threads / 1      ", sc->counts[k]);
	printf("\n");
	for (unsigned r = 0; r < SC_NROWS; r++) {
		const struct sc_cell *one = find_cell(sc, r, 1);

		printf("%-44s %-5s | %5.2f [%5.2f-%5.2f]", sc_rows[r].name,
		       size_name(sc_rows[r].size), one->spread.median, one->spread.lo,
		       one->spread.hi);
		for (unsigned k = 1; k < sc->ncounts; k++) {
			ratio(sc, find_cell(sc, r, sc->counts[k]), one, &q);
			printf(" | %5.2fx [%5.2f-%5.2f]", q.median, q.lo, q.hi);
		}
		printf("\n");
	}
	{
		const struct sc_cell *over = find_cell(sc, SC_OVER_ROW, sc->over);
		const struct sc_cell *full = find_cell(sc, SC_OVER_ROW, wl_ncpus());
		const struct sc_cell *one = find_cell(sc, SC_OVER_ROW, 1);

		ratio(sc, over, one, &q);
		printf("\noversubscribed: per-CPU areas, 64 B, %u threads on %u CPUs: "
		       "%.2f [%.2f-%.2f] M pairs/s, %.2fx [%.2f-%.2f] of 1 thread", sc->over,
		       wl_ncpus(), over->spread.median, over->spread.lo, over->spread.hi, q.median,
		       q.lo, q.hi);
		if (full && full != one) {
			ratio(sc, over, full, &q);
			printf(", %.2fx [%.2f-%.2f] of %u threads", q.median, q.lo, q.hi, wl_ncpus());
		}
		printf("\n");
	}
}

static void print_json(struct scaling *sc)
{
	printf("{\n  \"tool\": \"iotlb-map-bench --scaling\",\n");
	wl_context_json(stdout, &sc->ctx, !sc->cfg.unbound);
	printf("  \"lock\": \"%s\",\n  \"lock_requested\": \"%s\",\n  \"pool_bytes\": %zu,\n"
	       "  \"direction\": \"%s\",\n  \"skip_cpu_sync\": true,\n  \"rounds\": %u,\n"
	       "  \"cell_seconds\": %.3f,\n  \"units\": \"M map+unmap pairs/s\",\n  \"cells\": [",
	       wl_lock_resolved(sc->cfg.lock), iotlb_lock_kind_name(sc->cfg.lock),
	       sc->cfg.pool_bytes, wl_dir_name(SC_DIR), sc->cfg.rounds, sc->cfg.seconds);
	for (unsigned i = 0; i < sc->ncells; i++) {
		const struct sc_cell *c = &sc->cells[i];
		struct wl_spread q;

		ratio(sc, c, find_cell(sc, c->row, 1), &q);
		printf("%s\n    {\"configuration\": \"%s\", \"layout\": \"%s\", \"size\": %zu, "
		       "\"threads\": %u, \"median\": %.4f, \"min\": %.4f, \"max\": %.4f, "
		       "\"ratio_to_1\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}, \"rounds\": [",
		       i ? "," : "", sc_rows[c->row].name, wl_layout_name(sc_rows[c->row].layout),
		       sc_rows[c->row].size, c->threads, c->spread.median, c->spread.lo,
		       c->spread.hi, q.median, q.lo, q.hi);
		for (unsigned k = 0; k < sc->cfg.rounds; k++)
			printf("%s%.4f", k ? ", " : "", c->mops[k]);
		printf("]}");
	}
	printf("\n  ]\n}\n");
}

int wl_scaling(const struct wl_scaling_cfg *cfg)
{
	struct scaling *sc = calloc(1, sizeof(*sc));
	int err;

	if (!sc) {
		fprintf(stderr, "iotlb-map-bench: --scaling: out of memory\n");
		return -1;
	}
	sc->cfg = *cfg;
	set_counts(sc);
	set_cells(sc);
	wl_context_begin(&sc->ctx);
	fprintf(stderr, "iotlb-map-bench: --scaling: %u cells x %u rounds of %.2f s "
		"(about %.0f s); a line per round\n", sc->ncells, sc->cfg.rounds, sc->cfg.seconds,
		sc->ncells * sc->cfg.rounds * (sc->cfg.seconds + 0.02));
	err = run_rounds(sc);
	wl_context_end(&sc->ctx);
	if (!err) {
		if (sc->cfg.json)
			print_json(sc);
		else
			print_text(sc);
	}
	free(sc);
	return err;
}
