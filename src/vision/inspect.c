/* inspect.c -- the visual inspection detector: find the part, align it to the
 * model, score how far it strays from the good parts, report it once.
 *
 * Method (also in docs/vision.md):
 *
 * The model (inspect_model.c) is a template of the part -- the ROI less a
 * margin of max_shift pixels on every side -- holding, per pixel, the mean
 * of the good parts after alignment and brightness normalisation, and
 * their standard deviation ("allowed deviation"). Parts never lie exactly
 * in place, so every image is first aligned:
 *
 *  - Alignment. The mean template is rotated in 1-degree steps over
 *    +-max_angle once, at inspect_new() (bilinear sampling), and kept as
 *    zero-mean int16 images at full and at 1/4 resolution; a pixel counts
 *    with a weight, 0 where a turn takes it outside the template and where
 *    the model leaves the part free (variable print such as a serial code,
 *    inspect_model.c: it would only add noise to the match, and a damaged
 *    code must not make the part invisible to the trigger). The window
 *    statistics are taken over the same pixels. The ROI is
 *    box-filtered to 1/4 and every angle is matched at every shift of the
 *    4-pixel grid within +-max_shift by normalised cross-correlation (NCC,
 *    insensitive to brightness and contrast); then the best angle and its
 *    neighbours are matched at full resolution over +-2 pixels around the
 *    coarse shift, and a parabola through the scores around the best gives
 *    sub-pixel shift and sub-degree angle. The correlations are integer dot
 *    products over uint8 x int16 rows, which GCC vectorises; this search is
 *    the per-frame cost of the detector, the full-resolution part most of it.
 *  - Normalisation. The part is resampled at that pose (bilinear) into the
 *    template's frame and scaled so its mean (free pixels left out: a
 *    code's share of ink varies) is 128: a lamp ageing or a cloud over a
 *    skylight changes gain, not the part.
 *  - Score. z = |x - mean| / (dev + 2 + 0.4 px * |grad mean|) per pixel;
 *    pixels with z > k (4) are anomalous. The gradient term allows an
 *    edge to sit a fraction of a pixel off (alignment is not exact, and a
 *    model learned from a few tens of parts underestimates that spread at
 *    the edges, which made good parts fail on thin lines along their
 *    outline); on flat faces, where scratches and spots are, it is 0.
 *    Free pixels have the largest deviation and are never anomalous.
 *    Clean-up keeps an anomalous pixel only when at least two
 *    of its 8 neighbours are anomalous too: isolated noise goes, a one-pixel
 *    scratch (a line has two neighbours) stays. Anomalous pixels are grouped
 *    in 8-connected regions; the defect is the region with the largest
 *    anomaly, and the image score is that region's sum of (min(z, 4k) - k).
 *    The sum rewards both a long faint defect (a scratch) and a short
 *    strong one (a spot), where a percentile of z would miss the first and
 *    the area the second; capping z keeps one saturated pixel from
 *    outweighing a real region. On the test's parts (tests/unit/
 *    test_inspect.c) it separates good from defective completely (AUROC
 *    1.0); on the scene generator's parts (test_inspect_accuracy.c) AUROC
 *    is ~0.99, the misses being bright spots 3 px across on a bright
 *    plate; the alternatives were not measured. The default threshold is chosen at
 *    training from leave-one-out scores of the good parts (inspect_model.c).
 *
 * Trigger. Each frame, the ROI is aligned and its NCC with the template
 * taken; a part is present while the NCC is above the presence level
 * (chosen at training). Most frames show no part, or one far from the
 * centre: when the coarse NCC lies COARSE_SLACK under the level that
 * decides, the full-resolution search, which would not lift it over that
 * level, is skipped, and such a frame costs a few times less. While a part
 * is present the detector keeps the frame where it was best centred --
 * the highest NCC less a small penalty for the distance from the centre --
 * and inspects that frame once the score falls (the part moves on), the
 * part leaves, or no better frame came for SETTLE_FRAMES (the part stopped). It then waits for the ROI to
 * empty (NCC below presence - 0.1) before arming again, so a part is
 * inspected once whether it slides through or stops. Two parts touching
 * each other on the belt keep the ROI "present" and would be seen as one. */
#include "vision/inspect_internal.h"

#include "core/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COARSE 4            /* coarse search at 1/COARSE resolution */
#define FINE_RANGE 2        /* full-resolution search around the coarse shift */
#define SETTLE_FRAMES 5     /* frames without a better view: the part stopped */
#define FALL 0.05           /* score drop that means the part is moving away */
#define LEAVE_GAP 0.1       /* hysteresis under presence before re-arming */
#define CENTRE_PENALTY 0.1  /* NCC given up at max_shift from the centre */
#define ZCAP_FACTOR 4.0     /* per-pixel z capped at this many k */
/* The trigger skips the full-resolution search when the coarse NCC is this
 * far under the level that decides: the full NCC exceeded the coarse one by
 * at most 0.17 over the accuracy test's scenes (parts entering, leaving,
 * stopping, defective; measured on every frame). */
#define COARSE_SLACK 0.25

/* ---- alignment ------------------------------------------------------------ */

