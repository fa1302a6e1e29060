/* worker.h -- mw-edge's supervisor of a child process: the vision worker
 * (mw-edge-vision) and the native apps deployed from the hub.
 *
 * The camera analytics link FFmpeg, which would multiply the daemon's
 * memory, so they run in a program of their own that the daemon starts,
 * restarts when it exits (with backoff) and stops with itself. A native app
 * is the same thing with more options: its own environment and directory,
 * and its output captured to a log file of bounded size that the hub can be
 * shown the end of. A crash of the child never reaches the daemon: the
 * daemon only waits for it.
 *
 * What the supervisor knows is in struct worker_stats: the state of the
 * current run, how the last run ended (reason) and how many runs in a row
 * ended too soon (failures). A child that keeps exiting is never given up
 * on: it is restarted with backoff and shown as failed until a run lasts. */
#ifndef MW_EDGE_WORKER_H
#define MW_EDGE_WORKER_H

#include "core/mw.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The program's file name, looked for beside mw-edge when vision.worker is "". */
#define WORKER_PROGRAM "mw-edge-vision"
/* The size of worker_stats.reason, NUL included. */
#define WORKER_REASON_MAX 160
/* At most this many lines from worker_log_tail(). */
#define WORKER_TAIL_MAX 1000
/* worker_log_tail() cuts longer lines to this many bytes (on a character). */
#define WORKER_TAIL_LINE_MAX 1000

struct worker;

/* Zero means the default everywhere, and a zeroed struct with path and argv
 * set is the vision worker as it always was. Strings are copied. The child
 * keeps the daemon's stdin and process group; only the child itself is
 * signalled on stop, so a wrapper script should exec its program. */
struct worker_options {
	const char *path;	 /* the program to run */
	const char *const *argv; /* its argv, NULL-terminated (copied) */
	int64_t backoff_min_ms;	 /* first wait before a restart (0 = 1 s) */
	int64_t backoff_max_ms;	 /* waits double up to this (0 = 30 s) */
	int64_t healthy_ms;	 /* a run this long resets the wait and failures (0 = 60 s) */
	int64_t stop_timeout_ms; /* SIGTERM, then SIGKILL after this (0 = 5 s) */
	/* What the daemon's log calls the child: NULL = "vision worker" (and
	 * only then does a missing program get the hint about vision.worker);
	 * apps use e.g. "app camera-qa". */
	const char *name;
	/* The child's whole environment, NULL-terminated "KEY=VALUE" strings
	 * (copied; each must have a KEY); NULL = the daemon's environment. */
	const char *const *env;
	/* The child's working directory; NULL = the daemon's. If the child
	 * cannot enter it, the run ends with status 126 and the reason says so. */
	const char *cwd;
	/* NULL = the child shares the daemon's stdout and stderr. Else both go
	 * through a pipe to this file, appended to (created 0640; opened by
	 * worker_new, which fails with MW_ERR_IO if it cannot). When the next
	 * line would take the file past log_max_bytes it is renamed to
	 * log_path + ".1" (replacing that) and a new file begun, so at most
	 * 2 x log_max_bytes are on disk; a line longer than that is cut. */
	const char *log_path;
	size_t log_max_bytes; /* 0 = 1 MiB */
	/* This many runs in a row shorter than healthy_ms make the state
	 * WORKER_FAILED (0 = 3). Restarts go on, with backoff. */
	unsigned fail_after;
};

/* The state of the child. Zero is "stopped", so a zeroed worker_stats (no
 * worker at all) reads as stopped. */
enum worker_state {
	WORKER_STOPPED = 0, /* not started yet, or being stopped by worker_free */
	WORKER_STARTING,    /* forked; its program not yet running (exec pending) */
	WORKER_RUNNING,	    /* its program runs */
	WORKER_BACKOFF,	    /* waiting to restart after a run ended */
	WORKER_FAILED,	    /* fail_after short runs in a row; still restarted, and
			       running again once a run lasts healthy_ms */
};

struct worker_stats {
	bool running;		 /* a worker process exists now */
	pid_t pid;		 /* its pid, 0 when none */
	uint64_t restarts;	 /* starts after the first */
	enum worker_state state; /* see above */
	int64_t started_at_ns;	 /* mw_now_ns() when the current run began; 0 when none */
	unsigned failures;	 /* runs in a row shorter than healthy_ms */
	/* How the last run ended, "" before one has: "exited with status 1",
	 * "killed by signal SIGSEGV" (+ " (core dumped)"), "cannot run PATH:
	 * ERROR", "cannot change directory to DIR: ERROR", "cannot start: ERROR".
	 * Kept while the next run goes on. */
	char reason[WORKER_REASON_MAX];
};

/* "stopped", "starting", "running", "backoff", "failed". */
const char *worker_state_name(enum worker_state s);

/* The worker program: configured when not "", else WORKER_PROGRAM in the
 * directory of the running executable (/proc/self/exe). */
int worker_program(const char *configured, char *out, size_t cap) MW_MUST_CHECK;

int worker_new(const struct worker_options *opt, struct worker **out) MW_MUST_CHECK;
/* Starts the supervisor thread, which starts the worker. */
int worker_start(struct worker *w) MW_MUST_CHECK;
void worker_stats(struct worker *w, struct worker_stats *out);
/* The last `lines` lines (0..WORKER_TAIL_MAX) of the captured output, oldest
 * first, as a new JSON array of strings without their newlines: from the end
 * of log_path, and of log_path.1 when the current file has fewer. A line is
 * cut to WORKER_TAIL_LINE_MAX bytes and invalid UTF-8 replaced by U+FFFD. The
 * last line may be one the child has not finished. MW_ERR_INVALID without
 * log_path or with lines out of range; MW_ERR_IO if a file cannot be read.
 * Any thread, any time between worker_new and worker_free. */
int worker_log_tail(struct worker *w, int lines, json_t **out) MW_MUST_CHECK;
/* Stops the worker (SIGTERM, SIGKILL after stop_timeout_ms), reaps it, joins
 * the supervisor and frees. NULL is a no-op. */
void worker_free(struct worker *w);

#endif
