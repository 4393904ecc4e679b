// SPDX-License-Identifier: MIT
//
// Google Benchmark shim, the only C++ in libiotlb: registers the benchmark
// groups and times calls into the C workloads (workload.c, lock_cost.c).
// Groups, for --benchmark_filter: pair/, layout/, lock/, search/, lookup/.
// Own flag: --iotlb_smoke (200 iterations per thread, for ctest).

#include <benchmark/benchmark.h>

#include <string>

#include "lock_cost.h"
#include "workload.h"

#ifndef IOTLB_BENCH_BUILD_TYPE
#define IOTLB_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

// Bed shared by the threads of the benchmark running now (one at a time).
wl_bed *g_bed;
lc_lock *g_lock;

// --iotlb_smoke: a fixed, small number of iterations per thread instead of
// Google Benchmark's estimate, which can overshoot badly when oversubscribed
// FIFO locks make a later batch far slower than the first (used by ctest).
bool g_smoke;
const benchmark::IterationCount kSmokeIterations = 200;

benchmark::internal::Benchmark *reg(benchmark::internal::Benchmark *b)
{
	return g_smoke ? b->Iterations(kSmokeIterations) : b;
}

const iotlb_lock_kind kLockKinds[] = { IOTLB_LOCK_MUTEX, IOTLB_LOCK_SPIN, IOTLB_LOCK_TICKET,
				       IOTLB_LOCK_MCS, IOTLB_LOCK_TTAS };

// The contention workload: one slot, copied once (map always copies).
const wl_op kSmallOp = { 2048, IOTLB_TO_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC, 0 };
// The search workload: one cache line, so that the copy hides little.
const wl_op kTinyOp = { 64, IOTLB_TO_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC, 0 };

void run_pairs(benchmark::State &state, const wl_op &op)
{
	void *buf = wl_buffer_alloc(op.size);

	for (auto _ : state) {
		if (!g_bed || !buf) {
			state.SkipWithError("set-up failed");
			break;
		}
		if (wl_pair(g_bed, (unsigned)state.thread_index(), buf, &op)) {
			state.SkipWithError("map or unmap failed");
			break;
		}
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * (int64_t)op.size);
	wl_buffer_free(buf);
}

// Thread 0 builds the bed before the loop and removes it after: Google
// Benchmark starts no thread's loop before all arrive, and ends none early.
void bed_up(benchmark::State &state, wl_setup setup)
{
	if (state.thread_index() != 0)
		return;
	setup.nthreads = (unsigned)state.threads();
	if (wl_bed_create(&setup, &g_bed))
		g_bed = nullptr;
}

void bed_down(benchmark::State &state)
{
	if (state.thread_index() != 0)
		return;
	wl_bed_destroy(g_bed);
	g_bed = nullptr;
}

// pair/<iotlb|iotlb_4mib|malloc>/<bytes>: one thread, one area. iotlb maps
// from the kernel's default 64 MiB pool, larger than most caches, which the
// next-fit cursor walks through; iotlb_4mib from a pool that stays cached.
void bm_pair(benchmark::State &state, wl_layout layout, size_t pool_bytes)
{
	wl_op op = { (size_t)state.range(0), IOTLB_TO_DEVICE, 0, 0 };

	bed_up(state, wl_setup{ layout, IOTLB_LOCK_DEFAULT, 1, 0, pool_bytes });
	run_pairs(state, op);
	bed_down(state);
}

// layout/<layout>/<lock>/real_time/threads:N
void bm_layout(benchmark::State &state, wl_layout layout, iotlb_lock_kind lock)
{
	bed_up(state, wl_setup{ layout, lock, 1, 0, 0 });
	run_pairs(state, kSmallOp);
	bed_down(state);
}

// lock/<uncontended|contended>/<kind>: lock + count + unlock through the ops table.
void bm_lock(benchmark::State &state, iotlb_lock_kind kind)
{
	if (state.thread_index() == 0)
		g_lock = lc_create(kind);
	for (auto _ : state) {
		if (!g_lock) {
			state.SkipWithError("lock kind unavailable");
			break;
		}
		lc_cycle(g_lock);
	}
	state.SetItemsProcessed(state.iterations());
	if (state.thread_index() == 0 && g_lock) {
		// Every thread ran the same number of iterations.
		if (lc_count(g_lock) != (uint64_t)state.iterations() * (uint64_t)state.threads())
			state.SkipWithError("the lock lost updates");
		lc_destroy(g_lock);
		g_lock = nullptr;
	}
}

// Beds that are slow to build (fragmented pools, many pools) are kept across
// the repeated calls Google Benchmark makes, and rebuilt when the argument changes.
struct cached_bed {
	wl_bed *bed = nullptr;
	int64_t key = -1;
	double occupancy = 0;

	void reset()
	{
		wl_bed_destroy(bed);
		bed = nullptr;
		key = -1;
	}
};
cached_bed g_search, g_lookup;

// search/<percent>: map + unmap of 64 bytes in a pool left fragmented at
// that occupancy; one area, so the search may cover the whole pool.
void bm_search(benchmark::State &state)
{
	int64_t pct = state.range(0);

	if (g_search.key != pct) {
		g_search.reset();
		wl_setup setup = { WL_SINGLE, IOTLB_LOCK_DEFAULT, 1, 1, 0 };
		if (wl_bed_create(&setup, &g_search.bed) ||
		    wl_fragment(g_search.bed, (double)pct / 100.0, 42, &g_search.occupancy))
			g_search.reset();
		else
			g_search.key = pct;
	}
	g_bed = g_search.bed;
	run_pairs(state, kTinyOp);
	g_bed = nullptr;
	state.counters["occupancy"] = g_search.occupancy;
}