struct tmpl {
	int16_t *t; /* w * h, zero-mean-ish, quantised */
	int w, h;
	double st, stt; /* sum and sum of squares of t */
	uint8_t *mask;  /* 1 where the pixel counts (weight >= 1/2, upright) */
	double n;       /* pixels that count */
};

struct inspect_align {
	int w, h, margin, tw, th, r, nang;
	double step;             /* radians between angles */
	struct tmpl *fine;       /* nang, (tw - 2r) x (th - 2r) */
	struct tmpl *coarse;     /* nang, the same region at 1/COARSE */
	uint8_t *small;          /* the ROI at 1/COARSE */
	uint16_t *acc;           /* one row of column sums for downscaling */
	int sw, sh;
};

static float bilinear_f(const float *img, int w, int h, double x, double y)
{
	int x0, y0, x1, y1;
	double fx, fy;

	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x > w - 1)
		x = w - 1;
	if (y > h - 1)
		y = h - 1;
	x0 = (int)x;
	y0 = (int)y;
	x1 = x0 + 1 < w ? x0 + 1 : x0;
	y1 = y0 + 1 < h ? y0 + 1 : y0;
	fx = x - x0;
	fy = y - y0;
	return (float)((img[y0 * w + x0] * (1 - fx) + img[y0 * w + x1] * fx) * (1 - fy) +
		       (img[y1 * w + x0] * (1 - fx) + img[y1 * w + x1] * fx) * fy);
}

/* Zero-mean over the pixels that count (weight w, 0..1), times w, scaled
 * so a row's dot product with uint8 pixels fits int32: a pixel of weight 0
 * (a variable print) takes no part in the correlation. */
static int tmpl_set(struct tmpl *t, const float *f, const float *w, int tw, int th)
{
	double mean = 0, sw = 0, maxabs = 0, scale;
	size_t n = (size_t)tw * th;

	t->t = malloc(n * sizeof(*t->t));
	t->mask = malloc(n);
	if (!t->t || !t->mask)
		return MW_ERR_NOMEM;
	t->w = tw;
	t->h = th;
	t->n = 0;
	for (size_t i = 0; i < n; i++) {
		t->mask[i] = w[i] >= 0.5f;
		t->n += t->mask[i];
	}
	for (size_t i = 0; i < n; i++) {
		mean += f[i] * w[i];
		sw += w[i];
	}
	mean /= fmax(sw, 1e-6);
	for (size_t i = 0; i < n; i++)
		maxabs = fmax(maxabs, fabs(f[i] - mean) * w[i]);
	scale = fmin(2047.0, (double)INT32_MAX / 255.0 / tw) / fmax(maxabs, 1e-6);
	t->st = t->stt = 0;
	for (size_t i = 0; i < n; i++) {
		t->t[i] = (int16_t)lrint((f[i] - mean) * w[i] * scale);
		t->st += t->t[i];
		t->stt += (double)t->t[i] * t->t[i];
	}
	return MW_OK;
}

/* The template's value and weight at (x, y) of the unrotated template;
 * weight 0 outside it (a turned template's corners have nothing to show). */
static void sample(const struct inspect_align *al, const float *t, const float *wt, double x,
		   double y, float *v, float *w)
{
	*v = bilinear_f(t, al->tw, al->th, x, y);
	*w = wt ? bilinear_f(wt, al->tw, al->th, x, y) : 1.0f;
	if (x < -0.01 || y < -0.01 || x > al->tw - 0.99 || y > al->th - 0.99)
		*w = 0;
}

/* The inner region of t rotated by a, at full and coarse resolution. */
static int rotated(struct inspect_align *al, const float *t, const float *wt, double a,
		   struct tmpl *fine, struct tmpl *coarse)
{
	int rw = al->tw - 2 * al->r, rh = al->th - 2 * al->r;
	int cw = rw / COARSE, ch = rh / COARSE;
	double cx = (al->tw - 1) / 2.0, cy = (al->th - 1) / 2.0, ca = cos(a), sa = sin(a);
	size_t nf = (size_t)rw * rh, nc = (size_t)cw * ch;
	float *f = malloc(nf * sizeof(*f)), *fw = malloc(nf * sizeof(*f));
	float *c = malloc(nc * sizeof(*c)), *cwt = malloc(nc * sizeof(*c));
	int rc = MW_ERR_NOMEM;

	if (!f || !c || !fw || !cwt)
		goto out;
	for (int v = 0; v < rh; v++)
		for (int u = 0; u < rw; u++) {
			double x = u + al->r - cx, y = v + al->r - cy;

			sample(al, t, wt, cx + ca * x + sa * y, cy - sa * x + ca * y, &f[v * rw + u],
			       &fw[v * rw + u]);
		}
	for (int v = 0; v < ch; v++)
		for (int u = 0; u < cw; u++) {
			float s = 0, sw = 0;

			for (int j = 0; j < COARSE; j++)
				for (int i = 0; i < COARSE; i++) {
					size_t k = (size_t)(v * COARSE + j) * rw + u * COARSE + i;

					s += f[k] * fw[k];
					sw += fw[k];
				}
			c[v * cw + u] = sw > 0 ? s / sw : 0;
			cwt[v * cw + u] = sw / (COARSE * COARSE);
		}
	rc = tmpl_set(fine, f, fw, rw, rh);
	if (!rc)
		rc = tmpl_set(coarse, c, cwt, cw, ch);
out:
	free(f);
	free(fw);
	free(c);
	free(cwt);
	return rc;
}

