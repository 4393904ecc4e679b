/* SPDX-License-Identifier: MIT */
/*
 * Map/unmap stress of one lock kind: 8 threads, every area selection policy,
 * random sizes from 1 B to 64 KiB. Every mapping's data must round-trip
 * (also when a "device" writes the bounce buffer) and no two live mappings
 * may overlap. Usage: stress_locks <mutex|spin|ticket|mcs|ttas>
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "rng.h"
#include "scale.h"

#define NTHREADS 8
#define NDEVS 2
#define LIVE 4 /* mappings a thread keeps live at once */
#define MAX_MAP (64u << 10)
#define SCRATCH_WORDS (MAX_MAP / 8 + 1) /* a pattern of MAX_MAP bytes */
#define BUF_STRIDE (MAX_MAP + 4096)	/* room for a random start offset */
#define REGION_SIZE (16u << 20)
#define REGION_DMA 0x7f0000000ull
#define OPS_NORMAL 1000000ul /* map+unmap pairs per kind */
#define OPS_SANITIZED 20000ul

/* How the area of a request is chosen. */
enum policy { POL_CPU, POL_THREAD, POL_ROUND_ROBIN, POL_QUEUES, NPOLICIES };

static const char *const policy_names[NPOLICIES] = {"cpu", "thread", "round-robin", "queues"};

static const char *kind_name;
static enum iotlb_lock_kind kind;
static unsigned long ops_per_thread; /* per policy */
static uint64_t total_pairs;

struct mapping {
	struct iotlb_dev *dev;
	uint64_t dma;
	size_t size;
	unsigned char *orig;
	uint64_t seed; /* pattern the bounce holds now */
};

struct run {
	enum policy pol;
	struct iotlb_dev *devs[NDEVS];
};

struct worker {
	pthread_t tid;
	struct run *run;
	unsigned id;
	uint64_t rng;
	unsigned char *buf;
	struct mapping live[LIVE];
	uint64_t pairs;
	uint64_t scratch[SCRATCH_WORDS];
	char failure[200]; /* first failure, empty if none */
};

/*
 * Word k of a pattern is seed + k * odd constant: distinct seeds give
 * sequences that differ everywhere, whatever the relative shift. Patterns are
 * built in a scratch buffer and moved with one memcpy / memcmp, which keeps
 * the sanitizer builds fast.
 */
#define PATTERN_STEP 0x9e3779b97f4a7c15ull

static void pattern_make(uint64_t *scratch, size_t n, uint64_t seed)
{
	for (size_t k = 0; k < (n + 7) / 8; k++)
		scratch[k] = seed + k * PATTERN_STEP;
}

static void pattern_fill(uint64_t *scratch, unsigned char *p, size_t n, uint64_t seed)
{
	pattern_make(scratch, n, seed);
	memcpy(p, scratch, n);
}

/* Offset of the first wrong byte, or n when all match. */
static size_t pattern_check(uint64_t *scratch, const unsigned char *p, size_t n, uint64_t seed)
{
	const unsigned char *want = (const unsigned char *)scratch;
	size_t i = 0;

	pattern_make(scratch, n, seed);
	if (!memcmp(p, want, n))
		return n;
	while (p[i] == want[i])
		i++;
	return i;
}

__attribute__((format(printf, 2, 3))) static void fail_at(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->failure, sizeof(w->failure), fmt, ap);
	va_end(ap);
}

static bool overlaps(const struct mapping *a, const struct mapping *b)
{
	return a->dma < b->dma + b->size && b->dma < a->dma + a->size;
}

static size_t random_size(uint64_t *rng)
{
	/* log-uniform: small mappings are common, every size up to 64 KiB occurs */
	uint64_t r = xorshift64(rng);

	return 1 + (size_t)((r >> 8) % ((uint64_t)1 << (r % 17)));
}

static int pick_queue(struct worker *w)
{
	if (w->run->pol != POL_QUEUES)
		return IOTLB_ANY_QUEUE;
	/* past nareas too: the library takes the queue modulo nareas */
	return (int)(xorshift64(&w->rng) % 32);
}

/* Unmaps `m` and checks the original got back what the bounce held. */
static void unmap_check(struct worker *w, struct mapping *m)
{
	enum iotlb_dir dir = xorshift64(&w->rng) & 1 ? IOTLB_FROM_DEVICE : IOTLB_BIDIRECTIONAL;
	size_t bad;
	int err;

	memset(m->orig, 0, m->size);
	err = iotlb_unmap(m->dev, m->dma, m->size, dir, 0);
	if (err) {
		fail_at(w, "unmap of %#llx (%zu bytes): %s", (unsigned long long)m->dma, m->size,
			iotlb_strerror(err));
	} else {
		bad = pattern_check(w->scratch, m->orig, m->size, m->seed);
		if (bad != m->size)
			fail_at(w, "round trip of %#llx (%zu bytes) wrong at byte %zu",
				(unsigned long long)m->dma, m->size, bad);
		w->pairs++;
	}
	m->size = 0;
}

