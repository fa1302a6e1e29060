/* test_zone.c -- safety zones (vision/zone.h) on frames drawn here.
 *
 * A textured, noisy floor and a "person" (a dark filled ellipse) who walks
 * along a path of waypoints at 30 frames a second. What the operator of a
 * robot cell notices: walking in, standing and leaving is one intrusion
 * and one clear, with the right dwell time and a snapshot; walking past
 * the zone is nothing; dropping out of the mask for two frames is not a
 * second alarm; two zones crossed in turn give one intrusion each; and a
 * polygon typed wrong is refused with a message that says where. */
#include "vision/zone.h"

#include <jansson.h>
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
#define FRAME_NS 33333333LL
#define EVENTS_MAX 16

/* ---- drawing ---- */

#include "drawn_floor.h"

static struct scene *scene_new(uint32_t seed)
{
	struct scene *sc = calloc(1, sizeof(*sc));

	assert_non_null(sc);
	scene_init(sc, seed);
	return sc;
}

static void scene_free(struct scene *sc)
{
	scene_done(sc);
	free(sc);
}

/* ---- a path: waypoints reached at given frames, linear in between ---- */

struct waypoint {
	int frame, x, y; /* x < 0: nobody in view */
};

static void where(const struct waypoint *p, int n, int frame, int *x, int *y)
{
	*x = -1;
	*y = 0;
	for (int i = 0; i + 1 < n; i++) {
		const struct waypoint *a = &p[i], *b = &p[i + 1];
		if (frame < a->frame || frame >= b->frame)
			continue;
		if (a->x < 0 || b->x < 0)
			return;
		*x = a->x + (b->x - a->x) * (frame - a->frame) / (b->frame - a->frame);
		*y = a->y + (b->y - a->y) * (frame - a->frame) / (b->frame - a->frame);
		return;
	}
}

/* ---- a sink that keeps what it is given ---- */

struct got {
	char kind[EVENT_ID_MAX + 1];
	enum severity severity;
	json_t *attrs;
	int frame;
	int snap_w, snap_h; /* 0 = no snapshot */
};

struct rec {
	struct got ev[EVENTS_MAX];
	int n, frame;
};

static int collect(void *arg, struct event *e, const struct plane *snapshot)
{
	struct rec *r = arg;
	struct got *g;

	assert_true(r->n < EVENTS_MAX);
	g = &r->ev[r->n++];
	mw_strlcpy(g->kind, e->kind, sizeof(g->kind));
	assert_string_equal(e->source, "cam1");
	g->severity = e->severity;
	g->attrs = json_loads(e->attrs, 0, NULL);
	assert_non_null(g->attrs);
	g->frame = r->frame;
	g->snap_w = snapshot ? snapshot->width : 0;
	g->snap_h = snapshot ? snapshot->height : 0;
	return MW_OK;
}

static void rec_clear(struct rec *r)
{
	for (int i = 0; i < r->n; i++)
		json_decref(r->ev[i].attrs);
}

static const char *zone_of(const struct got *g)
{
	return json_string_value(json_object_get(g->attrs, "zone"));
}

static json_int_t attr_int(const struct got *g, const char *key)
{
	return json_integer_value(json_object_get(g->attrs, key));
}

/* Zone "cell": left edge x = 300, right edge x = 460, slanted top and bottom. */
static const struct zone_def cell = {
	"cell", {{300, 90}, {460, 110}, {460, 320}, {300, 300}}, 4, SEV_ALARM};

/* Plays a path through a detector over the given zones; frames 0..39 are
 * the empty floor (the model learns). */
static void play(const struct zone_def *zones, int nzones, const struct waypoint *path, int npath,
		 int frames, const int *hidden, struct rec *r)
{
	struct zone_options o = {.camera = "cam1", .zones = zones, .nzones = nzones};
	struct zone_detector *d = NULL;
	struct vision_sink sink = {collect, r};
	struct scene *sc = scene_new(7);
	char err[256] = "";

	memset(r, 0, sizeof(*r));
	assert_int_equal(zone_detector_new(&o, W, H, &d, err, sizeof(err)), MW_OK);
	for (int i = 0; i < frames; i++) {
		struct frame f = {.y = sc->frame, .pts_ns = i * FRAME_NS, .index = (uint64_t)i};
		int x, y;
		where(path, npath, i, &x, &y);
		if (hidden && (i == hidden[0] || i == hidden[1]))
			x = -1;
		draw(sc, 0, x, y);
		f.y = sc->frame;
		f.wall_ns = 1700000000000000000LL + f.pts_ns;
		r->frame = i;
		assert_int_equal(zone_detector_process(d, &f, &sink), MW_OK);
	}
	zone_detector_free(d);
	scene_free(sc);
}