// lookup/<hit|miss>/<pools>: iotlb_dma_to_virt of an address in each pool in
// turn, or iotlb_is_bounce of an address in none (walks every pool).
const size_t kLookupPoolBytes = 1 << 20;

void bm_lookup(benchmark::State &state, bool hit)
{
	int64_t npools = state.range(0);

	if (g_lookup.key != npools) {
		g_lookup.reset();
		wl_setup setup = { WL_SINGLE, IOTLB_LOCK_DEFAULT, 1, 1, kLookupPoolBytes };
		if (wl_bed_create(&setup, &g_lookup.bed) ||
		    wl_add_pools(g_lookup.bed, (unsigned)npools, kLookupPoolBytes))
			g_lookup.reset();
		else
			g_lookup.key = npools;
	}
	unsigned i = 0;
	for (auto _ : state) {
		if (!g_lookup.bed) {
			state.SkipWithError("adding pools failed");
			break;
		}
		if (hit)
			benchmark::DoNotOptimize(wl_lookup_hit(g_lookup.bed, i++));
		else
			benchmark::DoNotOptimize(wl_lookup_miss(g_lookup.bed));
	}
	state.SetItemsProcessed(state.iterations());
}

std::string lock_name(iotlb_lock_kind kind)
{
	return iotlb_lock_kind_name(kind);
}

// Whether this build of the library carves private pools yet.
bool private_supported()
{
	wl_setup setup = { WL_PRIVATE, IOTLB_LOCK_DEFAULT, 1, 0, 4u << 20 };
	wl_bed *bed = nullptr;
	int err = wl_bed_create(&setup, &bed);

	wl_bed_destroy(bed);
	return err == 0;
}

void register_all(bool with_private)
{
	const struct {
		const char *name;
		wl_layout layout;
		size_t pool_bytes;
	} pairs[] = {
		{ "pair/iotlb", WL_SINGLE, WL_POOL_BYTES },
		{ "pair/iotlb_4mib", WL_SINGLE, (size_t)4 << 20 },
		{ "pair/malloc", WL_MALLOC, 0 },
	};
	for (const auto &p : pairs)
		reg(benchmark::RegisterBenchmark(p.name, bm_pair, p.layout, p.pool_bytes))
			->Arg(2 << 10)->Arg(4 << 10)->Arg(64 << 10)->Arg(256 << 10);
	for (wl_layout layout : { WL_SINGLE, WL_PERCPU, WL_PRIVATE }) {
		if (layout == WL_PRIVATE && !with_private)
			continue;
		for (iotlb_lock_kind lock : kLockKinds) {
			std::string name = std::string("layout/") + wl_layout_name(layout) + "/" +
					   lock_name(lock);
			reg(benchmark::RegisterBenchmark(name.c_str(), bm_layout, layout, lock))
				->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
		}
	}
	reg(benchmark::RegisterBenchmark("layout/malloc/mutex", bm_layout, WL_MALLOC,
					 IOTLB_LOCK_MUTEX))
		->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
	for (iotlb_lock_kind lock : kLockKinds) {
		std::string name = "lock/uncontended/" + lock_name(lock);
		reg(benchmark::RegisterBenchmark(name.c_str(), bm_lock, lock));
	}
	reg(benchmark::RegisterBenchmark("lock/uncontended/none", bm_lock, IOTLB_LOCK_NONE));
	for (iotlb_lock_kind lock : kLockKinds) {
		std::string name = "lock/contended/" + lock_name(lock);
		reg(benchmark::RegisterBenchmark(name.c_str(), bm_lock, lock))
			->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
	}
	reg(benchmark::RegisterBenchmark("search", bm_search))->Arg(50)->Arg(90)->Arg(99);
	reg(benchmark::RegisterBenchmark("lookup/hit", bm_lookup, true))->Arg(1)->Arg(8)->Arg(64);
	reg(benchmark::RegisterBenchmark("lookup/miss", bm_lookup, false))->Arg(1)->Arg(8)->Arg(64);
}

} // namespace

// Takes our own flag out of argv before Google Benchmark sees it.
bool take_flag(int *argc, char **argv, const char *flag)
{
	for (int i = 1; i < *argc; i++) {
		if (std::string(argv[i]) == flag) {
			for (int j = i; j < *argc; j++)
				argv[j] = argv[j + 1];
			--*argc;
			return true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	bool with_private = private_supported();

	g_smoke = take_flag(&argc, argv, "--iotlb_smoke");

	register_all(with_private);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::AddCustomContext("build_type", IOTLB_BENCH_BUILD_TYPE);
	benchmark::AddCustomContext("lock", std::string("default = ") + lc_default_name());
	benchmark::AddCustomContext("layout", with_private ? "single, percpu, private, malloc"
							   : "single, percpu, malloc "
							     "(private: n/a in this build)");
	benchmark::AddCustomContext("pool_bytes", std::to_string(WL_POOL_BYTES));
	benchmark::AddCustomContext("layout_map_bytes", std::to_string(kSmallOp.size));
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	g_search.reset();
	g_lookup.reset();
	return 0;
}
