/* worker.c -- the vision worker's supervisor; see worker.h.
 *
 * One small thread owns the child: it starts it, blocks in waitid() until it
 * exits, logs how it ended and starts it again after a wait that doubles
 * from backoff_min to backoff_max (reset once a run lasted healthy_ms). A
 * thread rather than a SIGCHLD handler because the daemon already runs
 * threads with its signals blocked and takes SIGINT/SIGTERM with sigwait():
 * a handler would need the self-pipe trick and would be the only async
 * code in the daemon, while a blocking waitpid() on our one pid cannot
 * interfere with the other children (actions.c waits for its own pids).
 *
 * Stopping races with the child's exit, and a pid must never be signalled
 * once reaped (the kernel may hand it to another process). So the thread
 * first waits with WNOWAIT, which leaves the zombie in place, and only
 * reaps under the lock, clearing w->pid at the same time; the stopper sends
 * its signals under that lock, to a pid that is either alive or a zombie.
 *
 * The child is forked rather than posix_spawn()ed so it can ask for
 * SIGTERM when its parent dies (PR_SET_PDEATHSIG): a daemon killed with
 * SIGKILL leaves no worker behind. Between fork() and exec only
 * async-signal-safe calls are made. The child keeps the daemon's process
 * group, so Ctrl-C in a terminal reaches both, and inherits stdout/stderr:
 * its log lines go where the daemon's go. */
#include "edge/worker.h"

#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

struct worker {
	struct worker_options opt;
	char *path;
	char **argv;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* stopping set, child reaped */
	bool stopping;
	pid_t pid; /* the child, alive or a zombie; 0 when none */
	uint64_t restarts;
};

int worker_program(const char *configured, char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (configured && *configured)
		return mw_strlcpy(out, configured, cap) ? MW_ERR_TOOBIG : MW_OK;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return MW_ERR_IO;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return MW_ERR_IO;
	*slash = '\0';
	n = snprintf(out, cap, "%s/%s", self, WORKER_PROGRAM);
	return n < 0 || (size_t)n >= cap ? MW_ERR_TOOBIG : MW_OK;
}

/* ---- the child ---- */

