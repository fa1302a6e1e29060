/* test_worker.c -- the vision worker's supervisor, with /bin/sh as the worker.
 *
 * A worker that keeps exiting is started again and its restarts counted; a
 * worker that ignores SIGTERM is killed when the supervisor stops, and no
 * process is left behind either way; the default program is found beside
 * the running executable. The camera report parser (api_cameras_parse) is
 * checked here too: what the edge refuses, and the field it names. The
 * daemon end to end (restarts under a live API, shutdown) is in
 * tests/integration/test_worker.py. */
#include "edge/api.h"
#include "edge/worker.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		cmocka_unit_test(report_is_read),
		cmocka_unit_test(bad_reports_name_the_field),
		cmocka_unit_test(report_size_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
