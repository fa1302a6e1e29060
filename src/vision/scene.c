/* scene.c -- synthetic factory scenes: the timeline and the ground truth.
 *
 * The scene (scene.h) is a fixed camera over a floor; a conveyor belt runs
 * left to right across the middle; a danger zone is marked beside it.
 * All sizes scale with s = min(width / 1280, height / 720):
 *
 * - Belt: full width, about 26% of the height, centred; faint stripes
 *   every 48 s px move with it, so motion is visible even without parts.
 *   It runs at 240 s px per second.
 * - Parts: a bright machined plate, about 120 x 80 px at 1280 x 720, with
 *   2 to 4 holes (how many is part of the design, fixed per seed) and a
 *   printed label on its right: a DataMatrix (libdmtx), a QR code
 *   (libqrencode) or, without codes, a fixed printed pattern. A module is
 *   max(3, 4 s) px, so codes stay decodable; a QR code needs 21 modules
 *   plus a quiet zone, which makes its plates bigger (156 x 108 at 720p).
 *   Each part has its own jitter: centre y +-4 s px, tilt +-3 degrees,
 *   brightness +-5%. Parts set off at the left edge (fully outside) every
 *   60 / parts_per_min seconds of belt travel, +-15%.
 * - Defects (a fraction defect_rate of parts, kinds equally likely): a
 *   scratch (a thin dark line), a spot (dark or bright disc), missing (a
 *   left corner cut off, or a hole not drilled), deformation (the top or
 *   bottom edge bent in by a few px) and, when codes are printed, a
 *   damaged code (finder scraped, a third of the modules flipped).
 * - Count line: vertical, across the belt, at 2/3 of the width.
 *   Inspection window: a box on the belt centred at 1/3 of the width,
 *   large enough for a tilted, jittered part plus one frame of travel.
 *   With belt_stops the belt halts for one second whenever a part is
 *   exactly centred in the window.
 * - Zone: a trapezoid below the belt right of centre, marked with a
 *   lighter border. People (seen from above: a shoulder ellipse and a
 *   head) walk in from the bottom or right edge, stand 1 to 5 s, and walk
 *   out again; one at a time, about people_per_min a minute (fewer when a
 *   visit takes longer than the interval).
 * - Camera: a global gain 1 + lighting_drift * sin(2 pi t / 20 s); box
 *   blur of the given radius; gaussian noise of the given sigma per pixel.
 *
 * The belt's travel for every frame is computed in scene_new() (it stops
 * when stops are asked for), and with it every part's and person's timing:
 * positions are pure functions of the frame index, so the truth is exact
 * and rendering frame i needs nothing from frame i-1. A part's defect box
 * is measured by drawing its sprite once in scene_new(). */
#include "vision/scene_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BELT_PX_PER_S 240.0
#define PERSON_PX_PER_S 110.0
#define DRIFT_PERIOD_S 20.0
#define MAX_FRAMES 5000000

/* ---- parameters --------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return MW_ERR_INVALID;
}

static bool in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

static int params_check(struct scene_params *p, char *err, size_t errlen)
{
	if (p->width == 0 && p->height == 0) {
		p->width = 1280;
		p->height = 720;
	}
	if (p->width < 320 || p->width > VISION_DIM_MAX)
		return bad(err, errlen, "width: must be 320..8192 (or 0 with height 0)");
	if (p->height < 180 || p->height > VISION_DIM_MAX)
		return bad(err, errlen, "height: must be 180..8192 (or 0 with width 0)");
	if (p->fps == 0)
		p->fps = 30;
	if (!in_range(p->fps, 1, 240))
		return bad(err, errlen, "fps: must be 1..240 (or 0 for 30)");
	if (p->frames == 0)
		p->frames = (int)lround(10 * p->fps);
	if (p->frames < 1 || p->frames > MAX_FRAMES)
		return bad(err, errlen, "frames: must be 1..5000000 (or 0 for 10 s)");
	if (p->parts_per_min == 0)
		p->parts_per_min = 40;
	if (isnan(p->parts_per_min) || p->parts_per_min > 600)
		return bad(err, errlen, "parts_per_min: must be at most 600 (negative = none)");
	if (!in_range(p->defect_rate, 0, 1))
		return bad(err, errlen, "defect_rate: must be 0..1");
	if (!in_range(p->people_per_min, 0, 60))
		return bad(err, errlen, "people_per_min: must be 0..60");
	if (!in_range(p->lighting_drift, 0, 1))
		return bad(err, errlen, "lighting_drift: must be 0..1");
	if (!in_range(p->noise, 0, 64))
		return bad(err, errlen, "noise: must be 0..64 grey levels");
	if (!in_range(p->blur, 0, 32))
		return bad(err, errlen, "blur: must be 0..32 px");
	if (p->code != SCENE_CODE_NONE && p->code != SCENE_CODE_DATAMATRIX &&
	    p->code != SCENE_CODE_QR)
		return bad(err, errlen, "code: must be none, datamatrix or qr");
	return MW_OK;
}

/* ---- layout ------------------------------------------------------------- */

