/* count.c -- line-crossing part counter over motion blobs.
 *
 * The tracker is deliberately small: a conveyor carries a handful of parts
 * in view, so matching every track to every blob within the gate, sorting
 * the pairs by distance and taking them greedily is cheap and, with
 * velocity prediction, right as long as parts are further apart than they
 * move in a frame. A general-purpose tracker (Kalman filter plus Hungarian
 * assignment, as in OpenCV's contrib modules) would cost a C++ dependency
 * for no better counts here.
 *
 * Sides are taken against a normal of the line that points right (or down
 * for a horizontal line), so "left/top to the other side" means negative to
 * positive. A track's side changes only when its centroid leaves a band
 * around the line a quarter of the part's depth wide: a part resting on the
 * line with a noisy centroid never changes side, so it counts once.
 *
 * Codes are looked for before the crossing, while the part is wholly in
 * view beside the line, so a count normally goes out at its crossing with
 * the code already read: one search for a readable code, COUNT_CODE_TRIES
 * at most (a couple of frames apart, for a different view each time) for
 * one that cannot be read. The searches are the expensive part of counting
 * (libdmtx gives up on a damaged code only when it has walked the whole
 * region), so after the first reads they look where the codes were found
 * on the parts before, a window a little larger than a code, rather than
 * the whole box; the last try still takes the whole box, for a part that
 * lies another way. A part first seen too close to the line has its count
 * held for the searches it has left. The running total is taken at the
 * crossing, so counts stay in crossing order. */
#include "vision/count.h"

#include "core/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GATE_PX 80
#define DEFAULT_TIMEOUT_MS 1000
#define BAND_MIN_PX 2.0
#define BAND_MAX_PX 40.0
#define CODE_MARGIN_FRAC 0.15 /* of the box, added around it for the code search */
#define HIST 8		      /* positions kept per track for its reported speed */
#define CODE_TRY_GAP 2	      /* frames of a track between two code searches */
#define PRIOR_WINDOW 1.8      /* search window around the learnt code place, in code sides */
#define PRIOR_KEEP 16	      /* reads the learnt code place averages over */
#define PART_WHOLE 0.85	      /* a box this fraction of a whole part's size shows it whole */

struct track {
	uint64_t id;   /* 0 = free slot */
	double x, y;   /* last measured centroid */
	double vx, vy; /* px/s */
	bool has_v;
	int64_t seen_ns; /* pts of the last match */
	struct bbox box;
	struct bbox prev_box; /* the box one match before */
	int side; /* -1, +1, or 0 while not yet seen out of the band */
	bool counted;
	int64_t counted_ns;
	bool matched; /* in this frame */
	/* recent positions: the reported speed is taken over them, steadier than vx, vy */
	double hx[HIST], hy[HIST];
	int64_t hns[HIST];
	int nhist;
	/* the part's code: looked for while the part approaches the line, so the
	 * count goes out as it crosses; a count is held only while tries remain */
	bool has_code;
	struct code_result code;
	int code_tries; /* searches left */
	int next_try;	/* nhist at which the next search may run */
	bool pending;	/* counted, the event held for the code */
	uint64_t pend_count;
	int pend_dir;
	int pend_speed;
};

struct pair {
	double d2;
	int t, b;
};

struct counter {
	char camera[VISION_ID_MAX + 1];
	struct count_options opt;
	int width, height;
	double ax, ay, ux, uy, len; /* line start, unit direction, length */
	double nx, ny;		    /* unit normal towards the positive side */
	struct track tracks[COUNT_TRACKS_MAX];
	struct pair pairs[COUNT_TRACKS_MAX * MOTION_BLOBS_MAX];
	bool blob_used[MOTION_BLOBS_MAX];
	uint64_t next_id;
	uint64_t total;
	struct code_reader *reader;
	/* Where codes sit on the parts, learnt from the reads so far (running
	 * means, px): the code's centre from the centre of the part's box, the
	 * code's side, and the size of the box of a part seen whole. */
	double prior_dx, prior_dy, prior_side, part_w, part_h;
	int prior_n;
	struct frame last; /* times of the last frame (no pixels), for counter_flush() */
};

static bool inside(struct point p, int width, int height)
{
	return p.x >= 0 && p.y >= 0 && p.x < width && p.y < height;
}

