/* test_worker.c -- the supervisor of the vision worker and native apps, with
 * /bin/sh as the child.
 *
 * A worker that keeps exiting is started again and its restarts counted; a
 * worker that ignores SIGTERM is killed when the supervisor stops, and no
 * process is left behind either way; the default program is found beside
 * the running executable. As an app: the environment given is the whole
 * environment, cwd is honoured, stdout and stderr land in the log, which
 * stays within its bound under a flood and whose tail is the newest output;
 * how each run ended (status, signal, missing program, bad directory) is
 * the reason shown, short runs make it "failed" while it is still
 * restarted, and a run that lasts makes it "running" again. The camera
 * report parser (api_cameras_parse) is
 * checked here too: what the edge refuses, and the field it names. The
 * daemon end to end (restarts under a live API, shutdown) is in
 * tests/integration/test_worker.py. */
#include "edge/api.h"
#include "edge/worker.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct worker *sh_worker(const char *script, int64_t stop_ms)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	struct worker_options o = {.path = "/bin/sh",
				   .argv = argv,
				   .backoff_min_ms = 10,
				   .backoff_max_ms = 40,
				   .stop_timeout_ms = stop_ms};
	struct worker *w = NULL;

	assert_int_equal(worker_new(&o, &w), MW_OK);
	assert_int_equal(worker_start(w), MW_OK);
	return w;
}

static pid_t wait_running(struct worker *w)
{
	struct worker_stats st = {0};
	for (int i = 0; i < 500 && !st.running; i++) {
		worker_stats(w, &st);
		if (!st.running)
			nap_ms(10);
	}
	assert_true(st.running);
	assert_true(st.pid > 0);
	return st.pid;
}

static void exiting_worker_is_restarted(void **state)
{
	struct worker *w = sh_worker("exit 3", 0);
	struct worker_stats st = {0};

	for (int i = 0; i < 1000 && st.restarts < 3; i++) {
		nap_ms(10);
		worker_stats(w, &st);
	}
	assert_true(st.restarts >= 3);
	worker_free(w);
}

static void killed_worker_is_restarted_with_a_new_pid(void **state)
{
	struct worker *w = sh_worker("exec sleep 30", 0);
	pid_t first = wait_running(w), second = 0;
	struct worker_stats st = {0};

	assert_int_equal(kill(first, SIGKILL), 0);
	for (int i = 0; i < 500 && (st.restarts < 1 || !st.running); i++) {
		nap_ms(10);
		worker_stats(w, &st);
	}
	assert_int_equal(st.restarts, 1);
	second = wait_running(w);
	assert_int_not_equal(second, first);
	worker_free(w);
	assert_int_equal(kill(second, 0), -1); /* stopped and reaped: no such process */
	assert_int_equal(errno, ESRCH);
}

