/* SPDX-License-Identifier: MIT */
/*
 * What iotlb-replay tells its user: the human summary, the JSON document and
 * the gnuplot occupancy plot, for one or several replayed configurations.
 */
#ifndef IOTLB_TOOLS_REPLAY_REPORT_H
#define IOTLB_TOOLS_REPLAY_REPORT_H

#include <stdio.h>

#include "driver.h"
#include "engine.h"

void rp_report_text(FILE *f, const char *input, const struct rp_parse_stats *ps,
		    struct rp_run *const *runs, unsigned nruns, bool check);
/* 0, or -1 with a message on stderr. */
int rp_report_json(const char *path, const char *input, const struct rp_parse_stats *ps,
		   struct rp_run *const *runs, unsigned nruns, bool check);
int rp_plot(const char *png, const struct rp_parse_stats *ps, struct rp_run *const *runs,
	    unsigned nruns);

/* "ENOSPC" for 28, "E<n>" for codes without a name here. */
const char *rp_errno_name(unsigned e, char *buf, size_t len);

#endif /* IOTLB_TOOLS_REPLAY_REPORT_H */
