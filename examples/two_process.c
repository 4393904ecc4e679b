/* SPDX-License-Identifier: MIT */
/*
 * two_process: the confidential-computing model. The bounce region is a memfd
 * shared with a separate "device" process that can reach nothing else; the
 * guest (this process) bounces every buffer through it with libiotlb.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iotlb/iotlb.h>

#define REGION_SIZE (2u << 20)   /* the only memory the device may touch */
#define REGION_DMA 0x100000000ull /* where the device sees it (its "IOVA") */

/*
 * One request of the guest's driver to the device, like a descriptor on a
 * virtqueue: which bounce bytes to work on and in which direction.
 */
struct request {
	uint32_t dir; /* enum iotlb_dir; IOTLB_DIR_NONE asks the device to stop */
	uint32_t seed;
	uint64_t dma;
	uint64_t len;
};

struct reply {
	int32_t status;    /* 0, or -EFAULT for a request outside the region */
	uint32_t reserved;
	uint64_t checksum; /* of the bytes the device read (TO_DEVICE) */
};

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* What the device writes for FROM_DEVICE: a pattern the guest can predict. */
static unsigned char produced(uint32_t seed, size_t i)
{
	return (unsigned char)(seed * 31u + i * 7u);
}

/* What the device makes of BIDIRECTIONAL data: an in-place transform. */
static unsigned char transformed(unsigned char c, uint32_t seed)
{
	return (unsigned char)(c ^ (unsigned char)seed);
}

/* Full-size transfers over a stream socket: a short read is not an error. */
static bool xfer(int fd, void *buf, size_t len, bool writing)
{
	char *p = buf;

	while (len) {
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * The device process. It maps the memfd itself (at an address of its own
 * choosing) and knows only the region's device address: every request is
 * translated to an offset and bounds-checked, as real hardware behind an
 * IOMMU would be. It never sees the guest's own buffers.
 */
static int device_main(int memfd, int sock)
{
	unsigned char *region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
				     memfd, 0);
	struct request rq;
	unsigned served = 0;

	close(memfd); /* the mapping keeps the memory; the fd is not needed */
	if (region == MAP_FAILED) {
		perror("device: mmap");
		return 1;
	}
	while (xfer(sock, &rq, sizeof(rq), false)) {
		struct reply rp = { 0 };
		unsigned char *p;

		if (rq.dir == IOTLB_DIR_NONE) {
			printf("device: stop after %u requests\n", served);
			fflush(stdout); /* the child leaves with _exit, which does not flush */
			munmap(region, REGION_SIZE);
			return 0;
		}
		if (rq.dma < REGION_DMA || rq.len > REGION_SIZE ||
		    rq.dma - REGION_DMA > REGION_SIZE - rq.len) {
			rp.status = -EFAULT; /* outside the shared region: refuse */
			xfer(sock, &rp, sizeof(rp), true);
			continue;
		}
		p = region + (rq.dma - REGION_DMA);
		switch (rq.dir) {
		case IOTLB_TO_DEVICE: /* e.g. a disk write: consume the data */
			rp.checksum = fnv1a(p, rq.len);
			break;
		case IOTLB_FROM_DEVICE: /* e.g. a network receive: produce data */
			for (size_t i = 0; i < rq.len; i++)
				p[i] = produced(rq.seed, i);
			break;
		default: /* BIDIRECTIONAL: read, transform, write back */
			rp.checksum = fnv1a(p, rq.len);
			for (size_t i = 0; i < rq.len; i++)
				p[i] = transformed(p[i], rq.seed);
			break;
		}
		served++;
		if (!xfer(sock, &rp, sizeof(rp), true))
			break;
	}
	fprintf(stderr, "device: the guest went away without saying stop\n");
	return 1;
}

static const char *dir_name(enum iotlb_dir dir)
{
	static const char *const names[] = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" };

	return (unsigned)dir < 3 ? names[dir] : "NONE";
}

/*
 * One I/O of the guest: map the buffer, hand the device its bounce address,
 * wait for the reply, unmap (which copies the device's bytes back), check.
 */
static bool guest_io(struct iotlb_dev *dev, int sock, unsigned char *buf, size_t len,
		     enum iotlb_dir dir, uint32_t seed)
{
	struct request rq = { .dir = (uint32_t)dir, .seed = seed, .len = len };
	uint64_t before = fnv1a(buf, len);
	unsigned char *expect = malloc(len);
	struct reply rp;
	bool good = true;
	int err;

	if (!expect)
		return false;
	/* Predict what the buffer must hold once the I/O is done. */
	for (size_t i = 0; i < len; i++) {
		if (dir == IOTLB_TO_DEVICE)
			expect[i] = buf[i];
		else if (dir == IOTLB_FROM_DEVICE)
			expect[i] = produced(seed, i);
		else
			expect[i] = transformed(buf[i], seed);
	}

	err = iotlb_map(dev, IOTLB_ANY_QUEUE, buf, len, dir, 0, &rq.dma);
	if (err) {
		fprintf(stderr, "guest: map %zu bytes: %s\n", len, iotlb_strerror(err));
		free(expect);
		return false;
	}
	if (!xfer(sock, &rq, sizeof(rq), true) || !xfer(sock, &rp, sizeof(rp), false)) {
		fprintf(stderr, "guest: the device does not answer\n");
		good = false;
	} else if (rp.status) {
		fprintf(stderr, "guest: device refused dma 0x%" PRIx64 ": %d\n", rq.dma, rp.status);
		good = false;
	}
	err = iotlb_unmap(dev, rq.dma, len, dir, 0);
	if (err) {
		fprintf(stderr, "guest: unmap: %s\n", iotlb_strerror(err));
		good = false;
	}
	if (good && dir != IOTLB_FROM_DEVICE && rp.checksum != before) {
		fprintf(stderr, "guest: device read other bytes than the buffer held\n");
		good = false;
	}
	if (good && memcmp(buf, expect, len) != 0) {
		fprintf(stderr, "guest: buffer does not hold what the device produced\n");
		good = false;
	}
	printf("guest:  %-13s %6zu bytes at %p via dma 0x%" PRIx64 ": %s\n", dir_name(dir), len,
	       (void *)buf, rq.dma, good ? "ok" : "FAILED");
	free(expect);
	return good;
}

static int guest_main(int memfd, int sock)
{
	static const size_t sizes[] = { 1, 100, 2048, 3000, 4096, 10000, 65536, 200000 };
	static const enum iotlb_dir dirs[] = { IOTLB_TO_DEVICE, IOTLB_FROM_DEVICE,
					       IOTLB_BIDIRECTIONAL };
	struct iotlb_mem_config mcfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev = NULL;
	struct request stop = { .dir = IOTLB_DIR_NONE };
	unsigned char *region, *buf = NULL;
	int err, failed = 0;

	region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (region == MAP_FAILED) {
		perror("guest: mmap");
		return 1;
	}
	mcfg.vaddr = region;
	mcfg.dma_addr = REGION_DMA;
	mcfg.size = REGION_SIZE;
	/* Scrub released slots: the host must not read what a buffer held
	 * once the guest is done with it. */
	mcfg.flags = IOTLB_MEM_SCRUB;
	err = iotlb_mem_create(&mcfg, &mem);
	if (err) {
		fprintf(stderr, "guest: iotlb_mem_create: %s\n", iotlb_strerror(err));
		failed = 1;
		goto out_region;
	}
	err = iotlb_dev_create(mem, &dcfg, &dev);
	if (err) {
		fprintf(stderr, "guest: iotlb_dev_create: %s\n", iotlb_strerror(err));
		failed = 1;
		goto out_mem;
	}

	/* Private guest memory: the device process has no mapping of it. */
	buf = malloc(200000 + 64);
	if (!buf) {
		failed = 1;
		goto out_dev;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
			/* Odd start addresses too: the bounce keeps no alignment of its own. */
			unsigned char *b = buf + (i * 13 + d) % 64;

			for (size_t k = 0; k < sizes[i]; k++)
				b[k] = (unsigned char)(k * 3 + i);
			if (!guest_io(dev, sock, b, sizes[i], dirs[d], (uint32_t)(i * 3 + d + 1)))
				failed = 1;
		}
	}

	/* With IOTLB_MEM_SCRUB, nothing the guest bounced is left for the host. */
	for (size_t i = 0; i < REGION_SIZE; i++) {
		if (region[i]) {
			fprintf(stderr, "guest: byte %zu of the shared region not scrubbed\n", i);
			failed = 1;
			break;
		}
	}

	err = iotlb_mem_stats(mem, &st);
	if (err || st.used != 0 || st.maps != st.unmaps) {
		fprintf(stderr, "guest: stats after the run: %s, used %" PRIu64 "\n",
			iotlb_strerror(err), st.used);
		failed = 1;
	}
	printf("guest:  %" PRIu64 " maps, %" PRIu64 " bytes to the device, %" PRIu64
	       " back\n", st.maps, st.bounced_to_device, st.bounced_to_cpu);
	free(buf);
out_dev:
	if ((err = iotlb_dev_destroy(dev)) != 0) {
		fprintf(stderr, "guest: iotlb_dev_destroy: %s\n", iotlb_strerror(err));
		failed = 1;
	}
out_mem:
	if ((err = iotlb_mem_destroy(mem)) != 0) {
		fprintf(stderr, "guest: iotlb_mem_destroy: %s\n", iotlb_strerror(err));
		failed = 1;
	}
out_region:
	/* Tell the device to stop even after a failure, so that it exits. */
	if (!xfer(sock, &stop, sizeof(stop), true))
		failed = 1;
	munmap(region, REGION_SIZE);
	return failed;
}

