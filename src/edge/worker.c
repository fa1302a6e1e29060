/* worker.c -- the supervisor of the vision worker and of native apps; see
 * worker.h.
 *
 * One small thread owns the child: it starts it, waits until it exits, logs
 * how it ended and starts it again after a wait that doubles from
 * backoff_min to backoff_max (reset once a run lasted healthy_ms). A thread
 * rather than a SIGCHLD handler because the daemon already runs threads with
 * its signals blocked and takes SIGINT/SIGTERM with sigwait(): a handler
 * would need the self-pipe trick and would be the only async code in the
 * daemon, while waiting on our one pid cannot interfere with the other
 * children (actions.c waits for its own pids).
 *
 * The wait is a poll() on up to three descriptors: a pidfd of the child,
 * readable once it has exited; the read end of the pipe that carries its
 * stdout and stderr when they are captured (log_path), whose bytes go
 * straight to the log file through one fixed buffer, so a child that floods
 * or never writes a newline costs no memory; and a close-on-exec "exec
 * status" pipe, on which the child writes errno if chdir or execve fails
 * and which simply closes when the program is running (STARTING becomes
 * RUNNING then). poll()'s timeout is the moment the run becomes healthy_ms
 * long, which clears the failure count while the child runs.
 *
 * Stopping races with the child's exit, and a pid must never be signalled
 * once reaped (the kernel may hand it to another process). The stopper
 * signals through the pidfd, which names this process and no other even
 * after it is gone, and only under the lock; the thread reaps and closes
 * the pidfd under that same lock, clearing w->pid at the same time.
 *
 * The child is forked rather than posix_spawn()ed so it can ask for
 * SIGTERM when its parent dies (PR_SET_PDEATHSIG): a daemon killed with
 * SIGKILL leaves no worker behind. Between fork() and exec only
 * async-signal-safe calls are made. The child keeps the daemon's process
 * group, so Ctrl-C in a terminal reaches both, and without log_path it
 * inherits stdout/stderr: its log lines go where the daemon's go.
 *
 * The log file is written by the supervisor thread only; rotation (rename
 * to .1, new file) happens on a line boundary when the next bytes would pass
 * log_max_bytes. worker_log_tail() reads the files from the end under the
 * same small log lock, so it never sees half a rotation. */
#include "edge/worker.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define DEFAULT_NAME "vision worker"
#define OUT_CHUNK 65536		  /* one read of the child's output */
#define DRAIN_MAX (4 * OUT_CHUNK) /* read after the exit, for what a grandchild still writes */
#define TAIL_BLOCK 65536	  /* worker_log_tail() scans back this much at a time */

struct worker {
	struct worker_options opt; /* defaults applied; strings point at the copies */
	char *name, *path, *cwd, *log_path, *log_old;
	char **argv, **env;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* stopping set, child reaped */
	bool stopping;
	pid_t pid; /* the child, alive or a zombie; 0 when none */
	int pidfd; /* its pidfd, -1 when none; closed when it is reaped */
	uint64_t restarts;
	enum worker_state state;
	int64_t started_at_ns;
	unsigned failures;
	char reason[WORKER_REASON_MAX];
	/* The log file: the supervisor writes, worker_log_tail() reads. */
	pthread_mutex_t log_mu;
	int log_fd; /* -1 when not open (no log_path, or opening failed) */
	size_t log_size;
	bool log_broken; /* a write failed; warned once until one succeeds */
	char *buf;	 /* OUT_CHUNK bytes for the child's output */
};

/* What the child reports on the exec status pipe when it cannot run. */
enum { CHILD_CHDIR = 1, CHILD_EXEC = 2 };
struct child_error {
	int stage;
	int err;
};