void inspect__align_free(struct inspect_align *al)
{
	if (!al)
		return;
	for (int i = 0; al->fine && i < al->nang; i++) {
		free(al->fine[i].t);
		free(al->fine[i].mask);
	}
	for (int i = 0; al->coarse && i < al->nang; i++) {
		free(al->coarse[i].t);
		free(al->coarse[i].mask);
	}
	free(al->fine);
	free(al->coarse);
	free(al->small);
	free(al->acc);
	free(al);
}

int inspect__align_new(const float *t, const float *weight, int tw, int th, int w, int h,
		       int margin, double max_angle_deg, struct inspect_align **out)
{
	struct inspect_align *al = calloc(1, sizeof(*al));
	int half = (int)lround(max_angle_deg), rc = MW_ERR_NOMEM;
	double amax = half * M_PI / 180;

	*out = NULL;
	if (!al)
		return MW_ERR_NOMEM;
	al->w = w;
	al->h = h;
	al->margin = margin;
	al->tw = tw;
	al->th = th;
	/* the whole template is matched: samples a turn takes outside it weigh 0 */
	al->r = 0;
	(void)amax;
	al->nang = 2 * half + 1;
	al->step = M_PI / 180;
	al->sw = w / COARSE;
	al->sh = h / COARSE;
	rc = MW_ERR_INVALID;
	if ((tw - 2 * al->r) / COARSE < 2 || (th - 2 * al->r) / COARSE < 2)
		goto fail;
	rc = MW_ERR_NOMEM;
	al->fine = calloc((size_t)al->nang, sizeof(*al->fine));
	al->coarse = calloc((size_t)al->nang, sizeof(*al->coarse));
	al->small = malloc((size_t)al->sw * al->sh);
	al->acc = malloc((size_t)w * sizeof(*al->acc));
	if (!al->fine || !al->coarse || !al->small || !al->acc)
		goto fail;
	for (int i = 0; i < al->nang; i++) {
		rc = rotated(al, t, weight, (i - half) * al->step, &al->fine[i], &al->coarse[i]);
		if (rc)
			goto fail;
	}
	*out = al;
	return MW_OK;
fail:
	inspect__align_free(al);
	return rc;
}

static int32_t dot_row(const int16_t *restrict t, const uint8_t *restrict p, int n)
{
	int32_t acc = 0;

	for (int i = 0; i < n; i++)
		acc += t[i] * p[i];
	return acc;
}

/* Sums over the pixels that count; m is 0 or 1. */
static void stats_row(const uint8_t *restrict p, const uint8_t *restrict m, int n, int32_t *sum,
		      int32_t *sumsq)
{
	int32_t s = 0, s2 = 0;

	for (int i = 0; i < n; i++) {
		int32_t v = p[i] * m[i];

		s += v;
		s2 += v * p[i];
	}
	*sum = s;
	*sumsq = s2;
}

struct window {
	const uint8_t *p; /* top-left */
	ptrdiff_t stride;
	double sp, vp; /* sum, and n * variance, over the pixels that count */
};

/* The window's statistics over the pixels t counts (its upright mask,
 * shared by all angles: rotating the free region by a few degrees moves
 * its border by a pixel or so, where t is near zero anyway). */
static void window_at(struct window *win, const uint8_t *p, ptrdiff_t stride,
		      const struct tmpl *t)
{
	int64_t s = 0, s2 = 0;
	int32_t rs, rs2;

	for (int y = 0; y < t->h; y++) {
		stats_row(p + y * stride, t->mask + (size_t)y * t->w, t->w, &rs, &rs2);
		s += rs;
		s2 += rs2;
	}
	win->p = p;
	win->stride = stride;
	win->sp = (double)s;
	win->vp = (double)s2 - (double)s * (double)s / fmax(t->n, 1);
}

static double ncc(const struct tmpl *t, const struct window *win)
{
	int64_t stp = 0;
	double n = fmax(t->n, 1), cov, vt;

	for (int y = 0; y < t->h; y++)
		stp += dot_row(t->t + (size_t)y * t->w, win->p + y * win->stride, t->w);
	cov = (double)stp - t->st * win->sp / n;
	vt = t->stt - t->st * t->st / n;
	if (win->vp <= 1e-9 || vt <= 1e-9)
		return 0;
	return cov / sqrt(vt * win->vp);
}

static void downscale(struct inspect_align *al, const struct plane *roi)
{
	uint16_t *restrict acc = al->acc;
	int w = al->sw * COARSE;

	for (int y = 0; y < al->sh; y++) {
		uint8_t *restrict out = al->small + (size_t)y * al->sw;

		for (int x = 0; x < w; x++)
			acc[x] = 0;
		for (int j = 0; j < COARSE; j++) {
			const uint8_t *restrict in = plane_row(roi, y * COARSE + j);

			for (int x = 0; x < w; x++)
				acc[x] += in[x];
		}
		for (int x = 0; x < al->sw; x++)
			out[x] = (uint8_t)((acc[4 * x] + acc[4 * x + 1] + acc[4 * x + 2] +
					    acc[4 * x + 3] + 8) >> 4);
	}
}