static void holes_place(struct scene_layout *L, int holes)
{
	int rw = L->code_x - 2 * L->gap;
	double xs[SCENE_MAX_HOLES], ys[SCENE_MAX_HOLES];

	L->holes = holes;
	if (holes == 2) {
		xs[0] = xs[1] = 0.5, ys[0] = 0.27, ys[1] = 0.73;
	} else {
		xs[0] = xs[1] = 0.28, ys[0] = 0.27, ys[1] = 0.73;
		xs[2] = 0.72, ys[2] = holes == 3 ? 0.5 : 0.27;
		xs[3] = 0.72, ys[3] = 0.73;
	}
	for (int k = 0; k < holes; k++) {
		L->hole[k].x = L->gap + (int)lround(xs[k] * rw);
		L->hole[k].y = (int)lround(ys[k] * L->ph);
	}
}

static int layout_make(struct scene *s, char *err, size_t errlen)
{
	struct scene_layout *L = &s->L;
	struct scene_truth *t = &s->t;
	struct rng d = rng_for(s->p.design ? s->p.design : 1, RNG_DESIGN, 0);
	uint8_t mods[SCENE_CODE_MAX * SCENE_CODE_MAX];
	double st = sin(SCENE_MAX_TILT), ct = cos(SCENE_MAX_TILT);
	int hrw, ww, wh, bh, ring;

	L->w = s->p.width;
	L->h = s->p.height;
	L->s = fmin(L->w / 1280.0, L->h / 720.0);
	L->module = (int)fmax(3, lround(4 * L->s));
	L->quiet = 1;
	L->code_n = 14;
	if (s->p.code != SCENE_CODE_NONE) {
		L->code_n = scene__code_modules(s->p.code, "SN-000000", mods, SCENE_CODE_MAX);
		if (L->code_n < 0)
			return bad(err, errlen, "code: the encoder failed");
	}
	L->code_side = (L->code_n + 2 * L->quiet) * L->module;
	L->gap = (int)fmax(4, lround(8 * L->s));
	L->hole_r = (int)fmax(3, lround(6 * L->s));
	ring = (int)fmax(1, lround(1.5 * L->s));
	hrw = 4 * (L->hole_r + ring) + L->gap;
	L->pw = (int)fmax(lround(120 * L->s), 3 * L->gap + hrw + L->code_side);
	L->ph = (int)fmax(lround(80 * L->s), 2 * L->gap + L->code_side);
	L->code_x = L->pw - L->gap - L->code_side;
	L->code_y = (L->ph - L->code_side) / 2;
	holes_place(L, 2 + (int)(rng_next(&d) % 3));
	s->code_design = rng_next(&d);
	L->sw = L->pw + 2 * SCENE_SPRITE_PAD;
	L->sh = L->ph + 2 * SCENE_SPRITE_PAD;
	L->speed = BELT_PX_PER_S * L->s / s->p.fps;
	L->hext = (L->pw * ct + L->ph * st) / 2 + SCENE_SPRITE_PAD;
	L->stripe_period = (int)fmax(8, lround(48 * L->s));
	L->tex_period = 6 * L->stripe_period;

	ww = (int)ceil(L->pw * ct + L->ph * st + L->speed + 2 * L->gap);
	wh = (int)ceil(L->ph * ct + L->pw * st + 8 * L->s + 2 * L->gap);
	ww += ww & 1;
	wh += wh & 1;
	bh = (int)fmax(lround(0.26 * L->h), wh + 2 * L->gap + 2 * fmax(2, lround(4 * L->s)));
	t->belt = (struct bbox){0, L->h / 2 - bh / 2, L->w, bh};
	t->inspect_window = (struct bbox){(int)lround(L->w / 3.0 - ww / 2.0),
					  t->belt.y + (bh - wh) / 2, ww, wh};
	t->line[0] = (struct point){(int)lround(2 * L->w / 3.0), t->belt.y};
	t->line[1] = (struct point){t->line[0].x, t->belt.y + bh - 1};

	int zt = t->belt.y + bh + (int)lround(0.06 * L->h), zb = L->h - (int)lround(0.05 * L->h);

	if (zb - zt < 60 * L->s || L->w / 3.0 + ww / 2.0 > t->line[0].x - L->hext)
		return bad(err, errlen, "width: the frame is too narrow or flat for the scene");
	t->zone[0] = (struct point){(int)lround(0.58 * L->w), zt};
	t->zone[1] = (struct point){(int)lround(0.84 * L->w), zt};
	t->zone[2] = (struct point){(int)lround(0.88 * L->w), zb};
	t->zone[3] = (struct point){(int)lround(0.54 * L->w), zb};
	s->xs = -L->hext - 1;
	return MW_OK;
}

