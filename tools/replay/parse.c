/* SPDX-License-Identifier: MIT */
/*
 * Parser for the text the kernel's dma tracepoints print. A line is
 *   <task>-<pid> [<cpu>] [<flags>] <secs>.<frac>: <event>: <payload>
 * (tracefs prints the flags column, trace-cmd report may not). The payload
 * is the event's TP_printk text: a device name, then key=value fields.
 * Works on a length-bounded buffer: input may hold NUL bytes or be binary.
 */
#include "trace.h"

#include <string.h>

struct cur {
	const char *p, *end;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_spaces(struct cur *c)
{
	while (c->p < c->end && is_space(*c->p))
		c->p++;
}

/* The next whitespace-delimited token; false at the end of the line. */
static bool next_token(struct cur *c, const char **tok, size_t *len)
{
	skip_spaces(c);
	if (c->p >= c->end)
		return false;
	*tok = c->p;
	while (c->p < c->end && !is_space(*c->p))
		c->p++;
	*len = (size_t)(c->p - *tok);
	return true;
}

/* Unsigned number in `base` (16 accepts an optional 0x); whole token only. */
static bool parse_u64(const char *s, size_t len, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (base == 16 && len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		i = 2;
	if (i >= len)
		return false;
	for (; i < len; i++) {
		unsigned d;
		char ch = s[i];

		if (is_digit(ch))
			d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false; /* overflow */
		v = v * base + d;
	}
	*out = v;
	return true;
}

/* "<secs>[.<frac>]:" -> nanoseconds; false if the token is not a timestamp. */
static bool parse_timestamp(const char *s, size_t len, uint64_t *ns)
{
	uint64_t secs = 0, frac = 0;
	size_t i = 0, digits = 0;

	if (len < 2 || s[len - 1] != ':')
		return false;
	len--;
	while (i < len && is_digit(s[i])) {
		if (secs > UINT64_MAX / 10 - 10)
			return false;
		secs = secs * 10 + (uint64_t)(s[i++] - '0');
	}
	if (i == 0)
		return false;
	if (i < len) {
		if (s[i++] != '.')
			return false;
		for (; i < len; i++) {
			if (!is_digit(s[i]))
				return false;
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				digits++;
			}
		}
	}
	for (; digits < 9; digits++)
		frac *= 10;
	if (secs > (UINT64_MAX - frac) / 1000000000u)
		return false;
	*ns = secs * 1000000000u + frac;
	return true;
}

/*
 * Finds the CPU column "[<digits>]" and the timestamp after it (at most one
 * flags column between). A task name may itself hold "[1]", so a candidate
 * counts only when a timestamp follows it.
 */
static bool find_cpu_and_time(struct cur *c, int *cpu, uint64_t *ts)
{
	for (const char *p = c->p; p < c->end; p++) {
		const char *q = p + 1;
		uint64_t v = 0;
		struct cur after;

		if (*p != '[')
			continue;
		while (q < c->end && is_digit(*q) && v < 1000000)
			v = v * 10 + (uint64_t)(*q++ - '0');
		if (q == p + 1 || q >= c->end || *q != ']' || v >= 1000000)
			continue;
		after = (struct cur){q + 1, c->end};
		for (int i = 0; i < 2; i++) {
			const char *tok;
			size_t tlen;

			if (!next_token(&after, &tok, &tlen))
				break;
			if (parse_timestamp(tok, tlen, ts)) {
				*cpu = (int)v;
				*c = after;
				return true;
			}
		}
	}
	return false;
}

struct known {
	const char *name;
	enum rp_kind kind;
};

static const struct known known_events[] = {
	{"dma_map_page", RP_MAP},
	{"dma_map_resource", RP_MAP},
	{"dma_map_phys", RP_MAP},
	{"dma_unmap_page", RP_UNMAP},
	{"dma_unmap_resource", RP_UNMAP},
	{"dma_unmap_phys", RP_UNMAP},
	{"dma_map_sg", RP_MAP_SG},
	{"dma_unmap_sg", RP_UNMAP_SG},
	{"dma_sync_single_for_cpu", RP_SYNC_CPU},
	{"dma_sync_single_for_device", RP_SYNC_DEV},
	{"dma_sync_sg_for_cpu", RP_SYNC_SG_CPU},
	{"dma_sync_sg_for_device", RP_SYNC_SG_DEV},
	{"dma_alloc", RP_ALLOC},
	{"dma_free", RP_FREE},
	/* Coherent page and sg-table allocations come from the page allocator
	 * (or a restricted pool), never from the swiotlb slots replayed here. */
	{"dma_alloc_pages", RP_IGNORED},
	{"dma_free_pages", RP_IGNORED},
	{"dma_alloc_sgt", RP_IGNORED},
	{"dma_alloc_sgt_err", RP_IGNORED},
	{"dma_free_sgt", RP_IGNORED},
	{"dma_map_sg_err", RP_IGNORED},
};

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

static bool parse_dir(const char *s, size_t len, unsigned *dir)
{
	static const char *const names[] = {"BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE", "NONE"};

	for (unsigned i = 0; i < 4; i++) {
		if (tok_is(s, len, names[i])) {
			*dir = i;
			return true;
		}
	}
	return false;
}

/* "{0x1,0x2}" (the kernel's __print_array) -> out[]; "{}" is an empty list. */
static bool parse_array(const char *s, size_t len, uint64_t *out, unsigned *n)
{
	size_t i = 1;
	unsigned count = 0;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return false;
	len--; /* the closing brace */
	while (i < len) {
		size_t start = i;

		while (i < len && s[i] != ',')
			i++;
		if (count >= RP_SG_MAX || !parse_u64(s + start, i - start, 16, &out[count]))
			return false;
		count++;
		if (i < len)
			i++; /* the comma */
		if (i == len && s[i - 1] == ',')
			return false; /* trailing comma */
	}
	*n = count;
	return true;
}

/* Bits of the payload seen, to tell a complete event from a truncated one. */
enum {
	F_DIR = 1u << 0,
	F_DMA = 1u << 1,
	F_SIZE = 1u << 2,
	F_PHYS = 1u << 3,
	F_DMAS = 1u << 4,
	F_SIZES = 1u << 5,
	F_PHYSES = 1u << 6,
};

static unsigned required_fields(enum rp_kind kind)
{
	switch (kind) {
	case RP_MAP:
		return F_DIR | F_DMA | F_SIZE | F_PHYS;
	case RP_UNMAP:
	case RP_SYNC_CPU:
	case RP_SYNC_DEV:
		return F_DIR | F_DMA | F_SIZE;
	case RP_MAP_SG:
		return F_DIR | F_DMAS | F_SIZES | F_PHYSES;
	case RP_UNMAP_SG:
		return F_DIR | F_PHYSES;
	case RP_SYNC_SG_CPU:
	case RP_SYNC_SG_DEV:
		return F_DIR | F_DMAS | F_SIZES;
	case RP_ALLOC:
	case RP_FREE:
		return F_DMA | F_SIZE;
	default:
		return 0;
	}
}

static enum rp_line parse_payload(struct cur *c, struct rp_event *ev, const char **why)
{
	const char *tok;
	size_t len;
	unsigned seen = 0, nsizes = 0, nphys = 0, ndmas = 0;

