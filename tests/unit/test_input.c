/* test_input.c -- video input: what a camera's frames look like after
 * decoding, and what a user reads when a camera cannot be opened.
 *
 * The videos are made at test time with the ffmpeg CLI into a temporary
 * directory: H.264 in MP4 and MPEG-TS, MJPEG in AVI, raw RGB and YUYV (the
 * swscale path, as from a webcam), a PNG sequence, flat colours for luma
 * checks, an audio-only file, a codec this FFmpeg cannot decode, a truncated and a damaged stream, and bytes
 * that are not a video. */
#include "vision/input.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* ffmpeg -f lavfi -i SRC ARGS DIR/NAME */
static void make(const char *name, const char *src, const char *args)
{
	char cmd[1024], p[256];

	path(p, sizeof(p), name);
	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -y -loglevel error -f lavfi -i %s %s '%s'", src,
		 args, p);
	assert_int_equal(system(cmd), 0);
}

/* Writes len bytes of fixed-seed noise at offset: the same bytes every run,
 * so the outcome of FFmpeg's probing does not vary between runs. */
static void noise(const char *name, const char *mode, long offset, size_t len)
{
	FILE *f = fopen(name, mode);
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	assert_non_null(f);
	assert_int_equal(fseek(f, offset, SEEK_SET), 0);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fputc((int)(x >> 56), f);
	}
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/mw-test-input-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	make("h264.mp4", "testsrc2=size=320x240:rate=25", "-t 2 -c:v libx264 -pix_fmt yuv420p");
	make("fast.mp4", "testsrc2=size=320x240:rate=25",
	     "-t 2 -c:v libx264 -pix_fmt yuv420p -movflags +faststart");
	make("h264.ts", "testsrc2=size=320x240:rate=25", "-t 2 -c:v libx264 -pix_fmt yuv420p");
	make("mjpeg.avi", "testsrc2=size=352x288:rate=10", "-t 2 -c:v mjpeg");
	make("rgb.nut", "testsrc2=size=160x120:rate=25", "-t 1 -c:v rawvideo -pix_fmt rgb24");
	make("yuyv.nut", "testsrc2=size=160x120:rate=25", "-t 1 -c:v rawvideo -pix_fmt yuyv422");
	make("img%03d.png", "testsrc2=size=64x48:rate=25", "-frames:v 7");
	make("gray.mp4", "color=c=gray:size=160x120:rate=25", "-t 1 -c:v libx264 -pix_fmt yuv420p");
	make("dark.mp4", "color=c=0x303030:size=160x120:rate=25",
	     "-t 1 -c:v libx264 -pix_fmt yuv420p");
	make("dark.avi", "color=c=0x303030:size=160x120:rate=25", "-t 1 -c:v mjpeg");
	make("dark.nut", "color=c=0x303030:size=160x120:rate=25",
	     "-t 1 -c:v rawvideo -pix_fmt rgb24");
	make("audio.wav", "sine=frequency=440", "-t 1");
	/* a C64 codec FFmpeg can encode but not decode: stored as an unknown fourcc */
	make("a64.avi", "testsrc2=size=320x200:rate=5", "-t 1 -c:v a64multi");
	if (chdir(dir))
		return -1;
	if (system("cp fast.mp4 cut.mp4 && truncate -s $(($(stat -c %s cut.mp4) / 2)) cut.mp4 && "
		   "cp h264.ts cut.ts && truncate -s $(($(stat -c %s cut.ts) / 2)) cut.ts && "
		   "cp h264.ts damaged.ts"))
		return -1;
	noise("damaged.ts", "r+b", 30000, 6000);
	noise("noise.mp4", "wb", 0, 65536);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	if (chdir("/"))
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct input *open_ok(const char *name)
{
	struct input_options opt = {.camera = "cam1"};
	struct input *in = NULL;
	char p[256], err[256];
	int rc;

	path(p, sizeof(p), name);
	opt.url = p;
	rc = input_open(&opt, &in, err, sizeof(err));
	if (rc)
		fail_msg("%s: %s", name, err);
	return in;
}

