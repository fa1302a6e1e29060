/* actions.h -- local actions: a webhook and/or a shell command fired for
 * every event at or above a severity, straight from the store's append
 * path, without waiting on the hub.
 *
 * actions_on_append() only copies qualifying events into a bounded queue
 * and never blocks: when the queue is full the *action* is dropped (counted
 * and logged), never the event, which is already in the store. A thread
 * named "actions" works the queue. */
#ifndef MW_EDGE_ACTIONS_H
#define MW_EDGE_ACTIONS_H

#include "core/event.h"
#include "core/mw.h"

#include <stdint.h>

struct actions;

struct actions_options {
	const char *webhook; /* "" or NULL = none */
	const char *command; /* "" or NULL = none */
	enum severity min_severity;
	long webhook_timeout_ms; /* 0 = 3000 */
	long command_timeout_ms; /* 0 = 10000 */
	size_t queue_max;	 /* 0 = 1024 */
};

struct actions_stats {
	uint64_t ok;	  /* webhook posts answered 2xx, commands exited 0 */
	uint64_t failed;  /* everything else (after the retry) */
	uint64_t dropped; /* actions not run because the queue was full */
};

int actions_new(const struct actions_options *opt, struct actions **out) MW_MUST_CHECK;
/* Starts the "actions" thread (does nothing when no action is configured). */
int actions_start(struct actions *a) MW_MUST_CHECK;
/* store_on_append-compatible: queues the events that qualify. */
void actions_on_append(const struct event *events, size_t n, void *arg);
/* Lets the running action finish, then stops the thread; actions still
 * queued are counted as dropped. */
void actions_stop(struct actions *a);
void actions_free(struct actions *a);
void actions_stats(struct actions *a, struct actions_stats *out);

#endif
