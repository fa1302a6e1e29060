/* test_motion.c -- the background model and blob finder of vision/motion.h.
 *
 * Frames are drawn here: a floor of bright and dark tiles with a fixed
 * per-pixel texture, fresh sensor noise in every frame, and a "person", a
 * filled ellipse darker than the floor. What a user would notice: one
 * moving object is one blob whose box is where the object is; a static
 * scene, and a slow brightness ramp of 30 grey levels, give no blobs at
 * all; a sudden change of the light gives no frame-sized blob and the
 * model is usable again shortly after; a gain swinging +-25% faster than
 * the background learns leaves a person standing still the only blob; a
 * knocked camera costs two frames, not a learning phase; an object left
 * in view is foreground for seconds and then becomes background.
 * Everything comes from a fixed-seed generator, so a failure replays
 * exactly. */
#include "vision/motion.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define W 640
#define H 360
#include "drawn_floor.h"

static struct motion *new_motion(void)
{
	struct motion_options o = {0};
	struct motion *m = NULL;
	char err[256] = "";

	assert_int_equal(motion_new(&o, W, H, &m, err, sizeof(err)), MW_OK);
	return m;
}

static int run(struct motion *m, struct scene *sc, struct blob *b)
{
	int n = motion_process(m, &sc->frame, b, MOTION_BLOBS_MAX);
	assert_true(n >= 0);
	return n;
}

/* One person crossing the frame: one blob a frame, the box within a few
 * pixels of the drawn ellipse, the centroid on it, the mask set there. */
static void test_one_moving_object(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int worst = 0;

	scene_init(&sc, 1);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int i = 0; i < 60; i++) {
		int cx = 60 + 9 * i, cy = 150 + i;
		const struct plane *mask;
		draw(&sc, 0, cx, cy);
		assert_int_equal(run(m, &sc, b), 1);
		worst = abs(b[0].box.x - (cx - RX)) > worst ? abs(b[0].box.x - (cx - RX)) : worst;
		worst = abs(b[0].box.y - (cy - RY)) > worst ? abs(b[0].box.y - (cy - RY)) : worst;
		worst = abs(b[0].box.w - (2 * RX + 1)) > worst ? abs(b[0].box.w - (2 * RX + 1))
							       : worst;
		worst = abs(b[0].box.h - (2 * RY + 1)) > worst ? abs(b[0].box.h - (2 * RY + 1))
							       : worst;
		assert_true(abs(b[0].cx - cx) <= 3 && abs(b[0].cy - cy) <= 3);
		assert_true(b[0].area > 3.14 * RX * RY * 0.7 && b[0].area < 3.14 * RX * RY * 1.3);
		mask = motion_mask(m);
		assert_int_equal(plane_row(mask, cy / 4)[cx / 4], 255);
		assert_int_equal(plane_row(mask, 10)[(cx + 200) % W / 4], 0);
	}
	print_message("worst box error %d px\n", worst);
	assert_true(worst <= 6);
	motion_free(m);
	scene_done(&sc);
}

static void test_static_scene(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int found = 0;

	scene_init(&sc, 2);
	for (int i = 0; i < 120; i++) {
		draw(&sc, 0, -1, 0);
		found += run(m, &sc, b);
	}
	assert_int_equal(found, 0);
	motion_free(m);
	scene_done(&sc);
}

/* Evening light: +30 grey levels over 300 frames (10 s at 30 fps). */
static void test_slow_brightness_ramp(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int found = 0;

	scene_init(&sc, 3);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		found += run(m, &sc, b);
	}
	for (int i = 0; i <= 300; i++) {
		draw(&sc, i / 10, -1, 0);
		found += run(m, &sc, b);
	}
	assert_int_equal(found, 0);
	motion_free(m);
	scene_done(&sc);
}

/* Lights switched on: no frame-sized blob, nothing while re-learning, and
 * a person walking in afterwards is found again. */
static void test_sudden_step_relearns(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int found = 0, hits = 0;

	scene_init(&sc, 4);
	for (int i = 0; i < 40; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int i = 0; i < 60; i++) {
		draw(&sc, 60, -1, 0);
		found += run(m, &sc, b);
	}
	assert_int_equal(found, 0);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 60, 100 + 12 * i, 200);
		if (run(m, &sc, b) == 1 && abs(b[0].cx - (100 + 12 * i)) <= 4)
			hits++;
	}
	assert_int_equal(hits, 30);
	motion_free(m);
	scene_done(&sc);
}

/* The background is not polluted by a person who stood still for a while:
 * once they leave, nothing remains. */
static void test_no_ghost_after_standing(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int found = 0;

	scene_init(&sc, 5);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int i = 0; i < 90; i++) {
		draw(&sc, 0, 320, 180);
		assert_int_equal(run(m, &sc, b), 1);
	}
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		found += run(m, &sc, b);
	}
	assert_int_equal(found, 0);
	motion_free(m);
	scene_done(&sc);
}