/* One run of the child, as the supervisor thread sees it. */
struct run {
	int64_t t0; /* mw_mono_ns() at the start */
	pid_t pid;
	int pidfd, out_fd, status_fd; /* -1 when closed */
	bool healthy;		      /* lasted healthy_ms */
	struct child_error error;     /* stage 0: none reported */
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

const char *worker_state_name(enum worker_state s)
{
	switch (s) {
	case WORKER_STOPPED: return "stopped";
	case WORKER_STARTING: return "starting";
	case WORKER_RUNNING: return "running";
	case WORKER_BACKOFF: return "backoff";
	case WORKER_FAILED: return "failed";
	}
	return "unknown";
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the log file ---- */

/* Opens log_path for appending (extra_flags: O_TRUNC to begin it again). */
static int log_open(struct worker *w, int extra_flags)
{
	struct stat st;

	w->log_fd =
		open(w->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | extra_flags, 0640);
	if (w->log_fd < 0 || fstat(w->log_fd, &st) != 0) {
		if (!w->log_broken) /* once, not for every chunk of output */
			log_error("%s: cannot open its log path=%s err=\"%s\"", w->name,
				  w->log_path, strerror(errno));
		w->log_broken = true;
		close_fd(&w->log_fd);
		return MW_ERR_IO;
	}
	w->log_size = (size_t)st.st_size;
	return MW_OK;
}

/* log_path becomes log_path.1 and a new file is begun. Should the rename
 * fail, the current file is emptied instead: the bound holds either way. */
static int log_rotate(struct worker *w)
{
	close_fd(&w->log_fd);
	if (rename(w->log_path, w->log_old) != 0)
		log_warn("%s: cannot rotate its log path=%s err=\"%s\"; emptying it", w->name,
			 w->log_path, strerror(errno));
	return log_open(w, O_TRUNC);
}

/* How many of the n bytes at p go into the current file: all if they fit,
 * else up to the last newline that fits, else (a line longer than the file
 * may be) as many as fit in an empty file. 0 means "rotate first". */
static size_t log_fits(const struct worker *w, const char *p, size_t n)
{
	size_t max = w->opt.log_max_bytes;
	size_t room = w->log_size >= max ? 0 : max - w->log_size;

	if (n <= room)
		return n;
	for (size_t i = room; i > 0; i--)
		if (p[i - 1] == '\n')
			return i;
	return w->log_size == 0 ? room : 0;
}

static int log_put(struct worker *w, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(w->log_fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (!w->log_broken)
				log_warn("%s: cannot write its log path=%s err=\"%s\"; output "
					 "dropped",
					 w->name, w->log_path,
					 k < 0 ? strerror(errno) : "short write");
			w->log_broken = true;
			return MW_ERR_IO;
		}
		p += k;
		n -= (size_t)k;
		w->log_size += (size_t)k;
	}
	w->log_broken = false;
	return MW_OK;
}

/* Appends the child's output, rotating on the way as often as needed. */
static void log_append(struct worker *w, const char *p, size_t n)
{
	pthread_mutex_lock(&w->log_mu);
	while (n > 0) {
		size_t k;
		if (w->log_fd < 0 && log_open(w, 0) != MW_OK)
			break; /* logged; this output is lost */
		k = log_fits(w, p, n);
		if (k > 0 && log_put(w, p, k) != MW_OK)
			break;
		p += k;
		n -= k;
		if (n > 0 && log_rotate(w) != MW_OK)
			break; /* logged; the next output tries to open it again */
	}
	pthread_mutex_unlock(&w->log_mu);
}

/* ---- the child ---- */

/* In the child: reports the failed step on the exec status pipe and exits. */
static void child_fail(int status_fd, int stage, int code)
{
	struct child_error e = {.stage = stage, .err = errno};
	ssize_t n = write(status_fd, &e, sizeof(e));

	(void)n; /* nothing more a child can do about it */
	_exit(code);
}

/* In the forked child: only async-signal-safe calls until exec. out_fd is
 * the output pipe's write end (-1: inherit stdout/stderr); status_fd is the
 * exec status pipe's, close-on-exec. Fds 0-2 are open in the daemon, so both
 * are above 2. */
static void child_exec(const struct worker *w, pid_t parent, int out_fd, int status_fd)
{
	sigset_t none;
	static const int defaults[] = {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP};

	/* The daemon blocks SIGINT/SIGTERM and ignores SIGPIPE; both survive exec. */
	for (size_t i = 0; i < MW_ARRAY_LEN(defaults); i++)
		signal(defaults[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(126); /* the daemon is already gone */
	if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0))
		child_fail(status_fd, CHILD_EXEC, 126);
	/* The daemon's sockets and database are not the child's: all but 0-2
	 * and the status pipe are closed (which closes itself at exec). */
	if (status_fd > 3)
		close_range(3, (unsigned)status_fd - 1, 0);
	close_range((unsigned)status_fd + 1, ~0U, 0);
	if (w->cwd && chdir(w->cwd) != 0)
		child_fail(status_fd, CHILD_CHDIR, 126);
	if (w->env)
		execve(w->path, w->argv, w->env);
	else
		execv(w->path, w->argv);
	child_fail(status_fd, CHILD_EXEC, 127);
}

static void set_reason(struct worker *w, const char *fmt, ...) MW_PRINTF(2, 3);
static void set_reason(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
}

/* Fails the start for a reason that needs no fork; the lock is held. */
static int cannot_run(struct worker *w)
{
	int e = errno;

	set_reason(w, "cannot run %s: %s", w->path, strerror(e));
	if (w->opt.name)
		log_error("%s cannot be run path=%s err=\"%s\"", w->name, w->path, strerror(e));
	else
		log_error("%s cannot be run path=%s err=\"%s\" (set vision.worker, or "
			  "install " WORKER_PROGRAM " beside mw-edge)",
			  w->name, w->path, strerror(e));
	return MW_ERR_NOTFOUND;
}

/* The parent's half of a fork: a pidfd for the child and the read ends made
 * non-blocking. On failure the child is killed and reaped (it is ours and
 * not yet waited for, so its pid is still its own). */
static int adopt(struct worker *w, struct run *r)
{
	int status, e;

	r->pidfd = pidfd_open(r->pid, 0);
	if (r->pidfd >= 0 && fcntl(r->status_fd, F_SETFL, O_NONBLOCK) == 0 &&
	    (r->out_fd < 0 || fcntl(r->out_fd, F_SETFL, O_NONBLOCK) == 0))
		return MW_OK;
	e = errno;
	set_reason(w, "cannot start: %s", strerror(e));
	log_error("%s cannot be watched err=\"%s\"", w->name, strerror(e));
	kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	close_fd(&r->pidfd);
	return MW_ERR_IO;
}

/* Starts the child; called with the lock held. On MW_OK, r describes the run. */
static int launch(struct worker *w, struct run *r)
{
	int out[2] = {-1, -1}, status[2] = {-1, -1};
	pid_t parent = getpid();
	int rc = MW_ERR_IO;

	if (access(w->path, X_OK) != 0)
		return cannot_run(w);
	if (pipe2(status, O_CLOEXEC) != 0 || (w->log_path && pipe2(out, O_CLOEXEC) != 0) ||
	    (r->pid = fork()) < 0) {
		int e = errno;
		set_reason(w, "cannot start: %s", strerror(e));
		log_error("%s cannot be started err=\"%s\"", w->name, strerror(e));
		goto out;
	}
	if (r->pid == 0)
		child_exec(w, parent, out[1], status[1]);
	r->status_fd = status[0];
	r->out_fd = out[0];
	status[0] = out[0] = -1;
	if ((rc = adopt(w, r)) != MW_OK) {
		close_fd(&r->status_fd);
		close_fd(&r->out_fd);
		goto out;
	}
	w->pid = r->pid;
	w->pidfd = r->pidfd;
	w->started_at_ns = mw_now_ns();
	if (w->state != WORKER_FAILED)
		w->state = WORKER_STARTING;
	log_info("%s started pid=%d path=%s restarts=%llu", w->name, (int)r->pid, w->path,
		 (unsigned long long)w->restarts);
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&out[i]);
		close_fd(&status[i]);
	}
	return rc;
}