/* The NCC of every angle from a0 to a1 at coarse position (x, y); keeps
 * the best in *best and its pose. */
static void coarse_at(struct inspect_align *al, int x, int y, int a0, int a1, double *best,
		      int *best_ai, int *best_dx, int *best_dy)
{
	int off = al->margin + al->r;
	struct window win;

	window_at(&win, al->small + (size_t)y * al->sw + x, al->sw, &al->coarse[al->nang / 2]);
	for (int a = a0; a <= a1; a++) {
		double s = ncc(&al->coarse[a], &win);

		if (s > *best) {
			*best = s;
			*best_ai = a;
			*best_dx = x * COARSE - off;
			*best_dy = y * COARSE - off;
		}
	}
}

/* Best angle index and shift on the coarse grid; returns their NCC.
 * Exhaustive: every angle at every shift. Quick (the trigger, on every
 * frame): the upright template at every shift, then every angle at the
 * best shift and its eight neighbours. A turn of a few degrees moves the
 * peak by less than a coarse pixel, so the two agree on where a part is;
 * quick costs 1/nang of the search plus a constant. */
static double coarse_search(struct inspect_align *al, bool quick, int *best_ai, int *best_dx,
			    int *best_dy)
{
	int off = al->margin + al->r, cw = al->coarse[0].w, ch = al->coarse[0].h;
	int lo_x = (off - al->margin + COARSE - 1) / COARSE, hi_x = (off + al->margin) / COARSE;
	int lo_y = lo_x, hi_y = hi_x, mid = al->nang / 2;
	int a0 = quick ? mid : 0, a1 = quick ? mid : al->nang - 1;
	double best = -2;

	if (hi_x + cw > al->sw)
		hi_x = al->sw - cw;
	if (hi_y + ch > al->sh)
		hi_y = al->sh - ch;
	*best_ai = mid;
	*best_dx = *best_dy = 0;
	for (int y = lo_y; y <= hi_y; y++)
		for (int x = lo_x; x <= hi_x; x++)
			coarse_at(al, x, y, a0, a1, &best, best_ai, best_dx, best_dy);
	if (quick && best > -2) {
		int bx = (*best_dx + off) / COARSE, by = (*best_dy + off) / COARSE;

		for (int y = by - 1; y <= by + 1; y++)
			for (int x = bx - 1; x <= bx + 1; x++)
				if (y >= lo_y && y <= hi_y && x >= lo_x && x <= hi_x)
					coarse_at(al, x, y, 0, al->nang - 1, &best, best_ai,
						  best_dx, best_dy);
	}
	return best;
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Vertex of the parabola through (-1, l), (0, c), (1, r); 0 if none. */
static double vertex(double l, double c, double r)
{
	double d = l - 2 * c + r;

	if (isnan(l) || isnan(r) || d >= 0)
		return 0;
	return fmax(-0.5, fmin(0.5, (l - r) / (2 * d)));
}

/* The full-resolution search around the coarse pose (cai, cdx, cdy). */
static void fine_search(struct inspect_align *al, const struct plane *roi, int cai, int cdx,
			int cdy, struct inspect_pose *p)
{
	enum { N = 2 * FINE_RANGE + 1 };
	double s[3][N][N], best = -2;
	int ba = 1, bx = FINE_RANGE, by = FINE_RANGE, m = al->margin;
	int off = m + al->r, half = al->nang / 2;

	cdx = clampi(cdx, -m, m);
	cdy = clampi(cdy, -m, m);
	for (int j = 0; j < N; j++)
		for (int i = 0; i < N; i++) {
			int dx = cdx + i - FINE_RANGE, dy = cdy + j - FINE_RANGE;
			struct window win;

			for (int a = 0; a < 3; a++)
				s[a][j][i] = NAN;
			if (dx < -m || dx > m || dy < -m || dy > m)
				continue;
			window_at(&win, plane_row(roi, off + dy) + off + dx, roi->stride,
				  &al->fine[half]);
			for (int a = 0; a < 3; a++) {
				int ai = cai + a - 1;

				if (ai < 0 || ai >= al->nang)
					continue;
				s[a][j][i] = ncc(&al->fine[ai], &win);
				if (s[a][j][i] > best) {
					best = s[a][j][i];
					ba = a;
					bx = i;
					by = j;
				}
			}
		}
	p->ncc = best;
	p->dx = cdx + bx - FINE_RANGE;
	p->dy = cdy + by - FINE_RANGE;
	p->a = (cai + ba - 1 - half) * al->step;
	if (bx > 0 && bx < N - 1)
		p->dx += vertex(s[ba][by][bx - 1], best, s[ba][by][bx + 1]);
	if (by > 0 && by < N - 1)
		p->dy += vertex(s[ba][by - 1][bx], best, s[ba][by + 1][bx]);
	if (ba > 0 && ba < 2)
		p->a += al->step * vertex(s[0][by][bx], best, s[2][by][bx]);
}

VISION_HOT void inspect__align(struct inspect_align *al, const struct plane *roi,
			       struct inspect_pose *p)
{
	int cai, cdx, cdy;

	downscale(al, roi);
	coarse_search(al, false, &cai, &cdx, &cdy);
	fine_search(al, roi, cai, cdx, cdy, p);
}

VISION_HOT bool inspect__align_gated(struct inspect_align *al, const struct plane *roi,
				     double gate, struct inspect_pose *p)
{
	int cai, cdx, cdy, m = al->margin;
	double c;

	downscale(al, roi);
	c = coarse_search(al, true, &cai, &cdx, &cdy);
	if (c < gate) {
		*p = (struct inspect_pose){.dx = clampi(cdx, -m, m), .dy = clampi(cdy, -m, m),
					   .a = (cai - al->nang / 2) * al->step, .ncc = c};
		return false;
	}
	fine_search(al, roi, cai, cdx, cdy, p);
	return true;
}

static float bilinear_u8(const struct plane *img, double x, double y)
{
	int x0, y0, x1, y1;
	double fx, fy;
	const uint8_t *r0, *r1;

	x = fmax(0, fmin(x, img->width - 1));
	y = fmax(0, fmin(y, img->height - 1));
	x0 = (int)x;
	y0 = (int)y;
	x1 = x0 + 1 < img->width ? x0 + 1 : x0;
	y1 = y0 + 1 < img->height ? y0 + 1 : y0;
	fx = x - x0;
	fy = y - y0;
	r0 = plane_row(img, y0);
	r1 = plane_row(img, y1);
	return (float)((r0[x0] * (1 - fx) + r0[x1] * fx) * (1 - fy) +
		       (r1[x0] * (1 - fx) + r1[x1] * fx) * fy);
}

double inspect__extract(const struct plane *roi, int margin, int tw, int th,
			const struct inspect_pose *p, const float *weight, float *out)
{
	double cx = (tw - 1) / 2.0, cy = (th - 1) / 2.0, ca = cos(p->a), sa = sin(p->a);
	double sum = 0, sw = 0, mean, scale;
	size_t n = (size_t)tw * th;

	for (int v = 0; v < th; v++)
		for (int u = 0; u < tw; u++) {
			double x = u - cx, y = v - cy;

			float w = weight ? weight[v * tw + u] : 1.0f;

			out[v * tw + u] = bilinear_u8(roi, margin + cx + p->dx + ca * x - sa * y,
						      margin + cy + p->dy + sa * x + ca * y);
			sum += out[v * tw + u] * w;
			sw += w;
		}
	mean = sum / fmax(sw, 1.0);
	scale = INSPECT_NORM / fmax(mean, 1.0);
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(out[i] * scale);
	return mean;
}

/* ---- scoring --------------------------------------------------------------- */

struct inspect_scorer {
	int tw, th;
	float *excess;   /* min(z, cap) - k where anomalous, else 0 */
	uint8_t *mask;   /* anomalous after clean-up */
	uint8_t *region; /* the worst region */
	int32_t *label;
	int32_t *stack;
};

void inspect__scorer_free(struct inspect_scorer *s)
{
	if (!s)
		return;
	free(s->excess);
	free(s->mask);
	free(s->region);
	free(s->label);
	free(s->stack);
	free(s);
}

int inspect__scorer_new(int tw, int th, struct inspect_scorer **out)
{
	struct inspect_scorer *s = calloc(1, sizeof(*s));
	size_t n = (size_t)tw * th;

	*out = NULL;
	if (!s)
		return MW_ERR_NOMEM;
	s->tw = tw;
	s->th = th;
	s->excess = malloc(n * sizeof(*s->excess));
	s->mask = malloc(n);
	s->region = malloc(n);
	s->label = malloc(n * sizeof(*s->label));
	s->stack = malloc(n * sizeof(*s->stack));
	if (!s->excess || !s->mask || !s->region || !s->label || !s->stack) {
		inspect__scorer_free(s);
		return MW_ERR_NOMEM;
	}
	*out = s;
	return MW_OK;
}

const uint8_t *inspect__scorer_region(const struct inspect_scorer *s)
{
	return s->region;
}

static void excess_row(const float *restrict x, const float *restrict mean,
		       const float *restrict inv, float *restrict e, int n, float k, float cap)
{
	for (int i = 0; i < n; i++) {
		float z = fabsf(x[i] - mean[i]) * inv[i];

		z = z < cap ? z : cap;
		e[i] = z > k ? z - k : 0.0f;
	}
}

/* Anomalous pixels with at least two anomalous 8-neighbours. */
static void clean(struct inspect_scorer *s)
{
	int w = s->tw, h = s->th;

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int cnt = 0;

			if (s->excess[y * w + x] <= 0) {
				s->mask[y * w + x] = 0;
				continue;
			}
			for (int j = y - 1; j <= y + 1; j++)
				for (int i = x - 1; i <= x + 1; i++)
					if (j >= 0 && j < h && i >= 0 && i < w &&
					    s->excess[j * w + i] > 0)
						cnt++;
			s->mask[y * w + x] = cnt >= 3;
		}
}

