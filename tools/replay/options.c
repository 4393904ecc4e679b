/* SPDX-License-Identifier: MIT */
/*
 * Option parsing. Every pool and device option has one long name, used both
 * on the command line (--pool-size 32M) and inside --compare specs
 * (pool-size=32M), so that a compared configuration can change anything.
 */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp_usage(void)
{
	puts("usage: iotlb-replay [options] [TRACE|-]\n"
	     "       iotlb-replay --emit [--seed N] [--events N] [--trace-cmd] [pool options]\n"
	     "\n"
	     "Replays the dma:* events of a kernel trace (tracefs `trace` or `trace-cmd report`\n"
	     "text) through libiotlb. See docs/replay.md.\n"
	     "\n"
	     "pool (as the guest had it):\n"
	     "  --pool-base ADDR       device address of the pool (default 0x80000000)\n"
	     "  --pool-size SIZE       bytes, K/M/G suffixes (default 64M)\n"
	     "  --areas N              areas (default: highest CPU in the trace + 1, to a power of "
	     "2)\n"
	     "  --slot-shift N         log2 of the slot size (default 11)\n"
	     "  --segment-slots N      slots per segment (default 128)\n"
	     "  --page-size SIZE       the guest's PAGE_SIZE (default 4096)\n"
	     "  --lock NAME            default, mutex, spin, ticket, mcs, ttas, none\n"
	     "  --grow[=SIZE]          growable pool list (pools of SIZE, default the pool size)\n"
	     "  --replay-unbounced     also replay events whose dma_addr lies outside the pool\n"
	     "                         (the kernel did not bounce them through it)\n"
	     "devices (the trace does not carry their masks):\n"
	     "  --private DEV=SIZE[:QUEUES]   private pool carved for DEV\n"
	     "  --min-align DEV=MASK   --alloc-align DEV=MASK   --seg-boundary DEV=MASK\n"
	     "output:\n"
	     "  --check                compare libiotlb's bounce addresses with the trace's\n"
	     "  --json FILE            counts and the occupancy series as JSON\n"
	     "  --plot FILE.png        occupancy over trace time (gnuplot)\n"
	     "  --compare SPEC         replay a configuration: the pool options above as\n"
	     "                         key=value[,key=value...], e.g. 'pool-size=32M,areas=4';\n"
	     "                         repeat to compare (up to 8); replaces the base run\n"
	     "  --strict               exit 2 on unknown or malformed lines or no dma event\n"
	     "  --fail-on-diff         exit 3 when --check finds a placement difference\n"
	     "  --quiet                no summary on stdout\n"
	     "emit (a random workload in the kernel's trace format, bounced by libiotlb):\n"
	     "  --emit  --seed N  --events N  --trace-cmd (trace-cmd report layout)  -o FILE");
}