/* ---- watching a run ---- */

/* Reads the exec status pipe: a child_error if the child could not run its
 * program, or end of file once it does. */
static void read_status(struct worker *w, struct run *r)
{
	ssize_t n = read(r->status_fd, &r->error, sizeof(r->error));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* the child has not got there yet */
	if (n != (ssize_t)sizeof(r->error))
		r->error.stage = 0; /* exec'd, or gone without a word */
	close_fd(&r->status_fd);
	if (r->error.stage)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->state == WORKER_STARTING)
		w->state = WORKER_RUNNING;
	pthread_mutex_unlock(&w->mu);
}

/* One read of the child's output into the log; at end of file the pipe is
 * closed (every writer is gone). */
static void pump(struct worker *w, struct run *r)
{
	ssize_t n = read(r->out_fd, w->buf, OUT_CHUNK);

	if (n > 0)
		log_append(w, w->buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		close_fd(&r->out_fd);
}

/* What is left in the output pipe once the child is gone, up to DRAIN_MAX:
 * a grandchild that still holds the pipe must not keep us here. */
static void drain(struct worker *w, struct run *r)
{
	for (size_t total = 0; r->out_fd >= 0 && total < DRAIN_MAX; total += OUT_CHUNK) {
		ssize_t n = read(r->out_fd, w->buf, OUT_CHUNK);
		if (n <= 0)
			break;
		log_append(w, w->buf, (size_t)n);
	}
	close_fd(&r->out_fd);
}

/* Milliseconds until the run is healthy_ms long, rounded up; -1 once it is. */
static int healthy_in_ms(const struct worker *w, const struct run *r)
{
	int64_t left = r->t0 + w->opt.healthy_ms * MS - mw_mono_ns();

	if (r->healthy)
		return -1;
	if (left <= 0)
		return 0;
	return left / MS >= INT_MAX ? INT_MAX : (int)((left + MS - 1) / MS);
}

/* A run that lasted healthy_ms clears the failures, and a failed child is
 * running again. */
static void check_healthy(struct worker *w, struct run *r)
{
	if (r->healthy || healthy_in_ms(w, r) != 0)
		return;
	r->healthy = true;
	pthread_mutex_lock(&w->mu);
	if (w->state == WORKER_FAILED)
		log_info("%s is running again pid=%d after_failures=%u", w->name, (int)r->pid,
			 w->failures);
	w->failures = 0;
	if (!w->stopping && (w->state == WORKER_FAILED || w->state == WORKER_STARTING))
		w->state = WORKER_RUNNING;
	pthread_mutex_unlock(&w->mu);
}

/* Waits for the child to exit, moving its output to the log meanwhile. */
static void watch(struct worker *w, struct run *r)
{
	for (;;) {
		struct pollfd p[] = {{.fd = r->pidfd, .events = POLLIN},
				     {.fd = r->out_fd, .events = POLLIN},
				     {.fd = r->status_fd, .events = POLLIN}};
		int n = poll(p, MW_ARRAY_LEN(p), healthy_in_ms(w, r));
		if (n < 0) {
			struct timespec nap = {0, 100 * 1000000L};
			if (errno != EINTR)
				nanosleep(&nap, NULL); /* ENOMEM: try again shortly */
			continue;
		}
		if (p[2].revents)
			read_status(w, r);
		if (p[1].revents)
			pump(w, r);
		check_healthy(w, r);
		if (p[0].revents)
			break;
	}
	if (r->status_fd >= 0)
		read_status(w, r); /* a failed exec wrote before exiting */
	close_fd(&r->status_fd);
	drain(w, r);
}

/* How the run ended, for worker_stats and the daemon's log. */
static void note_exit(struct worker *w, const struct run *r, int status, int64_t ran_ms)
{
	enum log_level lvl = w->stopping ? LOG_INFO : LOG_WARN;
	const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;

	if (r->error.stage == CHILD_CHDIR) {
		set_reason(w, "cannot change directory to %s: %s", w->cwd, strerror(r->error.err));
		log_error("%s cannot change directory dir=%s err=\"%s\"", w->name, w->cwd,
			  strerror(r->error.err));
	} else if (r->error.stage == CHILD_EXEC) {
		set_reason(w, "cannot run %s: %s", w->path, strerror(r->error.err));
		log_error("%s cannot be run path=%s err=\"%s\"", w->name, w->path,
			  strerror(r->error.err));
	}
	if (WIFEXITED(status)) {
		if (!r->error.stage)
			set_reason(w, "exited with status %d", WEXITSTATUS(status));
		log_at(lvl, "%s exited pid=%d status=%d ran_ms=%lld", w->name, (int)r->pid,
		       WEXITSTATUS(status), (long long)ran_ms);
	} else if (WIFSIGNALED(status)) {
		set_reason(w, "killed by signal SIG%s%s", sig ? sig : "?",
			   WCOREDUMP(status) ? " (core dumped)" : "");
		log_at(lvl, "%s killed pid=%d signal=SIG%s ran_ms=%lld%s", w->name, (int)r->pid,
		       sig ? sig : "?", (long long)ran_ms, WCOREDUMP(status) ? " core=dumped" : "");
	}
}

/* Reaps the exited child under the lock (held on return). */
static void reap(struct worker *w, struct run *r)
{
	int status = 0;

	pthread_mutex_lock(&w->mu);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	close_fd(&w->pidfd);
	w->started_at_ns = 0;
	pthread_cond_broadcast(&w->cond);
	note_exit(w, r, status, (mw_mono_ns() - r->t0) / MS);
}

static struct timespec deadline(int64_t ms) { return mw_mono_timespec(mw_mono_ns() + ms * MS); }

/* Sleeps ms or until stopping; called and returns with the lock held. */
static void pause_locked(struct worker *w, int64_t ms)
{
	struct timespec until = deadline(ms);

	while (!w->stopping && pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT)
		;
}

/* After a run (or a start that failed): counts it, sets the state to wait
 * in; returns whether it was a healthy run. The lock is held. */
static bool count_run(struct worker *w, const struct run *r)
{
	bool healthy = mw_mono_ns() - r->t0 >= w->opt.healthy_ms * MS;

	w->failures = healthy ? 0 : w->failures + 1;
	w->state = w->failures >= w->opt.fail_after ? WORKER_FAILED : WORKER_BACKOFF;
	if (w->failures == w->opt.fail_after)
		log_error("%s failed: %u runs in a row ended within %lld ms, the last: %s; "
			  "restarting with backoff",
			  w->name, w->failures, (long long)w->opt.healthy_ms, w->reason);
	return healthy;
}

static void *supervise(void *arg)
{
	struct worker *w = arg;
	int64_t wait_ms = w->opt.backoff_min_ms;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		struct run r = {.t0 = mw_mono_ns(), .pidfd = -1, .out_fd = -1, .status_fd = -1};
		if (launch(w, &r) == MW_OK) {
			pthread_mutex_unlock(&w->mu);
			watch(w, &r);
			reap(w, &r);
		}
		if (w->stopping)
			break;
		if (count_run(w, &r))
			wait_ms = w->opt.backoff_min_ms;
		log_info("%s restart in_ms=%lld", w->name, (long long)wait_ms);
		pause_locked(w, wait_ms);
		wait_ms = wait_ms * 2 > w->opt.backoff_max_ms ? w->opt.backoff_max_ms : wait_ms * 2;
		if (!w->stopping)
			w->restarts++;
	}
	w->state = WORKER_STOPPED;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- the log's tail ---- */

/* A line of a file: bytes [start, end), its newline not included. */
struct span {
	off_t start, end;
};

/* The last `want` lines of fd into spans (want + 1 of room), oldest first. A
 * final newline ends the last line rather than starting an empty one. */
static int find_lines(int fd, size_t want, char *block, struct span *spans, size_t *n)
{
	struct stat st;
	off_t pos, end;
	size_t found = 0;
	char last = '\0';

	*n = 0;
	if (fstat(fd, &st) != 0 || (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1))
		return MW_ERR_IO;
	if (st.st_size == 0 || want == 0)
		return MW_OK;
	pos = end = last == '\n' ? st.st_size - 1 : st.st_size;
	while (found < want && pos > 0) {
		size_t len = pos > TAIL_BLOCK ? TAIL_BLOCK : (size_t)pos;
		if (pread(fd, block, len, pos - (off_t)len) != (ssize_t)len)
			return MW_ERR_IO;
		pos -= (off_t)len;
		for (size_t i = len; i-- > 0 && found < want;)
			if (block[i] == '\n') {
				spans[want - 1 - found++] = (struct span){pos + (off_t)i + 1, end};
				end = pos + (off_t)i;
			}
	}
	if (found < want) /* the file's first line */
		spans[want - 1 - found++] = (struct span){0, end};
	memmove(spans, spans + (want - found), found * sizeof(*spans));
	*n = found;
	return MW_OK;
}

/* Bytes of the UTF-8 sequence that starts at p (n bytes left); 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
	size_t len = 0;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] < 0xF5)
		len = p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
	if (len == 0 || len > n)
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0; /* overlong */
	else if (p[0] == 0xED)
		hi = 0x9F; /* surrogates */
	else if (p[0] == 0xF0)
		lo = 0x90; /* overlong */
	else if (p[0] == 0xF4)
		hi = 0x8F; /* past U+10FFFF */
	if (len > 1 && (p[1] < lo || p[1] > hi))
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* A JSON string of n bytes of a line: invalid UTF-8 replaced by U+FFFD. */
static json_t *line_json(const char *in, size_t n)
{
	char out[3 * WORKER_TAIL_LINE_MAX];
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (k) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	return json_stringn(out, o);
}

/* Appends the line at s to arr: cut to WORKER_TAIL_LINE_MAX bytes, before a
 * character the cut would split; a carriage return before the newline dropped. */
static int append_line(int fd, struct span s, json_t *arr)
{
	char line[WORKER_TAIL_LINE_MAX];
	size_t len = (size_t)(s.end - s.start), n = len > sizeof(line) ? sizeof(line) : len;
	size_t lead = n;

	if (n && pread(fd, line, n, s.start) != (ssize_t)n)
		return MW_ERR_IO;
	if (n < len) { /* cut: drop a character the cut split */
		while (lead > 0 && n - lead < 3 && ((unsigned char)line[lead - 1] & 0xC0) == 0x80)
			lead--;
		if (lead > 0 && (unsigned char)line[lead - 1] >= 0xC0 &&
		    utf8_seq((const unsigned char *)line + lead - 1, n - lead + 1) == 0)
			n = lead - 1;
	} else if (n && line[n - 1] == '\r') {
		n--;
	}
	return json_array_append_new(arr, line_json(line, n)) ? MW_ERR_NOMEM : MW_OK;
}

/* Appends the last `want` lines of the file at path to arr; a missing file
 * has none. */
static int file_tail(const char *path, size_t want, json_t *arr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct span *spans = NULL;
	char *block = NULL;
	size_t n = 0;
	int rc = MW_ERR_NOMEM;

	if (fd < 0)
		return errno == ENOENT ? MW_OK : MW_ERR_IO;
	if (!(spans = calloc(want + 1, sizeof(*spans))) || !(block = malloc(TAIL_BLOCK)))
		goto out;
	rc = find_lines(fd, want, block, spans, &n);
	for (size_t i = 0; rc == MW_OK && i < n; i++)
		rc = append_line(fd, spans[i], arr);
out:
	free(block);
	free(spans);
	close(fd);
	return rc;
}

int worker_log_tail(struct worker *w, int lines, json_t **out)
{
	json_t *older = json_array(), *newer = json_array();
	int rc = MW_ERR_NOMEM;

	*out = NULL;
	if (!older || !newer)
		goto out;
	rc = MW_ERR_INVALID;
	if (!w->log_path || lines < 0 || lines > WORKER_TAIL_MAX)
		goto out;
	pthread_mutex_lock(&w->log_mu);
	rc = file_tail(w->log_path, (size_t)lines, newer);
	if (rc == MW_OK && json_array_size(newer) < (size_t)lines)
		rc = file_tail(w->log_old, (size_t)lines - json_array_size(newer), older);
	pthread_mutex_unlock(&w->log_mu);
	if (rc == MW_OK && json_array_extend(older, newer) != 0)
		rc = MW_ERR_NOMEM;
	if (rc == MW_OK) {
		*out = older;
		older = NULL;
	}
out:
	json_decref(older);
	json_decref(newer);
	return rc;
}

/* ---- lifetime ---- */

static int copy_strv(const char *const *src, char ***dst)
{
	size_t n = 0;

	while (src[n])
		n++;
	if (!(*dst = calloc(n + 1, sizeof(**dst))))
		return MW_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return MW_ERR_NOMEM;
	return MW_OK;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Each environment entry must be KEY=VALUE with a KEY. */
static int check_env(const char *name, const char *const *env)
{
	for (size_t i = 0; env && env[i]; i++)
		if (env[i][0] == '=' || !strchr(env[i], '=')) {
			log_error("%s: environment entry %zu is not KEY=VALUE: \"%.40s\"", name, i,
				  env[i]);
			return MW_ERR_INVALID;
		}
	return MW_OK;
}

static int64_t or_default(int64_t v, int64_t def) { return v > 0 ? v : def; }

/* The copies of the options' strings, and the log opened; w->opt is set. */
static int copy_options(struct worker *w, const struct worker_options *opt)
{
	int rc = MW_ERR_NOMEM;
	size_t n;

	if (!(w->name = strdup(opt->name ? opt->name : DEFAULT_NAME)))
		return MW_ERR_NOMEM;
	if ((rc = check_env(w->name, opt->env)) != MW_OK)
		return rc;
	rc = MW_ERR_NOMEM;
	if (!(w->path = strdup(opt->path)) || copy_strv(opt->argv, &w->argv) ||
	    (opt->env && copy_strv(opt->env, &w->env)) ||
	    (opt->cwd && !(w->cwd = strdup(opt->cwd))))
		return rc;
	if (opt->log_path) {
		n = strlen(opt->log_path) + 3;
		if (!(w->log_path = strdup(opt->log_path)) || !(w->log_old = malloc(n)) ||
		    !(w->buf = malloc(OUT_CHUNK)))
			return rc;
		snprintf(w->log_old, n, "%s.1", w->log_path);
		if ((rc = log_open(w, 0)) != MW_OK)
			return rc;
	}
	return MW_OK;
}

int worker_new(const struct worker_options *opt, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int rc;

	if (!w)
		return MW_ERR_NOMEM;
	w->opt = *opt;
	w->opt.backoff_min_ms = or_default(opt->backoff_min_ms, 1000);
	w->opt.backoff_max_ms = or_default(opt->backoff_max_ms, 30000);
	w->opt.healthy_ms = or_default(opt->healthy_ms, 60000);
	w->opt.stop_timeout_ms = or_default(opt->stop_timeout_ms, 5000);
	w->opt.log_max_bytes = opt->log_max_bytes ? opt->log_max_bytes : 1 << 20;
	w->opt.fail_after = opt->fail_after ? opt->fail_after : 3;
	w->pidfd = w->log_fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->log_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = copy_options(w, opt)) != MW_OK)
		goto fail;
	w->opt.name = opt->name ? w->name : NULL; /* NULL still means the vision worker */
	w->opt.path = w->path;
	w->opt.argv = (const char *const *)w->argv;
	w->opt.env = (const char *const *)w->env;
	w->opt.cwd = w->cwd;
	w->opt.log_path = w->log_path;
	*out = w;
	return MW_OK;
fail:
	worker_free(w);
	return rc;
}

