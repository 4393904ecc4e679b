/* SPDX-License-Identifier: MIT */
/*
 * The torture test's driver: options (--seed, --seconds, --threads), the
 * lying region provider, the statistics reader, and the pauses at which the
 * invariant checker runs and the books must balance. Exit status 0, or 1
 * with the finding and the command line that replays the seed.
 *
 *   torture [--seed N] [--seconds S] [--threads T] [--no-races] [--no-oversize]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "torture.h"

struct t_ctx T;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

void t_fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	fprintf(stderr, "torture: FINDING: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntorture: replay with --seed %llu --seconds %u --threads %u%s%s\n",
		(unsigned long long)T.o.seed, T.o.seconds, T.o.threads,
		T.o.races ? "" : " --no-races", T.o.oversize ? "" : " --no-oversize");
	fflush(stderr);
	_exit(1); /* other threads may hold library state: no cleanup */
}

bool t_flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

void t_maybe_pause(void)
{
	if (t_flag(&T.pause_req)) {
		pthread_barrier_wait(&T.paused);
		pthread_barrier_wait(&T.resume);
	}
}

/* ------------------------------------------------ the lying provider */

/*
 * Honest regions are chunks of one reserved arena, never unmapped before
 * the end, so a region the library wrongly accepted twice cannot crash the
 * test: the byte checks find it instead. A chunk is reused only when every
 * region handed out over it came back.
 */
#define P_CHUNK (1u << 20)
#define P_CHUNKS 48
#define P_GROW_LIVE 3 /* honest grown pools at most: the search stays short */
#define P_DMA 0x200000000000ull
#define P_RECORDS 65536

struct p_record {
	void *va;
	uint64_t dma;
	size_t size;
	int chunk; /* -1: memory that is not the provider's */
	bool freed;
	bool grow; /* an honest region for the growth worker */
};

static struct {
	pthread_mutex_t lock;
	struct rng rng;
	unsigned char *arena;
	unsigned refs[P_CHUNKS];
	struct p_record *rec;
	unsigned nrec, grow_live, bad_frees;
	uint64_t calls, lies, refusals;
	char bad[200];
} P;

static int take_chunk(void)
{
	for (unsigned k = 0, c = (unsigned)rng_below(&P.rng, P_CHUNKS); k < P_CHUNKS; k++)
		if (!P.refs[(c + k) % P_CHUNKS])
			return (int)((c + k) % P_CHUNKS);
	return -1;
}

static int p_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	unsigned roll, lie;
	int chunk, err = -ENOMEM;
	struct p_record r = {.size = size, .chunk = -1};

	(void)ctx;
	pthread_mutex_lock(&P.lock);
	P.calls++;
	roll = (unsigned)rng_below(&P.rng, 100);
	lie = (unsigned)rng_below(&P.rng, 6);
	if (roll < 15 || P.nrec == P_RECORDS || size > P_CHUNK - 2 * T_SLOT ||
	    (size == T_GROW_BYTES && P.grow_live >= P_GROW_LIVE && roll < 75)) {
		P.refusals++;
		goto out;
	}
	chunk = take_chunk();
	if (roll >= 75 && lie == 0) {
		/* The CPU range of the initial pool. */
		r.va = T.mem->cfg.vaddr;
		r.dma = P_DMA + ((uint64_t)P_CHUNKS + P.nrec) * P_CHUNK;
	} else if (roll >= 75 && lie == 5) {
		/* A region handed out before and not yet returned. */
		unsigned i = P.nrec ? (unsigned)rng_below(&P.rng, P.nrec) : 0;

		if (!P.nrec || P.rec[i].freed || P.rec[i].chunk < 0)
			goto refuse;
		r.va = P.rec[i].va;
		r.dma = P.rec[i].dma;
		r.chunk = P.rec[i].chunk;
	} else {
		if (chunk < 0)
			goto refuse;
		r.chunk = chunk;
		r.va = P.arena + (size_t)chunk * P_CHUNK;
		r.dma = P_DMA + (uint64_t)chunk * P_CHUNK;
		if (roll >= 75 && lie == 1)
			r.dma = T_INIT_DMA + T_PAGE * rng_below(&P.rng, 16); /* initial pool's */
		else if (roll >= 75 && lie == 2)
			r.dma = 0 - T_PAGE * (1 + rng_below(&P.rng, 4)); /* wraps 2^64 */
		else if (roll >= 75 && lie == 3)
			r.va = (char *)r.va + T_SLOT; /* a slot off a page */
		else if (roll >= 75 && lie == 4)
			r.dma += T_SLOT;
	}
	if (roll >= 75)
		P.lies++;
	if (r.chunk >= 0)
		P.refs[r.chunk]++;
	r.grow = size == T_GROW_BYTES && roll < 75;
	P.grow_live += r.grow;
	P.rec[P.nrec++] = r;
	*vaddr = r.va;
	*dma_addr = r.dma;
	err = 0;
	goto out;