/* Number with an optional K/M/G suffix (binary units); base prefixes as strtoull. */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || end == s || (shift && v > (~0ull >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long long v;

	if (parse_size(s, &v) || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static const char *const lock_names[] = {"default", "mutex", "spin", "ticket",
					 "mcs",	    "ttas",  "none"};

/* "DEV=VALUE": splits at the last '=' (device names hold ':' and '.'). */
static int dev_value(const char *arg, char *dev, size_t devlen, const char **value)
{
	const char *eq = arg ? strrchr(arg, '=') : NULL;

	if (!eq || eq == arg || (size_t)(eq - arg) >= devlen)
		return -1;
	memcpy(dev, arg, (size_t)(eq - arg));
	dev[eq - arg] = '\0';
	*value = eq + 1;
	return 0;
}

int rp_option_apply(struct rp_config *cfg, const char *key, const char *value, char *err,
		    size_t errlen)
{
	unsigned long long v = 0;
	char dev[RP_DEV_NAME_MAX];
	struct rp_dev_rule *rule;
	const char *dv;

	if (strcmp(key, "replay-unbounced") == 0) {
		cfg->replay_unbounced = true;
		return value ? -1 : 0;
	}
	if (strcmp(key, "grow") == 0) {
		cfg->grow = true;
		if (value && (parse_size(value, &v) || v == 0))
			goto bad;
		cfg->grow_size = (size_t)v;
		return 0;
	}
	if (!value)
		goto bad;
	if (strcmp(key, "pool-base") == 0) {
		if (parse_size(value, &v))
			goto bad;
		cfg->pool_base = v;
	} else if (strcmp(key, "pool-size") == 0) {
		if (parse_size(value, &v) || v == 0 || v > (1ull << 40))
			goto bad;
		cfg->pool_size = (size_t)v;
	} else if (strcmp(key, "areas") == 0) {
		if (parse_uint(value, 1u << 16, &cfg->nareas) || cfg->nareas == 0)
			goto bad;
	} else if (strcmp(key, "slot-shift") == 0) {
		if (parse_uint(value, 30, &cfg->slot_shift))
			goto bad;
	} else if (strcmp(key, "segment-slots") == 0) {
		if (parse_uint(value, 1u << 20, &cfg->segment_slots))
			goto bad;
	} else if (strcmp(key, "page-size") == 0) {
		if (parse_size(value, &v) || v == 0 || v > (1ull << 30))
			goto bad;
		cfg->page_size = (size_t)v;
	} else if (strcmp(key, "lock") == 0) {
		unsigned i;

		for (i = 0; i < sizeof(lock_names) / sizeof(lock_names[0]); i++)
			if (strcmp(value, lock_names[i]) == 0)
				break;
		if (i == sizeof(lock_names) / sizeof(lock_names[0]))
			goto bad;
		cfg->lock = i == 0   ? IOTLB_LOCK_DEFAULT
			    : i == 1 ? IOTLB_LOCK_MUTEX
			    : i == 2 ? IOTLB_LOCK_SPIN
			    : i == 3 ? IOTLB_LOCK_TICKET
			    : i == 4 ? IOTLB_LOCK_MCS
			    : i == 5 ? IOTLB_LOCK_TTAS
				     : IOTLB_LOCK_NONE;
	} else if (strcmp(key, "private") == 0 || strcmp(key, "min-align") == 0 ||
		   strcmp(key, "alloc-align") == 0 || strcmp(key, "seg-boundary") == 0) {
		if (dev_value(value, dev, sizeof(dev), &dv))
			goto bad;
		rule = rp_config_rule(cfg, dev, true);
		if (!rule)
			goto bad;
		if (key[0] == 'p') {
			const char *colon = strchr(dv, ':');
			char num[32];
			size_t n = colon ? (size_t)(colon - dv) : strlen(dv);

			if (n >= sizeof(num))
				goto bad;
			memcpy(num, dv, n);
			num[n] = '\0';
			if (parse_size(num, &v) || v == 0)
				goto bad;
			rule->private_size = (size_t)v;
			rule->nqueues = 0;
			if (colon &&
			    (parse_uint(colon + 1, 1u << 16, &rule->nqueues) || rule->nqueues == 0))
				goto bad;
		} else {
			if (parse_size(dv, &v))
				goto bad;
			if (key[0] == 'm')
				rule->min_align_mask = v;
			else if (key[0] == 'a')
				rule->alloc_align_mask = v;
			else
				rule->seg_boundary_mask = v;
		}
	} else {
		snprintf(err, errlen, "unknown option '%s'", key);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad value for %s: '%s'", key, value ? value : "(none)");
	return -1;
}

int rp_compare_config(const struct rp_config *base, const char *spec, struct rp_config *cfg,
		      char *err, size_t errlen)
{
	char buf[512];
	char *save = NULL;

	*cfg = *base;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "--compare spec too long");
		return -1;
	}
	strcpy(buf, spec);
	snprintf(cfg->label, sizeof(cfg->label), "%.63s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq = '\0';
		if (rp_option_apply(cfg, tok, eq ? eq + 1 : NULL, err, errlen))
			return -1;
	}
	return 0;
}

enum {
	O_POOL_BASE = 256,
	O_POOL_SIZE,
	O_AREAS,
	O_SLOT_SHIFT,
	O_SEGMENT_SLOTS,
	O_PAGE_SIZE,
	O_LOCK,
	O_GROW,
	O_PRIVATE,
	O_MIN_ALIGN,
	O_ALLOC_ALIGN,
	O_SEG_BOUNDARY,
	O_CHECK,
	O_JSON,
	O_PLOT,
	O_COMPARE,
	O_STRICT,
	O_FAIL_ON_DIFF,
	O_QUIET,
	O_EMIT,
	O_SEED,
	O_EVENTS,
	O_TRACE_CMD,
	O_HELP,
	O_REPLAY_UNBOUNCED,
};

static const struct option long_opts[] = {
	{"pool-base", required_argument, NULL, O_POOL_BASE},
	{"pool-size", required_argument, NULL, O_POOL_SIZE},
	{"areas", required_argument, NULL, O_AREAS},
	{"slot-shift", required_argument, NULL, O_SLOT_SHIFT},
	{"segment-slots", required_argument, NULL, O_SEGMENT_SLOTS},
	{"page-size", required_argument, NULL, O_PAGE_SIZE},
	{"lock", required_argument, NULL, O_LOCK},
	{"grow", optional_argument, NULL, O_GROW},
	{"private", required_argument, NULL, O_PRIVATE},
	{"min-align", required_argument, NULL, O_MIN_ALIGN},
	{"alloc-align", required_argument, NULL, O_ALLOC_ALIGN},
	{"seg-boundary", required_argument, NULL, O_SEG_BOUNDARY},
	{"check", no_argument, NULL, O_CHECK},
	{"json", required_argument, NULL, O_JSON},
	{"plot", required_argument, NULL, O_PLOT},
	{"compare", required_argument, NULL, O_COMPARE},
	{"strict", no_argument, NULL, O_STRICT},
	{"fail-on-diff", no_argument, NULL, O_FAIL_ON_DIFF},
	{"quiet", no_argument, NULL, O_QUIET},
	{"emit", no_argument, NULL, O_EMIT},
	{"seed", required_argument, NULL, O_SEED},
	{"events", required_argument, NULL, O_EVENTS},
	{"trace-cmd", no_argument, NULL, O_TRACE_CMD},
	{"help", no_argument, NULL, O_HELP},
	{"replay-unbounced", no_argument, NULL, O_REPLAY_UNBOUNCED},
	{NULL, 0, NULL, 0},
};

int rp_options_parse(struct rp_options *o, int argc, char **argv)
{
	char err[160];
	int c;

	memset(o, 0, sizeof(*o));
	rp_config_defaults(&o->base);
	o->seed = 1;
	o->events = 20000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
		unsigned long long v;

		if (c >= O_POOL_BASE && c <= O_SEG_BOUNDARY) {
			if (rp_option_apply(&o->base, long_opts[c - O_POOL_BASE].name, optarg, err,
					    sizeof(err))) {
				fprintf(stderr, "iotlb-replay: %s\n", err);
				return -1;
			}
			if (c == O_AREAS)
				o->areas_given = true;
			continue;
		}
		switch (c) {
		case O_CHECK:
			o->check = true;
			break;
		case O_JSON:
			o->json = optarg;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_COMPARE:
			if (o->ncompare == RP_MAX_CONFIGS) {
				fprintf(stderr, "iotlb-replay: at most %d --compare\n",
					RP_MAX_CONFIGS);
				return -1;
			}
			o->compare[o->ncompare++] = optarg;
			break;
		case O_STRICT:
			o->strict = true;
			break;
		case O_FAIL_ON_DIFF:
			o->fail_on_diff = true;
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case O_EMIT:
			o->emit = true;
			break;
		case O_SEED:
			if (parse_size(optarg, &v))
				goto bad;
			o->seed = v;
			break;
		case O_EVENTS:
			if (parse_size(optarg, &v) || v == 0 || v > 100000000)
				goto bad;
			o->events = (unsigned long)v;
			break;
		case O_TRACE_CMD:
			o->trace_cmd_format = true;
			break;
		case O_REPLAY_UNBOUNCED:
			o->base.replay_unbounced = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
		case O_HELP:
			rp_usage();
			return 1;
		default:
			fprintf(stderr, "iotlb-replay: see --help\n");
			return -1;
		}
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "iotlb-replay: one trace at a time\n");
		return -1;
	}
	if (!o->input)
		o->input = "-";
	return 0;
bad:
	fprintf(stderr, "iotlb-replay: bad value '%s'\n", optarg);
	return -1;
}
