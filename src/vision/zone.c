/* zone.c -- safety zones: polygon checks, zone masks and the per-zone state
 * machine of zone.h.
 *
 * Polygons come from a config file a person typed, so they are checked
 * with exact integer geometry (64-bit cross products) and every error names
 * the camera, the zone and the offending point or edges. Each zone is then
 * rasterised once, at the motion model's analysis resolution (a pixel is
 * inside when its centre is, even-odd rule), into a summed-area table: the
 * share of a blob's box inside the zone is then four lookups, whatever the
 * size of the box or of the polygon.
 *
 * Timing uses the stream's presentation time, never the clock, so the same
 * footage gives the same events whether it is played live or analysed as
 * fast as it decodes. */
#include "vision/zone.h"

#include "core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL

enum zone_state { ZONE_EMPTY, ZONE_PENDING, ZONE_OCCUPIED, ZONE_CLEARING };

struct zone {
	struct zone_def def;
	uint32_t *sat; /* summed-area table, (sw + 1) x (sh + 1) */
	enum zone_state state;
	int64_t enter_ns; /* first frame with something inside */
	int64_t clear_ns; /* first frame with nothing inside again */
};

struct zone_detector {
	char camera[VISION_ID_MAX + 1];
	struct motion *motion;
	int width, height, s, sw, sh;
	int64_t enter_ns, leave_ns;
	double min_overlap;
	struct zone *zones;
	int nzones;
	struct blob blobs[MOTION_BLOBS_MAX];
	int nblobs; /* of the last frame */
};

/* ---- polygon checks ------------------------------------------------------ */

static int64_t cross(struct point o, struct point a, struct point b)
{
	return (int64_t)(a.x - o.x) * (b.y - o.y) - (int64_t)(a.y - o.y) * (b.x - o.x);
}

static int sign(int64_t v) { return (v > 0) - (v < 0); }

/* p lies on segment ab, given that it is collinear with it. */
static bool on_segment(struct point a, struct point b, struct point p)
{
	return p.x >= (a.x < b.x ? a.x : b.x) && p.x <= (a.x > b.x ? a.x : b.x) &&
	       p.y >= (a.y < b.y ? a.y : b.y) && p.y <= (a.y > b.y ? a.y : b.y);
}

/* Segments ab and cd share a point (touching counts). */
static bool segments_meet(struct point a, struct point b, struct point c, struct point d)
{
	int d1 = sign(cross(c, d, a)), d2 = sign(cross(c, d, b));
	int d3 = sign(cross(a, b, c)), d4 = sign(cross(a, b, d));

	if (d1 * d2 < 0 && d3 * d4 < 0)
		return true;
	return (d1 == 0 && on_segment(c, d, a)) || (d2 == 0 && on_segment(c, d, b)) ||
	       (d3 == 0 && on_segment(a, b, c)) || (d4 == 0 && on_segment(a, b, d));
}

/* All points on one line (consecutive points differ, checked before). A
 * polygon that is not is either simple, with a nonzero area, or has edges
 * that cross, which check_edges() names. */
static bool collinear(const struct zone_def *z)
{
	for (int i = 2; i < z->npts; i++)
		if (cross(z->pts[0], z->pts[1], z->pts[i]) != 0)
			return false;
	return true;
}

static int check_points(const char *camera, const struct zone_def *z, int width, int height,
			char *err, size_t errlen)
{
	for (int i = 0; i < z->npts; i++) {
		struct point p = z->pts[i], q = z->pts[(i + 1) % z->npts];
		if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) {
			snprintf(err, errlen,
				 "camera %s: zone %s: point %d (%d,%d) is outside the %dx%d frame",
				 camera, z->name, i + 1, p.x, p.y, width, height);
			return MW_ERR_INVALID;
		}
		if (p.x == q.x && p.y == q.y) {
			snprintf(err, errlen, "camera %s: zone %s: points %d and %d are the same",
				 camera, z->name, i + 1, (i + 1) % z->npts + 1);
			return MW_ERR_INVALID;
		}
	}
	return MW_OK;
}

