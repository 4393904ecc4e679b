/* SPDX-License-Identifier: MIT */
/*
 * The human summary and the JSON document. Both print the same counts; the
 * meaning of each is in docs/replay.md ("Reading the report").
 */
#include "report.h"

#include <errno.h>
#include <string.h>

const char *rp_errno_name(unsigned e, char *buf, size_t len)
{
	switch (e) {
	case ENOSPC:
		return "ENOSPC";
	case E2BIG:
		return "E2BIG";
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case ENOENT:
		return "ENOENT";
	case EBUSY:
		return "EBUSY";
	case ERANGE:
		return "ERANGE";
	default:
		snprintf(buf, len, "E%u", e);
		return buf;
	}
}

static void print_lines(FILE *f, const unsigned *lines, unsigned n, uint64_t total)
{
	if (!n)
		return;
	fprintf(f, " (line%s", n > 1 ? "s" : "");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s %u", i ? "," : "", lines[i]);
	fprintf(f, "%s)", total > n ? ", ..." : "");
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void text_run(FILE *f, const struct rp_run *run, bool check)
{
	const struct rp_counts *c = &run->c;
	const struct rp_config *cfg = run->cfg;
	char eb[16];
	bool any = false;

	fprintf(f, "\nconfiguration \"%s\": pool 0x%llx + %zu KiB, %u area%s, %llu slots%s\n",
		cfg->label, (unsigned long long)cfg->pool_base, cfg->pool_size >> 10, run->nareas,
		run->nareas == 1 ? "" : "s", (unsigned long long)c->nslots,
		cfg->grow ? ", growable" : "");
	if (run->error[0])
		fprintf(f, "  error: %s\n", run->error);
	fprintf(f,
		"  maps %llu, sg lists %llu (%llu entries), unmaps %llu, allocs %llu, frees %llu, "
		"syncs %llu\n",
		(unsigned long long)c->maps, (unsigned long long)c->sg_maps,
		(unsigned long long)c->sg_entries, (unsigned long long)c->unmaps,
		(unsigned long long)c->allocs, (unsigned long long)c->frees,
		(unsigned long long)c->syncs);
	fprintf(f, "  failures:");
	for (unsigned e = 0; e < RP_MAX_ERRNO; e++) {
		if (!c->failures[e])
			continue;
		fprintf(f, " %s %llu", e ? rp_errno_name(e, eb, sizeof(eb)) : "other",
			(unsigned long long)c->failures[e]);
		any = true;
	}
	fprintf(f, "%s", any ? "" : " none");
	if (any) {
		uint64_t total = 0;

		for (unsigned e = 0; e < RP_MAX_ERRNO; e++)
			total += c->failures[e];
		print_lines(f, run->fail_lines, run->nfail_lines, total);
	}
	fprintf(f, "\n");
	if (check) {
		uint64_t cmp = c->identical + c->differs;

		fprintf(f,
			"  placement: identical %llu, differs %llu (%.2f %% identical), not "
			"comparable %llu\n",
			(unsigned long long)c->identical, (unsigned long long)c->differs,
			pct(c->identical, cmp), (unsigned long long)c->not_comparable);
	}
	if (c->unbounced || c->kernel_failed || c->ignored)
		fprintf(f,
			"  not replayed: %llu outside the guest's pool (see --replay-unbounced), "
			"%llu the kernel failed, %llu never reach swiotlb\n",
			(unsigned long long)c->unbounced, (unsigned long long)c->kernel_failed,
			(unsigned long long)c->ignored);
	fprintf(f, "  unmatched unmaps/frees %llu", (unsigned long long)c->unmatched_unmaps);
	print_lines(f, run->unmatched_lines, run->nunmatched_lines, c->unmatched_unmaps);
	fprintf(f, ", never unmapped %llu", (unsigned long long)c->never_unmapped);
	print_lines(f, run->live_lines, run->nlive_lines, c->never_unmapped);
	fprintf(f,
		"\n  unmatched syncs %llu, skipped after a refused map %llu, refused "
		"unmap/sync/free %llu\n",
		(unsigned long long)c->unmatched_syncs,
		(unsigned long long)c->skipped_after_failure, (unsigned long long)c->call_errors);
	fprintf(f, "  used slots high-water %llu (%.1f %% of %llu), area fallbacks %llu\n",
		(unsigned long long)c->used_hiwater, pct(c->used_hiwater, c->nslots),
		(unsigned long long)c->nslots, (unsigned long long)c->area_fallbacks);
	if (run->nareas > 1) {
		fprintf(f, "  per-area peak used/slots:");
		for (unsigned a = 0; a < run->nareas; a++)
			fprintf(f, "%s %u:%llu/%llu", a && a % 8 == 0 ? "\n   " : "", a,
				(unsigned long long)run->areas[a].used_peak,
				(unsigned long long)run->areas[a].nslots);
		fprintf(f, "\n");
	}
	for (unsigned i = 0; i < run->ndiffs; i++) {
		const struct rp_diff *d = &run->diffs[i];

		if (i == 0)
			fprintf(f, "  first placement differences (trace lines before each):\n");
		fprintf(f, "    line %u: kernel 0x%llx, libiotlb ", d->line,
			(unsigned long long)d->trace_dma);
		if (d->lib_dma)
			fprintf(f, "0x%llx\n", (unsigned long long)d->lib_dma);
		else
			fprintf(f, "refused the request\n");
		for (unsigned j = 0; j < d->ntext; j++)
			fprintf(f, "      %s %s\n", j + 1 == d->ntext ? ">" : " ", d->text[j]);
	}
}

void rp_report_text(FILE *f, const char *input, const struct rp_parse_stats *ps,
		    struct rp_run *const *runs, unsigned nruns, bool check)
{
	fprintf(f,
		"trace %s: %llu lines, %llu dma events, %llu other events, %llu unrelated lines\n",
		input, (unsigned long long)ps->lines, (unsigned long long)ps->events,
		(unsigned long long)ps->other, (unsigned long long)ps->unrelated);
	if (ps->events) {
		fprintf(f, "  by kind:");
		for (unsigned k = 0; k < RP_NKINDS; k++)
			if (ps->by_kind[k])
				fprintf(f, " %s %llu", rp_kind_name((enum rp_kind)k),
					(unsigned long long)ps->by_kind[k]);
		fprintf(f, "; CPUs up to %d; %.6f s\n", ps->max_cpu,
			(double)(ps->last_ns - ps->first_ns) / 1e9);
	} else {
		fprintf(f, "  no dma event found: is this the text of a trace with the dma events "
			   "enabled?\n");
	}
	if (ps->truncated_sg)
		fprintf(f,
			"  %llu sg lists printed in part ([TRUNCATED]): only their first 128 "
			"entries replay\n",
			(unsigned long long)ps->truncated_sg);
	if (ps->unknown || ps->malformed) {
		fprintf(f, "  unknown dma events %llu, malformed lines %llu:\n",
			(unsigned long long)ps->unknown, (unsigned long long)ps->malformed);
		for (unsigned i = 0; i < ps->nbad; i++)
			fprintf(f, "    line %u: %s\n", ps->bad_line[i], ps->bad_why[i]);
		if (ps->unknown + ps->malformed > ps->nbad)
			fprintf(f, "    ...\n");
	}
	for (unsigned i = 0; i < nruns; i++)
		text_run(f, runs[i], check);
	if (nruns > 1) {
		fprintf(f, "\n%-40s %10s %10s %10s %10s\n", "configuration", "hiwater", "of slots",
			"failures", "fallbacks");
		for (unsigned i = 0; i < nruns; i++) {
			uint64_t fails = 0;

			for (unsigned e = 0; e < RP_MAX_ERRNO; e++)
				fails += runs[i]->c.failures[e];
			fprintf(f, "%-40.40s %10llu %10llu %10llu %10llu\n", runs[i]->cfg->label,
				(unsigned long long)runs[i]->c.used_hiwater,
				(unsigned long long)runs[i]->c.nslots, (unsigned long long)fails,
				(unsigned long long)runs[i]->c.area_fallbacks);
		}
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

#define JU(name, v) fprintf(f, "\"%s\": %llu", name, (unsigned long long)(v))

static void json_run(FILE *f, const struct rp_run *run, bool check)
{
	const struct rp_counts *c = &run->c;
	const struct rp_series *s = &run->series;
	bool first = true;
	char eb[16];

	fprintf(f, "    {\"label\": ");
	json_str(f, run->cfg->label);
	fprintf(f, ", \"pool_base\": %llu, \"pool_size\": %llu, \"areas\": %u, \"error\": ",
		(unsigned long long)run->cfg->pool_base, (unsigned long long)run->cfg->pool_size,
		run->nareas);
	json_str(f, run->error);
	fprintf(f, ",\n     ");
	JU("maps", c->maps);
	fprintf(f, ", ");
	JU("sg_maps", c->sg_maps);
	fprintf(f, ", ");
	JU("sg_entries", c->sg_entries);
	fprintf(f, ", ");
	JU("unmaps", c->unmaps);
	fprintf(f, ", ");
	JU("allocs", c->allocs);
	fprintf(f, ", ");
	JU("frees", c->frees);
	fprintf(f, ", ");
	JU("syncs", c->syncs);
	fprintf(f, ",\n     ");
	JU("ignored", c->ignored);
	fprintf(f, ", ");
	JU("kernel_failed", c->kernel_failed);
	fprintf(f, ", ");
	JU("unmatched_unmaps", c->unmatched_unmaps);
	fprintf(f, ", ");
	JU("unmatched_syncs", c->unmatched_syncs);
	fprintf(f, ", ");
	JU("never_unmapped", c->never_unmapped);
	fprintf(f, ", ");
	JU("skipped_after_failure", c->skipped_after_failure);
	fprintf(f, ", ");
	JU("call_errors", c->call_errors);
	fprintf(f, ", ");
	JU("unbounced", c->unbounced);
	fprintf(f, ",\n     ");
	if (check) {
		JU("placement_identical", c->identical);
		fprintf(f, ", ");
		JU("placement_differs", c->differs);
		fprintf(f, ", ");
		JU("placement_not_comparable", c->not_comparable);
		fprintf(f, ", ");
	}
	fprintf(f, "\"failures\": {");
	for (unsigned e = 0; e < RP_MAX_ERRNO; e++) {
		if (!c->failures[e])
			continue;
		fprintf(f, "%s\"%s\": %llu", first ? "" : ", ",
			e ? rp_errno_name(e, eb, sizeof(eb)) : "other",
			(unsigned long long)c->failures[e]);
		first = false;
	}
	fprintf(f, "},\n     ");
	JU("devices", c->devices);
	fprintf(f, ", ");
	JU("nslots", c->nslots);
	fprintf(f, ", ");
	JU("used_hiwater", c->used_hiwater);
	fprintf(f, ", ");
	JU("area_fallbacks", c->area_fallbacks);
	fprintf(f, ",\n     \"per_area\": [");
	for (unsigned a = 0; a < run->nareas; a++)
		fprintf(f,
			"%s{\"area\": %u, \"nslots\": %llu, \"used_peak\": %llu, \"acquisitions\": "
			"%llu}",
			a ? ", " : "", a, (unsigned long long)run->areas[a].nslots,
			(unsigned long long)run->areas[a].used_peak,
			(unsigned long long)run->areas[a].acquisitions);
	fprintf(f, "],\n     \"differences\": [");
	for (unsigned i = 0; i < run->ndiffs; i++)
		fprintf(f, "%s{\"line\": %u, \"kernel\": %llu, \"libiotlb\": %llu}", i ? ", " : "",
			run->diffs[i].line, (unsigned long long)run->diffs[i].trace_dma,
			(unsigned long long)run->diffs[i].lib_dma);
	fprintf(f, "],\n     \"series\": {\"events_per_point\": %u, \"t_ns\": [", s->stride);
	for (unsigned i = 0; i < s->n; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->t_ns[i]);
	fprintf(f, "], \"used\": [");
	for (unsigned i = 0; i < s->n; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->used[i]);
	fprintf(f, "]}}");
}

int rp_report_json(const char *path, const char *input, const struct rp_parse_stats *ps,
		   struct rp_run *const *runs, unsigned nruns, bool check)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	int bad;

	if (!f) {
		fprintf(stderr, "iotlb-replay: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\"input\": ");
	json_str(f, input);
	fprintf(f, ",\n \"lines\": {");
	JU("total", ps->lines);
	fprintf(f, ", ");
	JU("events", ps->events);
	fprintf(f, ", ");
	JU("blank", ps->blank);
	fprintf(f, ", ");
	JU("unrelated", ps->unrelated);
	fprintf(f, ", ");
	JU("other_events", ps->other);
	fprintf(f, ", ");
	JU("truncated_sg", ps->truncated_sg);
	fprintf(f, ", ");
	JU("unknown", ps->unknown);
	fprintf(f, ", ");
	JU("malformed", ps->malformed);
	fprintf(f, ", \"bad_lines\": [");
	for (unsigned i = 0; i < ps->nbad; i++)
		fprintf(f, "%s%u", i ? ", " : "", ps->bad_line[i]);
	fprintf(f, "]},\n \"events\": {");
	for (unsigned k = 0; k < RP_NKINDS; k++) {
		fprintf(f, "%s", k ? ", " : "");
		JU(rp_kind_name((enum rp_kind)k), ps->by_kind[k]);
	}
	fprintf(f, "},\n \"max_cpu\": %d, \"configs\": [\n", ps->max_cpu);
	for (unsigned i = 0; i < nruns; i++) {
		json_run(f, runs[i], check);
		fprintf(f, "%s\n", i + 1 < nruns ? "," : "");
	}
	fprintf(f, " ]}\n");
	bad = ferror(f);
	if (f != stdout)
		bad |= fclose(f);
	else
		bad |= fflush(f);
	if (bad) {
		fprintf(stderr, "iotlb-replay: error writing %s\n", path);
		return -1;
	}
	return 0;
}