refuse:
	P.refusals++;
out:
	pthread_mutex_unlock(&P.lock);
	return err;
}

static void p_free(void *ctx, void *vaddr, uint64_t dma_addr, size_t size)
{
	unsigned i;

	(void)ctx;
	pthread_mutex_lock(&P.lock);
	for (i = P.nrec; i-- > 0;)
		if (!P.rec[i].freed && P.rec[i].va == vaddr && P.rec[i].dma == dma_addr &&
		    P.rec[i].size == size)
			break;
	if (i == UINT32_MAX) {
		if (!P.bad_frees++)
			snprintf(P.bad, sizeof(P.bad), "free(%p, %#llx, %zu) of no live region",
				 vaddr, (unsigned long long)dma_addr, size);
	} else {
		P.rec[i].freed = true;
		if (P.rec[i].chunk >= 0)
			P.refs[P.rec[i].chunk]--;
		P.grow_live -= P.rec[i].grow;
	}
	pthread_mutex_unlock(&P.lock);
}

const struct iotlb_region_ops t_provider_ops = {.alloc = p_alloc, .free = p_free};

void t_provider_init(uint64_t seed)
{
	pthread_mutex_init(&P.lock, NULL);
	rng_seed(&P.rng, seed ^ 0x70726f7669646572ull);
	P.arena = mmap(NULL, (size_t)P_CHUNKS * P_CHUNK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	P.rec = calloc(P_RECORDS, sizeof(*P.rec));
	if (P.arena == MAP_FAILED || !P.rec)
		t_fail("provider: no memory");
}

/* 0 when every region came back at most once, and all of them `at_end`. */
int t_provider_check(char *why, size_t len)
{
	int ret = 0;

	pthread_mutex_lock(&P.lock);
	if (P.bad_frees) {
		snprintf(why, len, "%u bad frees, first: %s", P.bad_frees, P.bad);
		ret = -1;
	}
	pthread_mutex_unlock(&P.lock);
	return ret;
}

static unsigned provider_live(void)
{
	unsigned live = 0;

	pthread_mutex_lock(&P.lock);
	for (unsigned i = 0; i < P.nrec; i++)
		live += !P.rec[i].freed;
	pthread_mutex_unlock(&P.lock);
	return live;
}

uint64_t t_provider_lies(void)
{
	return P.lies;
}

void t_provider_fini(void)
{
	munmap(P.arena, (size_t)P_CHUNKS * P_CHUNK);
	free(P.rec);
}

/* ------------------------------------------------ statistics reader */

static void count_line(void *ctx, const char *line)
{
	(void)line;
	(*(uint64_t *)ctx)++;
}

/* Reads everything a monitoring thread would, all the time; counters that
 * only ever grow must never be seen going back. */
static void *reader_main(void *arg)
{
	struct iotlb_stats last = IOTLB_STATS_INIT;

	(void)arg;
	while (!t_flag(&T.stop)) {
		struct iotlb_stats s = IOTLB_STATS_INIT;
		struct iotlb_area_stats a = {.struct_size = sizeof(a)};
		uint64_t lines = 0;

		t_maybe_pause();
		if (iotlb_mem_stats(T.mem, &s) || iotlb_dev_stats(T.shared[1], &s))
			t_fail("reader: stats refused");
		if (s.grow_attempts < last.grow_attempts || s.grow_failures < last.grow_failures ||
		    s.npools < last.npools || s.nslots < last.nslots ||
		    s.transient_pools < last.transient_pools)
			t_fail("reader: a growing counter went back");
		last = s;
		for (unsigned k = 0; k < 4; k++)
			if (iotlb_mem_area_stats(T.mem, 0, k, &a) && k < 4)
				t_fail("reader: area %u of the first pool refused", k);
		if (iotlb_stats_print(T.mem, T.shared[2], count_line, &lines) || !lines)
			t_fail("reader: print");
		T.reader_rounds++;
	}
	return NULL;
}

/* ------------------------------------------------ pauses */

static void add_books(struct t_books *sum, const struct t_books *b)
{
	sum->maps += b->maps;
	sum->unmaps += b->unmaps;
	sum->allocs += b->allocs;
	sum->frees += b->frees;
	sum->syncs += b->syncs;
	sum->too_big += b->too_big;
	sum->nospace += b->nospace;
}

static void balance(const char *what, const struct iotlb_stats *s, const struct t_books *b,
		    uint64_t used, const char *when)
{
	if (s->maps != b->maps || s->unmaps != b->unmaps || s->allocs != b->allocs ||
	    s->frees != b->frees || s->syncs != b->syncs || s->map_fail_too_big != b->too_big ||
	    s->map_fail_nospace != b->nospace || s->used != used)
		t_fail("%s: %s books do not balance: maps %llu/%llu unmaps %llu/%llu allocs "
		       "%llu/%llu frees %llu/%llu syncs %llu/%llu too_big %llu/%llu nospace "
		       "%llu/%llu used %llu/%llu (stats/books)",
		       when, what, (unsigned long long)s->maps, (unsigned long long)b->maps,
		       (unsigned long long)s->unmaps, (unsigned long long)b->unmaps,
		       (unsigned long long)s->allocs, (unsigned long long)b->allocs,
		       (unsigned long long)s->frees, (unsigned long long)b->frees,
		       (unsigned long long)s->syncs, (unsigned long long)b->syncs,
		       (unsigned long long)s->map_fail_too_big, (unsigned long long)b->too_big,
		       (unsigned long long)s->map_fail_nospace, (unsigned long long)b->nospace,
		       (unsigned long long)s->used, (unsigned long long)used);
}

/* Everyone else is parked: the checker passes (under the writer lock, so
 * the growth worker cannot publish meanwhile) and the books balance. */
static void check_quiescent(const char *when)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;
	struct t_books sum = T.race_books;
	uint64_t used = 0;
	char why[256] = "";

	pthread_mutex_lock(&T.mem->writer_lock);
	if (iotlb__check_mem(T.mem, why, sizeof(why)))
		t_fail("%s: invariant: %s", when, why);
	for (unsigned i = 0; i < T_NSHARED; i++)
		if (iotlb__check_dev(T.shared[i], why, sizeof(why)))
			t_fail("%s: shared device %u: %s", when, i, why);
	if (iotlb__check_dev(T.race_dev, why, sizeof(why)))
		t_fail("%s: the racers' device: %s", when, why);
	pthread_mutex_unlock(&T.mem->writer_lock);
	for (unsigned t = 0; t < T.o.threads; t++) {
		const struct t_worker *w = &T.w[t];
		uint64_t own_used = 0;

		add_books(&sum, &w->shared);
		for (unsigned i = 0; i < T_LIVE; i++)
			if (w->live[i].kind != T_NONE) {
				if (w->live[i].own && w->own_private)
					own_used += w->live[i].nslots;
				else
					used += w->live[i].nslots;
			}
		used += w->own_carved;
		if (w->own && iotlb__check_dev(w->own, why, sizeof(why)))
			t_fail("%s: device of worker %u: %s", when, t, why);
		if (w->own && w->own_private) {
			if (iotlb_dev_stats(w->own, &s))
				t_fail("%s: dev_stats", when);
			balance("private pool", &s, &w->priv, own_used, when);
		}
	}
	if (iotlb_mem_stats(T.mem, &s))
		t_fail("%s: mem_stats", when);
	balance("shared pools", &s, &sum, used, when);
	if (t_provider_check(why, sizeof(why)))
		t_fail("%s: provider: %s", when, why);
}