/* Opens name, which must fail; returns the message. */
static int open_fails(const char *url, int64_t timeout_ms, char *err, size_t errlen)
{
	struct input_options opt = {.camera = "cam1", .url = url, .open_timeout_ms = timeout_ms};
	struct input *in = NULL;
	int rc = input_open(&opt, &in, err, errlen);

	assert_int_not_equal(rc, MW_OK);
	assert_null(in);
	assert_non_null(strstr(err, "camera cam1: "));
	return rc;
}

/* Reads to the end; returns the number of frames, checks each is whole. */
static int read_all(struct input *in, int *last_rc)
{
	struct frame f;
	int n = 0, rc;

	while ((rc = input_read(in, &f)) == MW_OK) {
		assert_int_equal(f.index, (uint64_t)n);
		assert_int_equal(f.y.width, input_width(in));
		assert_int_equal(f.y.height, input_height(in));
		assert_true(f.y.stride >= f.y.width);
		assert_true(f.arrival_ns > 0 && f.wall_ns > 0);
		/* touch every row: ASan catches a plane that is not what it claims */
		for (int y = 0; y < f.y.height; y++)
			assert_true(plane_row(&f.y, y)[f.y.width - 1] <= 255);
		n++;
	}
	*last_rc = rc;
	return n;
}

static void check_file(const char *name, int frames, int w, int h)
{
	struct input *in = open_ok(name);
	int rc;

	assert_int_equal(input_width(in), w);
	assert_int_equal(input_height(in), h);
	assert_int_equal(read_all(in, &rc), frames);
	assert_int_equal(rc, MW_ERR_NOTFOUND);
	input_close(in);
}

static void test_counts_and_sizes(void **state)
{
	check_file("h264.mp4", 50, 320, 240);
	check_file("h264.ts", 50, 320, 240);
	check_file("mjpeg.avi", 20, 352, 288);
	check_file("rgb.nut", 25, 160, 120);
	check_file("yuyv.nut", 25, 160, 120);
	check_file("img%03d.png", 7, 64, 48);
}

static void test_pts_and_fps(void **state)
{
	struct input *in = open_ok("h264.mp4");
	struct frame f;

	assert_true(input_fps(in) > 24.9 && input_fps(in) < 25.1);
	assert_false(input_is_live(in));
	for (int i = 0; i < 10; i++) {
		assert_int_equal(input_read(in, &f), MW_OK);
		assert_int_equal(f.pts_ns, (int64_t)i * 40000000);
	}
	input_close(in);
}

static double mean_luma(const char *name)
{
	struct input *in = open_ok(name);
	struct frame f;
	double sum = 0;

	assert_int_equal(input_read(in, &f), MW_OK);
	for (int y = 0; y < f.y.height; y++)
		for (int x = 0; x < f.y.width; x++)
			sum += plane_row(&f.y, y)[x];
	input_close(in);
	return sum / ((double)f.y.width * f.y.height);
}

/* Luma as the stream codes it: Y = 0.299R + 0.587G + 0.114B, which for a
 * gray v is v; limited-range video (most H.264) maps 0..255 to 16..235. */
static void test_luma_of_known_colours(void **state)
{
	double limited_gray = 16 + 219.0 * 128 / 255, limited_dark = 16 + 219.0 * 48 / 255;

	assert_float_equal(mean_luma("gray.mp4"), limited_gray, 1.5);
	assert_float_equal(mean_luma("dark.mp4"), limited_dark, 1.5);
	assert_float_equal(mean_luma("dark.avi"), 48, 1.5); /* MJPEG: full range */
	assert_float_equal(mean_luma("dark.nut"), 48, 1.5); /* RGB through swscale */
}

static void test_truncated(void **state)
{
	const char *names[] = {"cut.ts", "cut.mp4"};

	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
		struct input_options opt = {.camera = "cam1"};
		struct input *in = NULL;
		char p[256], err[256];
		int n, rc;

		path(p, sizeof(p), names[i]);
		opt.url = p;
		rc = input_open(&opt, &in, err, sizeof(err));
		if (rc) { /* an MP4 may lose its index: a clear error is right too */
			assert_non_null(strstr(err, "camera cam1: "));
			continue;
		}
		n = read_all(in, &rc);
		assert_true(n > 5 && n < 50);
		assert_true(rc == MW_ERR_NOTFOUND || rc == MW_ERR_IO);
		if (rc == MW_ERR_IO)
			assert_non_null(strstr(input_error(in), "cam1"));
		input_close(in);
	}
}

