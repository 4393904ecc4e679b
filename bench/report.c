/* SPDX-License-Identifier: MIT */
/*
 * Spreads and run context for the study and the scaling report; see
 * report.h.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "workload.h"

#ifndef IOTLB_BENCH_SOURCE_DIR
#define IOTLB_BENCH_SOURCE_DIR ""
#endif
#ifndef IOTLB_BENCH_GIT_COMMIT
#define IOTLB_BENCH_GIT_COMMIT ""
#endif

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void wl_spread_of(const double *v, unsigned n, struct wl_spread *out)
{
	double *s = malloc((n ? n : 1) * sizeof(*s));
	unsigned k = 0;

	*out = (struct wl_spread){ NAN, NAN, NAN, 0 };
	if (!s)
		return;
	for (unsigned i = 0; i < n; i++)
		if (!isnan(v[i]))
			s[k++] = v[i];
	if (k) {
		qsort(s, k, sizeof(*s), cmp_double);
		/* Even counts take the mean of the two middle values. */
		out->median = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
		out->lo = s[0];
		out->hi = s[k - 1];
		out->n = k;
	}
	free(s);
}

bool wl_spread_apart(const struct wl_spread *a, const struct wl_spread *b)
{
	if (!a->n || !b->n)
		return false;
	return a->lo > b->hi || b->lo > a->hi;
}

static void load_now(double load[3])
{
	if (getloadavg(load, 3) != 3)
		load[0] = load[1] = load[2] = -1;
}

void wl_context_begin(struct wl_context *c)
{
	time_t now = time(NULL);
	struct tm tm;

	memset(c, 0, sizeof(*c));
	if (gmtime_r(&now, &tm))
		strftime(c->date, sizeof(c->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	load_now(c->load_before);
	c->load_after[0] = c->load_after[1] = c->load_after[2] = -1;
	/* The commit is read now, not when the JSON is written: a commit made
	 * while a long run goes on must not be credited with its figures. */
	wl_git_commit();
	c->start_ns = wl_now_ns();
}

void wl_context_end(struct wl_context *c)
{
	load_now(c->load_after);
	c->seconds = (double)(wl_now_ns() - c->start_ns) / 1e9;
}

void wl_context_warn(FILE *f, const struct wl_context *c)
{
	double load = c->load_before[0] > c->load_after[0] ? c->load_before[0] : c->load_after[0];

	if (load > 0.5 * wl_ncpus())
		fprintf(f, "note: the machine was busy (load average up to %.2f on %u CPUs): threads "
			   "shared their CPUs with other processes; expect wide ranges, and more "
			   "threads than CPUs to win CPU time from the other processes\n",
			load, wl_ncpus());
}

const char *wl_cpu_model(void)
{
	static char model[128];
	char line[256];
	FILE *f;

	if (model[0])
		return model;
	snprintf(model, sizeof(model), "unknown CPU");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return model;
}

/* First line of a command's output, or "" when it fails or prints nothing. */
static void first_line(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");

	out[0] = 0;
	if (!p)
		return;
	if (!fgets(out, (int)len, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	if (pclose(p) != 0)
		out[0] = 0;
}

const char *wl_git_commit(void)
{
	static char commit[96];
	char cmd[4200], dirty[8];

	if (commit[0])
		return commit;
	/* The configure-time commit goes stale as soon as someone commits
	 * without reconfiguring, so git is asked first. */
	if (IOTLB_BENCH_SOURCE_DIR[0] && !strchr(IOTLB_BENCH_SOURCE_DIR, '\'')) {
		snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse --short=12 HEAD 2>/dev/null",
			 IOTLB_BENCH_SOURCE_DIR);
		first_line(cmd, commit, sizeof(commit));
		if (commit[0]) {
			snprintf(cmd, sizeof(cmd),
				 "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null",
				 IOTLB_BENCH_SOURCE_DIR);
			first_line(cmd, dirty, sizeof(dirty));
			if (dirty[0])
				strcat(commit, "-dirty");
			return commit;
		}
	}
	if (IOTLB_BENCH_GIT_COMMIT[0])
		snprintf(commit, sizeof(commit), "%s (at configure time)", IOTLB_BENCH_GIT_COMMIT);
	else
		snprintf(commit, sizeof(commit), "unknown");
	return commit;
}

const char *wl_lock_resolved(enum iotlb_lock_kind kind)
{
	return iotlb_lock_kind_name(kind == IOTLB_LOCK_DEFAULT ? IOTLB_LOCK_TTAS : kind);
}

void wl_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_load(FILE *f, const char *name, const double load[3])
{
	if (load[0] < 0)
		fprintf(f, "  \"%s\": null,\n", name);
	else
		fprintf(f, "  \"%s\": [%.2f, %.2f, %.2f],\n", name, load[0], load[1], load[2]);
}

void wl_context_json(FILE *f, const struct wl_context *c, bool bound)
{
	fprintf(f, "  \"date\": \"%s\",\n", c->date);
	fprintf(f, "  \"library_version\": \"%d.%d.%d\",\n", IOTLB_VERSION_MAJOR,
		IOTLB_VERSION_MINOR, IOTLB_VERSION_PATCH);
	fprintf(f, "  \"git_commit\": ");
	wl_json_string(f, wl_git_commit());
	fprintf(f, ",\n  \"cpu_model\": ");
	wl_json_string(f, wl_cpu_model());
	fprintf(f, ",\n  \"cpus_online\": %ld,\n  \"cpus_allowed\": %u,\n",
		sysconf(_SC_NPROCESSORS_ONLN), wl_ncpus());
	fprintf(f, "  \"threads_bound\": %s,\n", bound ? "true" : "false");
	json_load(f, "load_average_before", c->load_before);
	json_load(f, "load_average_after", c->load_after);
	fprintf(f, "  \"seconds_total\": %.1f,\n", c->seconds);
	fprintf(f, "  \"lock_default_resolves_to\": \"%s\",\n",
		wl_lock_resolved(IOTLB_LOCK_DEFAULT));
	fprintf(f, "  \"lock_default_source\": \"include/iotlb/iotlb.h documents DEFAULT as "
		   "TTAS; the library has no call that reports it\",\n");
}
