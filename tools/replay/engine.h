/* SPDX-License-Identifier: MIT */
/*
 * The replay engine: one allocator configuration, fed trace events in order,
 * through the public libiotlb API only. It keeps the counts, the placement
 * check and the occupancy time series that the report prints.
 */
#ifndef IOTLB_TOOLS_REPLAY_ENGINE_H
#define IOTLB_TOOLS_REPLAY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iotlb/iotlb.h>

#include "table.h"
#include "trace.h"

#define RP_MAX_DEV_RULES 64
#define RP_MAX_DIFFS 10	   /* placement differences kept with context */
#define RP_MAX_NOTES 10	   /* line numbers kept per kind of oddity */
#define RP_CONTEXT_LINES 3 /* trace lines shown before a difference */
#define RP_SERIES_MAX 1024 /* points of the occupancy series */
#define RP_MAX_AREAS 1024
#define RP_MAX_ERRNO 256

/* Per-device settings a trace does not carry. */
struct rp_dev_rule {
	char name[RP_DEV_NAME_MAX];
	uint64_t min_align_mask, alloc_align_mask, seg_boundary_mask;
	size_t private_size;
	unsigned nqueues;
};

struct rp_config {
	char label[64]; /* "pool-size=32M": the name in reports and plots */
	uint64_t pool_base;
	size_t pool_size;
	unsigned nareas; /* 0 -> 1, not the host's CPU count: a guest is not the host */
	unsigned slot_shift, segment_slots;
	size_t page_size;
	enum iotlb_lock_kind lock;
	bool grow;
	size_t grow_size;
	/* The guest's pool, where the kernel's bounces lie (0 size: the pool
	 * above). Events outside it were not bounced by the kernel and are not
	 * replayed unless replay_unbounced. */
	uint64_t trace_base;
	size_t trace_size;
	bool replay_unbounced;
	unsigned nrules;
	struct rp_dev_rule rules[RP_MAX_DEV_RULES];
};

/* A placement difference and the trace lines just before it. */
struct rp_diff {
	unsigned line;
	uint64_t trace_dma, lib_dma;
	char text[RP_CONTEXT_LINES + 1][160]; /* oldest first; the event last */
	unsigned ntext;
};

struct rp_series {
	unsigned n;	  /* points stored */
	unsigned stride;  /* events per point */
	unsigned pending; /* events folded into the open point */
	uint64_t t_ns[RP_SERIES_MAX];
	uint64_t used[RP_SERIES_MAX]; /* highest used slots within the point */
};

/* maps, sg_entries and allocs count requests sent to libiotlb (refused ones
 * included); unmaps, frees and syncs count calls libiotlb carried out. */
struct rp_counts {
	uint64_t maps, unmaps, sg_maps, sg_entries, sg_unmaps, allocs, frees, syncs;
	uint64_t ignored;	/* known events outside swiotlb */
	uint64_t kernel_failed; /* events the kernel itself failed */
	uint64_t identical, differs;
	uint64_t not_comparable;	 /* outside the guest's pool */
	uint64_t unbounced;		 /* of those, not replayed */
	uint64_t failures[RP_MAX_ERRNO]; /* by -errno, 0 unused */
	uint64_t unmatched_unmaps;	 /* mapped before tracing began */
	uint64_t unmatched_syncs;
	uint64_t skipped_after_failure; /* unmaps/syncs of maps libiotlb refused */
	uint64_t call_errors;		/* unmap/sync/free refused by libiotlb */
	uint64_t never_unmapped;	/* still live at the end of the capture */
	uint64_t used_hiwater, nslots, area_fallbacks;
	uint64_t devices;
};

struct rp_area_use {
	uint64_t nslots, used_peak, acquisitions;
};

struct rp_entry; /* a live mapping, private to engine.c */
struct rp_dev;

struct rp_run {
	const struct rp_config *cfg;
	bool check;
	struct iotlb_mem *mem;
	void *pool;
	unsigned char *scratch, *orig_base;
	size_t scratch_len, orig_span;
	uint64_t orig_align;
	struct rp_dev *devs;
	unsigned ndevs, devs_cap;
	struct rp_entry *entries;
	uint32_t nentries, entries_cap, free_head;
	struct rp_table by_dma, by_phys;
	struct rp_counts c;
	unsigned nareas;
	struct rp_area_use areas[RP_MAX_AREAS];
	struct rp_series series;
	struct rp_diff diffs[RP_MAX_DIFFS];
	unsigned ndiffs;
	unsigned unmatched_lines[RP_MAX_NOTES], nunmatched_lines;
	unsigned live_lines[RP_MAX_NOTES];
	unsigned nlive_lines;
	unsigned fail_lines[RP_MAX_NOTES], nfail_lines;
	const char *context[RP_CONTEXT_LINES + 1]; /* set by the caller per event */
	size_t context_len[RP_CONTEXT_LINES + 1];
	unsigned ncontext;
	struct iotlb_region_ops region_ops;
	uint64_t grow_next_dma;
	char error[160];
};

void rp_config_defaults(struct rp_config *cfg);
/* The rule for a device name, or NULL. */
struct rp_dev_rule *rp_config_rule(struct rp_config *cfg, const char *name, bool create);

/* Sets up the allocator of one configuration; 0 or negative errno (run->error says why). */
int rp_run_init(struct rp_run *run, const struct rp_config *cfg, bool check);
/* The device of that name, created on first use; UINT32_MAX if out of memory. */
unsigned rp_run_dev(struct rp_run *run, const char *name);
/* Replays one event found on `line`. Never fails: trouble is counted. */
void rp_run_event(struct rp_run *run, const struct rp_event *ev, unsigned line);
/* Counts what is still live, reads the final statistics, releases everything. */
void rp_run_finish(struct rp_run *run);
void rp_run_free(struct rp_run *run);

#endif /* IOTLB_TOOLS_REPLAY_ENGINE_H */
