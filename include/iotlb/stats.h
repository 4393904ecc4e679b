/* SPDX-License-Identifier: MIT */
/*
 * libiotlb statistics: one field list (IOTLB_STATS_FIELDS) yields the struct,
 * the printer and the names, so a new counter is added in exactly one place.
 */
#ifndef IOTLB_STATS_H
#define IOTLB_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * X(name, description). Every field is a uint64_t. Append only: callers built
 * against an older header pass a smaller struct_size and get the prefix.
 */
#define IOTLB_STATS_FIELDS(X)                                                 \
	X(nslots, "slots in the pools (transient pools excluded)")            \
	X(used, "slots in use, transient pools included")                     \
	X(used_hiwater, "highest value of used since creation or last reset") \
	X(transient_nslots, "slots in transient pools")                       \
	X(npools, "pools (transient pools excluded)")                         \
	X(nareas, "areas (child pools) of the largest pool")                  \
	X(maps, "successful streaming maps")                                  \
	X(map_fail_nospace, "maps and allocs refused with -ENOSPC")           \
	X(unmaps, "successful unmaps")                                        \
	X(bounced_to_device, "bytes copied original -> bounce")               \
	X(bounced_to_cpu, "bytes copied bounce -> original")                  \
	X(overflow_clamps, "syncs or unmaps clamped to the allocation")       \
	X(area_fallbacks, "requests whose first-choice area could not serve") \
	X(map_fail_too_big, "maps and allocs refused with -E2BIG")            \
	X(allocs, "successful coherent allocations")                          \
	X(frees, "successful coherent frees")                                 \
	X(syncs, "successful sync_for_cpu / sync_for_device calls")           \
	X(lock_acquisitions, "area lock acquisitions")                        \
	X(lock_contended, "acquisitions whose first try failed")              \
	X(lock_wait_ns, "nanoseconds spent waiting for contended area locks") \
	X(lock_wait_max_ns, "longest single wait for an area lock")           \
	X(grow_attempts, "pools the growth worker tried to add")              \
	X(grow_failures, "growth attempts the region provider refused")       \
	X(transient_pools, "transient pools created")                         \
	X(nqueues, "child pools of a private device (0 for shared)")          \
	X(waits, "blocking requests that had to wait (once per request)")     \
	X(wait_timeouts, "blocking requests that returned -ETIMEDOUT")        \
	X(wait_ns, "nanoseconds blocking requests spent waiting")             \
	X(wait_ns_max, "longest single wait of a blocking request")

struct iotlb_stats {
	size_t struct_size; /* sizeof(struct iotlb_stats), set by the caller */
#define IOTLB_STATS_FIELD_(name, desc) uint64_t name;
	IOTLB_STATS_FIELDS(IOTLB_STATS_FIELD_)
#undef IOTLB_STATS_FIELD_
};

/* Brace initializer usable in C and C++: struct iotlb_stats s = IOTLB_STATS_INIT; */
/* clang-format off */
#ifdef __cplusplus
#define IOTLB_STATS_INIT { sizeof(struct iotlb_stats) }
#else
#define IOTLB_STATS_INIT { .struct_size = sizeof(struct iotlb_stats) }
#endif
/* clang-format on */

/* Per-area (child pool) figures, read with iotlb_mem_area_stats / iotlb_dev_area_stats. */
#define IOTLB_AREA_STATS_FIELDS(X)                                   \
	X(first_slot, "first slot of the area in its pool")          \
	X(nslots, "slots in the area")                               \
	X(used, "slots in use")                                      \
	X(cursor, "area-relative slot where the next search starts") \
	X(acquisitions, "lock acquisitions")                         \
	X(contended, "acquisitions whose first try failed")          \
	X(wait_ns, "nanoseconds waited on contended acquisitions")   \
	X(wait_max_ns, "longest single wait")

struct iotlb_area_stats {
	size_t struct_size; /* sizeof(struct iotlb_area_stats), set by the caller */
#define IOTLB_STATS_FIELD_(name, desc) uint64_t name;
	IOTLB_AREA_STATS_FIELDS(IOTLB_STATS_FIELD_)
#undef IOTLB_STATS_FIELD_
};

/* clang-format off */
#ifdef __cplusplus
#define IOTLB_AREA_STATS_INIT { sizeof(struct iotlb_area_stats) }
#else
#define IOTLB_AREA_STATS_INIT { .struct_size = sizeof(struct iotlb_area_stats) }
#endif
/* clang-format on */

#ifdef __cplusplus
}
#endif

#endif /* IOTLB_STATS_H */