/* Frames during which the path's centre is inside [x0, x1]. */
static int frames_inside(const struct waypoint *p, int n, int frames, int x0, int x1, int *first)
{
	int count = 0;

	*first = -1;
	for (int i = 0; i < frames; i++) {
		int x, y;
		where(p, n, i, &x, &y);
		if (x >= x0 && x <= x1) {
			count++;
			*first = *first < 0 ? i : *first;
		}
	}
	return count;
}

/* In from the left, 2 s standing in the middle of the zone, out to the right. */
static const struct waypoint walk_in[] = {
	{40, 40, 200}, {57, 380, 200}, {117, 380, 200}, {130, 640, 200}, {131, -1, 0}, {400, -1, 0},
};

static void check_one_visit(struct rec *r, const int *hidden)
{
	int first, inside = frames_inside(walk_in, 6, 200, 300, 460, &first);
	const struct got *in = &r->ev[0], *out = &r->ev[1];

	assert_int_equal(r->n, 2);
	assert_string_equal(in->kind, "zone.intrusion");
	assert_string_equal(out->kind, "zone.clear");
	assert_int_equal(in->severity, SEV_ALARM);
	assert_int_equal(out->severity, SEV_INFO);
	assert_string_equal(zone_of(in), "cell");
	assert_string_equal(zone_of(out), "cell");
	/* debounce 200 ms = 6 frames after entering, give or take the overlap rule */
	assert_true(in->frame >= first + 4 && in->frame <= first + 9);
	assert_int_equal(attr_int(in, "objects"), 1);
	assert_int_equal(attr_int(in, "dwell_ms"), 0);
	assert_true(attr_int(in, "area") > 1500 && attr_int(in, "area") < 3000);
	assert_int_equal(in->snap_w, W);
	assert_int_equal(in->snap_h, H);
	assert_int_equal(out->snap_w, 0);
	/* dwell: the frames the person was inside, within 200 ms */
	print_message("dwell %lld ms, truth %d ms\n", (long long)attr_int(out, "dwell_ms"),
		      inside * 1000 / 30);
	assert_true(llabs(attr_int(out, "dwell_ms") - inside * 1000 / 30) <= 200);
	/* clear 1 s (leave_ms) after the person is out */
	assert_true(out->frame >= first + inside + 25 && out->frame <= first + inside + 36);
}

static void test_walk_in_stay_leave(void **state)
{
	struct rec r;
	json_t *bbox;

	play(&cell, 1, walk_in, 6, 200, NULL, &r);
	check_one_visit(&r, NULL);
	bbox = json_object_get(r.ev[0].attrs, "bbox");
	assert_int_equal(json_array_size(bbox), 4);
	/* at the intrusion the person is walking in, near x = 300 + 6 frames * 20 px */
	assert_true(llabs(json_integer_value(json_array_get(bbox, 1)) - (200 - RY)) <= 6);
	assert_true(llabs(json_integer_value(json_array_get(bbox, 3)) - (2 * RY + 1)) <= 8);
	assert_true(json_integer_value(json_array_get(bbox, 0)) > 250);
	rec_clear(&r);
}

static void test_flicker_is_one_intrusion(void **state)
{
	static const int hidden[2] = {90, 91};
	struct rec r;

	play(&cell, 1, walk_in, 6, 200, hidden, &r);
	check_one_visit(&r, hidden);
	rec_clear(&r);
}

/* Down the frame beside the zone (box ends at x = 268, the zone starts at 300). */
static void test_passing_outside(void **state)
{
	static const struct waypoint path[] = {
		{40, 250, 0}, {100, 250, 360}, {101, -1, 0}, {102, -1, 0}};
	struct rec r;

	play(&cell, 1, path, 4, 140, NULL, &r);
	assert_int_equal(r.n, 0);
	rec_clear(&r);
}