static int check_options(const struct count_options *o, int width, int height, char *err,
			 size_t errlen)
{
	const char *cam = o->camera;

	if (width < 1 || height < 1 || width > VISION_DIM_MAX || height > VISION_DIM_MAX)
		snprintf(err, errlen, "camera %s: frame size %dx%d out of range", cam, width,
			 height);
	else if (!inside(o->line[0], width, height) || !inside(o->line[1], width, height))
		snprintf(err, errlen,
			 "camera %s: count line (%d,%d)-(%d,%d) outside the %dx%d frame", cam,
			 o->line[0].x, o->line[0].y, o->line[1].x, o->line[1].y, width, height);
	else if (o->line[0].x == o->line[1].x && o->line[0].y == o->line[1].y)
		snprintf(err, errlen, "camera %s: count line has zero length", cam);
	else if (o->direction < -1 || o->direction > 1)
		snprintf(err, errlen, "camera %s: direction must be -1, 0 or 1", cam);
	else if (o->codes & ~(unsigned)CODE_ALL)
		snprintf(err, errlen, "camera %s: unknown code symbologies 0x%x", cam, o->codes);
	else if (o->min_gap_ms < 0 || o->track_timeout_ms < 0 || o->max_match_px < 0)
		snprintf(err, errlen,
			 "camera %s: min_gap_ms, track_timeout_ms and max_match_px "
			 "must not be negative",
			 cam);
	else
		return MW_OK;
	return MW_ERR_INVALID;
}

static void set_line(struct counter *c)
{
	double dx = c->opt.line[1].x - c->opt.line[0].x, dy = c->opt.line[1].y - c->opt.line[0].y;

	c->ax = c->opt.line[0].x;
	c->ay = c->opt.line[0].y;
	c->len = hypot(dx, dy);
	c->ux = dx / c->len;
	c->uy = dy / c->len;
	/* The normal pointing right, or down when the line is horizontal. */
	c->nx = -c->uy;
	c->ny = c->ux;
	if (c->nx < -1e-9 || (fabs(c->nx) <= 1e-9 && c->ny < 0)) {
		c->nx = -c->nx;
		c->ny = -c->ny;
	}
}

int counter_new(const struct count_options *opt, int width, int height, struct counter **out,
		char *err, size_t errlen)
{
	struct counter *c = NULL;
	int rc;

	*out = NULL;
	if (!opt->camera || !event_id_valid(opt->camera)) {
		snprintf(err, errlen, "camera: missing or not a valid identifier");
		return MW_ERR_INVALID;
	}
	rc = check_options(opt, width, height, err, errlen);
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return MW_ERR_NOMEM;
	mw_strlcpy(c->camera, opt->camera, sizeof(c->camera));
	c->opt = *opt;
	c->opt.camera = c->camera;
	if (!c->opt.max_match_px)
		c->opt.max_match_px = DEFAULT_GATE_PX;
	if (!c->opt.track_timeout_ms)
		c->opt.track_timeout_ms = DEFAULT_TIMEOUT_MS;
	c->width = width;
	c->height = height;
	c->next_id = 1;
	set_line(c);
	if (opt->codes) {
		rc = code_reader_new(opt->codes, COUNT_CODE_TIMEOUT_MS, &c->reader);
		if (rc) {
			snprintf(err, errlen, "camera %s: cannot create the code reader",
				 c->camera);
			goto fail;
		}
	}
	*out = c;
	return MW_OK;
fail:
	counter_free(c);
	return rc;
}

void counter_free(struct counter *c)
{
	if (!c)
		return;
	code_reader_free(c->reader);
	free(c);
}

uint64_t counter_total(const struct counter *c) { return c->total; }

static int side_of(const struct counter *c, const struct track *t, bool *on_segment);

/* ---- events ----------------------------------------------------------- */