/* Non-adjacent edges must not meet; adjacent ones must not fold back
 * over each other. */
static int check_edges(const char *camera, const struct zone_def *z, char *err, size_t errlen)
{
	int n = z->npts;

	for (int i = 0; i < n; i++) {
		struct point a = z->pts[i], b = z->pts[(i + 1) % n], c = z->pts[(i + 2) % n];
		if (cross(a, b, c) == 0 &&
		    (int64_t)(b.x - a.x) * (c.x - b.x) + (int64_t)(b.y - a.y) * (c.y - b.y) < 0) {
			snprintf(err, errlen, "camera %s: zone %s: edges %d and %d overlap", camera,
				 z->name, i + 1, (i + 1) % n + 1);
			return MW_ERR_INVALID;
		}
		for (int j = i + 2; j < n; j++) {
			if (i == 0 && j == n - 1)
				continue; /* adjacent through the closing edge */
			if (segments_meet(a, b, z->pts[j], z->pts[(j + 1) % n])) {
				snprintf(err, errlen, "camera %s: zone %s: edges %d and %d cross",
					 camera, z->name, i + 1, j + 1);
				return MW_ERR_INVALID;
			}
		}
	}
	return MW_OK;
}

int zone_check(const char *camera, const struct zone_def *z, int width, int height, char *err,
	       size_t errlen)
{
	int rc;

	if (!memchr(z->name, '\0', sizeof(z->name)) || !z->name[0]) {
		snprintf(err, errlen, "camera %s: a zone has no name", camera);
		return MW_ERR_INVALID;
	}
	if (z->npts < 3 || z->npts > ZONE_POINTS_MAX) {
		snprintf(err, errlen, "camera %s: zone %s: %d points, need 3 to %d", camera,
			 z->name, z->npts, ZONE_POINTS_MAX);
		return MW_ERR_INVALID;
	}
	if (z->severity < SEV_DEBUG || z->severity > SEV_ALARM) {
		snprintf(err, errlen, "camera %s: zone %s: bad severity %d", camera, z->name,
			 (int)z->severity);
		return MW_ERR_INVALID;
	}
	rc = check_points(camera, z, width, height, err, errlen);
	if (rc)
		return rc;
	if (collinear(z)) {
		snprintf(err, errlen, "camera %s: zone %s: the polygon has zero area", camera,
			 z->name);
		return MW_ERR_INVALID;
	}
	return check_edges(camera, z, err, errlen);
}

/* ---- zone masks ----------------------------------------------------------- */

/* Whether full-frame point (x, y) is inside, even-odd rule. */
static bool inside(const struct zone_def *z, double x, double y)
{
	bool in = false;

	for (int i = 0, j = z->npts - 1; i < z->npts; j = i++) {
		struct point a = z->pts[i], b = z->pts[j];
		if ((a.y > y) != (b.y > y) &&
		    x < a.x + (y - a.y) * (double)(b.x - a.x) / (double)(b.y - a.y))
			in = !in;
	}
	return in;
}

/* Summed-area table of the zone at analysis resolution; sat[(y)(sw+1)+x]
 * counts inside pixels above and left of (x, y). */
static int rasterise(struct zone *z, int sw, int sh, int s)
{
	size_t w1 = (size_t)sw + 1;

	z->sat = calloc(w1 * ((size_t)sh + 1), sizeof(*z->sat));
	if (!z->sat)
		return MW_ERR_NOMEM;
	for (int y = 0; y < sh; y++) {
		uint32_t row = 0;
		for (int x = 0; x < sw; x++) {
			row += inside(&z->def, (x + 0.5) * s, (y + 0.5) * s);
			z->sat[(y + 1) * w1 + x + 1] = z->sat[y * w1 + x + 1] + row;
		}
	}
	return MW_OK;
}

