/* SPDX-License-Identifier: MIT */
/*
 * multiqueue: a device with a private bounce pool and one child pool per
 * hardware queue. One CPU thread per queue maps on its own child; a "device"
 * thread completes the requests through their DMA addresses only.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotlb/iotlb.h>

#define REGION_SIZE (4u << 20)	 /* two IO TLB blocks of 2 MiB */
#define REGION_DMA 0x80000000ull /* where the device sees the region */
#define PAGE 4096u
#define SLOT 2048u

#define NQUEUES 4u
#define PRIVATE_SIZE (2u << 20) /* one block: 1024 slots, 256 per child */
#define REQUESTS 200u		/* per queue */
#define DEPTH 4u		/* requests in flight per queue */
#define MAX_LEN 16384u
#define RING 16u /* >= NQUEUES * DEPTH: a submit never waits */

/* A request as the device sees it: an address in its bounce memory. */
struct request {
	unsigned queue;
	bool write; /* CPU -> device (TO_DEVICE); else device -> CPU */
	uint64_t dma;
	size_t len;
	uint32_t seed;	   /* what a read must fill in */
	uint32_t checksum; /* what the device saw, for a write */
	bool done;
};

/* The submission ring, shared by every queue; completions per queue. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t completed[NQUEUES];
	struct request *slot[RING];
	unsigned head, tail;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER};

static struct iotlb_dev *dev;
static int failures; /* guarded by ring.lock */

/* Reports an unexpected result; any one makes the program exit non-zero. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&ring.lock);
	failures++;
	pthread_mutex_unlock(&ring.lock);
	fprintf(stderr, "multiqueue: %s\n", msg);
}

static void log_to_stderr(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "[libiotlb %d] %s\n", level, msg);
}

static void print_line(void *ctx, const char *line)
{
	fprintf((FILE *)ctx, "  %s\n", line);
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7u + (i >> 9));
}

/* ------------------------------------------------------------- device */

static struct request *ring_pop(void)
{
	struct request *r;

	pthread_mutex_lock(&ring.lock);
	while (ring.head == ring.tail)
		pthread_cond_wait(&ring.not_empty, &ring.lock);
	r = ring.slot[ring.head++ % RING];
	pthread_mutex_unlock(&ring.lock);
	return r;
}

/*
 * The device: it knows only DMA addresses. iotlb_dma_to_virt stands in for
 * the bus; a real device would read and write the bounce memory itself.
 */
static void *device_main(void *arg)
{
	struct request *r;

	(void)arg;
	while ((r = ring_pop()) != NULL) {
		unsigned char *mem = iotlb_dma_to_virt(dev, r->dma);

		if (!mem)
			fail("device: dma 0x%" PRIx64 " of queue %u is not bounce memory", r->dma,
			     r->queue);
		else if (r->write)
			r->checksum = checksum(mem, r->len);
		else
			fill(mem, r->len, r->seed);
		pthread_mutex_lock(&ring.lock);
		r->done = true;
		pthread_cond_signal(&ring.completed[r->queue]);
		pthread_mutex_unlock(&ring.lock);
	}
	return NULL;
}

/* ---------------------------------------------------------- submitters */

struct queue {
	pthread_t thread;
	unsigned q;
	uint64_t child_lo, child_hi; /* device addresses of this queue's child */
	unsigned char *buf[DEPTH];
	struct request req[DEPTH];
	unsigned long bytes_written, bytes_read;
};

static void ring_push(struct request *r)
{
	pthread_mutex_lock(&ring.lock);
	r->done = false;
	ring.slot[ring.tail++ % RING] = r;
	pthread_cond_signal(&ring.not_empty);
	pthread_mutex_unlock(&ring.lock);
}

static void wait_done(struct queue *qu, struct request *r)
{
	pthread_mutex_lock(&ring.lock);
	while (!r->done)
		pthread_cond_wait(&ring.completed[qu->q], &ring.lock);
	pthread_mutex_unlock(&ring.lock);
}