/* A damaged stretch in the middle of a stream costs a few frames, not the stream. */
static void test_damaged_stream_goes_on(void **state)
{
	struct input *in = open_ok("damaged.ts");
	struct input_stats st;
	int n, rc;

	n = read_all(in, &rc);
	assert_int_equal(rc, MW_ERR_NOTFOUND);
	assert_true(n >= 30);
	input_stats(in, &st);
	assert_int_equal(st.frames, (uint64_t)n);
	input_close(in);
}

static void test_not_a_video(void **state)
{
	char p[256], err[256];

	path(p, sizeof(p), "noise.mp4");
	assert_int_equal(open_fails(p, 0, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "noise.mp4: invalid data"));

	path(p, sizeof(p), "audio.wav");
	assert_int_equal(open_fails(p, 0, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "audio.wav: no video stream"));

	path(p, sizeof(p), "a64.avi");
	assert_int_equal(open_fails(p, 0, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "a64.avi: codec a64m is not supported by this FFmpeg build"));
}

static void test_missing_file(void **state)
{
	char p[256], err[256];

	path(p, sizeof(p), "nope.mp4");
	assert_int_equal(open_fails(p, 0, err, sizeof(err)), MW_ERR_NOTFOUND);
	assert_non_null(strstr(err, "nope.mp4: no such file"));
}

/* A loopback port with a socket bound to it; listening or not. */
static int bound_socket(bool listening, int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_unreachable(void **state)
{
	char url[64], err[256];
	int port, fd;

	/* nothing listening: refused at once */
	fd = bound_socket(false, &port);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	assert_int_equal(open_fails(url, 2000, err, sizeof(err)), MW_ERR_IO);
	assert_non_null(strstr(err, "connection refused"));
	assert_non_null(strstr(err, url));
	close(fd);

	/* a peer that accepts and never sends: the timeout ends the wait */
	fd = bound_socket(true, &port);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	assert_int_equal(open_fails(url, 300, err, sizeof(err)), MW_ERR_IO);
	assert_non_null(strstr(err, "no answer within 300 ms"));
	close(fd);
}

static void test_rewind(void **state)
{
	struct input *in = open_ok("h264.mp4");
	struct frame f;
	int n, rc;

	for (int i = 0; i < 20; i++)
		assert_int_equal(input_read(in, &f), MW_OK);
	assert_int_equal(input_rewind(in), MW_OK);
	assert_int_equal(input_read(in, &f), MW_OK);
	assert_int_equal(f.pts_ns, 0);
	assert_int_equal(f.index, 20); /* indexes keep counting */
	n = 1;
	while ((rc = input_read(in, &f)) == MW_OK)
		n++;
	assert_int_equal(rc, MW_ERR_NOTFOUND);
	assert_int_equal(n, 50);
	/* and again after the end */
	assert_int_equal(input_rewind(in), MW_OK);
	assert_int_equal(input_read(in, &f), MW_OK);
	assert_int_equal(f.pts_ns, 0);
	input_close(in);
}

/* Realtime pacing: frames come no faster than the file's rate. */
static void test_realtime(void **state)
{
	struct input_options opt = {.camera = "cam1", .realtime = true};
	struct input *in = NULL;
	struct frame f;
	char p[256], err[256];
	int64_t first = 0;

	path(p, sizeof(p), "h264.mp4");
	opt.url = p;
	assert_int_equal(input_open(&opt, &in, err, sizeof(err)), MW_OK);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(input_read(in, &f), MW_OK);
		if (i == 0)
			first = f.arrival_ns;
	}
	/* 5 frame intervals of 40 ms: behaviour, not speed */
	assert_true(f.arrival_ns - first >= 5 * 40000000LL - 5000000);
	input_close(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_sizes),
		cmocka_unit_test(test_pts_and_fps),
		cmocka_unit_test(test_luma_of_known_colours),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_damaged_stream_goes_on),
		cmocka_unit_test(test_not_a_video),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_realtime),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
