/* loop.h -- a thread that runs a step again and again.
 *
 * The fleet monitor, the rollouts, the heartbeat and the apps loop are all
 * the same thing: a thread that does a piece of work, then sleeps until it
 * is due again, until something wakes it early, or until it is stopped.
 * The step says how long to sleep after it (ms); a wake cuts the sleep
 * short, but never to less than min_gap_ms after the step began, so a
 * storm of wakes cannot turn the loop into a busy one. Waits use the
 * monotonic clock. */
#ifndef MW_LOOP_H
#define MW_LOOP_H

#include "core/mw.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct mw_loop {
	/* set before mw_loop_start */
	int64_t (*step)(void *arg); /* one run; returns ms until the next */
	void *arg;
	int64_t first_ms;   /* wait before the first step (0: at once) */
	int64_t min_gap_ms; /* a wake runs the step no sooner than this after the last */
	/* the loop's own */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop, woken;
};

/* Starts the thread (named name); MW_ERR_NOMEM when it cannot be made. */
int mw_loop_start(struct mw_loop *l, const char *name) MW_MUST_CHECK;
/* Runs the step soon (see min_gap_ms); any thread. */
void mw_loop_wake(struct mw_loop *l);
/* Stops the loop (a step under way finishes first), joins the thread and
 * frees what the loop holds; a no-op for a loop not started. */
void mw_loop_stop(struct mw_loop *l);

#endif
