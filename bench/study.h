/* SPDX-License-Identifier: MIT */
/*
 * iotlb-study's state, shared by the measurement and report (study.c) and
 * the files it writes: data, gnuplot script and JSON context (study_out.c).
 */
#ifndef IOTLB_BENCH_STUDY_H
#define IOTLB_BENCH_STUDY_H

#include "report.h"
#include "workload.h"

#define NTHREADS 4
#define NLOCKS 5
#define NLAYOUTS 3            /* single, percpu, private: the rows with locks */
#define NROWS (NLAYOUTS * NLOCKS + 2)
#define MAX_ROUNDS 15

extern const unsigned thread_counts[NTHREADS];
extern const enum iotlb_lock_kind lock_kinds[NLOCKS];
extern const struct wl_op study_op;

struct row {
	enum wl_layout layout;
	enum iotlb_lock_kind lock;
	bool available;                       /* false: the layout is not in this build */
	double mops[NTHREADS][MAX_ROUNDS];    /* M pairs/s of each round */
	struct wl_spread cell[NTHREADS];      /* over the rounds */
};

struct study {
	double budget_s;
	unsigned rounds;
	size_t pool_bytes;
	const char *out_dir;
	bool plot;
	bool unbound;
	struct row rows[NROWS];
	unsigned nrows;
	struct wl_context ctx;
	uint64_t deadline_ns;
	unsigned runs_done, runs_total;
	double run_s_min, run_s_max;  /* shortest and longest run of a cell */
	char abs_out[4096];           /* out_dir made absolute */
};

const char *row_lock_name(const struct row *r);
/* Index of the malloc and copy reference rows, or -1. */
int study_row_of(const struct study *s, enum wl_layout layout);

/* study_out.c: creates out_dir, writes study.dat, study.json, study.gp and
 * runs gnuplot; prints where each file went. 0 or -1. */
int study_write(struct study *s);

#endif /* IOTLB_BENCH_STUDY_H */
