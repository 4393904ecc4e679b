/* SPDX-License-Identifier: MIT */
/*
 * iotlb-map-bench --may-block: every thread maps its buffer, holds it for the
 * device's time (--delay), unmaps, again and again, with more threads times
 * bytes than the pool holds. Two modes on the same set-up: "wait" maps with
 * IOTLB_ATTR_MAY_BLOCK; "retry" maps without it and, on -ENOSPC, yields the
 * CPU and tries again, as a driver without waiting must. Reports pairs per
 * second and the time from a map's first attempt to its success (p50, p99,
 * max), the request's wait for room.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wait_bench.h"

struct wb_thread {
	pthread_t tid;
	struct wl_bed *bed;
	const struct wb_opts *o;
	bool block;
	const bool *stop;
	uint64_t pairs, retries, errors;
	uint64_t *lat; /* time to get a mapping, one per pair */
	size_t nlat, cap;
};

static void lat_add(struct wb_thread *t, uint64_t ns)
{
	if (t->nlat == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		uint64_t *p = realloc(t->lat, cap * sizeof(*p));

		if (!p)
			return; /* keep going: the sample is lost, not the run */
		t->lat = p;
		t->cap = cap;
	}
	t->lat[t->nlat++] = ns;
}

static void *wb_thread_main(void *arg)
{
	struct wb_thread *t = arg;
	const struct wl_op *op = &t->o->op;
	struct iotlb_dev *dev = wl_bed_dev(t->bed);
	void *buf = wl_buffer_alloc(op->size);
	unsigned attrs = t->block ? IOTLB_ATTR_MAY_BLOCK : IOTLB_ATTR_NO_WARN;

	if (!buf) {
		t->errors++;
		return NULL;
	}
	while (!__atomic_load_n(t->stop, __ATOMIC_RELAXED)) {
		uint64_t t0 = wl_now_ns(), dma;
		int err;

		while ((err = iotlb_map(dev, IOTLB_ANY_QUEUE, buf, op->size, op->dir, attrs,
					&dma)) == -ENOSPC) {
			t->retries++;
			sched_yield();
		}
		if (err) {
			t->errors++;
			break;
		}
		lat_add(t, wl_now_ns() - t0);
		if (op->delay_ns)
			wl_delay(op->delay_ns);
		if (iotlb_unmap(dev, dma, op->size, op->dir, op->attrs)) {
			t->errors++;
			break;
		}
		t->pairs++;
	}
	wl_buffer_free(buf);
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : 0;
}

static int run_mode(const struct wb_opts *o, bool block)
{
	struct wb_thread *th = calloc(o->threads, sizeof(*th));
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t pairs = 0, retries = 0, errors = 0, start, end, *all;
	size_t n = 0;
	unsigned started = 0;
	struct wl_bed *bed;
	bool stop = false;
	int err;

	if (!th)
		return -ENOMEM;
	err = wl_bed_create(&o->setup, &bed);
	if (err) {
		free(th);
		return err;
	}
	start = wl_now_ns();
	for (started = 0; started < o->threads; started++) {
		th[started] = (struct wb_thread){.bed = bed, .o = o, .block = block, .stop = &stop};
		if (pthread_create(&th[started].tid, NULL, wb_thread_main, &th[started])) {
			err = -EAGAIN;
			break;
		}
	}
	if (!err)
		sleep_s(o->seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	end = wl_now_ns();
	if (err)
		goto out;
	for (unsigned i = 0; i < o->threads; i++) {
		pairs += th[i].pairs;
		retries += th[i].retries;
		errors += th[i].errors;
		n += th[i].nlat;
	}
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		err = -ENOMEM;
		goto out;
	}
	n = 0;
	for (unsigned i = 0; i < o->threads; i++) {
		memcpy(all + n, th[i].lat, th[i].nlat * sizeof(*all));
		n += th[i].nlat;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	iotlb_dev_stats(wl_bed_dev(bed), &st);
	printf("%-6s %9.0f pairs/s  time to map: p50 %9llu ns  p99 %10llu ns  max %10llu ns  "
	       "-ENOSPC retries %llu  library waits %llu (%.1f ms)  errors %llu\n",
	       block ? "wait" : "retry", (double)pairs / ((double)(end - start) / 1e9),
	       (unsigned long long)quantile(all, n, 0.50), (unsigned long long)quantile(all, n, 0.99),
	       (unsigned long long)(n ? all[n - 1] : 0), (unsigned long long)retries,
	       (unsigned long long)st.waits, (double)st.wait_ns / 1e6, (unsigned long long)errors);
	free(all);
	if (errors)
		err = -EIO;
out:
	for (unsigned i = 0; i < started; i++)
		free(th[i].lat);
	free(th);
	wl_bed_destroy(bed);
	return err;
}

int wb_run(const struct wb_opts *o)
{
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct wl_bed *bed;
	int err = wl_bed_create(&o->setup, &bed);

	if (err)
		return err;
	if (!wl_bed_dev(bed)) {
		wl_bed_destroy(bed);
		return -ENOTSUP; /* the malloc baseline has no pool to wait for */
	}
	iotlb_dev_stats(wl_bed_dev(bed), &st);
	wl_bed_destroy(bed);
	printf("iotlb-map-bench --may-block: layout %s, %u threads x %zu B held %llu ns, "
	       "pool %llu slots of 2 KiB (%.0f%% of the bytes wanted), %.1f s per mode\n",
	       wl_layout_name(o->setup.layout), o->threads, o->op.size,
	       (unsigned long long)o->op.delay_ns, (unsigned long long)st.nslots,
	       100.0 * (double)(st.nslots * 2048u) / ((double)o->threads * (double)o->op.size),
	       o->seconds);
	err = run_mode(o, true);
	if (!err)
		err = run_mode(o, false);
	return err;
}
