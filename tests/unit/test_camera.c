/* test_camera.c -- a camera's worker threads as a user of mw-edge sees
 * them: a looping file keeps delivering, slow analysis drops frames
 * instead of queueing them, a broken camera keeps retrying and reports why
 * while a good one beside it runs on, and stopping never hangs.
 *
 * Videos are made at test time with the ffmpeg CLI. Waits poll the
 * camera's status with a generous deadline; they fail only if the camera
 * never gets there. */
#include "vision/camera.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_NS 30000000000LL

static char dir[64];

static int setup(void **state)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/mw-test-camera-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && ffmpeg -nostdin -y -loglevel error -f lavfi "
		 "-i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -pix_fmt yuv420p clip.mp4 && "
		 "ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc2=size=160x120:rate=25 "
		 "-frames:v 10 -c:v libx264 -pix_fmt yuv420p short.mp4",
		 dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct frame_source file_source(const char *id, const char *name, bool realtime)
{
	struct input_options opt = {.camera = id, .realtime = realtime};
	struct frame_source src;
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	opt.url = p;
	assert_int_equal(camera_input_source(&opt, &src), MW_OK);
	return src;
}

typedef bool (*cond_fn)(const struct camera_status *st);

static struct camera_status wait_for(struct camera *cam, cond_fn ok)
{
	int64_t end = mw_mono_ns() + DEADLINE_NS;
	struct camera_status st;

	for (;;) {
		camera_status(cam, &st);
		if (ok(&st))
			return st;
		if (mw_mono_ns() > end)
			fail_msg("camera never got there: state=%s in=%llu err=%s",
				 camera_state_name(st.state), (unsigned long long)st.frames_in,
				 st.last_error);
		sleep_ms(10);
	}
}

/* ---- looping ---- */

static bool past_three_loops(const struct camera_status *st) { return st->frames_in > 30; }

static void test_loop_keeps_delivering(void **state)
{
	struct camera_options opt = {.id = "loop", .loop = true};
	struct camera_status st;
	struct camera *cam;

	opt.src = file_source("loop", "short.mp4", false);
	assert_int_equal(camera_start(&opt, &cam), MW_OK);
	st = wait_for(cam, past_three_loops);
	assert_int_equal(st.state, CAMERA_RUNNING);
	assert_int_equal(st.width, 160);
	assert_int_equal(st.height, 120);
	assert_int_equal(st.reconnects, 0);
	camera_free(cam);
}

/* ---- slow analysis ---- */

struct slow {
	pthread_mutex_t lock;
	const uint8_t *buffers[64]; /* distinct planes analysis was handed (more than the frames) */
	size_t nbuffers;
	uint64_t calls;
	bool bad_thread, bad_frame, torn_frame;
	enum camera_state states[16];
	size_t nstates;
};

static uint64_t plane_sum(const struct plane *p)
{
	uint64_t sum = 0;

	for (int y = 0; y < p->height; y++)
		for (int x = 0; x < p->width; x++)
			sum = sum * 31 + plane_row(p, y)[x];
	return sum;
}

static void slow_analyse(void *arg, const struct frame *f)
{
	struct slow *s = arg;
	char name[16] = "";
	uint64_t before = plane_sum(&f->y);
	size_t i;

	pthread_getname_np(pthread_self(), name, sizeof(name));
	pthread_mutex_lock(&s->lock);
	s->bad_thread |= strcmp(name, "ana-slow") != 0;
	s->bad_frame |= f->y.width != 320 || f->y.height != 240;
	for (i = 0; i < s->nbuffers && s->buffers[i] != f->y.data; i++)
		;
	if (i == s->nbuffers && i < MW_ARRAY_LEN(s->buffers))
		s->buffers[s->nbuffers++] = f->y.data;
	s->calls++;
	pthread_mutex_unlock(&s->lock);
	sleep_ms(50);
	/* meanwhile the reader decoded two more frames: not into this one */
	if (plane_sum(&f->y) != before) {
		pthread_mutex_lock(&s->lock);
		s->torn_frame = true;
		pthread_mutex_unlock(&s->lock);
	}
}

static void record_state(void *arg, const struct camera_status *st)
{
	struct slow *s = arg;

	if (s->nstates < MW_ARRAY_LEN(s->states))
		s->states[s->nstates++] = st->state;
}

static bool ended(const struct camera_status *st) { return st->state == CAMERA_ENDED; }