	if (!next_token(c, &tok, &len) || memchr(tok, '=', len)) {
		*why = "no device name";
		return RP_LINE_MALFORMED;
	}
	if (len >= sizeof(ev->dev)) {
		*why = "device name too long";
		return RP_LINE_MALFORMED;
	}
	memcpy(ev->dev, tok, len);
	ev->dev[len] = '\0';

	while (next_token(c, &tok, &len)) {
		const char *eq = memchr(tok, '=', len);
		const char *val;
		size_t klen, vlen;
		bool ok = true;

		if (tok_is(tok, len, "[TRUNCATED]")) {
			ev->truncated = true;
			continue;
		}
		if (!eq) {
			*why = "a field without '='";
			return RP_LINE_MALFORMED;
		}
		klen = (size_t)(eq - tok);
		val = eq + 1;
		vlen = len - klen - 1;
		if (tok_is(tok, klen, "dir")) {
			ok = parse_dir(val, vlen, &ev->dir);
			seen |= F_DIR;
		} else if (tok_is(tok, klen, "dma_addr")) {
			ok = parse_u64(val, vlen, 16, &ev->dma);
			seen |= F_DMA;
		} else if (tok_is(tok, klen, "phys_addr")) {
			ok = parse_u64(val, vlen, 16, &ev->phys);
			seen |= F_PHYS;
		} else if (tok_is(tok, klen, "size")) {
			ok = parse_u64(val, vlen, 10, &ev->size);
			seen |= F_SIZE;
		} else if (tok_is(tok, klen, "dma_addrs")) {
			ok = parse_array(val, vlen, ev->sg_dma, &ndmas);
			seen |= F_DMAS;
		} else if (tok_is(tok, klen, "sizes")) {
			ok = parse_array(val, vlen, ev->sg_size, &nsizes);
			seen |= F_SIZES;
		} else if (tok_is(tok, klen, "phys_addrs") || tok_is(tok, klen, "addrs")) {
			ok = parse_array(val, vlen, ev->sg_phys, &nphys);
			seen |= F_PHYSES;
		} else if (tok_is(tok, klen, "attrs")) {
			/* A '|'-separated flag list; only SKIP_CPU_SYNC changes the replay. */
			for (size_t i = 0; i + 13 <= vlen; i++)
				if (memcmp(val + i, "SKIP_CPU_SYNC", 13) == 0)
					ev->skip_cpu_sync = true;
		}
		/* Other fields (virt_addr, flags, nents, ents, err) do not matter. */
		if (!ok) {
			*why = "a number, direction or list that does not parse";
			return RP_LINE_MALFORMED;
		}
	}
	if ((seen & required_fields(ev->kind)) != required_fields(ev->kind)) {
		*why = "missing fields (truncated line?)";
		return RP_LINE_MALFORMED;
	}
	switch (ev->kind) {
	case RP_MAP_SG:
		/* swiotlb maps each entry on its own, so the lists pair up; an
		 * IOMMU that merged entries would print fewer dma addresses. */
		if (ndmas != nsizes || ndmas != nphys) {
			*why = "sg lists of different lengths";
			return RP_LINE_MALFORMED;
		}
		ev->n = ndmas;
		break;
	case RP_SYNC_SG_CPU:
	case RP_SYNC_SG_DEV:
		if (ndmas != nsizes) {
			*why = "sg lists of different lengths";
			return RP_LINE_MALFORMED;
		}
		ev->n = ndmas;
		break;
	case RP_UNMAP_SG:
		ev->n = nphys;
		break;
	default:
		break;
	}
	return RP_LINE_EVENT;
}

enum rp_line rp_parse_line(const char *line, size_t len, struct rp_event *ev, const char **why)
{
	struct cur c = {line, line + len};
	const char *tok, *colon;
	size_t nlen;
	uint64_t ts = 0;
	int cpu = 0;

