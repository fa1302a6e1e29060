/* actions.c -- the local actions worker; see actions.h.
 *
 * The append callback runs on the store's committing thread, so it does as
 * little as possible: for each event at or above the severity it encodes
 * the wire JSON once and pushes a job onto a fixed ring under a mutex. The
 * "actions" thread pops jobs and runs them: the webhook through core/http
 * (short timeout, one retry on a transport error or a 5xx), the command
 * through posix_spawn of /bin/sh -c with the event in the environment, in
 * its own process group so a timeout can kill the whole pipeline. */
#include "edge/actions.h"

#include "core/buf.h"
#include "core/http.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define QUEUE_DEFAULT 1024
#define WEBHOOK_TIMEOUT_MS 3000
#define COMMAND_TIMEOUT_MS 10000

struct job {
	char *wire;
	uint64_t seq;
	enum severity severity;
	char kind[EVENT_ID_MAX + 1];
	char source[EVENT_ID_MAX + 1];
};

struct actions {
	struct actions_options opt;
	char *webhook, *command;
	struct job *ring;
	size_t cap, head, count;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stopping;
	struct actions_stats stats;
	uint64_t unlogged_drops;
	int64_t last_drop_log;
	struct http_client *http;
};

static bool enabled(const struct actions *a) { return a->webhook || a->command; }

static char *dup_nonempty(const char *s) { return s && *s ? strdup(s) : NULL; }

int actions_new(const struct actions_options *opt, struct actions **out)
{
	struct actions *a = calloc(1, sizeof(*a));
	if (!a)
		return MW_ERR_NOMEM;
	a->opt = *opt;
	a->cap = opt->queue_max ? opt->queue_max : QUEUE_DEFAULT;
	a->webhook = dup_nonempty(opt->webhook);
	a->command = dup_nonempty(opt->command);
	a->ring = calloc(a->cap, sizeof(*a->ring));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (!a->ring || (opt->webhook && *opt->webhook && !a->webhook) ||
	    (opt->command && *opt->command && !a->command)) {
		actions_free(a);
		return MW_ERR_NOMEM;
	}
	*out = a;
	return MW_OK;
}

void actions_free(struct actions *a)
{
	if (!a)
		return;
	actions_stop(a);
	free(a->ring);
	free(a->webhook);
	free(a->command);
	http_client_free(a->http);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	free(a);
}

void actions_stats(struct actions *a, struct actions_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->lock);
}

static int job_fill(struct job *j, const struct event *e)
{
	struct buf b;
	buf_init(&b, 4 * EVENT_ATTRS_MAX);
	if (event_to_wire(e, &b)) {
		buf_free(&b);
		return MW_ERR_NOMEM;
	}
	j->wire = buf_take(&b, NULL);
	j->seq = e->seq;
	j->severity = e->severity;
	memcpy(j->kind, e->kind, sizeof(j->kind));
	memcpy(j->source, e->source, sizeof(j->source));
	return MW_OK;
}

/* Logs dropped actions at most once a second, so an overload is a few
 * lines, not one per event. */
static void note_drops(struct actions *a, uint64_t n)
{
	int64_t now = mw_mono_ns();
	uint64_t total = 0;

	pthread_mutex_lock(&a->lock);
	a->unlogged_drops += n;
	if (now - a->last_drop_log >= 1000000000LL) {
		total = a->unlogged_drops;
		a->unlogged_drops = 0;
		a->last_drop_log = now;
	}
	pthread_mutex_unlock(&a->lock);
	if (total)
		log_warn("actions dropped count=%llu reason=\"queue full\" (events are stored; "
			 "only their actions are skipped)",
			 (unsigned long long)total);
}

void actions_on_append(const struct event *events, size_t n, void *arg)
{
	struct actions *a = arg;
	uint64_t dropped = 0;

	if (!enabled(a))
		return;
	for (size_t i = 0; i < n; i++) {
		struct job j;
		if (events[i].severity < a->opt.min_severity)
			continue;
		if (job_fill(&j, &events[i])) {
			dropped++;
			continue;
		}
		pthread_mutex_lock(&a->lock);
		if (a->count < a->cap && !a->stopping) {
			a->ring[(a->head + a->count++) % a->cap] = j;
			j.wire = NULL;
			pthread_cond_signal(&a->cond);
		} else {
			a->stats.dropped++;
			dropped++;
		}
		pthread_mutex_unlock(&a->lock);
		free(j.wire);
	}
	if (dropped)
		note_drops(a, dropped);
}

/* ---- the webhook ---- */