/* ------------------------------------------------ main */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--seconds S] [--threads T] [--no-races] [--no-oversize]\n",
		argv0);
	exit(2);
}

static void parse(int argc, char **argv)
{
	T.o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	T.o.seconds = 3;
	T.o.threads = 6;
	T.o.races = T.o.oversize = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			T.o.seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			T.o.seconds = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			T.o.threads = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-races"))
			T.o.races = false;
		else if (!strcmp(argv[i], "--no-oversize"))
			T.o.oversize = false;
		else
			usage(argv[0]);
	}
	if (!T.o.threads || T.o.threads > T_MAX_WORKERS)
		usage(argv[0]);
}

/* The mem: 4 areas, growth through the lying provider, and T_NSHARED
 * shared devices with different masks. */
static void setup(void)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	static const uint64_t mins[T_NSHARED] = {0, 0x7ff, 0xfff};
	static const uint64_t aligns[T_NSHARED] = {0, 0, 0x7fff};
	struct rng r;

	t_provider_init(T.o.seed);
	c.size = T_INIT_SLOTS * T_SLOT;
	c.vaddr = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.dma_addr = T_INIT_DMA;
	c.nareas = 4;
	c.flags = IOTLB_MEM_GROW | IOTLB_MEM_SCRUB;
	c.region_ops = &t_provider_ops;
	c.grow_size = T_GROW_BYTES;
	if (c.vaddr == MAP_FAILED || iotlb_mem_create(&c, &T.mem))
		t_fail("setup: mem");
	for (unsigned i = 0; i < T_NSHARED; i++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		dc.min_align_mask = t_shared_min[i] = mins[i];
		dc.alloc_align_mask = t_shared_align[i] = aligns[i];
		if (iotlb_dev_create(T.mem, &dc, &T.shared[i]))
			t_fail("setup: shared device %u", i);
	}
	{
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		if (iotlb_dev_create(T.mem, &dc, &T.race_dev))
			t_fail("setup: the racers' device");
	}
	T.add_mem = mmap(NULL, T_MAX_ADDED * T_ADD_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T.race_buf = malloc(32768 + 64);
	if (T.add_mem == MAP_FAILED || !T.race_buf)
		t_fail("setup: memory");
	rng_seed(&r, T.o.seed);
	for (unsigned t = 0; t < T.o.threads; t++) {
		T.w[t].id = t;
		rng_seed(&T.w[t].rng, rng_next(&r));
		T.w[t].buf = malloc((size_t)T_LIVE * T_BUF_SLOT);
		if (!T.w[t].buf)
			t_fail("setup: buffers");
	}
	rng_seed(&T.leader.rng, rng_next(&r));
}