static double overlap(const struct zone_detector *d, const struct zone *z, const struct bbox *b)
{
	size_t w1 = (size_t)d->sw + 1;
	int x0 = b->x / d->s, y0 = b->y / d->s;
	int x1 = x0 + b->w / d->s, y1 = y0 + b->h / d->s;
	uint32_t in;

	x1 = x1 < d->sw ? x1 : d->sw;
	y1 = y1 < d->sh ? y1 : d->sh;
	if (x1 <= x0 || y1 <= y0)
		return 0;
	in = z->sat[y1 * w1 + x1] - z->sat[y0 * w1 + x1] - z->sat[y1 * w1 + x0] +
	     z->sat[y0 * w1 + x0];
	return (double)in / ((double)(x1 - x0) * (y1 - y0));
}

/* ---- the detector ------------------------------------------------------- */

static int check_options(const struct zone_options *o, int width, int height, char *err,
			 size_t errlen)
{
	const char *cam = o->camera ? o->camera : "";
	int rc;

	if (!event_id_valid(cam)) {
		snprintf(err, errlen, "camera \"%s\": not a valid camera id", cam);
		return MW_ERR_INVALID;
	}
	if (o->nzones < 1 || !o->zones) {
		snprintf(err, errlen, "camera %s: no zones", cam);
		return MW_ERR_INVALID;
	}
	if (o->enter_ms < 0 || o->leave_ms < 0 || o->min_overlap < 0 || o->min_overlap > 1) {
		snprintf(err, errlen,
			 "camera %s: enter_ms and leave_ms must be >= 0, min_overlap 0..1", cam);
		return MW_ERR_INVALID;
	}
	for (int i = 0; i < o->nzones; i++) {
		rc = zone_check(cam, &o->zones[i], width, height, err, errlen);
		if (rc)
			return rc;
		for (int j = 0; j < i; j++) {
			if (!strcmp(o->zones[i].name, o->zones[j].name)) {
				snprintf(err, errlen, "camera %s: zone %s: defined twice", cam,
					 o->zones[i].name);
				return MW_ERR_INVALID;
			}
		}
	}
	return MW_OK;
}

int zone_detector_new(const struct zone_options *opt, int width, int height,
		      struct zone_detector **out, char *err, size_t errlen)
{
	struct zone_detector *d = NULL;
	char merr[256];
	int rc;

	*out = NULL;
	rc = check_options(opt, width, height, err, errlen);
	if (rc)
		goto out;
	rc = MW_ERR_NOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	mw_strlcpy(d->camera, opt->camera, sizeof(d->camera));
	d->enter_ns = (opt->enter_ms ? opt->enter_ms : 200) * NS_PER_MS;
	d->leave_ns = (opt->leave_ms ? opt->leave_ms : 1000) * NS_PER_MS;
	d->min_overlap = opt->min_overlap > 0 ? opt->min_overlap : 0.2;
	d->width = width;
	d->height = height;
	rc = motion_new(&opt->motion, width, height, &d->motion, merr, sizeof(merr));
	if (rc) {
		snprintf(err, errlen, "camera %s: %s", opt->camera, merr);
		goto out;
	}
	d->s = opt->motion.scale ? opt->motion.scale : 4;
	d->sw = motion_mask(d->motion)->width;
	d->sh = motion_mask(d->motion)->height;
	rc = MW_ERR_NOMEM;
	d->zones = calloc((size_t)opt->nzones, sizeof(*d->zones));
	if (!d->zones)
		goto out;
	d->nzones = opt->nzones;
	for (int i = 0; i < d->nzones; i++) {
		d->zones[i].def = opt->zones[i];
		if (d->zones[i].def.severity == SEV_DEBUG)
			d->zones[i].def.severity = SEV_ALARM;
		rc = rasterise(&d->zones[i], d->sw, d->sh, d->s);
		if (rc)
			goto out;
	}
	*out = d;
	d = NULL;
	rc = MW_OK;
out:
	if (rc == MW_ERR_NOMEM)
		snprintf(err, errlen, "camera %s: out of memory", opt->camera);
	zone_detector_free(d);
	return rc;
}

void zone_detector_free(struct zone_detector *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->nzones; i++)
		free(d->zones[i].sat);
	free(d->zones);
	motion_free(d->motion);
	free(d);
}

