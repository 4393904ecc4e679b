/* SPDX-License-Identifier: MIT */
/*
 * Splits a capture into lines, classifies them with the parser and hands the
 * dma events to the engine together with the few lines before each, which
 * the report shows around a placement difference.
 */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_read_input(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1u << 16, n = 0;
	char *b;

	if (!f)
		return -errno;
	b = malloc(cap);
	while (b) {
		size_t got = fread(b + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
		if (n + 1 == cap) {
			char *nb = cap < ((size_t)1 << 40) ? realloc(b, cap * 2) : NULL;

			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!b)
		return -ENOMEM;
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static void note_bad(struct rp_parse_stats *ps, unsigned line, const char *why)
{
	if (ps->nbad < RP_MAX_BAD) {
		ps->bad_line[ps->nbad] = line;
		ps->bad_why[ps->nbad] = why;
		ps->nbad++;
	}
}

int rp_replay_buffer(const char *buf, size_t len, struct rp_run *run, struct rp_parse_stats *ps)
{
	struct rp_event *ev = malloc(sizeof(*ev));
	/* The last RP_CONTEXT_LINES + 1 event lines, oldest first after rotation. */
	const char *ring[RP_CONTEXT_LINES + 1];
	size_t ring_len[RP_CONTEXT_LINES + 1];
	unsigned nring = 0, line = 0;
	size_t pos = 0;

	memset(ps, 0, sizeof(*ps));
	ps->max_cpu = -1;
	if (!ev)
		return -ENOMEM;
	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		const char *why = NULL;
		enum rp_line kind;

		pos += n + (nl ? 1 : 0);
		line++;
		ps->lines++;
		kind = rp_parse_line(start, n, ev, &why);
		switch (kind) {
		case RP_LINE_BLANK:
			ps->blank++;
			continue;
		case RP_LINE_UNRELATED:
			ps->unrelated++;
			continue;
		case RP_LINE_OTHER:
			ps->other++;
			continue;
		case RP_LINE_UNKNOWN:
			ps->unknown++;
			note_bad(ps, line, why);
			continue;
		case RP_LINE_MALFORMED:
			ps->malformed++;
			note_bad(ps, line, why);
			continue;
		case RP_LINE_EVENT:
			break;
		}
		ps->events++;
		ps->by_kind[ev->kind]++;
		if (ev->truncated)
			ps->truncated_sg++;
		if (ev->cpu > ps->max_cpu)
			ps->max_cpu = ev->cpu;
		if (ps->events == 1)
			ps->first_ns = ev->ts_ns;
		ps->last_ns = ev->ts_ns;
		if (!run)
			continue;
		if (nring == RP_CONTEXT_LINES + 1) {
			memmove(ring, ring + 1, RP_CONTEXT_LINES * sizeof(ring[0]));
			memmove(ring_len, ring_len + 1, RP_CONTEXT_LINES * sizeof(ring_len[0]));
			nring--;
		}
		ring[nring] = start;
		ring_len[nring] = n;
		nring++;
		memcpy(run->context, ring, nring * sizeof(ring[0]));
		memcpy(run->context_len, ring_len, nring * sizeof(ring_len[0]));
		run->ncontext = nring;
		rp_run_event(run, ev, line);
	}
	free(ev);
	return 0;
}