/* ---- parts -------------------------------------------------------------- */

static double part_cx(const struct scene *s, const struct part_state *ps, int frame)
{
	return s->xs + s->disp[frame] - ps->d;
}

static double part_hw(const struct scene *s, const struct part_state *ps)
{
	return (s->L.pw * fabs(cos(ps->angle)) + s->L.ph * fabs(sin(ps->angle))) / 2;
}

/* First frame whose belt travel is >= v (or > v when strict); frames if none. */
static int first_disp(const struct scene *s, double v, bool strict)
{
	int lo = 0, hi = s->t.frames;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		bool ok = strict ? s->disp[mid] > v : s->disp[mid] >= v;

		if (ok)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int parts_schedule(struct scene *s, char *err, size_t errlen)
{
	const struct scene_layout *L = &s->L;
	double pitch = BELT_PX_PER_S * L->s * 60 / s->p.parts_per_min;
	double reach = L->speed * s->t.frames, d = 0;
	int n = 0, cap = 0;

	if (s->p.parts_per_min < 0)
		return MW_OK;
	if (pitch * 0.85 < 2 * L->hext + 10 * L->s) {
		snprintf(err, errlen, "parts_per_min: at most %.0f for a %dx%d frame",
			 floor(60 * BELT_PX_PER_S * L->s * 0.85 / (2 * L->hext + 10 * L->s)),
			 L->w, L->h);
		return MW_ERR_INVALID;
	}
	for (; d < reach; n++) {
		struct rng r = rng_for(s->p.seed, RNG_PART, (uint64_t)n + 1);
		struct scene_part *tp;
		struct part_state *ps;

		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			tp = realloc(s->t.parts, (size_t)cap * sizeof(*tp));
			if (tp)
				s->t.parts = tp;
			ps = realloc(s->ps, (size_t)cap * sizeof(*ps));
			if (ps)
				s->ps = ps;
			if (!tp || !ps)
				return MW_ERR_NOMEM;
		}
		tp = &s->t.parts[n];
		ps = &s->ps[n];
		memset(tp, 0, sizeof(*tp));
		memset(ps, 0, sizeof(*ps));
		tp->id = n + 1;
		snprintf(tp->serial, sizeof(tp->serial), "SN-%06d", (n + 1) % 1000000);
		ps->d = d;
		ps->cy = s->t.belt.y + s->t.belt.h / 2.0 + rng_range(&r, -4, 4) * L->s;
		ps->angle = rng_range(&r, -SCENE_MAX_TILT, SCENE_MAX_TILT);
		ps->gain = rng_range(&r, 0.95, 1.05);
		if (rng_unit(&r) < s->p.defect_rate) {
			int kinds = s->p.code == SCENE_CODE_NONE ? SCENE_DEFECT_CODE - 1
								 : SCENE_DEFECT_KINDS - 1;
			tp->defect = (enum scene_defect)(1 + rng_next(&r) % (uint64_t)kinds);
		}
		tp->readable = s->p.code != SCENE_CODE_NONE && tp->defect != SCENE_DEFECT_CODE;
		ps->seed = rng_next(&r);
		s->t.nparts = n + 1;
		d += pitch * rng_range(&r, 0.85, 1.15);
	}
	return MW_OK;
}

/* The belt's travel per frame; it halts for a second with each part
 * centred in the inspection window when stops are asked for. */