int worker_start(struct worker *w)
{
	int e;

	w->state = WORKER_STARTING; /* the thread does not exist yet: no lock needed */
	e = pthread_create(&w->thread, NULL, supervise, w);
	if (e) {
		w->state = WORKER_STOPPED;
		log_error("%s: cannot start the supervisor thread: %s", w->name, strerror(e));
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
	out->state = w->state;
	out->started_at_ns = w->started_at_ns;
	out->failures = w->failures;
	memcpy(out->reason, w->reason, sizeof(out->reason));
	pthread_mutex_unlock(&w->mu);
}

/* SIGTERM, a grace period, SIGKILL; returns once the child is reaped. */
static void stop_child(struct worker *w)
{
	struct timespec until = deadline(w->opt.stop_timeout_ms);

	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	w->state = WORKER_STOPPED;
	pthread_cond_broadcast(&w->cond);
	if (w->pid > 0) {
		log_info("%s stopping pid=%d", w->name, (int)w->pid);
		pidfd_send_signal(w->pidfd, SIGTERM, NULL, 0);
		while (w->pid > 0 && pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT)
			;
		if (w->pid > 0) {
			log_warn("%s did not stop within %lld ms of SIGTERM; killing pid=%d",
				 w->name, (long long)w->opt.stop_timeout_ms, (int)w->pid);
			pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
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
	free_strv(w->argv);
	free_strv(w->env);
	free(w->name);
	free(w->path);
	free(w->cwd);
	free(w->log_path);
	free(w->log_old);
	free(w->buf);
	close_fd(&w->log_fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->log_mu);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