/* Multiplies the frame by gain / 256: light that brightens and dims the
 * whole view, people included, as a camera's exposure or a cloud does. */
static void light(struct scene *sc, int gain)
{
	for (int y = 0; y < H; y++) {
		uint8_t *row = plane_row(&sc->frame, y);
		for (int x = 0; x < W; x++)
			row[x] = clamp((row[x] * gain + 128) >> 8);
	}
}

/* Gain 1 +- 0.25 with a period of 100 frames (up to 2.5 grey levels a frame,
 * far faster than the background learns) while a person stands still in
 * the middle: the person is the one blob in every frame, nothing else. */
static void test_strong_gain_drift(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int good = 0;

	scene_init(&sc, 6);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int i = 0; i < 250; i++) {
		draw(&sc, 0, 320, 180);
		light(&sc, (int)lround(256 * (1 + 0.25 * sin(2 * M_PI * i / 100))));
		if (run(m, &sc, b) == 1 && abs(b[0].cx - 320) <= 3 && abs(b[0].cy - 180) <= 3)
			good++;
	}
	print_message("person alone and in place in %d of 250 frames\n", good);
	assert_int_equal(good, 250);
	motion_free(m);
	scene_done(&sc);
}

/* The camera is knocked and sees another floor: no frame-sized blob, and a
 * person walking in right after is found in every frame from the third. */
static void test_camera_bumped(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion *m = new_motion();
	int hits = 0;

	scene_init(&sc, 7);
	for (int i = 0; i < 40; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			sc.floor[y * W + x] = (uint8_t)(100 + 30 * ((x / 40 + y / 40 + 1) % 3) +
							rnd(&sc.rng) % 24);
	for (int i = 0; i < 30; i++) {
		int n;
		draw(&sc, 0, i < 2 ? -1 : 100 + 12 * i, 200);
		n = run(m, &sc, b);
		if (i < 2)
			assert_int_equal(n, 0);
		if (i >= 2 && n == 1 && abs(b[0].cx - (100 + 12 * i)) <= 4)
			hits++;
	}
	print_message("person found in %d of 28 frames after the blind two\n", hits);
	assert_int_equal(hits, 28);
	motion_free(m);
	scene_done(&sc);
}

/* Something put down and left (a person standing still stands in for it)
 * stays foreground for the first STALE frames whatever the learning rate,
 * and is taken into the background after that: the model neither drifts
 * towards what is in front of it (a belt full of parts) nor keeps a
 * parked object as an intrusion for ever. A fast learning rate (0.16, so
 * 1/100 a frame under the object once it is stale) keeps the clip short. */
static void test_left_object_absorbed_late(void **state)
{
	static struct scene sc;
	struct blob b[MOTION_BLOBS_MAX];
	struct motion_options o = {.learn_rate = 0.16};
	struct motion *m = NULL;
	char err[256] = "";
	int seen = 0, last = -1;

	assert_int_equal(motion_new(&o, W, H, &m, err, sizeof(err)), MW_OK);
	scene_init(&sc, 8);
	for (int i = 0; i < 30; i++) {
		draw(&sc, 0, -1, 0);
		assert_int_equal(run(m, &sc, b), 0);
	}
	for (int i = 0; i < 600; i++) {
		draw(&sc, 0, 320, 180);
		if (run(m, &sc, b) == 1 && abs(b[0].cx - 320) <= 3 && abs(b[0].cy - 180) <= 3) {
			seen += i < 250;
			last = i;
		}
	}
	print_message("standing object seen in %d of the first 250 frames, last in frame %d\n",
		      seen, last);
	assert_int_equal(seen, 250);
	assert_true(last < 550);
	motion_free(m);
	scene_done(&sc);
}

static void test_bad_options(void **state)
{
	struct motion_options o = {.scale = 3};
	struct motion *m = NULL;
	char err[256] = "";

	assert_int_equal(motion_new(&o, W, H, &m, err, sizeof(err)), MW_ERR_INVALID);
	assert_null(m);
	assert_non_null(strstr(err, "scale 3"));
	o = (struct motion_options){.learn_rate = 1.5};
	assert_int_equal(motion_new(&o, W, H, &m, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "learn_rate"));
	o = (struct motion_options){0};
	assert_int_equal(motion_new(&o, 2, H, &m, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "2x360"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_moving_object),
		cmocka_unit_test(test_static_scene),
		cmocka_unit_test(test_slow_brightness_ramp),
		cmocka_unit_test(test_sudden_step_relearns),
		cmocka_unit_test(test_no_ghost_after_standing),
		cmocka_unit_test(test_strong_gain_drift),
		cmocka_unit_test(test_camera_bumped),
		cmocka_unit_test(test_left_object_absorbed_late),
		cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