/* Left to right through zone a then zone b, stopping a second in each. */
static void test_two_zones(void **state)
{
	static const struct zone_def zones[2] = {
		{"a", {{100, 100}, {250, 100}, {250, 300}, {100, 300}}, 4, SEV_WARNING},
		{"b", {{400, 100}, {560, 100}, {560, 300}, {400, 300}}, 4, SEV_ALARM},
	};
	static const struct waypoint path[] = {
		{40, 20, 200},	 {50, 175, 200},  {80, 175, 200}, {95, 480, 200},
		{125, 480, 200}, {135, 640, 200}, {136, -1, 0},	  {200, -1, 0},
	};
	struct rec r;
	int na = 0, nb = 0, ia = -1, ib = -1;

	play(zones, 2, path, 8, 200, NULL, &r);
	for (int i = 0; i < r.n; i++) {
		bool intrusion = !strcmp(r.ev[i].kind, "zone.intrusion");
		if (!strcmp(zone_of(&r.ev[i]), "a")) {
			na++;
			ia = intrusion ? i : ia;
			if (intrusion)
				assert_int_equal(r.ev[i].severity, SEV_WARNING);
		} else {
			nb++;
			ib = intrusion ? i : ib;
		}
	}
	assert_int_equal(r.n, 4);
	assert_int_equal(na, 2);
	assert_int_equal(nb, 2);
	assert_true(ia >= 0 && ib > ia);
	rec_clear(&r);
}

/* ---- polygon validation ---- */

static void expect_error(const struct zone_def *zones, int n, const char *want)
{
	struct zone_options o = {.camera = "cam1", .zones = zones, .nzones = n};
	struct zone_detector *d = NULL;
	char err[256] = "";

	assert_int_equal(zone_detector_new(&o, 1920, 1080, &d, err, sizeof(err)), MW_ERR_INVALID);
	assert_null(d);
	print_message("%s\n", err);
	assert_non_null(strstr(err, want));
}

static void test_bad_polygons(void **state)
{
	static const struct zone_def outside = {
		"robot-cell", {{100, 1000}, {100, 20}, {1950, 20}, {1800, 1000}}, 4, SEV_ALARM};
	static const struct zone_def bowtie = {
		"robot-cell", {{100, 100}, {500, 500}, {500, 100}, {100, 500}}, 4, SEV_ALARM};
	static const struct zone_def two = {"robot-cell", {{100, 100}, {500, 500}}, 2, SEV_ALARM};
	static const struct zone_def flat = {
		"robot-cell", {{10, 10}, {20, 20}, {30, 30}}, 3, SEV_ALARM};
	static const struct zone_def dup[2] = {
		{"robot-cell", {{0, 0}, {100, 0}, {100, 100}}, 3, SEV_ALARM},
		{"robot-cell", {{200, 0}, {300, 0}, {300, 100}}, 3, SEV_ALARM},
	};
	static const struct zone_def corners = {
		"full", {{0, 0}, {1920, 0}, {1920, 1080}, {0, 1080}}, 4, SEV_ALARM};
	struct zone_options o = {.camera = "cam1", .zones = &corners, .nzones = 1};
	struct zone_detector *d = NULL;
	char err[256] = "";

	expect_error(&outside, 1,
		     "camera cam1: zone robot-cell: point 3 (1950,20) is outside the 1920x1080 "
		     "frame");
	expect_error(&bowtie, 1, "camera cam1: zone robot-cell: edges 1 and 3 cross");
	expect_error(&two, 1, "camera cam1: zone robot-cell: 2 points, need 3");
	expect_error(&flat, 1, "camera cam1: zone robot-cell: the polygon has zero area");
	expect_error(dup, 2, "camera cam1: zone robot-cell: defined twice");
	/* the frame's own corners are a valid zone */
	assert_int_equal(zone_detector_new(&o, 1920, 1080, &d, err, sizeof(err)), MW_OK);
	zone_detector_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_in_stay_leave),
		cmocka_unit_test(test_flicker_is_one_intrusion),
		cmocka_unit_test(test_passing_outside),
		cmocka_unit_test(test_two_zones),
		cmocka_unit_test(test_bad_polygons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