/* Maps request i of a batch on this queue and hands it to the device. */
static bool submit(struct queue *qu, unsigned n, unsigned i)
{
	struct request *r = &qu->req[i];
	enum iotlb_dir dir;
	int err;

	r->queue = qu->q;
	r->write = (n + i) % 2 == 0;
	r->len = 1 + (n * 977u + i * 131u + qu->q * 4099u) % MAX_LEN;
	r->seed = n * 31u + i + qu->q * 1000u;
	if (r->write) {
		fill(qu->buf[i], r->len, r->seed);
		dir = IOTLB_TO_DEVICE;
	} else {
		memset(qu->buf[i], 0, r->len);
		dir = IOTLB_FROM_DEVICE;
	}
	/* The queue number picks the child: no lock shared with other queues. */
	err = iotlb_map(dev, (int)qu->q, qu->buf[i], r->len, dir, 0, &r->dma);
	if (err) {
		fail("queue %u: map of %zu bytes failed: %s", qu->q, r->len, iotlb_strerror(err));
		return false;
	}
	if (r->dma < qu->child_lo || r->dma + r->len > qu->child_hi)
		fail("queue %u: mapped outside its child (dma 0x%" PRIx64 ")", qu->q, r->dma);
	ring_push(r);
	return true;
}

/* Unmaps a completed request and checks what came back. */
static void complete(struct queue *qu, unsigned i)
{
	struct request *r = &qu->req[i];
	enum iotlb_dir dir = r->write ? IOTLB_TO_DEVICE : IOTLB_FROM_DEVICE;
	int err = iotlb_unmap(dev, r->dma, r->len, dir, 0);
	unsigned char want[MAX_LEN];

	if (err) {
		fail("queue %u: unmap failed: %s", qu->q, iotlb_strerror(err));
		return;
	}
	if (r->write) {
		if (r->checksum != checksum(qu->buf[i], r->len))
			fail("queue %u: the device saw other bytes (write of %zu)", qu->q, r->len);
		qu->bytes_written += r->len;
	} else {
		fill(want, r->len, r->seed);
		if (memcmp(want, qu->buf[i], r->len) != 0)
			fail("queue %u: wrong bytes after unmap (read of %zu)", qu->q, r->len);
		qu->bytes_read += r->len;
	}
}

