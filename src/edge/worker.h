/* worker.h -- mw-edge's supervisor of the vision worker (mw-edge-vision).
 *
 * The camera analytics link FFmpeg, which would multiply the daemon's
 * memory, so they run in a program of their own that the daemon starts,
 * restarts when it exits (with backoff) and stops with itself. A crash of
 * the worker never reaches the daemon: the daemon only waits for it. */
#ifndef MW_EDGE_WORKER_H
#define MW_EDGE_WORKER_H

#include "core/mw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The program's file name, looked for beside mw-edge when vision.worker is "". */
#define WORKER_PROGRAM "mw-edge-vision"

struct worker;

struct worker_options {
	const char *path;	 /* the program to run */
	const char *const *argv; /* its argv, NULL-terminated (copied) */
	int64_t backoff_min_ms;	 /* first wait before a restart (0 = 1 s) */
	int64_t backoff_max_ms;	 /* waits double up to this (0 = 30 s) */
	int64_t healthy_ms;	 /* a run this long resets the wait (0 = 60 s) */
	int64_t stop_timeout_ms; /* SIGTERM, then SIGKILL after this (0 = 5 s) */
};

struct worker_stats {
	bool running;	   /* a worker process exists now */
	pid_t pid;	   /* its pid, 0 when none */
	uint64_t restarts; /* starts after the first */
};

/* The worker program: configured when not "", else WORKER_PROGRAM in the
 * directory of the running executable (/proc/self/exe). */
int worker_program(const char *configured, char *out, size_t cap) MW_MUST_CHECK;

int worker_new(const struct worker_options *opt, struct worker **out) MW_MUST_CHECK;
/* Starts the supervisor thread, which starts the worker. */
int worker_start(struct worker *w) MW_MUST_CHECK;
void worker_stats(struct worker *w, struct worker_stats *out);
/* Stops the worker (SIGTERM, SIGKILL after stop_timeout_ms), reaps it, joins
 * the supervisor and frees. NULL is a no-op. */
void worker_free(struct worker *w);

#endif
