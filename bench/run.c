/* SPDX-License-Identifier: MIT */
/*
 * The threaded map+unmap run behind iotlb-map-bench and iotlb-study: threads
 * start together, run until told to stop, and report pairs, errors and, when
 * asked, map and unmap latency through a log-linear histogram.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define WL_CACHELINE 64

/* --------------------------------------------------------------- latency */

/*
 * Log-linear histogram: exact below 128 ns, then 64 buckets per power of two
 * (under 1.6 % error), enough for a p99 without storing every sample.
 */
#define HIST_LINEAR 128u
#define HIST_SUB_BITS 6u
#define HIST_BUCKETS (HIST_LINEAR + (64u - 7u) * (1u << HIST_SUB_BITS))

struct wl_hist {
	uint64_t n, max;
	double sum, sumsq;
	uint64_t bucket[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_LINEAR)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return HIST_LINEAR + (e - 7u) * (1u << HIST_SUB_BITS) +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1));
}

/* Lower bound of a bucket. */
static uint64_t hist_value(unsigned i)
{
	unsigned e, sub;

	if (i < HIST_LINEAR)
		return i;
	e = (i - HIST_LINEAR) / (1u << HIST_SUB_BITS) + 7u;
	sub = (i - HIST_LINEAR) % (1u << HIST_SUB_BITS);
	return ((uint64_t)(1u << HIST_SUB_BITS) + sub) << (e - HIST_SUB_BITS);
}

static void hist_add(struct wl_hist *h, uint64_t v)
{
	h->n++;
	h->sum += (double)v;
	h->sumsq += (double)v * (double)v;
	if (v > h->max)
		h->max = v;
	h->bucket[hist_index(v)]++;
}

static void hist_merge(struct wl_hist *dst, const struct wl_hist *src)
{
	dst->n += src->n;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

static uint64_t hist_quantile(const struct wl_hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;

	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank && seen)
			return hist_value(i);
	}
	return h->max;
}

static void hist_summary(const struct wl_hist *h, struct wl_lat *out)
{
	double avg, var;

	memset(out, 0, sizeof(*out));
	if (!h->n)
		return;
	avg = h->sum / (double)h->n;
	var = h->sumsq / (double)h->n - avg * avg;
	out->n = h->n;
	out->avg_ns = avg;
	out->stddev_ns = var > 0 ? sqrt(var) : 0;
	out->p50_ns = hist_quantile(h, 0.50);
	out->p99_ns = hist_quantile(h, 0.99);
	out->max_ns = h->max;
}

/* ------------------------------------------------------------ CPU binding */

/* The CPUs of the process's affinity mask, in order: a benchmark started
 * under taskset or in a cpuset binds only to the CPUs it was given. */
static int allowed_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE && (unsigned)n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

unsigned wl_ncpus(void)
{
	int cpus[CPU_SETSIZE];
	int n = allowed_cpus(cpus, CPU_SETSIZE);

	return n > 0 ? (unsigned)n : 1;
}

int wl_cpu_of(unsigned thread)
{
	int cpus[CPU_SETSIZE];
	int n = allowed_cpus(cpus, CPU_SETSIZE);

	return n > 0 ? cpus[thread % (unsigned)n] : 0;
}

/* ----------------------------------------------------------- threaded run */

/* Start and stop of a run: threads check in, wait for `go`, run until `stop`. */
struct wl_sync {
	unsigned ready;
	bool go;
	bool stop;
};

struct wl_thread {
	pthread_t tid;
	struct wl_bed *bed;
	const struct wl_run_cfg *run;
	unsigned index;
	struct wl_sync *sync;
	struct wl_hist *map_lat, *unmap_lat; /* with run->latency only */
	int err;                             /* setup failure */
	/* read by the progress line while the thread runs */
	uint64_t pairs __attribute__((aligned(WL_CACHELINE)));
	uint64_t errors;
} __attribute__((aligned(WL_CACHELINE)));

static bool stopped(const struct wl_thread *t)
{
	return __atomic_load_n(&t->sync->stop, __ATOMIC_RELAXED);
}

/* The timed loop: two clock reads around each call. */
static void loop_latency(struct wl_thread *t, void *buf)
{
	const struct wl_op *op = &t->run->op;
	uint64_t handle, t0, t1;

	while (!stopped(t)) {
		t0 = wl_now_ns();
		if (wl_map(t->bed, t->index, buf, op, &handle)) {
			__atomic_store_n(&t->errors, t->errors + 1, __ATOMIC_RELAXED);
			continue;
		}
		t1 = wl_now_ns();
		hist_add(t->map_lat, t1 - t0);
		if (op->delay_ns)
			wl_delay(op->delay_ns);
		t0 = wl_now_ns();
		if (wl_unmap(t->bed, handle, buf, op)) {
			__atomic_store_n(&t->errors, t->errors + 1, __ATOMIC_RELAXED);
			continue;
		}
		t1 = wl_now_ns();
		hist_add(t->unmap_lat, t1 - t0);
		__atomic_store_n(&t->pairs, t->pairs + 1, __ATOMIC_RELAXED);
	}
}