static void belt_run(struct scene *s)
{
	const struct bbox *w = &s->t.inspect_window;
	double wcx = w->x + w->w / 2.0;
	int stop = 0, next = 0, hold = (int)lround(s->p.fps) - 1;

	s->disp[0] = 0;
	for (int i = 0; i + 1 < s->t.frames; i++) {
		double nd = s->disp[i] + s->L.speed;

		if (stop > 0) {
			s->disp[i + 1] = s->disp[i];
			stop--;
			continue;
		}
		if (s->p.belt_stops && next < s->t.nparts) {
			double dc = wcx - s->xs + s->ps[next].d;

			if (nd >= dc) {
				nd = dc;
				stop = hold;
				next++;
			}
		}
		s->disp[i + 1] = nd;
	}
}

static void defect_box(struct scene *s, int k, double cx)
{
	const struct part_state *ps = &s->ps[k];
	struct scene_part *tp = &s->t.parts[k];
	double co = cos(ps->angle), si = sin(ps->angle), x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;

	if (tp->defect == SCENE_DEFECT_NONE)
		return;
	if (ps->box[0] < 0) {
		/* Drawn where nothing shows (a spot inside a hole): no defect to
		 * find, so the truth must not claim one. */
		if (tp->defect != SCENE_DEFECT_CODE)
			tp->defect = SCENE_DEFECT_NONE;
		return;
	}
	for (int c = 0; c < 4; c++) {
		double lu = (c & 1 ? ps->box[2] + 1 : ps->box[0]) - s->L.sw / 2.0;
		double lv = (c & 2 ? ps->box[3] + 1 : ps->box[1]) - s->L.sh / 2.0;
		double x = cx + co * lu - si * lv, y = ps->cy + si * lu + co * lv;

		x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
	}
	tp->defect_box = (struct bbox){(int)floor(x0), (int)floor(y0),
				       (int)ceil(x1) - (int)floor(x0), (int)ceil(y1) - (int)floor(y0)};
}

static int parts_truth(struct scene *s)
{
	const struct bbox *w = &s->t.inspect_window;
	double wcx = w->x + w->w / 2.0, half = s->L.speed / 2 + 1e-6;
	int F = s->t.frames;

	for (int k = 0; k < s->t.nparts; k++) {
		struct scene_part *tp = &s->t.parts[k];
		struct part_state *ps = &s->ps[k];
		double hw = part_hw(s, ps), dc = wcx - s->xs + ps->d, cx;
		int i, rc;

		tp->enter_frame = first_disp(s, ps->d - s->xs - hw, true);
		if (tp->enter_frame >= F) {
			s->t.nparts = k;
			break;
		}
		i = first_disp(s, s->L.w + hw + ps->d - s->xs, false);
		tp->exit_frame = i < F ? i - 1 : -1;
		i = first_disp(s, s->t.line[0].x - s->xs + ps->d, false);
		tp->cross_frame = i < F ? i : -1;
		i = first_disp(s, dc, false);
		if (i >= F || (i > 0 && dc - s->disp[i - 1] < s->disp[i] - dc))
			i--;
		tp->inspect_frame = fabs(s->disp[i] - dc) <= half ? i : -1;
		rc = scene__sprite_draw(s, tp, ps);
		if (rc)
			return rc;
		cx = tp->inspect_frame >= 0 ? part_cx(s, ps, tp->inspect_frame) : wcx;
		defect_box(s, k, cx);
		scene__sprite_free(ps);
	}
	return MW_OK;
}

/* ---- people ------------------------------------------------------------- */

static void person_pose(const struct person_state *pp, int frame, struct person_pose *pose)
{
	int r = frame - pp->start;
	double f;

	if (r < pp->n_in) {
		f = (double)r / pp->n_in;
		*pose = (struct person_pose){pp->x0 + (pp->x1 - pp->x0) * f,
					     pp->y0 + (pp->y1 - pp->y0) * f, pp->a_in};
	} else if (r < pp->n_in + pp->n_stand) {
		*pose = (struct person_pose){pp->x1, pp->y1, pp->a_in};
	} else {
		f = (double)(r - pp->n_in - pp->n_stand) / pp->n_out;
		*pose = (struct person_pose){pp->x1 + (pp->x2 - pp->x1) * f,
					     pp->y1 + (pp->y2 - pp->y1) * f, pp->a_out};
	}
}

