/* SPDX-License-Identifier: MIT */
/*
 * The hostile host: the bounce region is writable by the other side, so its
 * bytes may change at any moment. These tests scribble over the whole region
 * while mappings come and go and prove that only mapped data is affected:
 * the allocator's metadata, its placement decisions and its refusals do not
 * depend on what the region holds.
 */
#include "scribble.h"

/* ------------------------------------------------------------ mapper threads */

struct live {
	bool used;
	bool coherent;
	unsigned dev;
	size_t size, off;
	enum iotlb_dir dir;
	unsigned char fill;  /* what a TO_DEVICE original holds */
	uint64_t dma;
	void *vaddr;         /* coherent allocations */
};

/* What a mapper saw; every "bad" counter must stay 0. */
struct mapper_result {
	uint64_t maps, nospace, too_big, allocs, alloc_nospace;
	uint64_t unmaps, frees, syncs, bogus_refused;
	uint64_t bad_map_err, bad_unmap_enoent, bad_unmap_err, bad_free, bad_sync;
	uint64_t bad_align, bad_range, bad_guard, bad_to_device_copy_back, bad_bogus_unmap;
	char first_problem[160];
};

struct mapper {
	pthread_t tid;
	struct inst *in;    /* shared mem and devices; arena slice below */
	unsigned index;
	unsigned iters;
	uint64_t seed;
	struct live live[NLIVE];
	struct mapper_result r;
};

#define BAD(m, field, ...)                                                              \
	do {                                                                            \
		if (!(m)->r.first_problem[0])                                           \
			snprintf((m)->r.first_problem, sizeof((m)->r.first_problem),     \
				 __VA_ARGS__);                                          \
		(m)->r.field++;                                                         \
	} while (0)

/* Each mapper owns NLIVE / NMAPPERS slabs of the shared arena. */
static unsigned mapper_slab(const struct mapper *m, unsigned j)
{
	return m->index * (NLIVE / NMAPPERS) + j;
}

static void check_handle(struct mapper *m, struct iotlb_dev *dev, unsigned d, uint64_t dma,
			 const void *orig, size_t size)
{
	uint64_t mask = dev_shapes[d].min_align;

	if ((dma & mask) != ((uintptr_t)orig & mask))
		BAD(m, bad_align, "dev %u: dma %#llx for orig %p", d, (unsigned long long)dma,
		    orig);
	if (dma < DMA_BASE || dma + size > DMA_BASE + m->in->region_size ||
	    iotlb_dma_to_virt(dev, dma) != m->in->region + (dma - DMA_BASE))
		BAD(m, bad_range, "dev %u: dma %#llx size %zu outside the region", d,
		    (unsigned long long)dma, size);
}

static void mapper_map(struct mapper *m, uint64_t *rng, unsigned j)
{
	struct live *l = &m->live[j];
	unsigned slab = mapper_slab(m, j);
	unsigned d = (unsigned)rnd_below(rng, NDEVS);
	struct iotlb_dev *dev = m->in->dev[d];
	int queue = rnd_below(rng, 2) ? IOTLB_ANY_QUEUE : (int)rnd_below(rng, 8);
	bool coherent = rnd_below(rng, 10) == 0;
	size_t off = (size_t)rnd_below(rng, 4096);
	size_t size = coherent ? 1 + (size_t)rnd_below(rng, COHERENT_MAX) : pick_size(rng);
	unsigned char *orig = orig_at(m->in, slab, off);
	int err;

	*l = (struct live){ .dev = d, .off = off, .size = size };
	guards_set(m->in, slab, off, size);
	if (coherent) {
		/* A coherent allocation now and then: no original, nothing copied. */
		err = iotlb_alloc(dev, size, &l->vaddr, &l->dma);
		if (err == -ENOSPC) {
			m->r.alloc_nospace++;
			return;
		}
		if (err) {
			BAD(m, bad_map_err, "alloc %zu on dev %u: %d", size, d, err);
			return;
		}
		m->r.allocs++;
		check_handle(m, dev, 0, l->dma, orig, size); /* no min-align promise */
		l->coherent = true;
		l->used = true;
		return;
	}
	l->dir = (enum iotlb_dir)rnd_below(rng, 3);
	l->fill = (unsigned char)splitmix64(rng);
	memset(orig, l->fill, size);
	err = iotlb_map(dev, queue, orig, size, l->dir, IOTLB_ATTR_NO_WARN, &l->dma);
	if (!map_result_allowed(dev, size, err)) {
		BAD(m, bad_map_err, "map %zu on dev %u: %d", size, d, err);
		return;
	}
	if (err == -ENOSPC)
		m->r.nospace++;
	if (err == -E2BIG)
		m->r.too_big++;
	if (err)
		return;
	m->r.maps++;
	check_handle(m, dev, d, l->dma, orig, size);
	l->used = true;
}

