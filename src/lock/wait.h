/* SPDX-License-Identifier: MIT */
/*
 * Busy-wait helpers shared by the spinning lock kinds (ticket, mcs, ttas):
 * one pause per step, then yielding once a wait has lasted long enough that
 * the thread we wait for is probably not running.
 */
#ifndef IOTLB_LOCK_WAIT_H
#define IOTLB_LOCK_WAIT_H

#include <sched.h>
#include <urcu/arch.h>

/*
 * Pause steps before a waiter starts yielding. A critical section of the
 * allocator lasts well under this; a longer wait means the holder, or the
 * next owner of a FIFO lock, has been preempted, and spinning on would only
 * delay it further when threads outnumber CPUs.
 */
#ifndef IOTLB__SPIN_BEFORE_YIELD
#define IOTLB__SPIN_BEFORE_YIELD 256u
#endif

/* liburcu's portable pause / yield-to-sibling hint. */
static inline void iotlb__cpu_relax(void)
{
	caa_cpu_relax();
}

/* One step of a wait; `steps` counts the steps of this wait so far. */
static inline void iotlb__spin_step(unsigned *steps)
{
	if (*steps < IOTLB__SPIN_BEFORE_YIELD) {
		(*steps)++;
		iotlb__cpu_relax();
	} else {
		sched_yield();
	}
}

#endif /* IOTLB_LOCK_WAIT_H */
