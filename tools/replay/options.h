/* SPDX-License-Identifier: MIT */
/*
 * Command-line options of iotlb-replay, and the "key=value,..." form of the
 * same options that --compare takes for each configuration.
 */
#ifndef IOTLB_TOOLS_REPLAY_OPTIONS_H
#define IOTLB_TOOLS_REPLAY_OPTIONS_H

#include <stdbool.h>

#include "engine.h"

#define RP_MAX_CONFIGS 8

struct rp_options {
	struct rp_config base;
	bool areas_given;
	unsigned ncompare;
	const char *compare[RP_MAX_CONFIGS];
	const char *input;
	const char *json;
	const char *plot;
	bool check, strict, fail_on_diff, quiet;
	/* --emit */
	bool emit;
	unsigned long long seed;
	unsigned long events;
	bool trace_cmd_format;
	const char *output;
};

/* Parses argv; 0, 1 after --help, or -1 after a message on stderr. */
int rp_options_parse(struct rp_options *o, int argc, char **argv);

/*
 * Applies one option by its long name ("pool-size", "private", ...) to cfg.
 * value may be NULL for flags. 0, or -1 with a message in err.
 */
int rp_option_apply(struct rp_config *cfg, const char *key, const char *value, char *err,
		    size_t errlen);

/* Builds cfg from base and a --compare spec ("pool-size=32M,areas=4"). */
int rp_compare_config(const struct rp_config *base, const char *spec, struct rp_config *cfg,
		      char *err, size_t errlen);

void rp_usage(void);

#endif /* IOTLB_TOOLS_REPLAY_OPTIONS_H */