static void loop_plain(struct wl_thread *t, void *buf)
{
	while (!stopped(t)) {
		if (wl_pair(t->bed, t->index, buf, &t->run->op))
			__atomic_store_n(&t->errors, t->errors + 1, __ATOMIC_RELAXED);
		else
			__atomic_store_n(&t->pairs, t->pairs + 1, __ATOMIC_RELAXED);
	}
}

static void *thread_main(void *arg)
{
	struct wl_thread *t = arg;
	void *buf = wl_buffer_alloc(t->run->op.size);

	if (!buf)
		t->err = -ENOMEM;
	if (!t->err && t->run->latency) {
		t->map_lat = calloc(1, sizeof(*t->map_lat));
		t->unmap_lat = calloc(1, sizeof(*t->unmap_lat));
		if (!t->map_lat || !t->unmap_lat)
			t->err = -ENOMEM;
	}
	__atomic_add_fetch(&t->sync->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&t->sync->go, __ATOMIC_ACQUIRE))
		sched_yield();
	if (!t->err) {
		if (t->run->latency)
			loop_latency(t, buf);
		else
			loop_plain(t, buf);
	}
	wl_buffer_free(buf);
	return NULL;
}

static uint64_t pairs_so_far(const struct wl_thread *th, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += __atomic_load_n(&th[i].pairs, __ATOMIC_RELAXED);
	return sum;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* Sleeps through the run, reporting progress once a second; returns the
 * moment the threads were told to stop. */
static uint64_t supervise(const struct wl_run_cfg *run, struct wl_thread *th, bool *stop,
			  uint64_t start)
{
	uint64_t end = start + (uint64_t)(run->seconds * 1e9);
	uint64_t next = start + 1000000000u, now;

	while ((now = wl_now_ns()) < end) {
		uint64_t wake = run->progress && next < end ? next : end;

		sleep_ns(wake - now);
		if (run->progress && wake == next) {
			run->progress(run->progress_ctx, (double)(next - start) / 1e9,
				      pairs_so_far(th, run->nthreads));
			next += 1000000000u;
		}
	}
	__atomic_store_n(stop, true, __ATOMIC_RELAXED);
	return wl_now_ns();
}

static void collect(const struct wl_run_cfg *run, struct wl_thread *th, struct wl_result *res)
{
	struct wl_hist *map = NULL, *unmap = NULL;

	if (run->latency) {
		map = calloc(1, sizeof(*map));
		unmap = calloc(1, sizeof(*unmap));
	}
	for (unsigned i = 0; i < run->nthreads; i++) {
		res->pairs += th[i].pairs;
		res->errors += th[i].errors;
		if (map && unmap && th[i].map_lat && th[i].unmap_lat) {
			hist_merge(map, th[i].map_lat);
			hist_merge(unmap, th[i].unmap_lat);
		}
		free(th[i].map_lat);
		free(th[i].unmap_lat);
	}
	if (map && unmap) {
		hist_summary(map, &res->map);
		hist_summary(unmap, &res->unmap);
	}
	free(map);
	free(unmap);
}

/* Lets the threads go once every started one has checked in. */
static uint64_t start_threads(struct wl_sync *sync, unsigned started)
{
	while (__atomic_load_n(&sync->ready, __ATOMIC_ACQUIRE) < started)
		sched_yield();
	__atomic_store_n(&sync->go, true, __ATOMIC_RELEASE);
	return wl_now_ns();
}

int wl_run(struct wl_bed *bed, const struct wl_run_cfg *run, struct wl_result *res)
{
	struct wl_sync sync = { 0 };
	struct wl_thread *th;
	unsigned started = 0;
	uint64_t t0, t1;
	int err = 0;

	if (!bed || !run || !res || !run->nthreads || run->seconds <= 0 || !run->op.size)
		return -EINVAL;
	th = aligned_alloc(WL_CACHELINE, run->nthreads * sizeof(*th));
	if (!th)
		return -ENOMEM;
	memset(th, 0, run->nthreads * sizeof(*th));
	for (unsigned i = 0; i < run->nthreads; i++) {
		pthread_attr_t attr;
		int rc;

		th[i].bed = bed;
		th[i].run = run;
		th[i].index = i;
		th[i].sync = &sync;
		/* Bound before it starts, so the thread never runs elsewhere. */
		rc = pthread_attr_init(&attr);
		if (!rc) {
			if (!run->unbound) {
				cpu_set_t set;

				CPU_ZERO(&set);
				CPU_SET(wl_cpu_of(i), &set);
				rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
			}
			if (!rc)
				rc = pthread_create(&th[i].tid, &attr, thread_main, &th[i]);
			pthread_attr_destroy(&attr);
		}
		if (rc) {
			err = -rc;
			/* The started threads see `stop` as soon as they go. */
			__atomic_store_n(&sync.stop, true, __ATOMIC_RELAXED);
			break;
		}
		started++;
	}
	t0 = start_threads(&sync, started);
	t1 = err ? t0 : supervise(run, th, &sync.stop, t0);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].err && !err)
			err = th[i].err;
	}
	memset(res, 0, sizeof(*res));
	collect(run, th, res);
	res->seconds = (double)(t1 - t0) / 1e9;
	res->pairs_per_s = res->seconds > 0 ? (double)res->pairs / res->seconds : 0;
	free(th);
	return err;
}