/* Addresses that are not live handles must be refused, scribbled or not. */
static void mapper_bogus_unmap(struct mapper *m, uint64_t *rng, const struct live *l)
{
	struct iotlb_dev *dev = m->in->dev[l->dev];
	struct iotlb_dev *other = m->in->dev[(l->dev + 1) % NDEVS];
	int err;

	/* dma + 1 lies in this mapping's own data only when it holds 2 bytes or more. */
	if (l->size > 1 && rnd_below(rng, 2))
		err = iotlb_unmap(dev, l->dma + 1, l->size, l->dir, 0); /* inside the mapping */
	else
		err = iotlb_unmap(other, l->dma, l->size, l->dir, 0); /* another device's */
	if (err != -ENOENT)
		BAD(m, bad_bogus_unmap, "bogus unmap near %#llx: %d",
		    (unsigned long long)l->dma, err);
	else
		m->r.bogus_refused++;
}

static void mapper_sync(struct mapper *m, uint64_t *rng, const struct live *l)
{
	struct iotlb_dev *dev = m->in->dev[l->dev];
	/* A partial range inside the mapping: never past its end. */
	size_t from = (size_t)rnd_below(rng, l->size);
	size_t len = 1 + (size_t)rnd_below(rng, l->size - from);
	int err;

	if (rnd_below(rng, 2))
		err = iotlb_sync_for_cpu(dev, l->dma + from, len, l->dir);
	else
		err = iotlb_sync_for_device(dev, l->dma + from, len, l->dir);
	if (err)
		BAD(m, bad_sync, "sync %#llx+%zu len %zu: %d", (unsigned long long)l->dma, from,
		    len, err);
	else
		m->r.syncs++;
}

static void mapper_release(struct mapper *m, unsigned j)
{
	struct live *l = &m->live[j];
	unsigned slab = mapper_slab(m, j);
	struct iotlb_dev *dev = m->in->dev[l->dev];
	int err;

	if (l->coherent) {
		err = iotlb_free(dev, l->dma, l->size);
		if (err)
			BAD(m, bad_free, "free %#llx: %d", (unsigned long long)l->dma, err);
		else
			m->r.frees++;
	} else {
		err = iotlb_unmap(dev, l->dma, l->size, l->dir, 0);
		if (err == -ENOENT)
			BAD(m, bad_unmap_enoent, "live handle %#llx refused",
			    (unsigned long long)l->dma);
		else if (err)
			BAD(m, bad_unmap_err, "unmap %#llx: %d", (unsigned long long)l->dma, err);
		else
			m->r.unmaps++;
		/* TO_DEVICE copies nothing back: scribbles must not reach the original. */
		if (l->dir == IOTLB_TO_DEVICE &&
		    !all_bytes(orig_at(m->in, slab, l->off), l->size, l->fill))
			BAD(m, bad_to_device_copy_back, "TO_DEVICE original %#llx changed",
			    (unsigned long long)l->dma);
	}
	/* A copy back never writes outside the original, whatever the bounce holds. */
	if (!guards_intact(m->in, slab, l->off, l->size))
		BAD(m, bad_guard, "guard around %#llx (size %zu) overwritten",
		    (unsigned long long)l->dma, l->size);
	l->used = false;
}

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;
	uint64_t rng = m->seed;
	const unsigned nlive = NLIVE / NMAPPERS;

	for (unsigned it = 0; it < m->iters; it++) {
		unsigned j = (unsigned)rnd_below(&rng, nlive);
		struct live *l = &m->live[j];

		if (!l->used) {
			mapper_map(m, &rng, j);
			continue;
		}
		if (!l->coherent && rnd_below(&rng, 4) == 0)
			mapper_sync(m, &rng, l);
		if (!l->coherent && rnd_below(&rng, 16) == 0)
			mapper_bogus_unmap(m, &rng, l);
		mapper_release(m, j);
	}
	for (unsigned j = 0; j < nlive; j++)
		if (m->live[j].used)
			mapper_release(m, j);
	return NULL;
}