static void stop_kills_a_worker_that_ignores_sigterm(void **state)
{
	/* An ignored signal stays ignored across exec: sleep ignores SIGTERM. */
	struct worker *w = sh_worker("trap '' TERM; exec sleep 30", 200);
	pid_t pid = wait_running(w);

	nap_ms(50); /* let sh reach the exec, with the trap set */
	worker_free(w);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void missing_program_does_not_stop_the_supervisor(void **state)
{
	const char *argv[] = {"nowhere", NULL};
	struct worker_options o = {.path = "/nonexistent/mw-edge-vision",
				   .argv = argv,
				   .backoff_min_ms = 10,
				   .backoff_max_ms = 20};
	struct worker *w = NULL;
	struct worker_stats st = {0};

	assert_int_equal(worker_new(&o, &w), MW_OK);
	assert_int_equal(worker_start(w), MW_OK);
	for (int i = 0; i < 500 && st.restarts < 2; i++) {
		nap_ms(10);
		worker_stats(w, &st);
	}
	assert_false(st.running);
	assert_true(st.restarts >= 2); /* it keeps trying, with backoff */
	worker_free(w);
}

static void default_program_is_beside_the_executable(void **state)
{
	char self[4096], want[4200], got[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(want, sizeof(want), "%s/" WORKER_PROGRAM, self);
	assert_int_equal(worker_program("", got, sizeof(got)), MW_OK);
	assert_string_equal(got, want);
	assert_int_equal(worker_program("/opt/w", got, sizeof(got)), MW_OK);
	assert_string_equal(got, "/opt/w");
	assert_int_equal(worker_program("/opt/w", got, 4), MW_ERR_TOOBIG);
}

/* ---- as a native app ---- */

struct fx {
	char dir[64];	   /* a fresh directory per test */
	char log[128];	   /* dir/app.log */
	char log_old[128]; /* dir/app.log.1 */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mw-test-worker-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->log, sizeof(f->log), "%s/app.log", f->dir);
	snprintf(f->log_old, sizeof(f->log_old), "%s/app.log.1", f->dir);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* An app running `sh -c script`, its output in f->log; o may add options. */
static struct worker *app(struct fx *f, const char *script, struct worker_options o)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	struct worker *w = NULL;

	o.name = "app test";
	o.path = "/bin/sh";
	o.argv = argv;
	o.log_path = f->log;
	o.backoff_min_ms = o.backoff_min_ms ? o.backoff_min_ms : 10;
	o.backoff_max_ms = o.backoff_max_ms ? o.backoff_max_ms : 40;
	assert_int_equal(worker_new(&o, &w), MW_OK);
	assert_int_equal(worker_start(w), MW_OK);
	return w;
}

static json_t *tail(struct worker *w, int lines)
{
	json_t *a = NULL;

	assert_int_equal(worker_log_tail(w, lines, &a), MW_OK);
	assert_true(json_is_array(a));
	return a;
}

static const char *line_at(json_t *a, size_t i)
{
	const char *s = json_string_value(json_array_get(a, i));

	assert_non_null(s);
	return s;
}

/* Waits (up to 20 s) until the last line of the log is `last`. */
static void wait_last_line(struct worker *w, const char *last)
{
	for (int i = 0; i < 2000; i++) {
		json_t *a = tail(w, 1);
		bool done = json_array_size(a) == 1 && strcmp(line_at(a, 0), last) == 0;
		json_decref(a);
		if (done)
			return;
		nap_ms(10);
	}
	fail_msg("the log never ended with '%s'", last);
}

/* Asserts the log's last lines are exactly want[0..n), oldest first. */
static void assert_tail(struct worker *w, int lines, const char *const *want, size_t n)
{
	json_t *a = tail(w, lines);

	assert_int_equal(json_array_size(a), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(line_at(a, i), want[i]);
	json_decref(a);
}

typedef bool (*stats_pred)(const struct worker_stats *st);

/* Waits (up to 10 s) for the stats to satisfy ok; returns them. */
static struct worker_stats wait_stats(struct worker *w, stats_pred ok)
{
	struct worker_stats st = {0};

	for (int i = 0; i < 1000; i++) {
		worker_stats(w, &st);
		if (ok(&st))
			return st;
		nap_ms(10);
	}
	fail_msg("stats never matched: state %s failures %u restarts %llu reason '%s'",
		 worker_state_name(st.state), st.failures, (unsigned long long)st.restarts,
		 st.reason);
	return st;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void state_names(void **state)
{
	struct worker_stats none = {0}; /* what api.c shows without a worker */

	assert_int_equal(none.state, WORKER_STOPPED);
	assert_string_equal(worker_state_name(WORKER_STOPPED), "stopped");
	assert_string_equal(worker_state_name(WORKER_STARTING), "starting");
	assert_string_equal(worker_state_name(WORKER_RUNNING), "running");
	assert_string_equal(worker_state_name(WORKER_BACKOFF), "backoff");
	assert_string_equal(worker_state_name(WORKER_FAILED), "failed");
}

static void environment_is_exactly_the_one_given(void **state)
{
	struct fx *f = *state;
	const char *env[] = {"A=hello world", "PATH=/usr/bin:/bin", NULL};
	const char *script = "echo \"A=$A\"; echo \"I=${MW_TEST_INHERITED-unset}\"; "
			     "env | grep -v '^PWD=' | sort; echo END; exec sleep 30";
	const char *exact[] = {"A=hello world", "I=unset", "A=hello world", "PATH=/usr/bin:/bin",
			       "END"};
	const char *inherited[] = {"A=", "I=yes"};
	struct worker *w;

	assert_int_equal(setenv("MW_TEST_INHERITED", "yes", 1), 0);
	w = app(f, script, (struct worker_options){.env = env});
	wait_last_line(w, "END");
	assert_tail(w, 5, exact, 5);
	worker_free(w);

	assert_int_equal(unlink(f->log), 0);
	w = app(f, "echo \"A=$A\"; echo \"I=$MW_TEST_INHERITED\"; exec sleep 30",
		(struct worker_options){0}); /* env NULL: the daemon's */
	wait_last_line(w, "I=yes");
	assert_tail(w, 2, inherited, 2);
	worker_free(w);
	unsetenv("MW_TEST_INHERITED");
}

static void environment_entries_need_a_key(void **state)
{
	const char *argv[] = {"sh", NULL}, *env[] = {"A=1", "=x", NULL};
	struct worker_options o = {.path = "/bin/sh", .argv = argv, .env = env};
	struct worker *w = NULL;

	assert_int_equal(worker_new(&o, &w), MW_ERR_INVALID);
	env[1] = "NOEQUALS";
	assert_int_equal(worker_new(&o, &w), MW_ERR_INVALID);
	assert_null(w);
}

static void stdout_and_stderr_are_captured(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f,
			       "echo out; echo err >&2; printf 'caf\\303\\251 \\377!\\r\\n'; "
			       "printf ''; echo END; exec sleep 30",
			       (struct worker_options){0});
	const char *want[] = {"out", "err", "caf\xC3\xA9 \xEF\xBF\xBD!", "END"};
	struct worker_stats st;
	json_t *a = NULL;

	wait_last_line(w, "END");
	assert_tail(w, 4, want, 4);
	assert_tail(w, 0, NULL, 0);
	assert_int_equal(worker_log_tail(w, -1, &a), MW_ERR_INVALID);
	assert_int_equal(worker_log_tail(w, WORKER_TAIL_MAX + 1, &a), MW_ERR_INVALID);
	assert_null(a);
	worker_stats(w, &st);
	assert_int_equal(st.state, WORKER_RUNNING);
	assert_true(st.started_at_ns > 0);
	assert_string_equal(st.reason, "");
	worker_free(w);
}

static void tail_needs_a_log(void **state)
{
	struct worker *w = sh_worker("exec sleep 30", 0);
	json_t *a = NULL;

	assert_int_equal(worker_log_tail(w, 5, &a), MW_ERR_INVALID);
	assert_null(a);
	worker_free(w);
}

static void tail_is_the_last_lines_in_order(void **state)
{
	struct fx *f = *state;
	/* 40 bytes a file: line1..line6 end in app.log.1, line7..line10 in app.log. */
	struct worker *w = app(f,
			       "i=1; while [ $i -le 10 ]; do echo line$i; i=$((i+1)); done; "
			       "exec sleep 30",
			       (struct worker_options){.log_max_bytes = 40});
	const char *all[] = {"line1", "line2", "line3", "line4", "line5",
			     "line6", "line7", "line8", "line9", "line10"};

	wait_last_line(w, "line10");
	assert_tail(w, 3, all + 7, 3);
	assert_tail(w, 4, all + 6, 4); /* exactly the current file */
	assert_tail(w, 8, all + 2, 8); /* and the end of the .1 file */
	assert_tail(w, 20, all, 10);
	assert_int_equal(file_size(f->log_old), 36);
	assert_int_equal(file_size(f->log), 25);
	worker_free(w);
}

static void flood_keeps_the_log_bounded(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f, "yes | head -c 3000000; echo END; exec sleep 30",
			       (struct worker_options){.log_max_bytes = 100000});
	const char *want[] = {"y", "y", "END"};

	wait_last_line(w, "END");
	assert_tail(w, 3, want, 3);
	assert_true(file_size(f->log) <= 100000);
	assert_true(file_size(f->log_old) > 90000 && file_size(f->log_old) <= 100000);
	worker_free(w);
}

static void endless_line_is_cut(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f,
			       "head -c 500000 /dev/zero | tr '\\0' x; echo; echo END; "
			       "exec sleep 30",
			       (struct worker_options){.log_max_bytes = 100000});
	char xs[WORKER_TAIL_LINE_MAX + 1];
	const char *want[] = {xs, "END"};

	memset(xs, 'x', WORKER_TAIL_LINE_MAX);
	xs[WORKER_TAIL_LINE_MAX] = '\0';
	wait_last_line(w, "END");
	assert_tail(w, 2, want, 2);
	assert_true(file_size(f->log) <= 100000);
	assert_true(file_size(f->log_old) <= 100000);
	worker_free(w);
}