/* The example takes no options: --help says what it does, anything else is
 * refused with a pointer to --help. Returns the exit status. */
static int options(char **argv)
{
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: two_process [--help]\n"
		       "The confidential-computing model: the bounce region is a memfd shared\n"
		       "with a separate \"device\" process that can reach nothing else; this\n"
		       "process bounces every buffer through it with libiotlb. Takes no options;\n"
		       "exits 0 when both processes saw what they expected, 1 otherwise.\n");
		return 0;
	}
	fprintf(stderr,
		"two_process: unexpected argument '%s'\n"
		"Try 'two_process --help' for more information.\n",
		argv[1]);
	return 2;
}

int main(int argc, char **argv)
{
	int sv[2], memfd, status, guest_failed;
	pid_t pid;

	if (argc > 1)
		return options(argv);

	/* Line by line, so that the two processes' lines interleave in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * Create the shared region before forking: both sides inherit the fd.
	 * Fork before the guest allocates anything, so the device process
	 * starts without a copy of any guest buffer.
	 */
	memfd = memfd_create("iotlb-bounce", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, REGION_SIZE) != 0) {
		perror("memfd");
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		perror("socketpair");
		return 1;
	}
	/* Flush before forking, or buffered output would be printed twice. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(device_main(memfd, sv[1]) ? 1 : 0);
	}
	close(sv[1]);

	guest_failed = guest_main(memfd, sv[0]);
	close(sv[0]);
	close(memfd);
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "two_process: device process failed (status 0x%x)\n", status);
		return 1;
	}
	if (guest_failed) {
		fprintf(stderr, "two_process: guest saw unexpected results\n");
		return 1;
	}
	printf("two_process: all transfers verified, device exited cleanly\n");
	return 0;
}