/* In the forked child: only async-signal-safe calls until execv. */
static void child_exec(const struct worker *w, pid_t parent)
{
	sigset_t none;
	static const int defaults[] = {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP};

	/* The daemon blocks SIGINT/SIGTERM and ignores SIGPIPE; both survive exec. */
	for (size_t i = 0; i < MW_ARRAY_LEN(defaults); i++)
		signal(defaults[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(126);	/* the daemon is already gone */
	close_range(3, ~0U, 0); /* the daemon's sockets and database are not the worker's */
	execv(w->path, w->argv);
	_exit(127);
}

/* Starts the child; called with the lock held. */
static int launch(struct worker *w)
{
	pid_t parent = getpid(), pid;

	if (access(w->path, X_OK) != 0) {
		log_error("vision worker cannot be run path=%s err=\"%s\" (set vision.worker, or "
			  "install " WORKER_PROGRAM " beside mw-edge)",
			  w->path, strerror(errno));
		return MW_ERR_NOTFOUND;
	}
	pid = fork();
	if (pid < 0) {
		log_error("vision worker cannot be started err=\"%s\"", strerror(errno));
		return MW_ERR_IO;
	}
	if (pid == 0)
		child_exec(w, parent);
	w->pid = pid;
	log_info("vision worker started pid=%d path=%s restarts=%llu", (int)pid, w->path,
		 (unsigned long long)w->restarts);
	return MW_OK;
}

static void log_exit(const struct worker *w, pid_t pid, int status, int64_t ran_ms)
{
	enum log_level lvl = w->stopping ? LOG_INFO : LOG_WARN;

	if (WIFEXITED(status))
		log_at(lvl, "vision worker exited pid=%d status=%d ran_ms=%lld", (int)pid,
		       WEXITSTATUS(status), (long long)ran_ms);
	else if (WIFSIGNALED(status))
		log_at(lvl, "vision worker killed pid=%d signal=SIG%s ran_ms=%lld%s", (int)pid,
		       sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
		       (long long)ran_ms, WCOREDUMP(status) ? " core=dumped" : "");
}

/* Waits for the child to end, then reaps it under the lock (held on return). */
static void await(struct worker *w, pid_t pid, int64_t t0)
{
	siginfo_t si;
	int status = 0;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 && errno == EINTR)
		;
	pthread_mutex_lock(&w->mu);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	pthread_cond_broadcast(&w->cond);
	log_exit(w, pid, status, (mw_mono_ns() - t0) / MS);
}

static struct timespec deadline(int64_t ms)
{
	return mw_mono_timespec(mw_mono_ns() + ms * MS);
}

/* Sleeps ms or until stopping; called and returns with the lock held. */
static void pause_locked(struct worker *w, int64_t ms)
{
	struct timespec until = deadline(ms);

	while (!w->stopping && pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT)
		;
}

static void *supervise(void *arg)
{
	struct worker *w = arg;
	int64_t wait_ms = w->opt.backoff_min_ms;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		int64_t t0 = mw_mono_ns();
		if (launch(w) == MW_OK) {
			pid_t pid = w->pid;
			pthread_mutex_unlock(&w->mu);
			await(w, pid, t0);
		}
		if (w->stopping)
			break;
		if (mw_mono_ns() - t0 >= w->opt.healthy_ms * MS)
			wait_ms = w->opt.backoff_min_ms;
		log_info("vision worker restart in_ms=%lld", (long long)wait_ms);
		pause_locked(w, wait_ms);
		wait_ms = wait_ms * 2 > w->opt.backoff_max_ms ? w->opt.backoff_max_ms : wait_ms * 2;
		if (!w->stopping)
			w->restarts++;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- lifetime ---- */

static int copy_argv(struct worker *w, const char *const *argv)
{
	size_t n = 0;

	while (argv[n])
		n++;
	if (!(w->argv = calloc(n + 1, sizeof(*w->argv))))
		return MW_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(w->argv[i] = strdup(argv[i])))
			return MW_ERR_NOMEM;
	return MW_OK;
}

static int64_t or_default(int64_t v, int64_t def) { return v > 0 ? v : def; }

int worker_new(const struct worker_options *opt, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int rc = MW_ERR_NOMEM;

	if (!w)
		return MW_ERR_NOMEM;
	w->opt = *opt;
	w->opt.backoff_min_ms = or_default(opt->backoff_min_ms, 1000);
	w->opt.backoff_max_ms = or_default(opt->backoff_max_ms, 30000);
	w->opt.healthy_ms = or_default(opt->healthy_ms, 60000);
	w->opt.stop_timeout_ms = or_default(opt->stop_timeout_ms, 5000);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!(w->path = strdup(opt->path)) || (rc = copy_argv(w, opt->argv)))
		goto fail;
	w->opt.path = w->path;
	w->opt.argv = (const char *const *)w->argv;
	*out = w;
	return MW_OK;
fail:
	worker_free(w);
	return rc;
}

int worker_start(struct worker *w)
{
	int e = pthread_create(&w->thread, NULL, supervise, w);

	if (e) {
		log_error("vision worker: cannot start the supervisor thread: %s", strerror(e));
		return MW_ERR_NOMEM;
	}
	pthread_setname_np(w->thread, "worker");
	w->started = true;
	return MW_OK;
}

void worker_stats(struct worker *w, struct worker_stats *out)
{
	pthread_mutex_lock(&w->mu);
	out->running = w->pid > 0;
	out->pid = w->pid;
	out->restarts = w->restarts;
	pthread_mutex_unlock(&w->mu);
}

/* SIGTERM, a grace period, SIGKILL; returns once the child is reaped. */
static void stop_child(struct worker *w)
{
	struct timespec until = deadline(w->opt.stop_timeout_ms);

	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	if (w->pid > 0) {
		log_info("vision worker stopping pid=%d", (int)w->pid);
		kill(w->pid, SIGTERM);
		while (w->pid > 0 && pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT)
			;
		if (w->pid > 0) {
			log_warn("vision worker did not stop within %lld ms of SIGTERM; killing "
				 "pid=%d",
				 (long long)w->opt.stop_timeout_ms, (int)w->pid);
			kill(w->pid, SIGKILL);
		}
	}
	pthread_mutex_unlock(&w->mu);
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started) {
		stop_child(w);
		pthread_join(w->thread, NULL);
	}
	for (size_t i = 0; w->argv && w->argv[i]; i++)
		free(w->argv[i]);
	free(w->argv);
	free(w->path);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
