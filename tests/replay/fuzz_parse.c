/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for iotlb-replay's input path: the bytes are a capture,
 * classified line by line and replayed into a small pool with the placement
 * check on. Nothing may crash, leak or trip a sanitizer, whatever the bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_run run;
	struct rp_parse_stats ps;
	struct rp_config cfg;
	struct rp_dev_rule *rule;

	rp_config_defaults(&cfg);
	/* Small, so that inputs fill it and reach the refusal paths. */
	cfg.pool_size = 256u << 10;
	cfg.nareas = 2;
	rule = rp_config_rule(&cfg, "0000:00:05.0", true);
	if (rule)
		rule->min_align_mask = 0xfff;
	if (rp_run_init(&run, &cfg, true))
		return 0;
	rp_replay_buffer((const char *)data, size, &run, &ps);
	rp_run_finish(&run);
	return 0;
}