static int person_end(const struct person_state *pp)
{
	return pp->start + pp->n_in + pp->n_stand + pp->n_out; /* first frame gone */
}

/* A point at the bottom or right edge, just outside the frame. */
static void edge_point(const struct scene *s, struct rng *r, double *x, double *y)
{
	double m = 32 * s->L.s;
	const struct point *z = s->t.zone;

	if (rng_unit(r) < 0.6) {
		*x = rng_range(r, 0.45, 0.97) * s->L.w;
		*y = s->L.h + m;
	} else {
		*x = s->L.w + m;
		*y = rng_range(r, z[0].y, s->L.h);
	}
}

static void person_make(const struct scene *s, struct person_state *pp, int start, uint64_t n)
{
	struct rng r = rng_for(s->p.seed, RNG_PERSON, n);
	const struct point *z = s->t.zone;
	double u = rng_range(&r, 0.25, 0.75), v = rng_range(&r, 0.25, 0.75);
	double speed = PERSON_PX_PER_S * s->L.s * rng_range(&r, 0.8, 1.2) / s->p.fps;
	double top = z[0].x + (z[1].x - z[0].x) * u, bot = z[3].x + (z[2].x - z[3].x) * u;

	pp->start = start;
	edge_point(s, &r, &pp->x0, &pp->y0);
	pp->x1 = top + (bot - top) * v;
	pp->y1 = z[0].y + (z[3].y - z[0].y) * v;
	edge_point(s, &r, &pp->x2, &pp->y2);
	pp->n_in = (int)fmax(1, ceil(hypot(pp->x1 - pp->x0, pp->y1 - pp->y0) / speed));
	pp->n_out = (int)fmax(1, ceil(hypot(pp->x2 - pp->x1, pp->y2 - pp->y1) / speed));
	pp->n_stand = (int)lround(rng_range(&r, 1, 5) * s->p.fps);
	pp->a_in = atan2(pp->y1 - pp->y0, pp->x1 - pp->x0);
	pp->a_out = atan2(pp->y2 - pp->y1, pp->x2 - pp->x1);
	if (rng_unit(&r) < 0.5) {
		pp->cloth = (uint8_t)rng_range(&r, 40, 70);
		pp->head = (uint8_t)rng_range(&r, 150, 190);
	} else {
		pp->cloth = (uint8_t)rng_range(&r, 175, 215);
		pp->head = (uint8_t)rng_range(&r, 30, 60);
	}
}

/* Enter and leave frames, from the very pixels a frame would draw. */
static bool person_truth(const struct scene *s, const struct person_state *pp,
			 struct scene_person *tp)
{
	int end = person_end(pp) < s->t.frames ? person_end(pp) : s->t.frames;

	tp->enter_frame = tp->leave_frame = -1;
	for (int i = pp->start; i < end; i++) {
		struct person_pose pose;
		bool in;

		person_pose(pp, i, &pose);
		in = scene__person_put(s, pp, &pose, NULL, s->zone_mask);
		if (in && tp->enter_frame < 0) {
			tp->enter_frame = i;
		} else if (!in && tp->enter_frame >= 0) {
			tp->leave_frame = i;
			break;
		}
	}
	if (tp->enter_frame >= 0 && tp->leave_frame < 0 && end < s->t.frames)
		tp->leave_frame = end;
	return tp->enter_frame >= 0;
}

static int people_schedule(struct scene *s)
{
	struct rng r = rng_for(s->p.seed, RNG_SCHED, 0);
	double fps = s->p.fps, interval;
	double sched = rng_range(&r, 0.3, 1.5) * fps;
	int cap = 0, gone = -1;

	if (s->p.people_per_min <= 0)
		return MW_OK;
	interval = 60 * fps / s->p.people_per_min;
	for (uint64_t n = 1;; n++) {
		int start = (int)fmax(sched, gone + 1);
		struct person_state ps;
		struct scene_person tp = {.id = (int)n};

		if (start >= s->t.frames)
			break;
		person_make(s, &ps, start, n);
		if (!person_truth(s, &ps, &tp))
			break;
		if (s->t.npeople == cap) {
			struct scene_person *t2;
			struct person_state *p2;

			cap = cap ? 2 * cap : 8;
			t2 = realloc(s->t.people, (size_t)cap * sizeof(*t2));
			if (t2)
				s->t.people = t2;
			p2 = realloc(s->pp, (size_t)cap * sizeof(*p2));
			if (p2)
				s->pp = p2;
			if (!t2 || !p2)
				return MW_ERR_NOMEM;
		}
		s->t.people[s->t.npeople] = tp;
		s->pp[s->t.npeople++] = ps;
		gone = person_end(&ps);
		sched += interval * rng_range(&r, 0.7, 1.3);
	}
	return MW_OK;
}

