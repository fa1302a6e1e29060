/* motion.c -- the background model, foreground mask and blobs of motion.h.
 *
 * State per analysed pixel is four bytes: the background mean in 8.8 fixed
 * point (uint16), a mean absolute deviation in quarter grey levels (uint8)
 * and how many frames the pixel has been foreground without a break
 * (uint8). At the default 1/4 scale that is 1/4 byte per frame pixel,
 * against ~60 bytes for a Gaussian mixture at full resolution: the model of
 * a 4K frame fits in the L2 cache.
 *
 * Each frame goes through a fixed sequence of row passes, each a plain
 * counted loop over small integer arrays that GCC vectorises at -O3:
 *   1. box-average s x s blocks of luma (vertical sums, then a horizontal
 *      reduction by a constant stride);
 *   2. global light: a least-squares gain and offset from background to
 *      frame, over 64 sampled rows and fitted twice (the second time only
 *      on pixels the first fit explains, so people do not bias it), then
 *      applied to the whole background. Light that drifts or steps
 *      uniformly is thereby followed at once; the slow update alone lagged
 *      a +-25% drift by more than the threshold, turned the whole frame
 *      foreground and forced re-learning, blind, with people in view;
 *   3. foreground where |I - B| > max(threshold, 4 * dev) scaled by
 *      (128 + B) / 256: bright areas change more in absolute terms when
 *      the light changes, dark ones less;
 *   4. a 3x3 majority vote (5 of 9) that removes speckle and fills pin
 *      holes in one pass, where opening plus closing would take four;
 *   5. update: normal learning rate where background, none where
 *      foreground (before or after clean-up) until it has been so for
 *      STALE_FRAMES frames in a row, then 1/16 of the rate. A belt that
 *      shows each pixel a bright part every other second never drifts
 *      towards the parts, and a person standing still stays foreground
 *      for about a minute; global light is followed by step 2 anyway.
 * Connected components are labelled on runs, not pixels (two-pass union-
 * find over horizontal runs, 8-connected): a 1/4-scale mask has a few
 * hundred runs where it has 130 000 pixels. This part is inherently
 * sequential and is not vectorised; the empty-row test before it is.
 * OpenCV has all of this, but linking it into the edge is what the
 * project avoids (its MOG2 model alone is the ~60 bytes per pixel above).
 *
 * What the light fit cannot explain (camera bumped, view changed) makes
 * most of the frame foreground at once; the model then takes the current
 * frame as its background outright and reports blobs again two frames
 * later, instead of one frame-sized blob or a blind learning phase. Who
 * is in view at that moment is in that background and leaves a ghost that
 * stays for STALE_FRAMES and then fades at the slow rate: a known cost of
 * re-learning fast. */
#include "vision/motion.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_ONE 4096 /* learning rates are fixed point, 12 fractional bits */
#define RATE_SHIFT 12
#define DEV_K 4 /* noise multiple that still counts as background */
#define DEV_RATE (RATE_ONE / 16)
#define FG_RATE_DIV 16
#define STALE_FRAMES 255 /* frames of unbroken foreground before it is learnt (uint8) */
#define CLIP_LO 4	 /* grey levels this close to 0 or 255 may be clipped: not fitted */
#define CLIP_HI 251
#define FIT_ROWS 64	   /* rows sampled for the light fit (all when fewer) */
#define FIT_MIN_PIXELS 256 /* fewer fitted pixels than this: no light correction */
#define FIT_MIN_SPREAD 4.0 /* grey levels of background spread needed to fit a gain */
#define FIT_GAIN_MIN 0.5
#define FIT_GAIN_MAX 2.0
#define RELIGHT_MIN (RATE_ONE / 8) /* light changes under 1/8 grey level wait */
#define RELEARN_BLIND 2 /* frames without blobs after a global change */

struct run {
	int x0, x1, y; /* x1 inclusive, analysis pixels */
};