static void emit(const struct zone_detector *d, const struct zone *z, const char *kind,
		 enum severity sev, const struct frame *f, json_t *attrs,
		 const struct plane *snapshot, const struct vision_sink *sink)
{
	struct event e;
	int rc;

	if (!attrs) {
		log_warn("zone event lost camera=%s zone=%s kind=%s err=\"out of memory\"",
			 d->camera, z->def.name, kind);
		return;
	}
	rc = vision_event(&e, d->camera, kind, sev, f, attrs);
	if (rc) {
		log_warn("zone event lost camera=%s zone=%s kind=%s err=\"%s\"", d->camera,
			 z->def.name, kind, mw_strerror(rc));
		return;
	}
	rc = sink->emit(sink->arg, &e, snapshot);
	if (rc)
		log_warn("zone emit failed camera=%s zone=%s kind=%s err=\"%s\"", d->camera,
			 z->def.name, kind, mw_strerror(rc));
	event_clear(&e);
}

static void emit_intrusion(const struct zone_detector *d, const struct zone *z,
			   const struct blob *b, int objects, const struct frame *f,
			   const struct vision_sink *sink)
{
	json_t *a = json_pack("{s:s, s:[i,i,i,i], s:i, s:i, s:i}", "zone", z->def.name, "bbox",
			      b->box.x, b->box.y, b->box.w, b->box.h, "area", b->area, "objects",
			      objects, "dwell_ms", 0);

	emit(d, z, "zone.intrusion", z->def.severity, f, a, &f->y, sink);
}

static void emit_clear(const struct zone_detector *d, const struct zone *z, const struct frame *f,
		       const struct vision_sink *sink)
{
	json_t *a = json_pack("{s:s, s:I}", "zone", z->def.name, "dwell_ms",
			      (json_int_t)((z->clear_ns - z->enter_ns) / NS_PER_MS));

	emit(d, z, "zone.clear", SEV_INFO, f, a, NULL, sink);
}

/* One frame of a zone's state machine; largest is the biggest blob inside
 * (blobs come sorted), or NULL when nothing is. */
static void step(struct zone_detector *d, struct zone *z, const struct blob *largest, int objects,
		 const struct frame *f, const struct vision_sink *sink)
{
	int64_t now = f->pts_ns;

	switch (z->state) {
	case ZONE_EMPTY:
		if (largest) {
			z->state = ZONE_PENDING;
			z->enter_ns = now;
		}
		break;
	case ZONE_PENDING:
		if (!largest) {
			z->state = ZONE_EMPTY;
		} else if (now - z->enter_ns >= d->enter_ns) {
			z->state = ZONE_OCCUPIED;
			emit_intrusion(d, z, largest, objects, f, sink);
		}
		break;
	case ZONE_OCCUPIED:
		if (!largest) {
			z->state = ZONE_CLEARING;
			z->clear_ns = now;
		}
		break;
	case ZONE_CLEARING:
		if (largest) {
			z->state = ZONE_OCCUPIED;
		} else if (now - z->clear_ns >= d->leave_ns) {
			z->state = ZONE_EMPTY;
			emit_clear(d, z, f, sink);
		}
		break;
	}
}

const struct blob *zone_detector_blobs(const struct zone_detector *d, int *n)
{
	*n = d->nblobs;
	return d->blobs;
}

int zone_detector_process(struct zone_detector *d, const struct frame *f,
			  const struct vision_sink *sink)
{
	int n = motion_process(d->motion, &f->y, d->blobs, MOTION_BLOBS_MAX);

	d->nblobs = n > 0 ? n : 0;
	if (n < 0)
		return n;
	for (int i = 0; i < d->nzones; i++) {
		struct zone *z = &d->zones[i];
		const struct blob *largest = NULL;
		int objects = 0;
		for (int k = 0; k < n; k++) {
			if (overlap(d, z, &d->blobs[k].box) < d->min_overlap)
				continue;
			if (!largest)
				largest = &d->blobs[k];
			objects++;
		}
		step(d, z, largest, objects, f, sink);
	}
	return MW_OK;
}