/* Pools added while everything runs, and refused ones (overlaps). */
static void add_pool_now(unsigned k, struct rng *r)
{
	unsigned char *va = T.add_mem + (size_t)k * T_ADD_BYTES;
	uint64_t dma = T_ADD_DMA + (uint64_t)k * (1ull << 30);
	int rc;

	/* Overlapping the initial pool's device range, or its CPU range. */
	if (iotlb_mem_add_pool(T.mem, va, T_INIT_DMA + T_PAGE * rng_below(r, 64), T_ADD_BYTES) !=
		    -EINVAL ||
	    iotlb_mem_add_pool(T.mem, T.mem->cfg.vaddr, dma, T_PAGE) != -EINVAL)
		t_fail("add_pool: an overlapping pool was accepted");
	rc = iotlb_mem_add_pool(T.mem, va, dma, T_ADD_BYTES);
	if (rc)
		t_fail("add_pool %u: %d", k, rc);
}

int main(int argc, char **argv)
{
	unsigned nthreads, pauses = 0;
	pthread_t reader;
	struct timespec start, now, nap = {.tv_nsec = 200 * 1000000L};
	struct rng r;
	char when[64];

	parse(argc, argv);
	printf("torture: seed %llu, %u s, %u workers + 2 racers + 1 reader%s%s\n",
	       (unsigned long long)T.o.seed, T.o.seconds, T.o.threads,
	       T.o.races ? "" : ", no races", T.o.oversize ? "" : ", no oversize calls");
	fflush(stdout);
	setup();
	rng_seed(&r, T.o.seed ^ 0xadd);
	nthreads = T.o.threads + 2 + 1;
	pthread_barrier_init(&T.paused, NULL, nthreads + 1);
	pthread_barrier_init(&T.resume, NULL, nthreads + 1);
	pthread_barrier_init(&T.race_go, NULL, 2);
	pthread_barrier_init(&T.race_done, NULL, 2);
	for (unsigned t = 0; t < T.o.threads; t++)
		pthread_create(&T.w[t].tid, NULL, t_worker_main, &T.w[t]);
	pthread_create(&T.leader.tid, NULL, t_leader_main, &T.leader);
	pthread_create(&T.follower.tid, NULL, t_follower_main, &T.follower);
	pthread_create(&reader, NULL, reader_main, NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		nanosleep(&nap, NULL);
		__atomic_store_n(&T.pause_req, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&T.paused);
		__atomic_store_n(&T.pause_req, 0, __ATOMIC_RELEASE);
		snprintf(when, sizeof(when), "pause %u", ++pauses);
		check_quiescent(when);
		pthread_barrier_wait(&T.resume);
		/* While everything runs again. */
		if (T.nadded < T_MAX_ADDED && rng_pct(&r, 30))
			add_pool_now(T.nadded++, &r);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < (time_t)T.o.seconds);
	__atomic_store_n(&T.stop, 1, __ATOMIC_RELEASE);
	for (unsigned t = 0; t < T.o.threads; t++)
		pthread_join(T.w[t].tid, NULL);
	pthread_join(T.leader.tid, NULL);
	pthread_join(T.follower.tid, NULL);
	pthread_join(reader, NULL);
	check_quiescent("end");
	{
		struct iotlb_stats s = IOTLB_STATS_INIT;
		uint64_t ops = 0, invalid = 0;

		for (unsigned i = 0; i < T_NSHARED; i++)
			if (iotlb_dev_destroy(T.shared[i]))
				t_fail("end: shared device %u not destroyable", i);
		if (iotlb_dev_destroy(T.race_dev))
			t_fail("end: the racers' device not destroyable");
		iotlb_mem_stats(T.mem, &s);
		if (s.used != 0)
			t_fail("end: %llu slots still used", (unsigned long long)s.used);
		if (iotlb_mem_destroy(T.mem))
			t_fail("end: mem not destroyable");
		if (provider_live() != 0)
			t_fail("end: %u provider regions never came back", provider_live());
		for (unsigned t = 0; t < T.o.threads; t++) {
			ops += T.w[t].ops;
			invalid += T.w[t].invalid;
		}
		printf("torture: ok: %u pauses, %llu ops (%llu invalid), %llu race rounds "
		       "(follower won %llu), %llu maps, %llu grow attempts (%llu failed), "
		       "%llu transient pools, %llu provider calls (%llu lies), %llu stats reads\n",
		       pauses, (unsigned long long)ops, (unsigned long long)invalid,
		       (unsigned long long)T.leader.rounds,
		       (unsigned long long)T.leader.follower_won, (unsigned long long)s.maps,
		       (unsigned long long)s.grow_attempts, (unsigned long long)s.grow_failures,
		       (unsigned long long)s.transient_pools, (unsigned long long)P.calls,
		       (unsigned long long)t_provider_lies(), (unsigned long long)T.reader_rounds);
	}
	for (unsigned t = 0; t < T.o.threads; t++)
		free(T.w[t].buf);
	free(T.race_buf);
	munmap(T.add_mem, T_MAX_ADDED * T_ADD_BYTES);
	t_provider_fini();
	return 0;
}