struct comp {
	int x0, x1, y0, y1, area;
	int64_t sx, sy;
};

struct motion {
	struct motion_options opt;
	int width, height; /* full frame */
	int sw, sh, s;	   /* analysis size and scale */
	int frames;	   /* frames since the model (re)started learning */
	int blind;	   /* frames left without blobs: first learning, or a global change */
	int rate_bg, rate_fg;
	uint16_t *acc;	   /* one full-width row of vertical sums */
	uint8_t *cur;	   /* downscaled luma, sw * sh */
	uint16_t *bg;	   /* background mean, 8.8 fixed point */
	uint8_t *dev;	   /* mean absolute deviation, quarter grey levels */
	uint8_t *stale;	   /* frames foreground without a break, up to STALE_FRAMES */
	uint8_t *raw;	   /* foreground before clean-up, 0/1 */
	uint8_t *fg;	   /* foreground after clean-up, 0/1 */
	uint8_t *vs;	   /* vertical 3-sums for one row, sw + 2 with zero ends */
	uint8_t *zero;	   /* a row of zeros for the borders */
	struct plane mask; /* fg as 0/255, for motion_mask() */
	struct run *runs;
	uint32_t *parent;
	struct comp *comps;
	struct blob *cand;
	int maxruns;
};

/* ---- options ------------------------------------------------------------ */