static void *queue_main(void *arg)
{
	struct queue *qu = arg;

	for (unsigned n = 0; n < REQUESTS; n += DEPTH) {
		unsigned sent = 0;

		while (sent < DEPTH && submit(qu, n, sent))
			sent++;
		for (unsigned i = 0; i < sent; i++) {
			wait_done(qu, &qu->req[i]);
			complete(qu, i);
		}
		if (sent < DEPTH)
			break;
	}
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void print_children(void)
{
	printf("\nchild pools of the device (one per queue):\n");
	printf("  queue  first slot  slots   used  cursor  lock acquisitions  contended\n");
	for (unsigned q = 0; q < NQUEUES; q++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		if (iotlb_dev_area_stats(dev, q, &as)) {
			fail("no statistics for child %u", q);
			continue;
		}
		printf("  %5u  %10" PRIu64 "  %5" PRIu64 "  %5" PRIu64 "  %6" PRIu64 "  %17" PRIu64
		       "  %9" PRIu64 "\n",
		       q, as.first_slot, as.nslots, as.used, as.cursor, as.acquisitions,
		       as.contended);
		if (as.used != 0)
			fail("child %u still has %" PRIu64 " slots in use", q, as.used);
	}
}

static int run(struct iotlb_mem *mem)
{
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats ds = IOTLB_STATS_INIT, ms = IOTLB_STATS_INIT;
	struct queue qu[NQUEUES];
	pthread_t device;
	unsigned long written = 0, read = 0;
	int err;

	/* A private pool of one block, split into one child per queue. */
	dcfg.private_size = PRIVATE_SIZE;
	dcfg.nqueues = NQUEUES;
	err = iotlb_dev_create(mem, &dcfg, &dev);
	if (err) {
		fail("iotlb_dev_create: %s", iotlb_strerror(err));
		return 1;
	}
	iotlb_dev_stats(dev, &ds);
	printf("device: private pool of %" PRIu64 " slots in %" PRIu64 " child pools\n", ds.nslots,
	       ds.nqueues);

	memset(qu, 0, sizeof(qu));
	for (unsigned q = 0; q < NQUEUES; q++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		qu[q].q = q;
		/* Carving is first fit from the lowest block, so this first
		 * private pool starts at the region's first address. */
		iotlb_dev_area_stats(dev, q, &as);
		qu[q].child_lo = REGION_DMA + as.first_slot * SLOT;
		qu[q].child_hi = qu[q].child_lo + as.nslots * SLOT;
		for (unsigned i = 0; i < DEPTH; i++)
			qu[q].buf[i] = malloc(MAX_LEN);
	}
	for (unsigned q = 0; q < NQUEUES; q++)
		for (unsigned i = 0; i < DEPTH; i++)
			if (!qu[q].buf[i]) {
				fail("out of memory");
				goto out;
			}

	pthread_create(&device, NULL, device_main, NULL);
	for (unsigned q = 0; q < NQUEUES; q++)
		pthread_create(&qu[q].thread, NULL, queue_main, &qu[q]);
	for (unsigned q = 0; q < NQUEUES; q++) {
		pthread_join(qu[q].thread, NULL);
		written += qu[q].bytes_written;
		read += qu[q].bytes_read;
	}
	pthread_mutex_lock(&ring.lock); /* NULL tells the device to stop */
	ring.slot[ring.tail++ % RING] = NULL;
	pthread_cond_signal(&ring.not_empty);
	pthread_mutex_unlock(&ring.lock);
	pthread_join(device, NULL);

	printf("cpu:    %u queues x %u requests: %lu bytes written, %lu bytes read, "
	       "all verified\n",
	       NQUEUES, REQUESTS, written, read);

	print_children();
	printf("\ndevice statistics (its private pool only):\n");
	iotlb_stats_print(NULL, dev, print_line, stdout);
	iotlb_dev_stats(dev, &ds);
	iotlb_mem_stats(mem, &ms);
	printf("\nshared pool: %" PRIu64 " of %" PRIu64 " slots used (the carved block)\n", ms.used,
	       ms.nslots);
	if (ds.maps != NQUEUES * REQUESTS || ds.unmaps != ds.maps || ds.used != 0)
		fail("the device counted %" PRIu64 " maps, %" PRIu64 " unmaps", ds.maps, ds.unmaps);
	if (ds.area_fallbacks != 0)
		fail("%" PRIu64 " requests left their queue's child", ds.area_fallbacks);
	if (ms.used != PRIVATE_SIZE / SLOT || ms.maps != 0)
		fail("shared pool: %" PRIu64 " slots used, %" PRIu64 " maps", ms.used, ms.maps);
out:
	for (unsigned q = 0; q < NQUEUES; q++)
		for (unsigned i = 0; i < DEPTH; i++)
			free(qu[q].buf[i]);
	err = iotlb_dev_destroy(dev);
	if (err)
		fail("iotlb_dev_destroy: %s", iotlb_strerror(err));
	return failures ? 1 : 0;
}

/* The example takes no options: --help says what it does, anything else is
 * refused with a pointer to --help. Returns the exit status. */
static int options(char **argv)
{
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: multiqueue [--help]\n"
		       "A device with a private bounce pool and one child pool per hardware\n"
		       "queue: one CPU thread per queue maps on its own child while a \"device\"\n"
		       "thread completes the requests through their DMA addresses only. Takes no\n"
		       "options; exits 0 when every request completed as expected, 1 otherwise.\n");
		return 0;
	}
	fprintf(stderr,
		"multiqueue: unexpected argument '%s'\n"
		"Try 'multiqueue --help' for more information.\n",
		argv[1]);
	return 2;
}

int main(int argc, char **argv)
{
	struct iotlb_mem_config mcfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_mem *mem = NULL;
	unsigned char *region;
	int err;

	if (argc > 1)
		return options(argv);

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned q = 0; q < NQUEUES; q++)
		pthread_cond_init(&ring.completed[q], NULL);
	region = aligned_alloc(PAGE, REGION_SIZE);
	if (!region) {
		fprintf(stderr, "multiqueue: out of memory\n");
		return 1;
	}
	mcfg.vaddr = region;
	mcfg.dma_addr = REGION_DMA;
	mcfg.size = REGION_SIZE;
	mcfg.log = log_to_stderr;
	err = iotlb_mem_create(&mcfg, &mem);
	if (err) {
		fprintf(stderr, "multiqueue: iotlb_mem_create: %s\n", iotlb_strerror(err));
		free(region);
		return 1;
	}
	run(mem);
	err = iotlb_mem_destroy(mem);
	if (err)
		fail("iotlb_mem_destroy: %s", iotlb_strerror(err));
	free(region);
	if (failures) {
		fprintf(stderr, "multiqueue: %d unexpected result(s)\n", failures);
		return 1;
	}
	printf("\nmultiqueue: all requests completed and verified\n");
	return 0;
}
