/* scene.h -- synthetic factory scenes with ground truth.
 *
 * A fixed camera looks down on a conveyor belt running left to right
 * across the middle of the frame. Parts (a machined plate with holes, a
 * printed code) ride on it with small jitter in position and rotation;
 * some carry a defect (scratch, spot, missing piece, deformation, wrong or
 * unreadable code). Beside the belt lies a marked danger zone that people
 * walk into, stay in for a while and leave. Lighting drifts slowly, the
 * sensor adds noise, and frames can be blurred. Everything is derived from
 * the seed: the same parameters give the same frames, bit for bit, so tests
 * with fixed seeds are repeatable. Rendering is sequential (frame i after
 * frame i-1): the scene advances its state one frame at a time.
 *
 * The truth (scene_truth()) says, for the whole clip, what a perfect
 * detector would report; the accuracy tests compare against it. It is also
 * written as JSON by `mw-scene` next to the video it encodes with ffmpeg. */
#ifndef MW_VISION_SCENE_H
#define MW_VISION_SCENE_H

#include "vision/vision.h"

#include <jansson.h>

enum scene_defect {
	SCENE_DEFECT_NONE = 0,
	SCENE_DEFECT_SCRATCH,
	SCENE_DEFECT_SPOT,
	SCENE_DEFECT_MISSING,     /* a corner or a hole missing */
	SCENE_DEFECT_DEFORMATION, /* an edge bent out of shape */
	SCENE_DEFECT_CODE,        /* wrong or unreadable code */
	SCENE_DEFECT_KINDS
};

enum scene_code {
	SCENE_CODE_NONE = 0,
	SCENE_CODE_DATAMATRIX,
	SCENE_CODE_QR,
};

struct scene_params {
	int width, height;      /* 0 = 1280 x 720 */
	double fps;             /* 0 = 30 */
	uint64_t seed;
	int frames;             /* clip length; 0 = 10 s worth */
	double parts_per_min;   /* 0 = 40; negative = none */
	double defect_rate;     /* fraction of parts with a defect, 0..1 */
	double people_per_min;  /* people entering the zone; 0 = none */
	double lighting_drift;  /* amplitude of the slow brightness change, 0..1 of full scale */
	double noise;           /* sensor noise, standard deviation in grey levels */
	double blur;            /* box blur radius in pixels, 0 = sharp */
	enum scene_code code;   /* code printed on parts; SCENE_CODE_NONE = none */
	bool belt_stops;        /* parts stop under the inspection window for a while */
	uint64_t design;        /* the part's design (holes, their places); 0 = 1. Not
				 * drawn from the seed, so a model trained on one clip
				 * fits every clip of the same design */
};

struct scene_part {
	int id;                   /* 1, 2, ... in order of entry */
	char serial[32];          /* what the code encodes ("SN-000001") */
	bool readable;            /* the code can be read (false for a SCENE_DEFECT_CODE) */
	enum scene_defect defect;
	struct bbox defect_box;   /* where the defect is, at the inspection frame */
	int enter_frame;          /* first frame the part is visible */
	int cross_frame;          /* frame its centre crosses the count line; -1 = never in clip */
	int inspect_frame;        /* frame it is best centred in the inspection window; -1 = never */
	int exit_frame;           /* last frame it is visible; -1 = still visible at the end */
};

struct scene_person {
	int id;
	int enter_frame;      /* first frame any part of the person is inside the zone */
	int leave_frame;      /* first frame the person is fully out again; -1 = not in clip */
};

struct scene_truth {
	int width, height, frames;
	double fps;
	struct point zone[4];        /* the danger zone, a quadrilateral */
	struct point line[2];        /* the count line, across the belt */
	struct bbox inspect_window;  /* where a part is best seen for inspection */
	struct bbox belt;            /* the belt's area */
	struct scene_part *parts;
	int nparts;
	struct scene_person *people;
	int npeople;
};

struct scene;

/* MW_ERR_INVALID with err naming the bad parameter. The truth is computed
 * here, for the whole clip, before any frame is rendered. */
int scene_new(const struct scene_params *p, struct scene **out, char *err, size_t errlen)
	MW_MUST_CHECK;
void scene_free(struct scene *s);
const struct scene_truth *scene_truth(const struct scene *s);

/* Renders the next frame's luma into out (allocated by the caller with the
 * scene's size). MW_ERR_NOTFOUND after the last frame. */
int scene_next(struct scene *s, struct plane *out) MW_MUST_CHECK;
/* Index of the frame the next scene_next() renders. */
int scene_index(const struct scene *s);

/* The image of one good part as the inspection window sees it, centred and
 * upright, for tests that train inspection without a video. */
int scene_good_part(const struct scene *s, uint64_t variant, struct plane *out) MW_MUST_CHECK;

/* The truth as JSON (what mw-scene writes beside the video). */
json_t *scene_truth_json(const struct scene_truth *t);

#endif