/* Flood fill from seed; returns the region's anomaly sum and its box. */
static double fill(struct inspect_scorer *s, int seed, int32_t lab, struct bbox *box)
{
	int w = s->tw, h = s->th, top = 0, x0 = w, y0 = h, x1 = -1, y1 = -1;
	double sum = 0;

	s->stack[top++] = seed;
	s->label[seed] = lab;
	while (top) {
		int i = s->stack[--top], x = i % w, y = i / w;

		sum += s->excess[i];
		x0 = x < x0 ? x : x0;
		y0 = y < y0 ? y : y0;
		x1 = x > x1 ? x : x1;
		y1 = y > y1 ? y : y1;
		for (int j = y - 1; j <= y + 1; j++)
			for (int k = x - 1; k <= x + 1; k++) {
				int n = j * w + k;

				if (j < 0 || j >= h || k < 0 || k >= w || !s->mask[n] ||
				    s->label[n])
					continue;
				s->label[n] = lab;
				s->stack[top++] = n;
			}
	}
	*box = (struct bbox){x0, y0, x1 - x0 + 1, y1 - y0 + 1};
	return sum;
}

double inspect__score(struct inspect_scorer *s, const float *x, const float *mean,
		      const float *inv, double k, struct bbox *box)
{
	size_t n = (size_t)s->tw * s->th;
	double best = 0;
	int32_t lab = 0, best_lab = 0;

	for (int y = 0; y < s->th; y++) {
		size_t o = (size_t)y * s->tw;

		excess_row(x + o, mean + o, inv + o, s->excess + o, s->tw, (float)k,
			   (float)(k * ZCAP_FACTOR));
	}
	clean(s);
	memset(s->label, 0, n * sizeof(*s->label));
	*box = (struct bbox){0, 0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		struct bbox b;
		double sum;

		if (!s->mask[i] || s->label[i])
			continue;
		sum = fill(s, (int)i, ++lab, &b);
		if (sum > best) {
			best = sum;
			best_lab = lab;
			*box = b;
		}
	}
	for (size_t i = 0; i < n; i++)
		s->region[i] = best_lab && s->label[i] == best_lab;
	return best;
}