/* Plays the device: checks what the map bounced, then writes new data. */
static void device_write(struct worker *w, struct mapping *m, uint64_t seed)
{
	unsigned char *bounce = iotlb_dma_to_virt(m->dev, m->dma);
	size_t bad;

	if (!bounce) {
		fail_at(w, "no bounce memory behind %#llx", (unsigned long long)m->dma);
		return;
	}
	bad = pattern_check(w->scratch, bounce, m->size, m->seed);
	if (bad != m->size) {
		fail_at(w, "bounce of %#llx (%zu bytes) wrong at byte %zu after map",
			(unsigned long long)m->dma, m->size, bad);
		return;
	}
	pattern_fill(w->scratch, bounce, m->size, seed);
	m->seed = seed;
}

static void map_one(struct worker *w, struct mapping *m, uint64_t op)
{
	unsigned slot = (unsigned)(m - w->live);
	uint64_t seed = ((uint64_t)w->id << 56) ^ ((uint64_t)w->run->pol << 52) ^ (op << 2);
	enum iotlb_dir dir = xorshift64(&w->rng) & 1 ? IOTLB_TO_DEVICE : IOTLB_BIDIRECTIONAL;
	int err;

	m->dev = w->run->devs[(w->id + op) % NDEVS];
	m->size = random_size(&w->rng);
	m->orig = w->buf + (size_t)slot * BUF_STRIDE + xorshift64(&w->rng) % 4096;
	m->seed = seed;
	pattern_fill(w->scratch, m->orig, m->size, seed);
	err = iotlb_map(m->dev, pick_queue(w), m->orig, m->size, dir, 0, &m->dma);
	if (err) {
		fail_at(w, "map of %zu bytes: %s", m->size, iotlb_strerror(err));
		m->size = 0;
		return;
	}
	if (!iotlb_is_bounce(m->dev, m->dma) || m->dma < REGION_DMA ||
	    m->dma + m->size > REGION_DMA + REGION_SIZE) {
		fail_at(w, "map returned %#llx, outside the pool", (unsigned long long)m->dma);
		return;
	}
	for (unsigned j = 0; j < LIVE; j++)
		if (j != slot && w->live[j].size && overlaps(m, &w->live[j]))
			fail_at(w, "live mappings %#llx+%zu and %#llx+%zu overlap",
				(unsigned long long)m->dma, m->size,
				(unsigned long long)w->live[j].dma, w->live[j].size);
	if (xorshift64(&w->rng) % 4 == 0)
		device_write(w, m, seed | 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (uint64_t op = 0; op < ops_per_thread && !w->failure[0]; op++) {
		struct mapping *m = &w->live[xorshift64(&w->rng) % LIVE];

		if (m->size)
			unmap_check(w, m);
		map_one(w, m, op);
	}
	/* Fill every slot, so the final check sees LIVE mappings per thread;
	 * unmap_check counts the pairs still open as they are closed later. */
	for (unsigned j = 0; j < LIVE && !w->failure[0]; j++)
		if (!w->live[j].size)
			map_one(w, &w->live[j], ops_per_thread + j);
	return NULL;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct mapping *x = *(const struct mapping *const *)a;
	const struct mapping *y = *(const struct mapping *const *)b;

	return x->dma < y->dma ? -1 : x->dma > y->dma;
}

/* All threads' live mappings together: pairwise disjoint, data intact. */
static void check_live_globally(struct worker *w)
{
	static uint64_t scratch[SCRATCH_WORDS];
	struct mapping *all[NTHREADS * LIVE];
	unsigned n = 0;

	for (unsigned t = 0; t < NTHREADS; t++)
		for (unsigned j = 0; j < LIVE; j++)
			if (w[t].live[j].size)
				all[n++] = &w[t].live[j];
	assert_int_equal(n, NTHREADS * LIVE);
	qsort(all, n, sizeof(all[0]), cmp_mapping);
	for (unsigned i = 1; i < n; i++)
		if (all[i - 1]->dma + all[i - 1]->size > all[i]->dma)
			fail_msg("live mappings %#llx+%zu and %#llx+%zu overlap",
				 (unsigned long long)all[i - 1]->dma, all[i - 1]->size,
				 (unsigned long long)all[i]->dma, all[i]->size);
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *bounce = iotlb_dma_to_virt(all[i]->dev, all[i]->dma);

		assert_non_null(bounce);
		if (pattern_check(scratch, bounce, all[i]->size, all[i]->seed) != all[i]->size)
			fail_msg("bounce of live mapping %#llx+%zu was overwritten",
				 (unsigned long long)all[i]->dma, all[i]->size);
	}
}

