/* SPDX-License-Identifier: MIT */
/*
 * iotlb-replay: replays the dma events of a kernel trace through libiotlb,
 * checks placement against the kernel's, and compares configurations.
 * Exit status: 0 done, 1 usage or I/O error, 2 --strict found bad input,
 * 3 --fail-on-diff found a placement difference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "emit.h"
#include "options.h"
#include "report.h"

static int do_emit(struct rp_options *o)
{
	struct rp_emit_params p = {
		.seed = o->seed, .events = o->events, .trace_cmd = o->trace_cmd_format};
	FILE *f = o->output ? fopen(o->output, "w") : stdout;
	int err;

	if (!f) {
		fprintf(stderr, "iotlb-replay: cannot write %s: %s\n", o->output, strerror(errno));
		return 1;
	}
	err = rp_emit(f, &o->base, &p);
	if (f != stdout ? fclose(f) : fflush(f))
		err = -1;
	return err ? 1 : 0;
}

/* Areas not given: the guest had (at least) one per CPU seen, to a power of two. */
static unsigned areas_from_trace(int max_cpu)
{
	unsigned n = 1;

	while ((int)n <= max_cpu && n < (1u << 16))
		n <<= 1;
	return n;
}

int main(int argc, char **argv)
{
	static struct rp_options o;
	struct rp_config *cfgs = NULL;
	struct rp_run *runs[RP_MAX_CONFIGS] = {0};
	struct rp_parse_stats ps;
	unsigned ncfg;
	char *buf = NULL, err[160];
	size_t len;
	int rc = 0, r;

	r = rp_options_parse(&o, argc, argv);
	if (r)
		return r > 0 ? 0 : 1;
	if (o.emit)
		return do_emit(&o);

	r = rp_read_input(o.input, &buf, &len);
	if (r) {
		fprintf(stderr, "iotlb-replay: cannot read %s: %s\n", o.input, strerror(-r));
		return 1;
	}
	/* A first pass classifies the lines and finds the CPUs. */
	if (rp_replay_buffer(buf, len, NULL, &ps)) {
		fprintf(stderr, "iotlb-replay: out of memory\n");
		free(buf);
		return 1;
	}
	if (!o.areas_given)
		o.base.nareas = areas_from_trace(ps.max_cpu);
	ncfg = o.ncompare ? o.ncompare : 1;
	cfgs = calloc(ncfg, sizeof(*cfgs));
	if (!cfgs) {
		free(buf);
		return 1;
	}
	if (!o.ncompare)
		cfgs[0] = o.base;
	for (unsigned i = 0; i < o.ncompare; i++) {
		if (rp_compare_config(&o.base, o.compare[i], &cfgs[i], err, sizeof(err))) {
			fprintf(stderr, "iotlb-replay: --compare '%s': %s\n", o.compare[i], err);
			rc = 1;
			goto out;
		}
	}
	for (unsigned i = 0; i < ncfg; i++) {
		struct rp_parse_stats again;

		/* Whatever a compared configuration changes, the kernel's bounces
		 * lie in the guest's pool: the base --pool-base/--pool-size. */
		cfgs[i].trace_base = o.base.pool_base;
		cfgs[i].trace_size = o.base.pool_size;

		runs[i] = malloc(sizeof(*runs[i]));
		if (!runs[i]) {
			rc = 1;
			goto out;
		}
		r = rp_run_init(runs[i], &cfgs[i], o.check);
		if (r) {
			fprintf(stderr, "iotlb-replay: configuration \"%s\": %s\n", cfgs[i].label,
				runs[i]->error);
			rc = 1;
			goto out;
		}
		rp_replay_buffer(buf, len, runs[i], &again);
		rp_run_finish(runs[i]);
	}
	if (!o.quiet)
		rp_report_text(stdout, o.input, &ps, runs, ncfg, o.check);
	if (o.json && rp_report_json(o.json, o.input, &ps, runs, ncfg, o.check))
		rc = 1;
	if (o.plot && rp_plot(o.plot, &ps, runs, ncfg))
		rc = 1;
	if (!rc && o.strict && (ps.unknown || ps.malformed || ps.events == 0)) {
		fprintf(stderr,
			"iotlb-replay: --strict: %llu unknown, %llu malformed line(s), %llu dma "
			"events\n",
			(unsigned long long)ps.unknown, (unsigned long long)ps.malformed,
			(unsigned long long)ps.events);
		rc = 2;
	}
	if (!rc && o.fail_on_diff && o.check) {
		for (unsigned i = 0; i < ncfg; i++)
			if (runs[i]->c.differs)
				rc = 3;
		if (rc)
			fprintf(stderr, "iotlb-replay: --fail-on-diff: placement differs\n");
	}
out:
	for (unsigned i = 0; i < ncfg; i++)
		free(runs[i]);
	free(cfgs);
	free(buf);
	return rc;
}
