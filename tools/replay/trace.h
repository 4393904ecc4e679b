/* SPDX-License-Identifier: MIT */
/*
 * One DMA trace event as iotlb-replay understands it, and the line parser that
 * reads the kernel's text trace output (tracefs `trace` and `trace-cmd report`).
 */
#ifndef IOTLB_TOOLS_REPLAY_TRACE_H
#define IOTLB_TOOLS_REPLAY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel prints at most 128 entries of an sg list; sync_sg and unmap_sg
 * print every entry, so allow more and call a longer list malformed. */
#define RP_SG_MAX 1024
#define RP_DEV_NAME_MAX 64
/* The kernel's DMA_MAPPING_ERROR, printed as dma_addr of a failed map. */
#define RP_DMA_ERROR UINT64_MAX

enum rp_kind {
	RP_MAP,		/* dma_map_page / dma_map_resource / dma_map_phys */
	RP_UNMAP,	/* dma_unmap_page / _resource / _phys */
	RP_MAP_SG,	/* dma_map_sg */
	RP_UNMAP_SG,	/* dma_unmap_sg (lists original addresses) */
	RP_SYNC_CPU,	/* dma_sync_single_for_cpu */
	RP_SYNC_DEV,	/* dma_sync_single_for_device */
	RP_SYNC_SG_CPU, /* dma_sync_sg_for_cpu */
	RP_SYNC_SG_DEV, /* dma_sync_sg_for_device */
	RP_ALLOC,	/* dma_alloc */
	RP_FREE,	/* dma_free */
	RP_IGNORED,	/* known dma event that never reaches swiotlb */
	RP_NKINDS
};

struct rp_event {
	enum rp_kind kind;
	char name[32];		   /* event name as printed */
	char dev[RP_DEV_NAME_MAX]; /* device name (dev_name()) */
	int cpu;		   /* the [NNN] field */
	uint64_t ts_ns;		   /* timestamp, nanoseconds */
	unsigned dir;		   /* enum iotlb_dir numbering */
	uint64_t dma, phys, size;  /* single events */
	bool skip_cpu_sync;	   /* attrs contains SKIP_CPU_SYNC */
	bool truncated;		   /* map_sg printed [TRUNCATED] */
	unsigned n;		   /* sg entries */
	uint64_t sg_dma[RP_SG_MAX];
	uint64_t sg_size[RP_SG_MAX];
	uint64_t sg_phys[RP_SG_MAX];
};

enum rp_line {
	RP_LINE_EVENT,	   /* *ev holds a dma event */
	RP_LINE_BLANK,	   /* empty or a '#' comment */
	RP_LINE_UNRELATED, /* not a trace event line (headers, noise) */
	RP_LINE_OTHER,	   /* a trace event of another subsystem */
	RP_LINE_UNKNOWN,   /* a dma_* event this tool does not know */
	RP_LINE_MALFORMED, /* a known dma event whose fields do not parse */
};

/*
 * Parses one line (len bytes, no newline needed, NUL bytes allowed). Fills
 * *ev for RP_LINE_EVENT; for RP_LINE_MALFORMED sets *why to a static reason.
 */
enum rp_line rp_parse_line(const char *line, size_t len, struct rp_event *ev, const char **why);

const char *rp_kind_name(enum rp_kind kind);
const char *rp_dir_name(unsigned dir);

#endif /* IOTLB_TOOLS_REPLAY_TRACE_H */