/* ---- the API ------------------------------------------------------------ */

int scene_new(const struct scene_params *p, struct scene **out, char *err, size_t errlen)
{
	struct scene *s;
	int rc;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s)
		return MW_ERR_NOMEM;
	s->p = *p;
	rc = params_check(&s->p, err, errlen);
	if (!rc)
		rc = layout_make(s, err, errlen);
	if (rc)
		goto fail;
	s->t.width = s->p.width;
	s->t.height = s->p.height;
	s->t.frames = s->p.frames;
	s->t.fps = s->p.fps;
	rc = MW_ERR_NOMEM;
	s->disp = malloc((size_t)s->t.frames * sizeof(*s->disp));
	if (!s->disp)
		goto fail;
	rc = scene__static_init(s);
	if (!rc)
		rc = parts_schedule(s, err, errlen);
	if (rc)
		goto fail;
	belt_run(s);
	rc = parts_truth(s);
	if (!rc)
		rc = people_schedule(s);
	if (rc)
		goto fail;
	*out = s;
	return MW_OK;
fail:
	if (rc == MW_ERR_NOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	scene_free(s);
	return rc;
}

void scene_free(struct scene *s)
{
	if (!s)
		return;
	for (int k = 0; s->ps && k < s->t.nparts; k++)
		scene__sprite_free(&s->ps[k]);
	free(s->t.parts);
	free(s->t.people);
	free(s->ps);
	free(s->pp);
	free(s->disp);
	free(s->floor);
	free(s->zone_mask);
	free(s->belt_tex);
	free(s->noise_tab);
	scene__scratch_free(&s->scratch);
	free(s);
}

const struct scene_truth *scene_truth(const struct scene *s)
{
	return &s->t;
}

int scene_index(const struct scene *s)
{
	return s->index;
}

static bool part_visible(const struct scene_part *tp, int i)
{
	return tp->enter_frame <= i && (tp->exit_frame < 0 || i <= tp->exit_frame);
}

static int parts_put(struct scene *s, struct plane *out, int i)
{
	/* Parts leave in order, so those gone for good are skipped for good. */
	while (s->first_part < s->t.nparts && s->t.parts[s->first_part].exit_frame >= 0 &&
	       s->t.parts[s->first_part].exit_frame < i)
		scene__sprite_free(&s->ps[s->first_part++]);
	for (int k = s->first_part; k < s->t.nparts; k++) {
		struct scene_part *tp = &s->t.parts[k];
		struct part_state *ps = &s->ps[k];
		int rc;

		if (tp->enter_frame > i)
			break;
		if (!part_visible(tp, i))
			continue;
		if (!ps->val) {
			rc = scene__sprite_draw(s, tp, ps);
			if (rc)
				return rc;
		}
		scene__sprite_put(s, ps, out, part_cx(s, ps, i), ps->cy);
	}
	return MW_OK;
}

int scene_next(struct scene *s, struct plane *out)
{
	int i = s->index, w = s->L.w, rc;
	const struct bbox *b = &s->t.belt;
	struct plane belt;
	struct rng r = rng_for(s->p.seed, RNG_FRAME, (uint64_t)i);
	double t = i / s->p.fps;
	int gain;

	if (i >= s->t.frames)
		return MW_ERR_NOTFOUND;
	if (out->width != w || out->height != s->L.h)
		return MW_ERR_INVALID;
	for (int y = 0; y < s->L.h; y++)
		memcpy(plane_row(out, y), s->floor + (size_t)y * (size_t)w, (size_t)w);
	belt = plane_view(out, 0, b->y, w, b->h);
	scene__belt_put(s, &belt, 0, 0, s->disp[i]);
	rc = parts_put(s, out, i);
	if (rc)
		return rc;
	for (int k = 0; k < s->t.npeople; k++) {
		const struct person_state *pp = &s->pp[k];
		struct person_pose pose;

		if (i < pp->start || i >= person_end(pp))
			continue;
		person_pose(pp, i, &pose);
		(void)scene__person_put(s, pp, &pose, out, NULL);
	}
	gain = (int)lround(256 * (1 + s->p.lighting_drift * sin(2 * M_PI * t / DRIFT_PERIOD_S)));
	scene__finish(s, out, gain, &r, &s->scratch);
	s->index++;
	return MW_OK;
}