static int check_options(struct motion_options *o, int width, int height, char *err, size_t errlen)
{
	if (o->scale == 0)
		o->scale = 4;
	if (o->threshold == 0)
		o->threshold = 25;
	if (o->learn_frames == 0)
		o->learn_frames = 25;
	if (o->learn_rate == 0)
		o->learn_rate = 0.02;
	if (o->min_area == 0)
		o->min_area = 400;
	if (o->relearn_frac == 0)
		o->relearn_frac = 0.6;
	if (o->scale != 1 && o->scale != 2 && o->scale != 4 && o->scale != 8) {
		snprintf(err, errlen, "motion: scale %d: must be 1, 2, 4 or 8", o->scale);
		return MW_ERR_INVALID;
	}
	if (o->threshold < 1 || o->threshold > 255) {
		snprintf(err, errlen, "motion: threshold %d: must be 1..255", o->threshold);
		return MW_ERR_INVALID;
	}
	if (o->learn_frames < 1 || o->learn_frames > 100000) {
		snprintf(err, errlen, "motion: learn_frames %d: must be 1..100000",
			 o->learn_frames);
		return MW_ERR_INVALID;
	}
	if (!(o->learn_rate > 0 && o->learn_rate <= 1)) {
		snprintf(err, errlen, "motion: learn_rate %g: must be in (0, 1]", o->learn_rate);
		return MW_ERR_INVALID;
	}
	if (o->min_area < 1) {
		snprintf(err, errlen, "motion: min_area %d: must be positive", o->min_area);
		return MW_ERR_INVALID;
	}
	if (!(o->relearn_frac > 0 && o->relearn_frac <= 1)) {
		snprintf(err, errlen, "motion: relearn_frac %g: must be in (0, 1]",
			 o->relearn_frac);
		return MW_ERR_INVALID;
	}
	if (width < o->scale || height < o->scale || width > VISION_DIM_MAX ||
	    height > VISION_DIM_MAX) {
		snprintf(err, errlen, "motion: frame %dx%d: must be %d..%d pixels a side", width,
			 height, o->scale, VISION_DIM_MAX);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int alloc_buffers(struct motion *m)
{
	size_t n = (size_t)m->sw * (size_t)m->sh;

	m->maxruns = m->sh * ((m->sw + 1) / 2);
	m->acc = malloc((size_t)m->width * sizeof(*m->acc));
	m->cur = malloc(n);
	m->bg = calloc(n, sizeof(*m->bg));
	m->dev = calloc(n, 1);
	m->stale = calloc(n, 1);
	m->raw = calloc(n, 1);
	m->fg = calloc(n, 1);
	m->vs = calloc((size_t)m->sw + 2, 1);
	m->zero = calloc((size_t)m->sw + 2, 1);
	m->runs = malloc((size_t)m->maxruns * sizeof(*m->runs));
	m->parent = malloc((size_t)m->maxruns * sizeof(*m->parent));
	m->comps = malloc((size_t)m->maxruns * sizeof(*m->comps));
	m->cand = malloc((size_t)m->maxruns * sizeof(*m->cand));
	if (!m->acc || !m->cur || !m->bg || !m->dev || !m->stale || !m->raw || !m->fg || !m->vs ||
	    !m->zero || !m->runs || !m->parent || !m->comps || !m->cand)
		return MW_ERR_NOMEM;
	return plane_alloc(&m->mask, m->sw, m->sh);
}

int motion_new(const struct motion_options *opt, int width, int height, struct motion **out,
	       char *err, size_t errlen)
{
	struct motion *m = NULL;
	struct motion_options o = opt ? *opt : (struct motion_options){0};
	int rc;

	*out = NULL;
	rc = check_options(&o, width, height, err, errlen);
	if (rc)
		goto out;
	m = calloc(1, sizeof(*m));
	rc = MW_ERR_NOMEM;
	if (!m)
		goto out;
	m->opt = o;
	m->width = width;
	m->height = height;
	m->s = o.scale;
	m->sw = width / o.scale;
	m->sh = height / o.scale;
	m->rate_bg = (int)(o.learn_rate * RATE_ONE + 0.5);
	if (m->rate_bg < 1)
		m->rate_bg = 1;
	m->rate_fg = m->rate_bg / FG_RATE_DIV;
	m->blind = o.learn_frames;
	rc = alloc_buffers(m);
	if (rc) {
		snprintf(err, errlen, "motion: out of memory for a %dx%d frame", width, height);
		goto out;
	}
	*out = m;
	m = NULL;
out:
	motion_free(m);
	return rc;
}

void motion_free(struct motion *m)
{
	if (!m)
		return;
	free(m->acc);
	free(m->cur);
	free(m->bg);
	free(m->dev);
	free(m->stale);
	free(m->raw);
	free(m->fg);
	free(m->vs);
	free(m->zero);
	free(m->runs);
	free(m->parent);
	free(m->comps);
	free(m->cand);
	plane_free(&m->mask);
	free(m);
}

static void to_mask_row(uint8_t *restrict out, const uint8_t *restrict in, int n)
{
	for (int x = 0; x < n; x++)
		out[x] = (uint8_t)(in[x] * 255);
}

/* Made when asked for: no detector needs it, and writing it every frame
 * was a pass of its own. */
const struct plane *motion_mask(struct motion *m)
{
	for (int y = 0; y < m->sh; y++)
		to_mask_row(plane_row(&m->mask, y), m->fg + (size_t)y * m->sw, m->sw);
	return &m->mask;
}

/* ---- 1. downscale ------------------------------------------------------- */

static void vsum_first(uint16_t *restrict acc, const uint8_t *restrict in, int n)
{
	for (int x = 0; x < n; x++)
		acc[x] = in[x];
}

static void vsum_add(uint16_t *restrict acc, const uint8_t *restrict in, int n)
{
	for (int x = 0; x < n; x++)
		acc[x] = (uint16_t)(acc[x] + in[x]);
}

/* Separate functions per scale so the stride is a constant and the grouped
 * loads vectorise (a variable stride would be a gather). */
static void hsum2(uint8_t *restrict out, const uint16_t *restrict acc, int n)
{
	for (int x = 0; x < n; x++)
		out[x] = (uint8_t)((acc[2 * x] + acc[2 * x + 1] + 2) >> 2);
}

static void hsum8(uint8_t *restrict out, const uint16_t *restrict acc, int n)
{
	for (int x = 0; x < n; x++) {
		const uint16_t *a = acc + 8 * x;
		out[x] = (uint8_t)((a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + 32) >>
				   6);
	}
}

/* Scale 4, the default: the average of the two middle rows of each four
 * and then of four columns, in rounding byte averages (pavgb, 32 bytes an
 * instruction). The analysis thread finds the decoded frame in main
 * memory, not in its cache, and reading it was a third of this module's
 * time: half the rows is half the traffic. A blob smaller than min_area
 * (400 pixels by default, 20 x 20) is not looked for anyway, and the
 * noise of an average of 8 pixels is still a third of one pixel's. Each
 * rounding adds at most half a grey level, the same in every frame, so
 * the background model does not see it. */
static void vavg2(uint8_t *restrict out, const uint8_t *restrict a, const uint8_t *restrict b,
		  int n)
{
	for (int x = 0; x < n; x++)
		out[x] = (uint8_t)((a[x] + b[x] + 1) >> 1);
}

static void havg4(uint8_t *restrict out, const uint8_t *restrict in, int n)
{
	for (int x = 0; x < n; x++) {
		const uint8_t *p = in + 4 * x;
		uint8_t ab = (uint8_t)((p[0] + p[1] + 1) >> 1);
		uint8_t cd = (uint8_t)((p[2] + p[3] + 1) >> 1);
		out[x] = (uint8_t)((ab + cd + 1) >> 1);
	}
}

static void downscale(struct motion *m, const struct plane *luma)
{
	int s = m->s, w = m->sw * s;

	for (int y = 0; y < m->sh; y++) {
		uint8_t *out = m->cur + (size_t)y * m->sw;
		if (s == 1) {
			memcpy(out, plane_row(luma, y), (size_t)m->sw);
			continue;
		}
		if (s == 4) {
			uint8_t *rows = (uint8_t *)m->acc; /* a full-width byte row */
			vavg2(rows, plane_row(luma, 4 * y + 1), plane_row(luma, 4 * y + 2), w);
			havg4(out, rows, m->sw);
			continue;
		}
		vsum_first(m->acc, plane_row(luma, y * s), w);
		for (int k = 1; k < s; k++)
			vsum_add(m->acc, plane_row(luma, y * s + k), w);
		if (s == 2)
			hsum2(out, m->acc, m->sw);
		else
			hsum8(out, m->acc, m->sw);
	}
}

/* ---- 2. global light: gain and offset ------------------------------------ */

/* Sums over one row of the pixels that take part in the fit: background in
 * the last mask, neither side clipped, and within tol of the prediction
 * cur = (gain * bg + off) / RATE_ONE. Five reductions in one counted loop,
 * which GCC vectorises; the int32 sums cannot overflow for a row of at most
 * VISION_DIM_MAX pixels (8192 * 255 * 255 < 2^31). */
static void fit_row(const uint8_t *restrict cur, const uint16_t *restrict bg,
		    const uint8_t *restrict fg, int gain, int off, int tol, int n, int64_t *sum)
{
	int32_t sn = 0, sb = 0, sc = 0, sbb = 0, sbc = 0;

	for (int x = 0; x < n; x++) {
		int b = bg[x] >> 8, c = cur[x];
		int r = c - ((gain * b + off) >> RATE_SHIFT);
		int use = (fg[x] == 0) & (c > CLIP_LO) & (c < CLIP_HI) & (b > CLIP_LO) &
			  (b < CLIP_HI) & (r <= tol) & (r >= -tol);
		sn += use;
		sb += use * b;
		sc += use * c;
		sbb += use * b * b;
		sbc += use * b * c;
	}
	sum[0] += sn;
	sum[1] += sb;
	sum[2] += sc;
	sum[3] += sbb;
	sum[4] += sbc;
}

/* Least squares cur = a * bg + o over a sparse set of rows, as gain and
 * offset in RATE_ONE units; false when too few pixels took part. *used is
 * how many did. */
static bool fit(const struct motion *m, int *gain, int *off, int tol, double *used)
{
	int64_t sum[5] = {0};
	double n, sb, sc, var, a, o;
	int step = m->sh / FIT_ROWS > 1 ? m->sh / FIT_ROWS : 1;

	for (int y = step / 2; y < m->sh; y += step) {
		size_t i = (size_t)y * m->sw;
		fit_row(m->cur + i, m->bg + i, m->fg + i, *gain, *off, tol, m->sw, sum);
	}
	n = (double)sum[0];
	*used = n;
	if (n < FIT_MIN_PIXELS)
		return false;
	sb = (double)sum[1];
	sc = (double)sum[2];
	var = n * (double)sum[3] - sb * sb;
	a = 1;
	/* a flat scene (every pixel alike) says nothing about gain */
	if (var > FIT_MIN_SPREAD * FIT_MIN_SPREAD * n * n)
		a = (n * (double)sum[4] - sb * sc) / var;
	a = a < FIT_GAIN_MIN ? FIT_GAIN_MIN : a > FIT_GAIN_MAX ? FIT_GAIN_MAX : a;
	o = (sc - a * sb) / n;
	o = o < -255 ? -255 : o > 255 ? 255 : o;
	*gain = (int)lround(a * RATE_ONE);
	*off = (int)lround(o * RATE_ONE);
	return true;
}

static void relight_row(uint16_t *restrict bg, int gain, int off, int n)
{
	for (int x = 0; x < n; x++) {
		int v = (bg[x] * gain + off * 256 + RATE_ONE / 2) >> RATE_SHIFT;
		v = v < 0 ? 0 : v;
		bg[x] = (uint16_t)(v < 0xff00 ? v : 0xff00);
	}
}

/* True when gain and offset move no grey level (0..255) by as much as
 * RELIGHT_MIN: most frames of a steady scene. Skipping them saves a pass
 * over the background; the fit is against the background as it is, so a
 * slow drift is corrected once it adds up to RELIGHT_MIN. */
static bool negligible(int gain, int off)
{
	int64_t lo = off, hi = (int64_t)(gain - RATE_ONE) * 255 + off;

	return llabs(lo) < RELIGHT_MIN && llabs(hi) < RELIGHT_MIN;
}

/* Maps the whole background through the frame's global gain and offset,
 * so a uniform change of the light (a cloud, a lamp warming up, the
 * camera's auto exposure) never shows as foreground, however fast it is.
 * The fit is done twice: over last frame's background, then again over
 * the pixels the first fit explains, which drops a person who just walked
 * in (not yet in the mask) and anything else that moved. Returns the
 * share of the background that no light change explains. */
static double relight(struct motion *m)
{
	int gain = RATE_ONE, off = 0;
	double all = 0, fitted = 0;

	if (!fit(m, &gain, &off, 255, &all))
		return 0;
	if (!fit(m, &gain, &off, m->opt.threshold, &fitted))
		return 1 - fitted / all;
	if (negligible(gain, off))
		return 1 - fitted / all;
	for (int y = 0; y < m->sh; y++) {
		size_t i = (size_t)y * m->sw;
		relight_row(m->bg + i, gain, off, m->sw);
	}
	return 1 - fitted / all;
}

/* ---- 3. foreground ------------------------------------------------------ */

static void fg_row(uint8_t *restrict raw, const uint8_t *restrict cur, const uint16_t *restrict bg,
		   const uint8_t *restrict dev, int thr, int n)
{
	for (int x = 0; x < n; x++) {
		int b = bg[x] >> 8;
		int d = cur[x] - b;
		int t = (DEV_K * dev[x]) >> 2;
		d = d < 0 ? -d : d;
		t = t > thr ? t : thr;
		t = (t * (128 + b)) >> 8;
		raw[x] = (uint8_t)(d > t);
	}
}

static int count_row(const uint8_t *restrict v, int n)
{
	int c = 0;
	for (int x = 0; x < n; x++)
		c += v[x];
	return c;
}

/* Foreground pixels before clean-up. */
static long foreground(struct motion *m)
{
	long total = 0;

	for (int y = 0; y < m->sh; y++) {
		size_t o = (size_t)y * m->sw;
		fg_row(m->raw + o, m->cur + o, m->bg + o, m->dev + o, m->opt.threshold, m->sw);
		total += count_row(m->raw + o, m->sw);
	}
	return total;
}

/* ---- 4. clean-up: 3x3 majority ------------------------------------------ */

static void vsum3(uint8_t *restrict vs, const uint8_t *restrict a, const uint8_t *restrict b,
		  const uint8_t *restrict c, int n)
{
	for (int x = 0; x < n; x++)
		vs[x + 1] = (uint8_t)(a[x] + b[x] + c[x]);
}

static void majority_row(uint8_t *restrict out, const uint8_t *restrict vs, int n)
{
	for (int x = 0; x < n; x++)
		out[x] = (uint8_t)(vs[x] + vs[x + 1] + vs[x + 2] >= 5);
}

static void clean_row(struct motion *m, int y)
{
	int w = m->sw;
	const uint8_t *up = y > 0 ? m->raw + (size_t)(y - 1) * w : m->zero;
	const uint8_t *dn = y + 1 < m->sh ? m->raw + (size_t)(y + 1) * w : m->zero;

	vsum3(m->vs, up, m->raw + (size_t)y * w, dn, w);
	majority_row(m->fg + (size_t)y * w, m->vs, w);
}

/* ---- 5. update ---------------------------------------------------------- */

/* Where the pixel is foreground the background stays as it is: a belt
 * carrying a steady stream of bright parts shows each belt pixel a part
 * half the time or more, and any learning under the parts, however slow,
 * adds up over minutes until the parts are the background (at 1/16 of the
 * rate it took about two minutes at 60 parts a minute). stale counts the
 * frames a pixel has been foreground without a break; only once it
 * saturates (STALE_FRAMES, a thing that has stayed put, or a ghost left by
 * a re-learn) does the background take it in, at the slow rate rfg. A
 * passing part never gets there: its pixels are background again every
 * gap between parts. The deviation learns only from background. */
static void update_row(uint16_t *restrict bg, uint8_t *restrict dev, uint8_t *restrict stale,
		       const uint8_t *restrict cur, const uint8_t *restrict fg,
		       const uint8_t *restrict raw, int rbg, int rfg, int rdev, int n)
{
	for (int x = 0; x < n; x++) {
		int b = bg[x];
		int f = fg[x] | raw[x];
		int st = f ? stale[x] + 1 : 0;
		int r, rd = f ? 0 : rdev;
		int d = cur[x] * 256 - b;
		int ad = (d < 0 ? -d : d) >> 6; /* quarter grey levels */
		st = st < STALE_FRAMES ? st : STALE_FRAMES;
		r = f ? (st == STALE_FRAMES ? rfg : 0) : rbg;
		ad = ad < 255 ? ad : 255;
		stale[x] = (uint8_t)st;
		bg[x] = (uint16_t)(b + ((d * r + RATE_ONE / 2) >> RATE_SHIFT));
		dev[x] = (uint8_t)(dev[x] + (((ad - dev[x]) * rd + RATE_ONE / 2) >> RATE_SHIFT));
	}
}

static void reset_row(uint16_t *restrict bg, const uint8_t *restrict cur, int n)
{
	for (int x = 0; x < n; x++)
		bg[x] = (uint16_t)(cur[x] * 256);
}

static void rates(const struct motion *m, int *rbg, int *rfg, int *rdev)
{
	*rbg = m->rate_bg;
	*rfg = m->rate_fg;
	*rdev = DEV_RATE;
	/* While learning, a running average of the frames so far (1/n), so the
	 * model is usable after learn_frames whatever the learning rate. */
	if (m->frames < m->opt.learn_frames) {
		int r = RATE_ONE / (m->frames + 1);
		*rbg = *rfg = r > *rbg ? r : *rbg;
		*rdev = r > *rdev ? r : *rdev;
	}
}

/* ---- 6. connected components on runs ------------------------------------ */

static bool row_empty(const uint8_t *restrict v, int n)
{
	uint8_t any = 0;
	for (int x = 0; x < n; x++)
		any |= v[x];
	return !any;
}

static uint32_t find(uint32_t *parent, uint32_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

/* Links the larger root under the smaller, so a root is always the first
 * run of its component in scan order. */
static void unite(uint32_t *parent, uint32_t a, uint32_t b)
{
	a = find(parent, a);
	b = find(parent, b);
	if (a < b)
		parent[b] = a;
	else if (b < a)
		parent[a] = b;
}

/* The first x from x on where row[x] != v (0 or 1), or n; eight bytes at
 * a time where it can, since most of a row with a blob is not the blob. */
static int skip(const uint8_t *row, int x, int n, uint8_t v)
{
	uint64_t all = v ? 0x0101010101010101u : 0;

	for (; x + 8 <= n; x += 8) {
		uint64_t w;
		memcpy(&w, row + x, sizeof(w));
		if (w != all)
			break;
	}
	while (x < n && row[x] == v)
		x++;
	return x;
}

static int row_runs(struct motion *m, const uint8_t *row, int y, int n)
{
	int x = 0;

	while ((x = skip(row, x, m->sw, 0)) < m->sw) {
		m->runs[n] = (struct run){x, x, y};
		m->parent[n] = (uint32_t)n;
		x = skip(row, x, m->sw, 1);
		m->runs[n++].x1 = x - 1;
	}
	return n;
}

/* Unions each run of the current row with the runs of the previous row it
 * touches, diagonals included. */
static void link_rows(struct motion *m, int p0, int p1, int c0, int c1)
{
	int j = p0;

	for (int i = c0; i < c1; i++) {
		const struct run *c = &m->runs[i];
		while (j < p1 && m->runs[j].x1 < c->x0 - 1)
			j++;
		for (int k = j; k < p1 && m->runs[k].x0 <= c->x1 + 1; k++)
			unite(m->parent, (uint32_t)i, (uint32_t)k);
	}
}

struct labeller {
	int n, prev0, prev1, prev_y; /* runs so far; the previous row's runs and y */
};

static void label_row(struct motion *m, struct labeller *lb, int y)
{
	const uint8_t *row = m->fg + (size_t)y * m->sw;
	int start = lb->n;

	if (row_empty(row, m->sw))
		return;
	lb->n = row_runs(m, row, y, lb->n);
	if (lb->prev_y == y - 1)
		link_rows(m, lb->prev0, lb->prev1, start, lb->n);
	lb->prev0 = start;
	lb->prev1 = lb->n;
	lb->prev_y = y;
}

/* ---- 4 to 6, a row at a time -------------------------------------------- */

/* Clean-up, the model's update (or reset) and labelling, one row after
 * the other, so that a row is still in the cache for the next step: as
 * three passes over the frame they read the model back from memory each
 * time. Returns the number of runs labelled (none when quiet). */
static int settle(struct motion *m, bool reset_model, bool quiet)
{
	struct labeller lb = {0, 0, 0, -2};
	int rbg, rfg, rdev;

	rates(m, &rbg, &rfg, &rdev);
	for (int y = 0; y < m->sh; y++) {
		size_t o = (size_t)y * m->sw;
		clean_row(m, y);
		if (reset_model)
			reset_row(m->bg + o, m->cur + o, m->sw);
		else
			update_row(m->bg + o, m->dev + o, m->stale + o, m->cur + o, m->fg + o,
				   m->raw + o, rbg, rfg, rdev, m->sw);
		if (!quiet)
			label_row(m, &lb, y);
	}
	if (reset_model)
		memset(m->stale, 0, (size_t)m->sw * m->sh);
	return lb.n;
}

static void gather(struct motion *m, int nruns)
{
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &m->runs[i];
		uint32_t root = find(m->parent, (uint32_t)i);
		struct comp *c = &m->comps[root];
		int len = r->x1 - r->x0 + 1;
		if (root == (uint32_t)i) {
			*c = (struct comp){r->x0, r->x1, r->y, r->y, 0, 0, 0};
		} else {
			c->x0 = r->x0 < c->x0 ? r->x0 : c->x0;
			c->x1 = r->x1 > c->x1 ? r->x1 : c->x1;
			c->y1 = r->y;
		}
		c->area += len;
		c->sx += (int64_t)(r->x0 + r->x1) * len / 2;
		c->sy += (int64_t)r->y * len;
	}
}

static int blob_cmp(const void *pa, const void *pb)
{
	const struct blob *a = pa, *b = pb;

	if (a->area != b->area)
		return a->area < b->area ? 1 : -1;
	if (a->box.y != b->box.y)
		return a->box.y < b->box.y ? -1 : 1;
	return (a->box.x > b->box.x) - (a->box.x < b->box.x);
}

static int blobs_out(struct motion *m, int nruns, struct blob *blobs, int max_blobs)
{
	int s = m->s, n = 0;

	for (int i = 0; i < nruns; i++) {
		const struct comp *c = &m->comps[i];
		struct blob *b = &m->cand[n];
		if (m->parent[i] != (uint32_t)i || c->area * s * s < m->opt.min_area)
			continue;
		b->box = (struct bbox){c->x0 * s, c->y0 * s, (c->x1 - c->x0 + 1) * s,
				       (c->y1 - c->y0 + 1) * s};
		b->area = c->area * s * s;
		b->cx = (int)(c->sx * 2 * s / c->area + s) / 2;
		b->cy = (int)(c->sy * 2 * s / c->area + s) / 2;
		n++;
	}
	qsort(m->cand, (size_t)n, sizeof(*m->cand), blob_cmp);
	if (n > max_blobs)
		n = max_blobs;
	if (n > 0)
		memcpy(blobs, m->cand, (size_t)n * sizeof(*blobs));
	return n;
}

/* ---- the frame ---------------------------------------------------------- */

VISION_HOT int motion_process(struct motion *m, const struct plane *luma, struct blob *blobs,
			      int max_blobs)
{
	double unexplained = 0;
	bool quiet, relearn = false;
	long nfg;
	int nruns;

	if (luma->width != m->width || luma->height != m->height || max_blobs < 0)
		return MW_ERR_INVALID;
	downscale(m, luma);
	if (m->frames > 0)
		unexplained = relight(m);
	nfg = foreground(m);
	if (m->blind == 0 &&
	    (nfg > m->opt.relearn_frac * m->sw * m->sh || unexplained > m->opt.relearn_frac)) {
		/* not the light (relight() took that out) but the view itself:
		 * the camera moved. This frame becomes the background outright
		 * (the noise estimate stays) and blobs are reported again after
		 * RELEARN_BLIND frames, not after a whole learning phase. */
		relearn = true;
		m->blind = RELEARN_BLIND;
	}
	quiet = m->blind > 0;
	if (quiet) {
		m->blind--;
		memset(m->raw, 0, (size_t)m->sw * m->sh);
	}
	/* The first frame, and the frame of a global change, is the background
	 * outright; after a change the deviation keeps what it knew (noise
	 * does not change with the view). */
	nruns = settle(m, m->frames == 0 || relearn, quiet);
	if (m->frames < INT32_MAX)
		m->frames++;
	if (quiet)
		return 0;
	gather(m, nruns);
	if (max_blobs > MOTION_BLOBS_MAX)
		max_blobs = MOTION_BLOBS_MAX;
	return blobs_out(m, nruns, blobs, max_blobs);
}