static json_t *count_attrs(const struct track *t, const struct code_result *code, bool want_code)
{
	/* bbox as [x, y, w, h], like every detector's */
	json_t *a = json_pack("{s:I, s:I, s:[i, i, i, i], s:i, s:i}", "count",
			      (json_int_t)t->pend_count, "track", (json_int_t)t->id, "bbox",
			      t->box.x, t->box.y, t->box.w, t->box.h, "speed_px_s", t->pend_speed,
			      "direction", t->pend_dir);

	if (!a || !want_code)
		return a;
	if (code) {
		json_t *o = json_pack("{s:s, s:s}", "symbology", code_symbology_name(code->sym),
				      "text", code->text);

		if (!o || json_object_set_new(a, "code", o)) {
			json_decref(a);
			return NULL;
		}
	} else if (json_object_set_new(a, "code_missing", json_true())) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Emits the count held by t. A failing sink is logged and otherwise
 * ignored: the count itself stands (counter_total()). */
static void emit_count(struct counter *c, const struct frame *f, const struct plane *snap,
		       struct track *t, const struct code_result *code,
		       const struct vision_sink *sink)
{
	bool want_code = c->opt.codes != 0;
	enum severity sev = (want_code && !code) ? SEV_WARNING : SEV_INFO;
	struct event e;
	int rc;

	t->pending = false;
	rc = vision_event(&e, c->camera, "part.counted", sev, f, count_attrs(t, code, want_code));
	if (rc == MW_OK) {
		rc = sink->emit(sink->arg, &e, snap);
		event_clear(&e);
	}
	if (rc)
		log_warn("count event lost camera=%s count=%llu err=%d", c->camera,
			 (unsigned long long)t->pend_count, rc);
}

/* The rectangle (x0, y0)-(x1, y1) of the frame's luma, clipped to it. */
static struct plane clip_view(const struct counter *c, const struct frame *f, int x0, int y0,
			      int x1, int y1)
{
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > c->width ? c->width : x1;
	y1 = y1 > c->height ? c->height : y1;
	if (x1 <= x0 || y1 <= y0)
		return plane_view(&f->y, 0, 0, 0, 0);
	return plane_view(&f->y, x0, y0, x1 - x0, y1 - y0);
}

/* The part's box with a margin: where a code may be when nothing is known. */
static struct plane box_region(const struct counter *c, const struct frame *f,
			       const struct bbox *b)
{
	int mx = (int)(b->w * CODE_MARGIN_FRAC) + 4, my = (int)(b->h * CODE_MARGIN_FRAC) + 4;

	return clip_view(c, f, b->x - mx, b->y - my, b->x + b->w + mx, b->y + b->h + my);
}

/* Where the code should be on t, from the codes read so far: a window
 * PRIOR_WINDOW times the code's side around its usual place. Searching
 * that instead of the whole box is what keeps a part whose code cannot be
 * read cheap: libdmtx's cost grows with the area it has to give up on. */
static struct plane prior_region(const struct counter *c, const struct frame *f,
				 const struct track *t)
{
	double half = c->prior_side * PRIOR_WINDOW / 2;
	double x = t->box.x + t->box.w / 2.0 + c->prior_dx, y = t->box.y + t->box.h / 2.0 + c->prior_dy;

	return clip_view(c, f, (int)(x - half), (int)(y - half), (int)(x + half + 1),
			 (int)(y + half + 1));
}

static void prior_learn(struct counter *c, const struct track *t, const struct plane *region,
			const struct frame *f, const struct bbox *code)
{
	ptrdiff_t off = region->data - f->y.data;
	int rx = (int)(off % f->y.stride), ry = (int)(off / f->y.stride);
	double dx = rx + code->x + code->w / 2.0 - (t->box.x + t->box.w / 2.0);
	double dy = ry + code->y + code->h / 2.0 - (t->box.y + t->box.h / 2.0);
	double side = code->w > code->h ? code->w : code->h;
	double k = c->prior_n < PRIOR_KEEP ? 1.0 / (c->prior_n + 1) : 1.0 / PRIOR_KEEP;

	c->prior_dx += (dx - c->prior_dx) * k;
	c->prior_dy += (dy - c->prior_dy) * k;
	c->prior_side += (side - c->prior_side) * k;
	c->part_w += (t->box.w - c->part_w) * k;
	c->part_h += (t->box.h - c->part_h) * k;
	c->prior_n++;
}

/* Whether t's code is worth a search in this frame: not read yet, tries
 * left, the part wholly in view beside the line (or its count held for
 * the code), and not a part already past the line for good. */
static bool code_wanted(const struct counter *c, const struct track *t)
{
	const struct bbox *b = &t->box;
	bool on_segment;

	if (!c->reader || t->has_code || t->code_tries <= 0 || t->nhist < t->next_try)
		return false;
	if (t->pending)
		return true;
	if (t->counted || (c->opt.direction && t->side == c->opt.direction))
		return false;
	if (b->x <= 0 || b->y <= 0 || b->x + b->w >= c->width || b->y + b->h >= c->height)
		return false;
	/* A box still growing is a part still coming into view (or into the
	 * motion mask): its code may not be in it yet. */
	if (t->nhist < 2 || b->w > t->prev_box.w || b->h > t->prev_box.h)
		return false;
	/* a part seen in pieces (motion splits a blob now and then) or a
	 * smaller object: no search, the tries are kept for a whole view */
	if (c->prior_n && (b->w < PART_WHOLE * c->part_w || b->h < PART_WHOLE * c->part_h))
		return false;
	(void)side_of(c, t, &on_segment);
	return on_segment;
}

/* One search for t's code: in the learnt place while there is one, the
 * whole box on the last try (a part turned another way). A held count
 * goes out when the code is read or the tries are spent. */
static void try_code(struct counter *c, const struct frame *f, struct track *t,
		     const struct vision_sink *sink)
{
	bool use_prior = c->prior_n > 0 && t->code_tries > 1;
	struct plane region = use_prior ? prior_region(c, f, t) : box_region(c, f, &t->box);
	struct code_result res[1];
	int n = 0;

	t->code_tries--;
	t->next_try = t->nhist + CODE_TRY_GAP;
	if (region.width > 0 && region.height > 0)
		n = code_reader_scan(c->reader, &region, res, 1);
	if (n < 0)
		log_warn("code scan failed camera=%s track=%llu err=%d", c->camera,
			 (unsigned long long)t->id, n);
	if (n > 0) {
		t->has_code = true;
		t->code = res[0];
		prior_learn(c, t, &region, f, &res[0].box);
	}
	if (t->pending && (n > 0 || t->code_tries <= 0))
		emit_count(c, f, &f->y, t, n > 0 ? &t->code : NULL, sink);
}

/* ---- tracking ----------------------------------------------------------- */

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *p = a, *q = b;

	return (p->d2 > q->d2) - (p->d2 < q->d2);
}