static void assert_mapper_clean(const struct mapper *m)
{
	const struct mapper_result *r = &m->r;

	if (r->bad_map_err || r->bad_unmap_enoent || r->bad_unmap_err || r->bad_free ||
	    r->bad_sync || r->bad_align || r->bad_range || r->bad_guard ||
	    r->bad_to_device_copy_back || r->bad_bogus_unmap)
		fail_msg("mapper %u: map_err %llu unmap_enoent %llu unmap_err %llu free %llu "
			 "sync %llu align %llu range %llu guard %llu to_device_copy_back %llu "
			 "bogus_unmap %llu; first: %s",
			 m->index, (unsigned long long)r->bad_map_err,
			 (unsigned long long)r->bad_unmap_enoent,
			 (unsigned long long)r->bad_unmap_err, (unsigned long long)r->bad_free,
			 (unsigned long long)r->bad_sync, (unsigned long long)r->bad_align,
			 (unsigned long long)r->bad_range, (unsigned long long)r->bad_guard,
			 (unsigned long long)r->bad_to_device_copy_back,
			 (unsigned long long)r->bad_bogus_unmap, r->first_problem);
}

/* ------------------------------------------------------------ tests */

/*
 * Mapper threads map, sync and release at random on four devices while a
 * scribbler thread overwrites the whole region. Afterwards the allocator is
 * consistent, empty, and places a fixed script exactly where a mem that was
 * never scribbled on places it.
 */