int scene_good_part(const struct scene *s, uint64_t variant, struct plane *out)
{
	const struct bbox *w = &s->t.inspect_window;
	struct rng r = rng_for(s->p.seed, RNG_GOOD, variant);
	struct scene_part tp = {.id = 1 + (int)(variant % 999999), .readable = true};
	struct part_state ps = {0};
	struct scene_scratch sc = {0};
	int rc;

	if (out->width != w->w || out->height != w->h)
		return MW_ERR_INVALID;
	tp.readable = s->p.code != SCENE_CODE_NONE;
	snprintf(tp.serial, sizeof(tp.serial), "SN-%06d", tp.id);
	ps.cy = w->h / 2.0 + rng_range(&r, -4, 4) * s->L.s;
	ps.angle = rng_range(&r, -SCENE_MAX_TILT, SCENE_MAX_TILT);
	ps.gain = rng_range(&r, 0.95, 1.05);
	ps.seed = rng_next(&r);
	rc = scene__scratch_alloc(&sc, w->w, w->h);
	if (!rc)
		rc = scene__sprite_draw(s, &tp, &ps);
	if (rc)
		goto out;
	scene__belt_put(s, out, w->x, w->y - s->t.belt.y, rng_range(&r, 0, s->L.tex_period));
	/* Where the inspection frame catches it: within half a frame's travel. */
	scene__sprite_put(s, &ps, out, w->w / 2.0 + rng_range(&r, -0.5, 0.5) * s->L.speed, ps.cy);
	scene__finish(s, out, 256, &r, &sc);
out:
	scene__sprite_free(&ps);
	scene__scratch_free(&sc);
	return rc;
}

/* ---- JSON --------------------------------------------------------------- */

static const char *const defect_names[SCENE_DEFECT_KINDS] = {
	"none", "scratch", "spot", "missing", "deformation", "code",
};

static json_t *pt_json(struct point p)
{
	return json_pack("[ii]", p.x, p.y);
}

static json_t *box_json(struct bbox b)
{
	return json_pack("[iiii]", b.x, b.y, b.w, b.h);
}

static json_t *part_json(const struct scene_part *p)
{
	return json_pack("{s:i, s:s, s:b, s:s, s:o, s:i, s:i, s:i, s:i}", "id", p->id,
			 "serial", p->serial, "readable", p->readable, "defect",
			 defect_names[p->defect], "defect_box", box_json(p->defect_box),
			 "enter_frame", p->enter_frame, "cross_frame", p->cross_frame,
			 "inspect_frame", p->inspect_frame, "exit_frame", p->exit_frame);
}

json_t *scene_truth_json(const struct scene_truth *t)
{
	json_t *zone = json_array(), *line = json_array();
	json_t *parts = json_array(), *people = json_array();

	if (!zone || !line || !parts || !people)
		goto fail;
	for (int i = 0; i < 4; i++)
		if (json_array_append_new(zone, pt_json(t->zone[i])))
			goto fail;
	for (int i = 0; i < 2; i++)
		if (json_array_append_new(line, pt_json(t->line[i])))
			goto fail;
	for (int k = 0; k < t->nparts; k++)
		if (json_array_append_new(parts, part_json(&t->parts[k])))
			goto fail;
	for (int k = 0; k < t->npeople; k++)
		if (json_array_append_new(people, json_pack("{s:i, s:i, s:i}", "id",
							    t->people[k].id, "enter_frame",
							    t->people[k].enter_frame,
							    "leave_frame",
							    t->people[k].leave_frame)))
			goto fail;
	/* "o" hands the arrays over, also when packing fails. */
	return json_pack("{s:i, s:i, s:i, s:f, s:o, s:o, s:o, s:o, s:o, s:o}", "width", t->width,
			 "height", t->height, "frames", t->frames, "fps", t->fps, "zone", zone,
			 "line", line, "inspect_window", box_json(t->inspect_window), "belt",
			 box_json(t->belt), "parts", parts, "people", people);
fail:
	json_decref(zone);
	json_decref(line);
	json_decref(parts);
	json_decref(people);
	return NULL;
}