	*why = NULL;
	skip_spaces(&c);
	if (c.p >= c.end || *c.p == '#')
		return RP_LINE_BLANK;
	if (!find_cpu_and_time(&c, &cpu, &ts))
		return RP_LINE_UNRELATED;
	skip_spaces(&c);
	tok = c.p;
	colon = memchr(tok, ':', (size_t)(c.end - tok));
	if (!colon)
		return RP_LINE_UNRELATED;
	nlen = (size_t)(colon - tok);
	for (size_t i = 0; i < nlen; i++) {
		char ch = tok[i];

		if (!(ch == '_' || is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z')))
			return RP_LINE_UNRELATED;
	}
	if (nlen == 0)
		return RP_LINE_UNRELATED;
	/* dma_fence_* belong to another trace system (GPU fences). */
	if (nlen < 4 || memcmp(tok, "dma_", 4) != 0 ||
	    (nlen >= 10 && memcmp(tok, "dma_fence_", 10) == 0))
		return RP_LINE_OTHER;
	c.p = colon + 1;

	memset(ev, 0, offsetof(struct rp_event, sg_dma));
	for (size_t i = 0; i < sizeof(known_events) / sizeof(known_events[0]); i++) {
		if (tok_is(tok, nlen, known_events[i].name)) {
			ev->kind = known_events[i].kind;
			break;
		}
		if (i + 1 == sizeof(known_events) / sizeof(known_events[0])) {
			*why = "unknown dma event";
			return RP_LINE_UNKNOWN;
		}
	}
	if (nlen >= sizeof(ev->name))
		nlen = sizeof(ev->name) - 1;
	memcpy(ev->name, tok, nlen);
	ev->name[nlen] = '\0';
	ev->cpu = cpu;
	ev->ts_ns = ts;
	if (ev->kind == RP_IGNORED)
		return RP_LINE_EVENT;
	return parse_payload(&c, ev, why);
}

const char *rp_kind_name(enum rp_kind kind)
{
	static const char *const names[RP_NKINDS] = {
		"map",
		"unmap",
		"map_sg",
		"unmap_sg",
		"sync_for_cpu",
		"sync_for_device",
		"sync_sg_for_cpu",
		"sync_sg_for_device",
		"alloc",
		"free",
		"ignored",
	};

	return (unsigned)kind < RP_NKINDS ? names[kind] : "?";
}

const char *rp_dir_name(unsigned dir)
{
	static const char *const names[] = {"BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE", "NONE"};

	return dir < 4 ? names[dir] : "NONE";
}