double inspect__edge(const float *mean, int tw, int th, int x, int y)
{
	int xl = x > 0 ? x - 1 : x, xr = x < tw - 1 ? x + 1 : x;
	int yu = y > 0 ? y - 1 : y, yd = y < th - 1 ? y + 1 : y;
	double gx = (mean[y * tw + xr] - mean[y * tw + xl]) / fmax(1, xr - xl);
	double gy = (mean[yd * tw + x] - mean[yu * tw + x]) / fmax(1, yd - yu);

	return INSPECT_EDGE_PX * hypot(gx, gy);
}

void inspect__reference(const struct inspect_model *m, float *mean, float *inv, float *weight)
{
	size_t n = (size_t)m->tw * m->th;

	for (size_t i = 0; i < n; i++) {
		mean[i] = (float)(m->mean[i] * INSPECT_MEAN_UNIT);
		weight[i] = m->dev[i] == INSPECT_DEV_FREE ? 0.0f : 1.0f;
	}
	for (int y = 0; y < m->th; y++)
		for (int x = 0; x < m->tw; x++) {
			size_t i = (size_t)y * m->tw + x;

			inv[i] = (float)(1.0 / (m->dev[i] * INSPECT_DEV_UNIT + INSPECT_EPS +
						inspect__edge(mean, m->tw, m->th, x, y)));
		}
}

/* ---- the inspector ----------------------------------------------------- */

enum trig_state { TRIG_ARMED, TRIG_TRACKING, TRIG_FIRED };

struct inspector {
	char camera[VISION_ID_MAX + 1];
	struct inspect_model *m;
	struct bbox roi;
	double threshold, presence;
	enum severity severity;
	struct inspect_align *al;
	struct inspect_scorer *sc;
	float *mean, *inv, *x; /* reference, and the part being scored */
	float *wt;             /* 0 on free pixels, else 1 */
	struct plane snap;     /* the rendered anomaly map */
	/* trigger */
	enum trig_state state;
	struct plane peak;     /* the ROI at the best-centred frame so far */
	struct inspect_pose peak_pose;
	struct frame peak_frame; /* its timestamps (luma not kept) */
	double peak_q;
	int since_peak;
};

void inspect_free(struct inspector *ins)
{
	if (!ins)
		return;
	inspect_model_free(ins->m);
	inspect__align_free(ins->al);
	inspect__scorer_free(ins->sc);
	free(ins->mean);
	free(ins->inv);
	free(ins->x);
	free(ins->wt);
	plane_free(&ins->snap);
	plane_free(&ins->peak);
	free(ins);
}

static int check_options(const struct inspect_options *opt, const struct inspect_model *m,
			 struct bbox *roi, char *err, size_t errlen)
{
	const char *cam = opt->camera ? opt->camera : m->camera;

