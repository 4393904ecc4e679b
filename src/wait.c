/* SPDX-License-Identifier: MIT */
/*
 * Waiting for room: blocking requests (IOTLB_ATTR_MAY_BLOCK) queue in FIFO
 * order per domain and only the oldest retries; releases wake it, and fire
 * the one-shot notify callbacks of devices whose map or alloc failed.
 */
#include <string.h>
#include <time.h>

#include "area_lock.h"
#include "internal.h"
#include "wait.h"

/* One blocking request, on its caller's stack for the length of the wait. */
struct iotlb__waiter {
	struct iotlb__waiter *next;
	pthread_cond_t cond; /* CLOCK_MONOTONIC, signalled under the queue lock */
	bool woken;	     /* set with the signal: room was freed or we became head */
};

/* Notify callbacks fired per trip out of the queue lock. */
#define FIRE_BATCH 8

void iotlb__waitq_init(struct iotlb__waitq *wq)
{
	/* The static initializer cannot fail, so neither can mem or dev creation here. */
	wq->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	wq->head = wq->tail = NULL;
}

void iotlb__waitq_destroy(struct iotlb__waitq *wq)
{
	pthread_mutex_destroy(&wq->lock);
}

static void active_add(struct iotlb__waitq *wq, int64_t v)
{
	IOTLB__ADD(&wq->active, (uint64_t)v);
}

/*
 * Lock and unlock every area of the domain once. Called after the caller
 * made `active` nonzero and before it searches: a release whose critical
 * section on an area came before ours is visible to the search that follows;
 * one that came after reads `active` after our store (the lock orders them)
 * and so takes the slow path and counts in `gen`. Either way no room freed
 * from now on goes unnoticed, whatever shortcuts the search itself takes.
 */
static void lock_barrier(struct iotlb__domain *d)
{
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];

	for (struct iotlb__pool *pool = __atomic_load_n(&d->pools, __ATOMIC_ACQUIRE); pool;
	     pool = __atomic_load_n(&pool->next, __ATOMIC_ACQUIRE)) {
		for (unsigned a = 0; a < pool->nareas; a++) {
			struct iotlb__area *area = iotlb__area_at(pool, a);

			iotlb__area_lock(pool, area, ctx);
			iotlb__area_unlock(pool, area, ctx);
		}
	}
}

/* One search as find_slots makes it: the domain's pools, then, for a growable
 * mem, a transient pool (so a waiter waits only while the provider fails). */
/* A search, the arguments find_slots (bounce.c) made it with. */
struct attempt {
	unsigned hint;
	const struct iotlb__search *s;
	const struct iotlb__req *req;
	struct iotlb__pool **pool_out;
	uint64_t *slot_out;
	bool *rcu; /* set when the slots are in a transient pool (RCU read lock held) */
};

/* One search as find_slots makes it: the domain's pools, then, for a growable
 * mem, a transient pool (so a waiter waits only while the provider fails). */
static int attempt(struct iotlb_dev *dev, const struct attempt *a)
{
	struct iotlb_mem *mem = dev->mem;
	bool settle = false;
	int err = iotlb__domain_find(dev->domain, a->hint, a->s, a->req, a->pool_out, a->slot_out,
				     &settle);

	if (!err && settle)
		iotlb__hiwater_settle(dev->domain);
	if (err && dev->domain == &mem->shared && (mem->cfg.flags & IOTLB_MEM_GROW)) {
		iotlb__grow_request(mem);
		iotlb__read_lock();
		err = iotlb__transient_take(mem, a->s, a->req, a->pool_out, a->slot_out);
		if (err)
			iotlb__read_unlock();
		else
			*a->rcu = true;
	}
	return err;
}

/*
 * A non-blocking failure of a device that uses notify: record it and watch
 * for the next release, then search once more, so that room freed while we
 * were failing is either found now or counted in `gen` (and arming then
 * fires at once). Recorded before the search, so that a release during it
 * already fires a callback armed earlier.
 */
