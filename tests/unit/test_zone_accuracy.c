/* test_zone_accuracy.c -- safety-zone intrusions at event level on generated
 * factory scenes (vision/scene.h), against the scene's ground truth.
 *
 * What the operator of a robot cell notices: every person who walks into
 * the danger zone raises an alarm (recall), alarms without a person are
 * rare (precision), and parts riding the belt beside the zone never raise
 * one. The clips use fixed seeds and span the conditions a real camera
 * sees: lighting drift from none to strong (a gain swinging +-25% over
 * 20 s, which is what defeated the first background model), sensor noise
 * and blur. Frames are 640x360 at 10 fps so the whole file runs in well
 * under a minute with the sanitizers; the slow frame rate makes the drift
 * per frame steeper, not gentler, than at 30 fps.
 *
 * Scoring is the bench's (bench_vision_opencv.c): an intrusion matches a
 * person when its frame lies in [enter_frame - TOL, leave_frame], each
 * person matches at most one intrusion. The clips hold enough people
 * together that recall 0.99 means not a single miss. */
#include "vision/scene.h"
#include "vision/zone.h"

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
#define FPS 5.0
#define TOL 3
#define SETTLE 40 /* frames: the model's learning (25) and the first visitor's way out */
#define EVENTS_MAX 256

struct clip {
	uint64_t seed;
	double drift, noise, blur;
	int frames;
};

struct rec {
	int frame[EVENTS_MAX];
	int n, cur;
};

struct tally {
	int people, matched_people, events, matched_events;
};

static int collect(void *arg, struct event *e, const struct plane *snapshot)
{
	struct rec *r = arg;

	(void)snapshot;
	if (strcmp(e->kind, "zone.intrusion") == 0) {
		assert_true(r->n < EVENTS_MAX);
		r->frame[r->n++] = r->cur;
	}
	return MW_OK;
}

/* Renders the clip frame by frame through a detector with default options
 * on the scene's own zone; the intrusions' frames go to r. */
static void play(const struct scene_params *p, struct scene **out, struct rec *r)
{
	struct zone_def z = {.name = "danger", .npts = 4, .severity = SEV_ALARM};
	struct zone_options o = {.camera = "cam1", .zones = &z, .nzones = 1,
				 .motion = {.scale = 2, .min_area = 100}};
	struct vision_sink sink = {collect, r};
	struct zone_detector *d = NULL;
	struct scene *sc = NULL;
	struct plane pl;
	char err[256] = "";

	if (scene_new(p, &sc, err, sizeof(err)))
		fail_msg("scene_new: %s", err);
	memcpy(z.pts, scene_truth(sc)->zone, sizeof(scene_truth(sc)->zone));
	if (zone_detector_new(&o, W, H, &d, err, sizeof(err)))
		fail_msg("zone_detector_new: %s", err);
	assert_int_equal(plane_alloc(&pl, W, H), MW_OK);
	memset(r, 0, sizeof(*r));
	for (int i = 0; scene_next(sc, &pl) == MW_OK; i++) {
		struct frame f = {.y = pl, .pts_ns = (int64_t)(i * 1e9 / FPS), .index = (uint64_t)i};
		r->cur = i;
		assert_int_equal(zone_detector_process(d, &f, &sink), MW_OK);
	}
	plane_free(&pl);
	zone_detector_free(d);
	*out = sc;
}

/* Greedy matching in the truth's order, as the bench does it. People who
 * enter while the model is still learning the empty scene (the first
 * SETTLE frames) are not scored, nor are the intrusions they raise. */
static void score(const struct scene_truth *t, const struct rec *r, struct tally *s)
{
	bool used[EVENTS_MAX] = {false}, unscored[EVENTS_MAX] = {false};
	int people = 0, events = 0;

	for (int k = 0; k < t->npeople; k++) {
		const struct scene_person *p = &t->people[k];
		int hi = p->leave_frame >= 0 ? p->leave_frame : t->frames;
		int j = 0;
		if (p->enter_frame < SETTLE) {
			for (j = 0; j < r->n && r->frame[j] <= hi; j++)
				unscored[j] = true;
			continue;
		}
		people++;
		while (j < r->n && (used[j] || unscored[j] || r->frame[j] < p->enter_frame - TOL ||
				    r->frame[j] > hi))
			j++;
		if (j < r->n) {
			used[j] = true;
			s->matched_people++;
		} else {
			print_message("  missed person %d (frames %d..%d)\n", p->id, p->enter_frame,
				      p->leave_frame);
		}
	}
	for (int j = 0; j < r->n; j++) {
		if (unscored[j])
			continue;
		events++;
		if (used[j])
			s->matched_events++;
		else
			print_message("  false intrusion at frame %d\n", r->frame[j]);
	}
	s->people += people;
	s->events += events;
}

static void test_intrusions_match_truth(void **state)
{
	static const struct clip clips[] = {
		{11, 0.00, 2, 0, 370}, {12, 0.08, 3, 1, 370}, {13, 0.15, 4, 0, 370},
		{14, 0.25, 3, 1, 370}, {15, 0.25, 4, 1, 370}, {5, 0.25, 3, 0, 370},
		{16, 0.20, 2, 1, 370},
	};
	struct tally all = {0};
	double recall, precision;

	(void)state;
	for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
		const struct clip *c = &clips[i];
		struct scene_params p = {.width = W, .height = H, .fps = FPS, .seed = c->seed,
					 .frames = c->frames, .parts_per_min = 40,
					 .people_per_min = 30, .lighting_drift = c->drift,
					 .noise = c->noise, .blur = c->blur};
		struct tally one = {0};
		struct scene *sc;
		struct rec r;

		play(&p, &sc, &r);
		score(scene_truth(sc), &r, &one);
		print_message("seed %llu drift %.2f noise %.0f blur %.0f: %d people, %d found, "
			      "%d intrusions, %d false\n",
			      (unsigned long long)c->seed, c->drift, c->noise, c->blur, one.people,
			      one.matched_people, one.events, one.events - one.matched_events);
		all.people += one.people;
		all.matched_people += one.matched_people;
		all.events += one.events;
		all.matched_events += one.matched_events;
		scene_free(sc);
	}
	recall = (double)all.matched_people / all.people;
	precision = all.events ? (double)all.matched_events / all.events : 0;
	print_message("zone accuracy: %d people, %d intrusions: recall %.3f precision %.3f\n",
		      all.people, all.events, recall, precision);
	/* with fewer than 100 people, recall 0.99 is no miss at all */
	assert_true(all.people >= 45);
	assert_true(recall >= 0.99);
	assert_true(precision >= 0.98);
}

/* Parts on the belt (which runs above the zone) and strong drift, nobody
 * walking: not one intrusion. */
static void test_belt_parts_never_intrude(void **state)
{
	struct scene_params p = {.width = W, .height = H, .fps = FPS, .seed = 21, .frames = 150,
				 .parts_per_min = 60, .lighting_drift = 0.25, .noise = 3,
				 .blur = 1};
	struct scene *sc;
	struct rec r;

	(void)state;
	play(&p, &sc, &r);
	print_message("belt only: %d parts, %d intrusions\n", scene_truth(sc)->nparts, r.n);
	assert_true(scene_truth(sc)->nparts >= 10);
	assert_int_equal(scene_truth(sc)->npeople, 0);
	assert_int_equal(r.n, 0);
	scene_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intrusions_match_truth),
		cmocka_unit_test(test_belt_parts_never_intrude),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