static int match(struct counter *c, int64_t pts, const struct blob *blobs, int nblobs)
{
	double gate2 = (double)c->opt.max_match_px * c->opt.max_match_px;
	int np = 0;

	for (int i = 0; i < COUNT_TRACKS_MAX; i++) {
		struct track *t = &c->tracks[i];
		double dt = (double)(pts - t->seen_ns) / 1e9, px, py;

		t->matched = false;
		if (!t->id)
			continue;
		px = t->x + (t->has_v ? t->vx * dt : 0);
		py = t->y + (t->has_v ? t->vy * dt : 0);
		for (int b = 0; b < nblobs; b++) {
			double ex = blobs[b].cx - px, ey = blobs[b].cy - py, d2 = ex * ex + ey * ey;

			if (d2 <= gate2)
				c->pairs[np++] = (struct pair){d2, i, b};
		}
	}
	qsort(c->pairs, (size_t)np, sizeof(c->pairs[0]), cmp_pair);
	return np;
}

static void remember(struct track *t)
{
	int i = t->nhist++ % HIST;

	t->hx[i] = t->x;
	t->hy[i] = t->y;
	t->hns[i] = t->seen_ns;
}

/* px/s between the oldest position kept and the newest. */
static int track_speed(const struct track *t)
{
	int last = (t->nhist - 1) % HIST, first = t->nhist > HIST ? t->nhist % HIST : 0;
	double dt = (double)(t->hns[last] - t->hns[first]) / 1e9;

	if (t->nhist < 2 || dt <= 0)
		return (int)lround(hypot(t->vx, t->vy));
	return (int)lround(hypot(t->hx[last] - t->hx[first], t->hy[last] - t->hy[first]) / dt);
}

static void track_update(struct track *t, const struct blob *b, int64_t pts)
{
	double dt = (double)(pts - t->seen_ns) / 1e9;

	if (dt > 0) {
		double vx = (b->cx - t->x) / dt, vy = (b->cy - t->y) / dt;

		/* Smoothed: centroids of a segmented blob wobble by a few pixels. */
		t->vx = t->has_v ? 0.5 * t->vx + 0.5 * vx : vx;
		t->vy = t->has_v ? 0.5 * t->vy + 0.5 * vy : vy;
		t->has_v = true;
	}
	t->x = b->cx;
	t->y = b->cy;
	t->prev_box = t->box;
	t->box = b->box;
	t->seen_ns = pts;
	t->matched = true;
	remember(t);
}

static void track_start(struct counter *c, const struct blob *b, int64_t pts)
{
	bool on_segment;

	for (int i = 0; i < COUNT_TRACKS_MAX; i++) {
		struct track *t = &c->tracks[i];

		if (t->id)
			continue;
		memset(t, 0, sizeof(*t));
		t->id = c->next_id++;
		t->x = b->cx;
		t->y = b->cy;
		t->box = b->box;
		t->seen_ns = pts;
		t->matched = true;
		remember(t);
		t->code_tries = COUNT_CODE_TRIES;
		/* Its first side is no crossing: a part that comes into view past the line
		 * was not seen to cross it. */
		t->side = side_of(c, t, &on_segment);
		return;
	}
	log_debug("count tracks full camera=%s max=%d", c->camera, COUNT_TRACKS_MAX);
}