	*roi = m->roi;
	if (opt->roi.w || opt->roi.h) {
		if (opt->roi.w != m->roi.w || opt->roi.h != m->roi.h) {
			snprintf(err, errlen,
				 "camera %s: inspection ROI is %dx%d but the model was trained on %dx%d",
				 cam, opt->roi.w, opt->roi.h, m->roi.w, m->roi.h);
			return MW_ERR_INVALID;
		}
		*roi = opt->roi;
	}
	if (roi->x < 0 || roi->y < 0 || roi->x + roi->w > m->frame_w ||
	    roi->y + roi->h > m->frame_h) {
		snprintf(err, errlen, "camera %s: inspection ROI %d,%d %dx%d lies outside the %dx%d frame",
			 cam, roi->x, roi->y, roi->w, roi->h, m->frame_w, m->frame_h);
		return MW_ERR_INVALID;
	}
	if (opt->threshold < 0 || opt->presence < 0 || opt->presence >= 1 ||
	    !isfinite(opt->threshold)) {
		snprintf(err, errlen, "camera %s: inspection threshold and presence must be positive "
			 "(presence below 1)", cam);
		return MW_ERR_INVALID;
	}
	if (!*cam || strlen(cam) > VISION_ID_MAX) {
		snprintf(err, errlen, "inspection: camera id empty or longer than %d", VISION_ID_MAX);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int build(struct inspector *ins)
{
	size_t n = (size_t)ins->m->tw * ins->m->th;
	int rc;

	ins->mean = malloc(n * sizeof(float));
	ins->inv = malloc(n * sizeof(float));
	ins->x = malloc(n * sizeof(float));
	ins->wt = malloc(n * sizeof(float));
	if (!ins->mean || !ins->inv || !ins->x || !ins->wt)
		return MW_ERR_NOMEM;
	inspect__reference(ins->m, ins->mean, ins->inv, ins->wt);
	rc = inspect__align_new(ins->mean, ins->wt, ins->m->tw, ins->m->th, ins->m->roi.w,
				ins->m->roi.h, ins->m->max_shift, ins->m->max_angle_deg, &ins->al);
	if (!rc)
		rc = inspect__scorer_new(ins->m->tw, ins->m->th, &ins->sc);
	if (!rc)
		rc = plane_alloc(&ins->snap, ins->m->tw, ins->m->th);
	if (!rc)
		rc = plane_alloc(&ins->peak, ins->m->roi.w, ins->m->roi.h);
	return rc;
}

int inspect_new(const struct inspect_options *opt, struct inspect_model *model,
		struct inspector **out, char *err, size_t errlen)
{
	struct inspector *ins = NULL;
	struct bbox roi;
	int rc;

	*out = NULL;
	rc = check_options(opt, model, &roi, err, errlen);
	if (rc)
		goto fail;
	rc = MW_ERR_NOMEM;
	ins = calloc(1, sizeof(*ins));
	if (!ins)
		goto fail;
	ins->m = model;
	model = NULL;
	mw_strlcpy(ins->camera, opt->camera ? opt->camera : ins->m->camera, sizeof(ins->camera));
	ins->roi = roi;
	ins->threshold = opt->threshold > 0 ? opt->threshold : ins->m->threshold;
	ins->presence = opt->presence > 0 ? opt->presence : ins->m->presence;
	ins->severity = opt->severity == SEV_DEBUG ? SEV_WARNING : opt->severity;
	rc = build(ins);
	if (rc) {
		snprintf(err, errlen, "camera %s: inspection: %s", ins->camera, mw_strerror(rc));
		goto fail;
	}
	*out = ins;
	return MW_OK;
fail:
	inspect_model_free(model);
	inspect_free(ins);
	return rc;
}

double inspect_threshold(const struct inspector *ins)
{
	return ins->threshold;
}

/* Maps a box in template pixels to ROI pixels through the pose. */
static struct bbox box_to_roi(const struct inspector *ins, const struct inspect_pose *p,
			      struct bbox b)
{
	const struct inspect_model *m = ins->m;
	double cx = (m->tw - 1) / 2.0, cy = (m->th - 1) / 2.0, ca = cos(p->a), sa = sin(p->a);
	double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;

	for (int i = 0; i < 4; i++) {
		double u = (i & 1 ? b.x + b.w : b.x) - cx, v = (i & 2 ? b.y + b.h : b.y) - cy;
		double x = m->max_shift + cx + p->dx + ca * u - sa * v;
		double y = m->max_shift + cy + p->dy + sa * u + ca * v;

		x0 = fmin(x0, x);
		y0 = fmin(y0, y);
		x1 = fmax(x1, x);
		y1 = fmax(y1, y);
	}
	x0 = fmax(0, floor(x0));
	y0 = fmax(0, floor(y0));
	x1 = fmin(m->roi.w, ceil(x1));
	y1 = fmin(m->roi.h, ceil(y1));
	return (struct bbox){(int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0)};
}

static double score_at(struct inspector *ins, const struct plane *roi,
		       const struct inspect_pose *p, struct bbox *defect)
{
	struct bbox b;
	double s;

	inspect__extract(roi, ins->m->max_shift, ins->m->tw, ins->m->th, p, ins->wt, ins->x);
	s = inspect__score(ins->sc, ins->x, ins->mean, ins->inv, ins->m->k, &b);
	*defect = b.w ? box_to_roi(ins, p, b) : b;
	return s;
}

int inspect_score(struct inspector *ins, const struct plane *roi_image, double *score,
		  struct bbox *defect)
{
	struct inspect_pose p;
	struct bbox b;

	if (roi_image->width != ins->roi.w || roi_image->height != ins->roi.h)
		return MW_ERR_INVALID;
	inspect__align(ins->al, roi_image, &p);
	*score = score_at(ins, roi_image, &p, &b);
	if (defect)
		*defect = b;
	return MW_OK;
}

/* The aligned part, its grey levels halved, with the defect region lifted
 * into the upper half: dark defects show as bright as light ones. */
static void render(struct inspector *ins)
{
	const uint8_t *reg = inspect__scorer_region(ins->sc);
	int w = ins->m->tw;

	for (int y = 0; y < ins->m->th; y++) {
		uint8_t *restrict o = plane_row(&ins->snap, y);
		const float *restrict x = ins->x + (size_t)y * w;
		const uint8_t *restrict r = reg + (size_t)y * w;

		for (int i = 0; i < w; i++) {
			float v = x[i] * 0.5f;

			v = v > 127.0f ? 127.0f : v;
			o[i] = (uint8_t)(v + (r[i] ? 128.0f : 0.0f));
		}
	}
}

static int emit(struct inspector *ins, const struct vision_sink *sink, double score,
		struct bbox d)
{
	bool defect = score > ins->threshold;
	struct event e;
	json_t *attrs;
	int rc;

	if (defect) {
		render(ins);
		attrs = json_pack("{s:f, s:f, s:[i,i,i,i], s:[i,i,i,i]}", "score", score,
				  "threshold", ins->threshold, "bbox", ins->roi.x + d.x,
				  ins->roi.y + d.y, d.w, d.h, "roi", ins->roi.x, ins->roi.y,
				  ins->roi.w, ins->roi.h);
	} else {
		attrs = json_pack("{s:f}", "score", score);
	}
	if (!attrs)
		return MW_ERR_NOMEM;
	rc = vision_event(&e, ins->camera, defect ? "inspection.defect" : "inspection.pass",
			  defect ? ins->severity : SEV_DEBUG, &ins->peak_frame, attrs);
	if (rc)
		return rc;
	rc = sink->emit(sink->arg, &e, defect ? &ins->snap : NULL);
	if (rc)
		log_warn("inspection event not delivered camera=%s kind=%s err=%s", ins->camera,
			 e.kind, mw_strerror(rc));
	event_clear(&e);
	return 1;
}

static void keep_peak(struct inspector *ins, const struct plane *roi, const struct frame *f,
		      const struct inspect_pose *p, double q)
{
	plane_copy(&ins->peak, roi);
	ins->peak_pose = *p;
	ins->peak_frame = f ? *f : (struct frame){0};
	ins->peak_frame.y = (struct plane){0};
	ins->peak_q = q;
	ins->since_peak = 0;
}

int inspect__trigger(struct inspector *ins, const struct plane *roi, const struct frame *f)
{
	struct inspect_pose p;
	double q, r, level;
	bool present;

	/* most frames show no part: the coarse NCC alone says it is not there */
	level = ins->state == TRIG_ARMED ? ins->presence : ins->presence - LEAVE_GAP;
	inspect__align_gated(ins->al, roi, level - COARSE_SLACK, &p);
	r = hypot(p.dx, p.dy) / (ins->m->max_shift > 0 ? ins->m->max_shift : 1);
	q = p.ncc - CENTRE_PENALTY * r * r;
	switch (ins->state) {
	case TRIG_ARMED:
		if (p.ncc >= ins->presence) {
			keep_peak(ins, roi, f, &p, q);
			ins->state = TRIG_TRACKING;
		}
		return 0;
	case TRIG_FIRED:
		if (p.ncc < ins->presence - LEAVE_GAP)
			ins->state = TRIG_ARMED;
		return 0;
	case TRIG_TRACKING:
		present = p.ncc >= ins->presence - LEAVE_GAP;
		if (present && q > ins->peak_q) {
			keep_peak(ins, roi, f, &p, q);
			return 0;
		}
		if (present && q >= ins->peak_q - FALL && ++ins->since_peak < SETTLE_FRAMES)
			return 0;
		ins->state = present ? TRIG_FIRED : TRIG_ARMED;
		return 1;
	}
	return 0;
}

const struct plane *inspect__peak(const struct inspector *ins)
{
	return &ins->peak;
}

void inspect__trigger_reset(struct inspector *ins)
{
	ins->state = TRIG_ARMED;
}

int inspect_process(struct inspector *ins, const struct frame *frame,
		    const struct vision_sink *sink)
{
	struct plane roi;
	struct bbox d;
	double score;

	if (frame->y.width != ins->m->frame_w || frame->y.height != ins->m->frame_h)
		return MW_ERR_INVALID;
	roi = plane_view(&frame->y, ins->roi.x, ins->roi.y, ins->roi.w, ins->roi.h);
	if (!inspect__trigger(ins, &roi, frame))
		return 0;
	score = score_at(ins, &ins->peak, &ins->peak_pose, &d);
	return emit(ins, sink, score, d);
}