static bool post_once(struct actions *a, const struct job *j, bool *retry)
{
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	struct http_request req = {
		.method = "POST",
		.url = a->webhook,
		.headers = headers,
		.body = j->wire,
		.body_len = strlen(j->wire),
		.timeout_ms =
			a->opt.webhook_timeout_ms ? a->opt.webhook_timeout_ms : WEBHOOK_TIMEOUT_MS,
		.max_response = 64 * 1024,
	};
	struct http_response resp;
	bool ok = false;
	int rc = http_do(a->http, &req, &resp);

	if (rc == MW_OK && resp.status >= 200 && resp.status < 300) {
		ok = true;
	} else if (rc == MW_OK) {
		*retry = resp.status >= 500;
		log_warn("webhook refused seq=%llu status=%ld url=%s body=\"%.200s\"",
			 (unsigned long long)j->seq, resp.status, a->webhook, resp.body.data);
	} else {
		*retry = true;
		log_warn("webhook failed seq=%llu err=\"%s\"", (unsigned long long)j->seq,
			 resp.error);
	}
	http_response_free(&resp);
	return ok;
}

static bool run_webhook(struct actions *a, const struct job *j)
{
	bool retry = false;
	if (!a->http && http_client_new(&a->http))
		return false;
	if (post_once(a, j, &retry))
		return true;
	return retry && post_once(a, j, &retry);
}

/* ---- the command ---- */

static void free_env(char **env, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		free(env[i]);
	free(env);
}

/* environ plus the MW_EVENT* variables (ours replace any inherited ones). */
static char **build_env(const struct job *j, size_t *ours_at)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 6, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MW_EVENT", 8) != 0)
			env[k++] = environ[i];
	*ours_at = k;
	if (asprintf(&env[k++], "MW_EVENT=%s", j->wire) < 0 ||
	    asprintf(&env[k++], "MW_EVENT_KIND=%s", j->kind) < 0 ||
	    asprintf(&env[k++], "MW_EVENT_SEVERITY=%s", severity_name(j->severity)) < 0 ||
	    asprintf(&env[k++], "MW_EVENT_SEQ=%llu", (unsigned long long)j->seq) < 0 ||
	    asprintf(&env[k++], "MW_EVENT_SOURCE=%s", j->source) < 0) {
		env[k - 1] = NULL;
		free_env(env, *ours_at, k - 1);
		return NULL;
	}
	env[k] = NULL;
	return env;
}

static int spawn_sh(const char *cmd, char **env, pid_t *pid)
{
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t none, defs;
	int rc;

	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGTERM);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defs);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* Waits for pid up to timeout_ms; kills its process group past it. */
static int wait_child(pid_t pid, long timeout_ms, bool *timed_out)
{
	int64_t deadline = mw_mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec nap = {0, 5 * 1000000};
	int status = 0;

	*timed_out = false;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		if (mw_mono_ns() > deadline) {
			*timed_out = true;
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		nanosleep(&nap, NULL);
	}
}

static bool run_command(struct actions *a, const struct job *j)
{
	long timeout = a->opt.command_timeout_ms ? a->opt.command_timeout_ms : COMMAND_TIMEOUT_MS;
	size_t ours = 0;
	char **env = build_env(j, &ours);
	bool timed_out;
	pid_t pid;
	int rc, status;

	if (!env)
		return false;
	rc = spawn_sh(a->command, env, &pid);
	free_env(env, ours, ours + 5);
	if (rc) {
		log_warn("command failed seq=%llu err=\"cannot start /bin/sh: %s\"",
			 (unsigned long long)j->seq, strerror(rc));
		return false;
	}
	status = wait_child(pid, timeout, &timed_out);
	if (timed_out) {
		log_warn("command killed seq=%llu reason=\"timeout after %ldms\"",
			 (unsigned long long)j->seq, timeout);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	log_warn("command failed seq=%llu status=%d", (unsigned long long)j->seq,
		 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return false;
}

static void count(struct actions *a, bool ok)
{
	pthread_mutex_lock(&a->lock);
	if (ok)
		a->stats.ok++;
	else
		a->stats.failed++;
	pthread_mutex_unlock(&a->lock);
}

static void *run(void *arg)
{
	struct actions *a = arg;

	pthread_setname_np(pthread_self(), "actions");
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stopping && a->count == 0)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->stopping)
			break;
		struct job j = a->ring[a->head];
		a->head = (a->head + 1) % a->cap;
		a->count--;
		pthread_mutex_unlock(&a->lock);
		if (a->webhook)
			count(a, run_webhook(a, &j));
		if (a->command)
			count(a, run_command(a, &j));
		free(j.wire);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int actions_start(struct actions *a)
{
	if (!enabled(a) || a->running)
		return MW_OK;
	if (pthread_create(&a->thread, NULL, run, a))
		return MW_ERR_NOMEM;
	a->running = true;
	log_info("actions started min_severity=%s webhook=%s command=%s",
		 severity_name(a->opt.min_severity), a->webhook ? a->webhook : "-",
		 a->command ? "yes" : "-");
	return MW_OK;
}

void actions_stop(struct actions *a)
{
	size_t left;

	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->running) {
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	pthread_mutex_lock(&a->lock);
	left = a->count;
	a->stats.dropped += left;
	for (; a->count > 0; a->count--) {
		free(a->ring[a->head].wire);
		a->head = (a->head + 1) % a->cap;
	}
	pthread_mutex_unlock(&a->lock);
	if (left)
		log_warn("actions dropped count=%zu reason=\"stopping\"", left);
}