static bool failed_three_times(const struct worker_stats *st)
{
	return st->state == WORKER_FAILED && st->failures >= 3;
}

static void short_runs_fail_but_restarts_go_on(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f, "echo bye; exit 1", (struct worker_options){0});
	struct worker_stats st = wait_stats(w, failed_three_times), later = {0};

	assert_string_equal(st.reason, "exited with status 1");
	for (int i = 0; i < 500 && later.restarts < st.restarts + 2; i++) {
		nap_ms(10);
		worker_stats(w, &later);
	}
	assert_true(later.restarts >= st.restarts + 2); /* still restarted */
	assert_int_equal(later.state, WORKER_FAILED);	/* and still failed */
	assert_true(later.failures > st.failures);
	worker_free(w);
}

static bool restarted(const struct worker_stats *st) { return st->restarts >= 1 && st->running; }

static void killed_child_reason_names_the_signal(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f, "exec sleep 30", (struct worker_options){0});
	pid_t pid = wait_running(w);
	struct worker_stats st;

	assert_int_equal(kill(pid, SIGKILL), 0);
	st = wait_stats(w, restarted);
	assert_string_equal(st.reason, "killed by signal SIGKILL");
	assert_int_equal(st.failures, 1);
	worker_free(w);
}

static bool has_reason(const struct worker_stats *st) { return st->reason[0] != '\0'; }