static void test_scribbling_host_leaves_allocator_state_intact(void **state)
{
	const size_t region_size = 4u << 20;
	struct inst in[2];
	struct mapper *m;
	struct scribbler sc;
	pthread_t sc_tid;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t maps = 0, unmaps = 0, nospace = 0, too_big = 0, allocs = 0, frees = 0;
	uint64_t alloc_nospace = 0, bogus = 0;
	unsigned iters = test_scale_reduced() ? 3000 : 25000;
	(void)state;

	inst_create(&in[0], "scribbled", region_size);
	m = calloc(NMAPPERS, sizeof(*m));
	assert_non_null(m);

	scribbler_start(&sc, &sc_tid, &in[0], 0xfeedface);
	for (unsigned i = 0; i < NMAPPERS; i++) {
		m[i].in = &in[0];
		m[i].index = i;
		m[i].iters = iters;
		m[i].seed = 0x1234 + i * 0x9876543ull;
		assert_int_equal(pthread_create(&m[i].tid, NULL, mapper_main, &m[i]), 0);
	}
	for (unsigned i = 0; i < NMAPPERS; i++)
		assert_int_equal(pthread_join(m[i].tid, NULL), 0);
	scribbler_stop(&sc, sc_tid);

	for (unsigned i = 0; i < NMAPPERS; i++) {
		assert_mapper_clean(&m[i]);
		maps += m[i].r.maps;
		unmaps += m[i].r.unmaps;
		nospace += m[i].r.nospace;
		too_big += m[i].r.too_big;
		allocs += m[i].r.allocs;
		frees += m[i].r.frees;
		alloc_nospace += m[i].r.alloc_nospace;
		bogus += m[i].r.bogus_refused;
	}
	print_message("scribbler: %llu passes; %llu maps, %llu allocs, %llu ENOSPC, %llu E2BIG, "
		      "%llu bogus unmaps refused\n",
		      (unsigned long long)sc.passes, (unsigned long long)maps,
		      (unsigned long long)allocs, (unsigned long long)(nospace + alloc_nospace),
		      (unsigned long long)too_big, (unsigned long long)bogus);
	/* The run must really have overlapped mappings with scribbling. */
	assert_true(sc.passes > 0);
	assert_true(maps > 0);

	assert_consistent(&in[0], "after the threaded run");
	assert_int_equal(iotlb_mem_stats(in[0].mem, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.maps, maps);
	assert_int_equal(st.unmaps, unmaps);
	assert_int_equal(st.allocs, allocs);
	assert_int_equal(st.frees, frees);
	assert_int_equal(st.map_fail_nospace, nospace + alloc_nospace);
	assert_int_equal(st.map_fail_too_big, too_big);
	assert_int_equal(maps, unmaps);
	assert_int_equal(allocs, frees);

	/*
	 * The metadata is that of a fresh mem: same free runs, every slot free.
	 * Only the cursors (and the round-robin counter) are where the threads'
	 * interleaving left them; the fresh mem is given the same values
	 * (metadata, not region contents), then both run one script, the
	 * scribbled one under fire again.
	 */
	inst_create(&in[1], "fresh", region_size);
	assert_same_state(&in[1], &in[0], 0, false);
	for (unsigned k = 0; k < inst_pool(&in[0])->nareas; k++)
		iotlb__area_at(inst_pool(&in[1]), k)->index =
			iotlb__area_at(inst_pool(&in[0]), k)->index;
	in[1].mem->rr_counter = in[0].mem->rr_counter;
	{
		static const int modes[2] = { FILL_NONE, FILL_CONCURRENT };
		struct inst pair[2] = { in[1], in[0] };
		struct script s = { .in = pair, .mode = modes, .ninst = 2, .rng = 77 };

		scribbler_start(&sc, &sc_tid, &in[0], 0xabcdef);
		script_run(&s, test_scale_reduced() ? 200 : 800);
		scribbler_stop(&sc, sc_tid);
		assert_true(s.maps > 0);
	}
	assert_consistent(&in[0], "after the replay");
	assert_int_equal(iotlb_mem_stats(in[0].mem, &st), 0);
	assert_int_equal(st.used, 0);

	inst_destroy(&in[1]);
	inst_destroy(&in[0]);
	free(m);
}

/*
 * Single-threaded and deterministic: one script on four mems, the region
 * filled with 0x00, 0xff or random bytes before every operation on three of
 * them. Handles, free runs, slot records and cursors match the untouched
 * reference after every step; unmaps copy back exactly the bounce bytes.
 */
static void test_region_contents_never_change_placement(void **state)
{
	static const int modes[4] = { FILL_NONE, 0x00, 0xff, FILL_RANDOM };
	static const char *const names[4] = { "untouched", "zeroed", "ones", "random" };
	struct inst in[4];
	struct script s = { .in = in, .mode = modes, .ninst = 4, .rng = 2024 };
	(void)state;

	for (unsigned k = 0; k < 4; k++) {
		inst_create(&in[k], names[k], 512u << 10);
		s.fill_rng[k] = 1000 + k;
	}
	script_run(&s, test_scale_reduced() ? 250 : 600);
	print_message("script: %u maps/allocs served, %u ENOSPC, %u E2BIG\n", s.maps, s.nospace,
		      s.too_big);
	assert_true(s.maps > 0);
	assert_true(s.nospace > 0); /* the 512 KiB region was full at times */
	for (unsigned k = 0; k < 4; k++) {
		struct iotlb_stats st = IOTLB_STATS_INIT;

		assert_int_equal(iotlb_mem_stats(in[k].mem, &st), 0);
		assert_int_equal(st.used, 0);
		inst_destroy(&in[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_contents_never_change_placement),
		cmocka_unit_test(test_scribbling_host_leaves_allocator_state_intact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