static int note_failure(struct iotlb_dev *dev, const struct attempt *a)
{
	struct iotlb__waitq *wq = &dev->domain->wq;
	uint64_t gen;
	int err;

	pthread_mutex_lock(&wq->lock);
	gen = wq->gen;
	dev->notify.failed = true;
	dev->notify.fail_gen = gen;
	if (!wq->watch) {
		wq->watch = true;
		active_add(wq, 1);
	}
	pthread_mutex_unlock(&wq->lock);
	lock_barrier(dev->domain);
	err = attempt(dev, a);
	if (err != -ENOSPC) {
		/* Served after all: this call did not fail. */
		pthread_mutex_lock(&wq->lock);
		if (dev->notify.failed && dev->notify.fail_gen == gen)
			dev->notify.failed = false;
		pthread_mutex_unlock(&wq->lock);
	}
	return err;
}

static uint64_t deadline_of(uint64_t start, uint64_t timeout)
{
	if (!timeout)
		return 0;
	return timeout > UINT64_MAX - start ? UINT64_MAX : start + timeout;
}

/*
 * Sleeps on the waiter's condition until woken or past `deadline` (0: no
 * limit). Queue lock held; no RCU read-side section is (only a transient
 * pool's slots hold one, and a waiter has none yet).
 */
static int sleep_in_line(struct iotlb__waitq *wq, struct iotlb__waiter *w, uint64_t deadline)
{
	int rc = 0;

	while (!w->woken) {
		struct timespec ts;
		uint64_t now;

		if (!deadline) {
			pthread_cond_wait(&w->cond, &wq->lock);
			continue;
		}
		/* Our own clock decides: never report a timeout before the deadline. */
		now = iotlb__now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		ts.tv_sec = (time_t)(deadline / 1000000000u);
		ts.tv_nsec = (long)(deadline % 1000000000u);
		pthread_cond_timedwait(&w->cond, &wq->lock, &ts);
	}
	return rc;
}

static void wake(struct iotlb__waiter *w)
{
	w->woken = true;
	pthread_cond_signal(&w->cond);
}

/* Removes `w` from the queue; a new head is woken to retry. Queue lock held. */
static void leave_line(struct iotlb__waitq *wq, struct iotlb__waiter *w)
{
	struct iotlb__waiter **link = &wq->head, *prev = NULL;

	while (*link != w) {
		prev = *link;
		link = &(*link)->next;
	}
	*link = w->next;
	if (wq->tail == w)
		wq->tail = prev;
	IOTLB__STORE(&wq->nwaiters, wq->nwaiters - 1);
	active_add(wq, -1);
	/* Whether we were served or gave up, what is left may serve the next. */
	if (!prev && wq->head)
		wake(wq->head);
}

static void count_wait(struct iotlb__waitq *wq, uint64_t waited_ns, bool timed_out)
{
	IOTLB__BUMP(&wq->waits, 1);
	IOTLB__BUMP(&wq->wait_ns, waited_ns);
	if (waited_ns > wq->wait_ns_max)
		IOTLB__STORE(&wq->wait_ns_max, waited_ns);
	if (timed_out)
		IOTLB__BUMP(&wq->wait_timeouts, 1);
}

static int wait_in_line(struct iotlb_dev *dev, const struct attempt *a)
{
	struct iotlb__waitq *wq = &dev->domain->wq;
	struct iotlb__waiter w = {0};
	pthread_condattr_t attr;
	uint64_t start, deadline, gen;
	bool searched = false, slept = false;
	int err;

	if (pthread_condattr_init(&attr))
		return -ENOSPC;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err)
		return -ENOSPC;
	start = iotlb__now_ns();
	deadline = deadline_of(start, dev->wait_timeout_ns);

	pthread_mutex_lock(&wq->lock);
	if (wq->tail)
		wq->tail->next = &w;
	else
		wq->head = &w;
	wq->tail = &w;
	IOTLB__STORE(&wq->nwaiters, wq->nwaiters + 1);
	active_add(wq, 1);
	for (;;) {
		if (wq->head == &w) {
			/* Only the head searches: nobody younger can take its room. */
			w.woken = false;
			gen = wq->gen;
			pthread_mutex_unlock(&wq->lock);
			if (!searched)
				lock_barrier(dev->domain);
			searched = true;
			err = attempt(dev, a);
			pthread_mutex_lock(&wq->lock);
			if (err != -ENOSPC)
				break;
			if (wq->gen != gen)
				continue; /* room was freed during the search */
		}
		slept = true;
		err = sleep_in_line(wq, &w, deadline);
		if (err)
			break;
	}
	leave_line(wq, &w);
	if (slept)
		count_wait(wq, iotlb__now_ns() - start, err == -ETIMEDOUT);
	pthread_mutex_unlock(&wq->lock);
	pthread_cond_destroy(&w.cond);
	return err;
}