static void run_policy(enum policy pol)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	struct run run = {.pol = pol};
	struct iotlb_mem *mem;
	uint64_t pairs = 0;
	char why[256] = "";
	void *region = aligned_alloc(4096, REGION_SIZE);

	assert_non_null(w);
	assert_non_null(region);
	cfg.vaddr = region;
	cfg.dma_addr = REGION_DMA;
	cfg.size = REGION_SIZE;
	cfg.nareas = 4;
	cfg.lock = kind;
	cfg.select = pol == POL_THREAD	      ? IOTLB_SELECT_THREAD
		     : pol == POL_ROUND_ROBIN ? IOTLB_SELECT_ROUND_ROBIN
					      : IOTLB_SELECT_CPU;
	assert_int_equal(iotlb_mem_create(&cfg, &mem), 0);
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &run.devs[0]), 0);
	/* the second device keeps the low 12 bits of the original address,
	 * so its mappings start inside a slot and carry padding */
	dcfg.min_align_mask = 0xfff;
	assert_int_equal(iotlb_dev_create(mem, &dcfg, &run.devs[1]), 0);

	for (unsigned t = 0; t < NTHREADS; t++) {
		w[t].run = &run;
		w[t].id = t;
		w[t].rng = 0x2545f4914f6cdd1dull * (t + 1) + pol;
		w[t].buf = malloc((size_t)LIVE * BUF_STRIDE);
		assert_non_null(w[t].buf);
		assert_int_equal(pthread_create(&w[t].tid, NULL, worker_main, &w[t]), 0);
	}
	for (unsigned t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(w[t].tid, NULL), 0);
	for (unsigned t = 0; t < NTHREADS; t++)
		if (w[t].failure[0])
			fail_msg("%s, policy %s, thread %u: %s", kind_name, policy_names[pol], t,
				 w[t].failure);

	check_live_globally(w);
	for (unsigned t = 0; t < NTHREADS; t++) {
		for (unsigned j = 0; j < LIVE; j++)
			unmap_check(&w[t], &w[t].live[j]);
		if (w[t].failure[0])
			fail_msg("%s, policy %s, final unmap: %s", kind_name, policy_names[pol],
				 w[t].failure);
		pairs += w[t].pairs;
		free(w[t].buf);
	}

	if (iotlb__check_mem(mem, why, sizeof(why)))
		fail_msg("%s, policy %s: inconsistent mem: %s", kind_name, policy_names[pol], why);
	assert_int_equal(iotlb_mem_stats(mem, &st), 0);
	assert_int_equal(st.maps, pairs);
	assert_int_equal(st.unmaps, pairs);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.map_fail_nospace, 0);
	assert_true(st.lock_acquisitions >= 2 * pairs);
	assert_int_equal(iotlb_dev_destroy(run.devs[0]), 0);
	assert_int_equal(iotlb_dev_destroy(run.devs[1]), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(region);
	free(w);
	total_pairs += pairs;
}

static void test_cpu_policy_maps_round_trip_without_overlap(void **state)
{
	(void)state;
	run_policy(POL_CPU);
}

static void test_thread_policy_maps_round_trip_without_overlap(void **state)
{
	(void)state;
	run_policy(POL_THREAD);
}

static void test_round_robin_policy_maps_round_trip_without_overlap(void **state)
{
	(void)state;
	run_policy(POL_ROUND_ROBIN);
}

static void test_explicit_queues_map_round_trip_without_overlap(void **state)
{
	(void)state;
	run_policy(POL_QUEUES);
}

static const struct {
	const char *name;
	enum iotlb_lock_kind kind;
} kinds[] = {
	{"mutex", IOTLB_LOCK_MUTEX}, {"spin", IOTLB_LOCK_SPIN}, {"ticket", IOTLB_LOCK_TICKET},
	{"mcs", IOTLB_LOCK_MCS},     {"ttas", IOTLB_LOCK_TTAS},
};

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_policy_maps_round_trip_without_overlap),
		cmocka_unit_test(test_thread_policy_maps_round_trip_without_overlap),
		cmocka_unit_test(test_round_robin_policy_maps_round_trip_without_overlap),
		cmocka_unit_test(test_explicit_queues_map_round_trip_without_overlap),
	};
	unsigned long total = OPS_NORMAL;
	char group[64];
	int failed;

	for (size_t i = 0; argc == 2 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(argv[1], kinds[i].name)) {
			kind_name = kinds[i].name;
			kind = kinds[i].kind;
		}
	if (!kind_name) {
		fprintf(stderr, "usage: %s <mutex|spin|ticket|mcs|ttas>\n", argv[0]);
		return 2;
	}
	if (test_scale_reduced())
		total = OPS_SANITIZED;
	ops_per_thread = (total + NPOLICIES * NTHREADS - 1) / (NPOLICIES * NTHREADS);
	snprintf(group, sizeof(group), "stress_locks[%s]", kind_name);
	failed =
		_cmocka_run_group_tests(group, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
	printf("stress_locks %s: %llu map+unmap pairs, %d threads, 4 policies: %s\n", kind_name,
	       (unsigned long long)total_pairs, NTHREADS, failed ? "FAILED" : "ok");
	return failed;
}
