/* scene_internal.h -- what scene.c (timeline, truth) and scene_draw.c
 * (pixels) share. Nothing here is used outside the scene generator.
 *
 * Every random choice comes from a splitmix64 stream seeded from the scene
 * seed and a tag (which part, which person, which frame), never from a
 * stream shared across entities: a part looks the same whether it is drawn
 * in scene_new() (to measure its defect box) or when it rides past, and a
 * frame's noise does not depend on how many frames were drawn before. */
#ifndef MW_VISION_SCENE_INTERNAL_H
#define MW_VISION_SCENE_INTERNAL_H

#include "vision/scene.h"

#include <math.h>
#include <stdint.h>

struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A stream for entity (tag, n) of the scene seeded with seed. */
static inline struct rng rng_for(uint64_t seed, uint64_t tag, uint64_t n)
{
	struct rng r = {seed ^ (tag * 0xd1b54a32d192ed03ull)};

	r.s = rng_next(&r) ^ (n * 0x9e3779b97f4a7c15ull);
	(void)rng_next(&r);
	return r;
}

/* Uniform in [0, 1). */
static inline double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline double rng_range(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

enum { RNG_DESIGN = 1, RNG_PART, RNG_PERSON, RNG_FRAME, RNG_FLOOR, RNG_GOOD, RNG_SCHED };

#define SCENE_MAX_HOLES 4
#define SCENE_SPRITE_PAD 2
#define SCENE_MAX_TILT (3.0 * M_PI / 180.0)
#define SCENE_CODE_MAX 32 /* modules a side we can hold */

/* Geometry derived once from the frame size and code kind. */
struct scene_layout {
	int w, h;
	double s;            /* scale against 1280 x 720 */
	int pw, ph;          /* plate size */
	int sw, sh;          /* sprite size (plate plus padding) */
	int gap;             /* margin between plate features */
	int module;          /* code module size in pixels */
	int code_n;          /* code symbol size in modules, without quiet zone */
	int quiet;           /* quiet zone in modules */
	int code_x, code_y, code_side; /* label area on the plate, plate coordinates */
	int holes, hole_r;
	struct point hole[SCENE_MAX_HOLES];
	double hext;         /* largest half-width of a tilted part */
	double speed;        /* belt speed, pixels per frame */
	int stripe_period, tex_period;
};

/* Per part, beyond what the truth says. */
struct part_state {
	double d;            /* belt displacement at which it sets off */
	double cy;           /* centre y */
	double angle;        /* tilt, radians */
	double gain;         /* brightness factor */
	uint64_t seed;
	int box[4];          /* defect bbox in sprite pixels: x0, y0, x1, y1 inclusive */
	uint8_t *val;        /* sprite, premultiplied by alpha (sw x sh), NULL when not drawn */
	uint8_t *alpha;
};

struct person_state {
	int start;           /* frame it appears at the edge */
	int n_in, n_stand, n_out;
	double x0, y0, x1, y1, x2, y2; /* start, standing place, exit */
	double a_in, a_out;  /* heading while walking in and out */
	uint8_t cloth, head;
};

struct person_pose {
	double x, y, angle;
};

/* Buffers the camera effects work in (blur radius at most 32). */
struct scene_scratch {
	uint8_t *tmp;      /* w x h */
	uint16_t *colsum;  /* w */
	uint16_t *rowsum;  /* w */
	uint8_t *pad;      /* w + 66 */
};

struct scene {
	struct scene_params p;
	struct scene_truth t;
	struct scene_layout L;
	uint64_t code_design;   /* the plate's fixed label pattern when no code is printed */
	double *disp;           /* belt displacement at each frame */
	double xs;              /* centre x of a part when the belt has moved it 0 */
	struct part_state *ps;
	struct person_state *pp;
	uint8_t *floor;         /* background without belt, w x h */
	uint8_t *zone_mask;     /* 1 inside the danger zone, w x h */
	uint8_t *belt_tex;      /* belt rows, (w + tex_period) wide */
	int16_t *noise_tab;     /* gaussian samples times sigma, 65536 + w long */
	struct scene_scratch scratch;
	int index;
	int first_part;         /* parts before it have left the frame */
};

/* scene_draw.c */
int scene__static_init(struct scene *s) MW_MUST_CHECK;
/* Draws part ps (with truth tp) into its sprite and measures the defect box. */
int scene__sprite_draw(const struct scene *s, const struct scene_part *tp,
		       struct part_state *ps) MW_MUST_CHECK;
void scene__sprite_free(struct part_state *ps);
void scene__sprite_put(const struct scene *s, const struct part_state *ps, struct plane *out,
		       double cx, double cy);
void scene__belt_put(const struct scene *s, struct plane *out, int x0, int y0, double disp);
/* Draws the person at pose into out (when out) and reports whether any of
 * its pixels lies in the zone (when mask). */
bool scene__person_put(const struct scene *s, const struct person_state *pp,
		       const struct person_pose *pose, struct plane *out, const uint8_t *mask);
int scene__scratch_alloc(struct scene_scratch *sc, int w, int h) MW_MUST_CHECK;
void scene__scratch_free(struct scene_scratch *sc);
/* Blur, lighting gain (1/256 units, at most 512) and noise from rng, in place. */
void scene__finish(const struct scene *s, struct plane *out, int gain256, struct rng *rng,
		   struct scene_scratch *sc);
/* The code's modules for serial (1 = dark), n x n; n is returned. */
int scene__code_modules(enum scene_code code, const char *serial, uint8_t *mods, int cap);

#endif