int iotlb__wait_nospace(struct iotlb_dev *dev, unsigned hint, const struct iotlb__search *s,
			const struct iotlb__req *req, unsigned attrs, struct iotlb__pool **pool_out,
			uint64_t *slot_out, bool *rcu)
{
	const struct attempt a = {hint, s, req, pool_out, slot_out, rcu};

	if (attrs & IOTLB_ATTR_MAY_BLOCK)
		return wait_in_line(dev, &a);
	if (IOTLB__LOAD(&dev->notify.used))
		return note_failure(dev, &a);
	return -ENOSPC;
}

struct fire {
	void (*fn)(void *ctx);
	void *ctx;
};

/* Disarms up to FIRE_BATCH devices whose failure came before release `gen`. */
static unsigned collect(struct iotlb__waitq *wq, uint64_t gen, struct fire *out)
{
	struct iotlb_dev **link = &wq->armed;
	unsigned n = 0;

	while (*link && n < FIRE_BATCH) {
		struct iotlb_dev *dev = *link;

		if (!dev->notify.failed || dev->notify.fail_gen >= gen) {
			link = &dev->notify.next;
			continue;
		}
		*link = dev->notify.next;
		out[n++] = (struct fire){dev->notify.fn, dev->notify.ctx};
		dev->notify.armed = false;
		dev->notify.failed = false;
		dev->notify.next = NULL;
	}
	return n;
}

void iotlb__wait_wake(struct iotlb__domain *d)
{
	struct iotlb__waitq *wq = &d->wq;
	struct fire batch[FIRE_BATCH];
	uint64_t gen;
	unsigned n;

	pthread_mutex_lock(&wq->lock);
	gen = ++wq->gen;
	if (wq->watch) {
		wq->watch = false;
		active_add(wq, -1);
	}
	if (wq->head)
		wake(wq->head);
	for (;;) {
		n = collect(wq, gen, batch);
		pthread_mutex_unlock(&wq->lock);
		/* Outside every library lock: a callback may map, unmap or re-arm. */
		for (unsigned i = 0; i < n; i++)
			batch[i].fn(batch[i].ctx);
		if (n < FIRE_BATCH)
			return;
		pthread_mutex_lock(&wq->lock);
	}
}

static void unlink_armed(struct iotlb__waitq *wq, struct iotlb_dev *dev)
{
	struct iotlb_dev **link = &wq->armed;

	while (*link && *link != dev)
		link = &(*link)->notify.next;
	if (*link)
		*link = dev->notify.next;
	dev->notify.next = NULL;
	dev->notify.armed = false;
}

int iotlb_dev_notify_space(struct iotlb_dev *dev, void (*fn)(void *ctx), void *ctx)
{
	struct iotlb__waitq *wq;
	bool now;

	if (!dev)
		return -EINVAL;
	wq = &dev->domain->wq;
	pthread_mutex_lock(&wq->lock);
	if (!fn) {
		if (dev->notify.armed)
			unlink_armed(wq, dev);
		pthread_mutex_unlock(&wq->lock);
		return 0;
	}
	if (dev->notify.armed) {
		pthread_mutex_unlock(&wq->lock);
		return -EBUSY;
	}
	/* Failures before the first arming were not recorded: assume one, and
	 * that room came back since (a spare call is cheaper than a lost one). */
	now = !dev->notify.used || (dev->notify.failed && dev->notify.fail_gen != wq->gen);
	IOTLB__STORE(&dev->notify.used, true);
	if (now) {
		dev->notify.failed = false;
	} else {
		dev->notify.fn = fn;
		dev->notify.ctx = ctx;
		dev->notify.armed = true;
		dev->notify.next = wq->armed;
		wq->armed = dev;
	}
	pthread_mutex_unlock(&wq->lock);
	if (now)
		fn(ctx);
	return 0;
}

void iotlb__wait_dev_gone(struct iotlb_dev *dev)
{
	struct iotlb__waitq *wq = &dev->domain->wq;

	pthread_mutex_lock(&wq->lock);
	if (dev->notify.armed)
		unlink_armed(wq, dev);
	pthread_mutex_unlock(&wq->lock);
}

void iotlb__wait_pool_added(struct iotlb__domain *d)
{
	iotlb__wait_room_freed(d);
}