/* Drops tracks unseen for longer than the timeout, and all of them when
 * time goes backwards (the input restarted); a held count goes out without
 * its code. */
static void retire(struct counter *c, const struct frame *f, const struct vision_sink *sink)
{
	int64_t timeout_ns = c->opt.track_timeout_ms * 1000000;

	for (int i = 0; i < COUNT_TRACKS_MAX; i++) {
		struct track *t = &c->tracks[i];

		if (!t->id || (f->pts_ns - t->seen_ns <= timeout_ns && f->pts_ns >= t->seen_ns))
			continue;
		if (t->pending)
			emit_count(c, f, &f->y, t, NULL, sink);
		t->id = 0;
	}
}

/* ---- crossing ----------------------------------------------------------- */

/* -1 or +1 when the centroid is clear of the band around the line, else 0;
 * on_segment tells whether it is beside the segment rather than past its ends. */
static int side_of(const struct counter *c, const struct track *t, bool *on_segment)
{
	double s = (t->x - c->ax) * c->nx + (t->y - c->ay) * c->ny;
	double depth = fabs(t->box.w * c->nx) + fabs(t->box.h * c->ny);
	double band = depth / 4, along;

	band = band < BAND_MIN_PX ? BAND_MIN_PX : band > BAND_MAX_PX ? BAND_MAX_PX : band;
	along = (t->x - c->ax) * c->ux + (t->y - c->ay) * c->uy;
	*on_segment = along >= -band && along <= c->len + band;
	return s > band ? 1 : s < -band ? -1 : 0;
}

/* Returns true when t has just crossed the line in a counted direction. */
static bool crossed(struct counter *c, struct track *t, int64_t pts)
{
	bool on_segment;
	int side = side_of(c, t, &on_segment), old = t->side, dir;

	if (!side || side == old)
		return false;
	t->side = side;
	if (!old || !on_segment)
		return false;
	dir = side > old ? 1 : -1;
	if (c->opt.direction && dir != c->opt.direction)
		return false;
	if (t->counted && pts - t->counted_ns < c->opt.min_gap_ms * 1000000)
		return false;
	t->counted = true;
	t->counted_ns = pts;
	t->pend_dir = dir;
	return true;
}

/* Numbers the crossing; its event goes out now unless the code is still
 * being looked for. */
static void count_track(struct counter *c, const struct frame *f, struct track *t,
			const struct vision_sink *sink)
{
	if (t->pending) /* a count still held: out it goes, without a code */
		emit_count(c, f, &f->y, t, NULL, sink);
	t->pend_count = ++c->total;
	t->pend_speed = track_speed(t);
	if (!c->reader || t->has_code || t->code_tries <= 0) {
		emit_count(c, f, &f->y, t, t->has_code ? &t->code : NULL, sink);
		return;
	}
	t->pending = true;
}

int counter_process(struct counter *c, const struct frame *f, const struct blob *blobs, int nblobs,
		    const struct vision_sink *sink)
{
	int np;

	if (f->y.width != c->width || f->y.height != c->height || nblobs < 0 ||
	    (nblobs && !blobs) || !sink || !sink->emit)
		return MW_ERR_INVALID;
	if (nblobs > MOTION_BLOBS_MAX)
		nblobs = MOTION_BLOBS_MAX;
	c->last = *f;
	memset(&c->last.y, 0, sizeof(c->last.y));
	retire(c, f, sink);
	np = match(c, f->pts_ns, blobs, nblobs);
	memset(c->blob_used, 0, sizeof(c->blob_used));
	for (int i = 0; i < np; i++) {
		struct track *t = &c->tracks[c->pairs[i].t];

		if (t->matched || c->blob_used[c->pairs[i].b])
			continue;
		c->blob_used[c->pairs[i].b] = true;
		track_update(t, &blobs[c->pairs[i].b], f->pts_ns);
		if (crossed(c, t, f->pts_ns))
			count_track(c, f, t, sink);
		if (code_wanted(c, t))
			try_code(c, f, t, sink);
	}
	for (int b = 0; b < nblobs; b++) {
		if (!c->blob_used[b])
			track_start(c, &blobs[b], f->pts_ns);
	}
	return MW_OK;
}

void counter_flush(struct counter *c, const struct vision_sink *sink)
{
	for (int i = 0; i < COUNT_TRACKS_MAX; i++) {
		struct track *t = &c->tracks[i];

		if (t->id && t->pending)
			emit_count(c, &c->last, NULL, t, NULL, sink);
	}
}