static void test_slow_analysis_drops_frames(void **state)
{
	struct slow s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct camera_options opt = {.id = "slow",
				     .analyse = slow_analyse,
				     .analyse_arg = &s,
				     .status = record_state,
				     .status_arg = &s};
	struct camera_status st;
	struct camera *cam;
	uint64_t pending;

	opt.src = file_source("slow", "clip.mp4", true); /* 25 fps, as a camera */
	assert_int_equal(camera_start(&opt, &cam), MW_OK);
	wait_for(cam, ended);
	camera_stop(cam);
	camera_status(cam, &st);

	assert_int_equal(st.frames_in, 50);
	assert_true(st.frames_dropped > 0);
	pending = st.frames_in - st.frames_analysed - st.frames_dropped;
	assert_true(st.frames_in >= st.frames_analysed + st.frames_dropped && pending <= 1);
	assert_int_equal(st.frames_analysed, s.calls);
	assert_false(s.bad_thread);
	assert_false(s.bad_frame);
	assert_false(s.torn_frame);
	/* Buffers are reused, never one per frame: the frames are the decoder's
	 * own (lent, not copied), from its pool of at most 16 reference frames
	 * plus one per decoding thread (2), three of them held by our slots. */
	assert_true(s.nbuffers <= 16 + 2 + 3);
	assert_true(s.nbuffers < st.frames_analysed);
	assert_true(s.nstates >= 3);
	assert_int_equal(s.states[0], CAMERA_RUNNING);
	assert_int_equal(s.states[s.nstates - 2], CAMERA_ENDED);
	assert_int_equal(s.states[s.nstates - 1], CAMERA_STOPPED);
	assert_int_equal(st.state, CAMERA_STOPPED);
	camera_free(cam);
}

static bool all_analysed(const struct camera_status *st)
{
	return st->state == CAMERA_ENDED && st->frames_analysed == st->frames_in;
}

/* A file analysed as fast as possible (realtime off) must lose nothing,
 * however slow the analysis: the reader waits instead of dropping. */
static void test_lossless_file_drops_nothing(void **state)
{
	struct slow s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct camera_options opt = {.id = "slow", .lossless = true,
				     .analyse = slow_analyse, .analyse_arg = &s};
	struct camera_status st;
	struct camera *cam;

	opt.src = file_source("slow", "clip.mp4", false);
	assert_int_equal(camera_start(&opt, &cam), MW_OK);
	wait_for(cam, all_analysed);
	camera_stop(cam);
	camera_status(cam, &st);
	assert_int_equal(st.frames_in, 50);
	assert_int_equal(st.frames_analysed, 50);
	assert_int_equal(st.frames_dropped, 0);
	assert_int_equal(s.calls, 50);
	camera_free(cam);
}

/* ---- failures ---- */

static bool retried_thrice(const struct camera_status *st) { return st->reconnects >= 3; }
static bool running_long(const struct camera_status *st) { return st->frames_in > 60; }

static void test_failing_camera_does_not_stop_others(void **state)
{
	struct camera_options bad = {.id = "camA", .backoff_min_ms = 20, .backoff_max_ms = 80};
	struct camera_options good = {.id = "camB", .loop = true};
	struct camera *a, *b;
	struct camera_status sa, sb;

	bad.src = file_source("camA", "missing.mp4", false);
	good.src = file_source("camB", "clip.mp4", false);
	assert_int_equal(camera_start(&bad, &a), MW_OK);
	assert_int_equal(camera_start(&good, &b), MW_OK);

	sa = wait_for(a, retried_thrice);
	sb = wait_for(b, running_long);
	camera_status(a, &sa);
	assert_int_equal(sa.state, CAMERA_RECONNECTING);
	assert_non_null(strstr(sa.last_error, "camera camA: "));
	assert_non_null(strstr(sa.last_error, "missing.mp4: no such file"));
	assert_int_equal(sa.frames_in, 0);
	assert_int_equal(sb.state, CAMERA_RUNNING);
	assert_int_equal(sb.reconnects, 0);
	assert_string_equal(sb.last_error, "");
	camera_free(a);
	camera_free(b);
}

static bool reconnecting(const struct camera_status *st)
{
	return st->state == CAMERA_RECONNECTING;
}

static bool connecting(const struct camera_status *st) { return st->state == CAMERA_CONNECTING; }

/* Stopping must not wait out a minute of backoff, nor a minute-long open.
 * The bound is far below those minutes: it tells a hang from a return. */
static void test_stop_is_prompt(void **state)
{
	struct camera_options opt = {.id = "wait", .backoff_min_ms = 60000};
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	struct input_options net = {.camera = "net", .open_timeout_ms = 60000};
	struct camera *cam;
	char url[64];
	int64_t t0;
	int fd;

	opt.src = file_source("wait", "missing.mp4", false);
	assert_int_equal(camera_start(&opt, &cam), MW_OK);
	wait_for(cam, reconnecting);
	t0 = mw_mono_ns();
	camera_free(cam);
	assert_true(mw_mono_ns() - t0 < 10000000000LL);

	/* a peer that accepts the connection and never sends a byte */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	assert_int_equal(listen(fd, 4), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(addr.sin_port));
	net.url = url;
	opt.id = "net";
	assert_int_equal(camera_input_source(&net, &opt.src), MW_OK);
	assert_int_equal(camera_start(&opt, &cam), MW_OK);
	wait_for(cam, connecting);
	sleep_ms(200); /* let the open block */
	t0 = mw_mono_ns();
	camera_free(cam);
	assert_true(mw_mono_ns() - t0 < 10000000000LL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_keeps_delivering),
		cmocka_unit_test(test_slow_analysis_drops_frames),
		cmocka_unit_test(test_lossless_file_drops_nothing),
		cmocka_unit_test(test_failing_camera_does_not_stop_others),
		cmocka_unit_test(test_stop_is_prompt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