static void missing_program_is_the_reason(void **state)
{
	const char *argv[] = {"app", NULL};
	struct worker_options o = {.name = "app gone",
				   .path = "/nonexistent/app",
				   .argv = argv,
				   .backoff_min_ms = 10,
				   .backoff_max_ms = 20};
	struct worker *w = NULL;
	struct worker_stats st;

	assert_int_equal(worker_new(&o, &w), MW_OK);
	worker_stats(w, &st);
	assert_int_equal(st.state, WORKER_STOPPED); /* not started yet */
	assert_int_equal(worker_start(w), MW_OK);
	st = wait_stats(w, has_reason);
	assert_string_equal(st.reason, "cannot run /nonexistent/app: No such file or directory");
	assert_false(st.running);
	assert_int_equal(st.started_at_ns, 0);
	st = wait_stats(w, failed_three_times);
	worker_free(w);
}

static void unrunnable_program_is_the_reason(void **state)
{
	struct fx *f = *state;
	char path[160], want[200];
	const char *argv[] = {"garbage", NULL};
	struct worker_options o = {.name = "app garbage", .argv = argv, .backoff_min_ms = 10};
	struct worker *w = NULL;
	FILE *fp;
	struct worker_stats st;

	snprintf(path, sizeof(path), "%s/garbage", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("not a program\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0755), 0);
	o.path = path;
	assert_int_equal(worker_new(&o, &w), MW_OK);
	assert_int_equal(worker_start(w), MW_OK);
	st = wait_stats(w, has_reason);
	snprintf(want, sizeof(want), "cannot run %s: Exec format error", path);
	assert_string_equal(st.reason, want);
	worker_free(w);
}

static bool recovered(const struct worker_stats *st)
{
	return st->state == WORKER_RUNNING && st->failures == 0;
}

static void healthy_run_clears_the_failures(void **state)
{
	struct fx *f = *state;
	/* Three runs that exit at once, then one that lasts. */
	struct worker *w = app(
		f,
		"n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; "
		"[ \"$n\" -ge 3 ] && exec sleep 30; exit 1",
		(struct worker_options){.cwd = f->dir, .healthy_ms = 200, .backoff_max_ms = 100});
	struct worker_stats st = wait_stats(w, failed_three_times);

	assert_string_equal(st.reason, "exited with status 1");
	st = wait_stats(w, recovered);
	assert_true(st.running);
	assert_int_equal(st.restarts, 3);
	assert_true(st.started_at_ns > 0);
	worker_free(w);
}

static void cwd_is_honoured(void **state)
{
	struct fx *f = *state;
	char real[PATH_MAX];
	struct worker *w =
		app(f, "pwd -P; echo END; exec sleep 30", (struct worker_options){.cwd = f->dir});
	const char *want[] = {real, "END"};

	assert_non_null(realpath(f->dir, real));
	wait_last_line(w, "END");
	assert_tail(w, 2, want, 2);
	worker_free(w);
}

static void missing_cwd_is_the_reason(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f, "echo never", (struct worker_options){.cwd = "/nonexistent-dir"});
	struct worker_stats st = wait_stats(w, has_reason);

	assert_string_equal(
		st.reason,
		"cannot change directory to /nonexistent-dir: No such file or directory");
	worker_free(w);
}

static void stop_kills_an_app_that_ignores_sigterm(void **state)
{
	struct fx *f = *state;
	struct worker *w = app(f, "trap '' TERM; echo ready; exec sleep 30",
			       (struct worker_options){.stop_timeout_ms = 300});
	pid_t pid;
	int64_t t0;

	wait_last_line(w, "ready");
	pid = wait_running(w);
	nap_ms(50); /* let sh reach the exec, with the trap set */
	t0 = mw_mono_ns();
	worker_free(w);
	assert_true(mw_mono_ns() - t0 >= 300 * 1000000LL); /* the grace period was given */
	assert_true(mw_mono_ns() - t0 < 5000 * 1000000LL);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* ---- the report parser ---- */

static int parse(const char *body, struct api_camera *cams, size_t *n, char *err, size_t errlen)
{
	return api_cameras_parse(body, strlen(body), cams, n, err, errlen);
}

static void report_is_read(void **state)
{
	struct api_camera cams[API_CAMERAS_MAX];
	char err[512] = "";
	size_t n = 0;

	assert_int_equal(parse("{\"cameras\":[{\"id\":\"line1/cam1\",\"state\":\"running\","
			       "\"frames_in\":100,\"frames_analysed\":90,\"frames_dropped\":10,"
			       "\"reconnects\":2,\"fps_in\":25,\"fps_analysed\":24.5,"
			       "\"events\":7,\"width\":1920,\"height\":1080,\"last_error\":null},"
			       "{\"id\":\"cam2\",\"state\":\"reconnecting\","
			       "\"last_error\":\"Connection refused\"}]}",
			       cams, &n, err, sizeof(err)),
			 MW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(cams[0].id, "line1/cam1");
	assert_int_equal(cams[0].state, API_CAM_RUNNING);
	assert_int_equal(cams[0].frames_dropped, 10);
	assert_true(cams[0].fps_analysed == 24.5);
	assert_int_equal(cams[0].width, 1920);
	assert_string_equal(cams[0].last_error, "");
	assert_int_equal(cams[1].state, API_CAM_RECONNECTING);
	assert_string_equal(cams[1].last_error, "Connection refused");
	assert_int_equal(cams[1].frames_in, 0);
}

static void bad_reports_name_the_field(void **state)
{
	static const struct {
		const char *body, *names;
	} cases[] = {
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\",\"fps_in\":-1}]}",
		 "cameras[0].fps_in"},
		{"{\"cameras\":[{\"id\":\"a\"},{\"id\":\"b\",\"state\":\"x\"}]}",
		 "cameras[0].state"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"ended\"},{\"id\":\"b\",\"state\":\"x\"}]"
		 "}",
		 "cameras[1].state"},
		{"{\"cameras\":[{\"state\":\"running\"}]}", "cameras[0].id"},
		{"{\"cameras\":[{\"id\":\"a b\",\"state\":\"running\"}]}", "cameras[0].id"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\"},{\"id\":\"a\",\"state\":"
		 "\"running\"}]}",
		 "cameras[1].id"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\",\"frames_in\":\"7\"}]}",
		 "cameras[0].frames_in"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\",\"width\":70000}]}",
		 "cameras[0].width"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\",\"last_error\":5}]}",
		 "cameras[0].last_error"},
		{"{\"cameras\":[{\"id\":\"a\",\"state\":\"running\",\"colour\":1}]}",
		 "cameras[0].colour"},
		{"{\"cameras\":[7]}", "cameras[0]"},
		{"{\"cameras\":{}}", "cameras"},
		{"{}", "cameras"},
		{"{\"cameras\":[],\"more\":1}", "more"},
		{"[1,2", "body"},
	};
	struct api_camera cams[API_CAMERAS_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		size_t n = 5;
		assert_int_equal(parse(cases[i].body, cams, &n, err, sizeof(err)), MW_ERR_INVALID);
		assert_int_equal(n, 0);
		if (strncmp(err, cases[i].names, strlen(cases[i].names)) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err,
				 cases[i].names);
	}
}

static void report_size_is_capped(void **state)
{
	struct api_camera cams[API_CAMERAS_MAX];
	char body[8192], err[512] = "", longerr[1024];
	size_t n = 0, len = (size_t)snprintf(body, sizeof(body), "{\"cameras\":[");

	for (int i = 0; i <= API_CAMERAS_MAX; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"%s{\"id\":\"c%d\",\"state\":\"running\"}", i ? "," : "",
					i);
	snprintf(body + len, sizeof(body) - len, "]}");
	assert_int_equal(parse(body, cams, &n, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "cameras: at most 64"));

	memset(longerr, 'e', 900);
	longerr[900] = '\0';
	snprintf(body, sizeof(body),
		 "{\"cameras\":[{\"id\":\"c\",\"state\":\"failed\",\"last_error\":\"%s\"}]}",
		 longerr);
	assert_int_equal(parse(body, cams, &n, err, sizeof(err)), MW_OK);
	assert_int_equal(strlen(cams[0].last_error), API_CAMERA_ERROR_MAX); /* cut, kept */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exiting_worker_is_restarted),
		cmocka_unit_test(killed_worker_is_restarted_with_a_new_pid),
		cmocka_unit_test(stop_kills_a_worker_that_ignores_sigterm),
		cmocka_unit_test(missing_program_does_not_stop_the_supervisor),
		cmocka_unit_test(default_program_is_beside_the_executable),
		cmocka_unit_test(state_names),
		cmocka_unit_test_setup_teardown(environment_is_exactly_the_one_given, fx_setup,
						fx_teardown),
		cmocka_unit_test(environment_entries_need_a_key),
		cmocka_unit_test_setup_teardown(stdout_and_stderr_are_captured, fx_setup,
						fx_teardown),
		cmocka_unit_test(tail_needs_a_log),
		cmocka_unit_test_setup_teardown(tail_is_the_last_lines_in_order, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(flood_keeps_the_log_bounded, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(endless_line_is_cut, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(short_runs_fail_but_restarts_go_on, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(killed_child_reason_names_the_signal, fx_setup,
						fx_teardown),
		cmocka_unit_test(missing_program_is_the_reason),
		cmocka_unit_test_setup_teardown(unrunnable_program_is_the_reason, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(healthy_run_clears_the_failures, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(cwd_is_honoured, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(missing_cwd_is_the_reason, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(stop_kills_an_app_that_ignores_sigterm, fx_setup,
						fx_teardown),
		cmocka_unit_test(report_is_read),
		cmocka_unit_test(bad_reports_name_the_field),
		cmocka_unit_test(report_size_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
