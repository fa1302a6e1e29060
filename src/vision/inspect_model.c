/* inspect_model.c -- training the inspection model from good parts, and its file.
 *
 * Training keeps the good images (ROI-sized, a few tens of them) and makes
 * three passes. Good parts are themselves shifted and turned, so one image
 * serves only as a provisional template (of the first eight, the one most
 * like the others): every image is aligned to it, and the average of
 * their poses says where the typical part lies
 * relative to that first one. The second pass resamples every image into
 * that average pose and averages them: a template of the typical part, not
 * of whichever part came first, which keeps the whole +-max_shift range
 * available for the parts to come. The third pass aligns every image to
 * that template and accumulates, per pixel, the mean and variance of the
 * normalised part (Welford, in float), which are then quantised: mean in
 * 1/64 grey level (uint16), deviation in 1/2 (uint8), 3 bytes a pixel.
 * Before pass 3, views that match the template much worse than the median
 * (a part caught at the window's edge, a hand) are dropped and logged: one
 * of them would widen the allowed deviation everywhere.
 *
 * Variable print. A serial code (or a lot number, a date) differs from
 * part to part; the deviation learned from a few tens of parts covers the
 * modules that happened to vary among them, but not the ones that did not
 * (serials 1..60 share their leading digits), and the first part with a
 * new digit would fail. So after pass 3 the blocks where most pixels vary
 * are found (a majority filter over "deviation > 20 grey levels", which
 * thin lines of variation such as edges never pass, dilated and grown to
 * each block's bounding box) and left free: deviation INSPECT_DEV_FREE, no
 * weight in the alignment or the brightness normalisation; pass 3 is then
 * run again without them. Print that did not vary in training (every
 * training part made the same day) cannot be found that way: the user
 * names it with ignore boxes (inspect_options.ignore), which are freed the
 * same way. Free pixels are stored as dev = 255, so the file format did
 * not change. A damaged or wrong code inside a free block is not an
 * inspection defect: reading codes, and telling readable from not, is the
 * counter's (count.c) job.
 *
 * The default threshold comes from the good parts' own scores, each taken
 * leave-one-out (the image removed from the mean and variance, which
 * Welford's sums allow exactly), since an image scored against a model it
 * helped build looks better than a new good part would. Most good parts
 * score 0 (no region survives the clean-up), so the scores' spread says
 * little; the threshold is the largest of mean + 4 standard deviations,
 * twice the worst good score, and THRESHOLD_MIN. The presence level of the
 * trigger is the worst good part's NCC less 0.25 (0.3..0.8).
 *
 * File format, all integers little-endian:
 *   "MWINSP1\0" | u32 version (1) | char camera[65] (NUL-padded) |
 *   u32 frame_w, frame_h | i32 roi x, y, w, h | u32 max_shift, tw, th, ntrain |
 *   f64 threshold, presence, k, max_angle_deg |
 *   u16 mean[tw*th] | u8 dev[tw*th] | SHA-256 of everything before it.
 * A model is written to path.tmp, fsynced and renamed, so a crash while
 * saving leaves the old model in place. Loading checks the checksum before
 * anything else, then each field's range, then that the model fits the
 * camera it is loaded for. */
#include "vision/inspect_internal.h"

#include "core/hash.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "MWINSP1"
#define VERSION 1
#define HEADER_LEN (8 + 4 + (VISION_ID_MAX + 1) + 4 * 2 + 4 * 4 + 4 * 4 + 8 * 4)
#define MODEL_MAX_BYTES (256u << 20)
#define THRESHOLD_MIN 20.0  /* e.g. 20 pixels each one deviation beyond k */
#define TRAIN_MAX 10000
#define SHIFT_MAX 64
#define ANGLE_MAX 15.0
#define SEED_CANDIDATES 8 /* images tried as the first template */
#define SCREEN_GAP 0.15   /* NCC below the median that makes a view an outlier */
#define VARY_DEV 20.0 /* grey levels of deviation that make a pixel vary (variable print) */

struct inspect_model *inspect__model_alloc(int tw, int th)
{
	struct inspect_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->tw = tw;
	m->th = th;
	m->mean = calloc((size_t)tw * th, sizeof(*m->mean));
	m->dev = calloc((size_t)tw * th, 1);
	if (!m->mean || !m->dev) {
		inspect_model_free(m);
		return NULL;
	}
	return m;
}

void inspect_model_free(struct inspect_model *m)
{
	if (!m)
		return;
	free(m->mean);
	free(m->dev);
	free(m);
}

const char *inspect_model_camera(const struct inspect_model *m)
{
	return m->camera;
}

struct bbox inspect_model_roi(const struct inspect_model *m)
{
	return m->roi;
}

double inspect_model_threshold(const struct inspect_model *m)
{
	return m->threshold;
}

/* ---- training -------------------------------------------------------------- */

/* The template's size for a ROI, or an error naming what is wrong. */
static int geometry(const char *cam, struct bbox roi, int fw, int fh, int shift, double angle,
		    char *err, size_t errlen)
{
	double r = 0.5 * hypot(roi.w - 2 * shift, roi.h - 2 * shift) * sin(angle * M_PI / 180);

	if (fw < 1 || fh < 1 || fw > VISION_DIM_MAX || fh > VISION_DIM_MAX) {
		snprintf(err, errlen, "camera %s: frame size %dx%d out of range", cam, fw, fh);
		return MW_ERR_INVALID;
	}
	if (roi.x < 0 || roi.y < 0 || roi.w < 1 || roi.h < 1 || roi.x > fw - roi.w ||
	    roi.y > fh - roi.h) {
		snprintf(err, errlen, "camera %s: inspection ROI %d,%d %dx%d lies outside the %dx%d frame",
			 cam, roi.x, roi.y, roi.w, roi.h, fw, fh);
		return MW_ERR_INVALID;
	}
	if (shift < 0 || shift > SHIFT_MAX || !(angle >= 0 && angle <= ANGLE_MAX)) {
		snprintf(err, errlen, "camera %s: inspection alignment range %d px, %g degrees: "
			 "must be 0..%d px and 0..%g degrees", cam, shift, angle, SHIFT_MAX, ANGLE_MAX);
		return MW_ERR_INVALID;
	}
	if ((roi.w - 2 * shift - 2 * (int)ceil(r + 1)) < 16 ||
	    (roi.h - 2 * shift - 2 * (int)ceil(r + 1)) < 16) {
		snprintf(err, errlen, "camera %s: inspection ROI %dx%d too small for a %d px "
			 "alignment range", cam, roi.w, roi.h, shift);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

int inspect_train_new(const struct inspect_options *opt, int frame_w, int frame_h,
		      struct inspect_trainer **out, char *err, size_t errlen)
{
	struct inspect_trainer *t;
	const char *cam = opt->camera ? opt->camera : "";
	int shift = opt->max_shift ? opt->max_shift : 8;
	double angle = opt->max_angle_deg > 0 ? opt->max_angle_deg : 4;
	int rc;

	*out = NULL;
	if (!*cam || strlen(cam) > VISION_ID_MAX) {
		snprintf(err, errlen, "inspection: camera id empty or longer than %d", VISION_ID_MAX);
		return MW_ERR_INVALID;
	}
	rc = geometry(cam, opt->roi, frame_w, frame_h, shift, angle, err, errlen);
	if (rc)
		return rc;
	if (opt->nignore < 0 || opt->nignore > INSPECT_IGNORE_MAX) {
		snprintf(err, errlen, "camera %s: at most %d inspection ignore boxes", cam,
			 INSPECT_IGNORE_MAX);
		return MW_ERR_INVALID;
	}
	for (int i = 0; i < opt->nignore; i++)
		if (opt->ignore[i].w < 1 || opt->ignore[i].h < 1) {
			snprintf(err, errlen, "camera %s: inspection ignore box %d is empty", cam, i + 1);
			return MW_ERR_INVALID;
		}
	t = calloc(1, sizeof(*t));
	if (!t)
		return MW_ERR_NOMEM;
	mw_strlcpy(t->camera, cam, sizeof(t->camera));
	t->frame_w = frame_w;
	t->frame_h = frame_h;
	t->roi = opt->roi;
	t->max_shift = shift;
	t->max_angle = round(angle);
	t->motion = opt->motion;
	t->nignore = opt->nignore;
	memcpy(t->ignore, opt->ignore, sizeof(t->ignore));
	*out = t;
	return MW_OK;
}

void inspect_train_free(struct inspect_trainer *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n; i++)
		plane_free(&t->img[i]);
	free(t->img);
	inspect__video_free(t->video);
	free(t);
}

int inspect_train_add(struct inspect_trainer *t, const struct plane *roi_image)
{
	if (roi_image->width != t->roi.w || roi_image->height != t->roi.h)
		return MW_ERR_INVALID;
	return inspect__train_keep(t, roi_image);
}

int inspect_train_count(const struct inspect_trainer *t)
{
	return t->n;
}

int inspect__train_keep(struct inspect_trainer *t, const struct plane *roi_image)
{
	int rc;

	if (t->n == TRAIN_MAX)
		return MW_ERR_TOOBIG;
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 32;
		struct plane *img = realloc(t->img, (size_t)cap * sizeof(*img));

		if (!img)
			return MW_ERR_NOMEM;
		t->img = img;
		t->cap = cap;
	}
	rc = plane_alloc(&t->img[t->n], roi_image->width, roi_image->height);
	if (rc)
		return rc;
	plane_copy(&t->img[t->n++], roi_image);
	return MW_OK;
}

/* Working memory of inspect_train_finish(). */
struct fit {
	struct inspect_trainer *t;
	int tw, th;
	size_t n;            /* pixels in the template */
	float *tmpl, *mean, *m2, *x;
	float *xs;           /* every image, aligned and normalised (t->n * n) */
	float *ref, *inv;    /* leave-one-out reference */
	float *wt;           /* alignment weights: 0 where free */
	uint8_t *free_px;    /* 1 where not inspected: variable print, ignore boxes */
	bool weighted;       /* wt holds the free pixels: align and normalise without them */
	struct inspect_pose *pose;
	struct inspect_align *al;
	struct inspect_scorer *sc;
};

static void fit_free(struct fit *f)
{
	free(f->tmpl);
	free(f->mean);
	free(f->m2);
	free(f->x);
	free(f->xs);
	free(f->ref);
	free(f->inv);
	free(f->wt);
	free(f->free_px);
	free(f->pose);
	inspect__align_free(f->al);
	inspect__scorer_free(f->sc);
}

static int fit_alloc(struct fit *f)
{
	f->n = (size_t)f->tw * f->th;
	f->tmpl = calloc(f->n, sizeof(float));
	f->mean = calloc(f->n, sizeof(float));
	f->m2 = calloc(f->n, sizeof(float));
	f->x = calloc(f->n, sizeof(float));
	f->ref = calloc(f->n, sizeof(float));
	f->inv = calloc(f->n, sizeof(float));
	f->xs = calloc(f->n * (size_t)f->t->n, sizeof(float));
	f->pose = calloc((size_t)f->t->n, sizeof(*f->pose));
	f->wt = calloc(f->n, sizeof(float));
	f->free_px = calloc(f->n, 1);
	if (!f->tmpl || !f->mean || !f->m2 || !f->x || !f->ref || !f->inv || !f->xs || !f->pose ||
	    !f->wt || !f->free_px)
		return MW_ERR_NOMEM;
	return inspect__scorer_new(f->tw, f->th, &f->sc);
}

static int realign(struct fit *f, bool weighted)
{
	struct inspect_trainer *t = f->t;

	inspect__align_free(f->al);
	f->al = NULL;
	return inspect__align_new(f->tmpl, weighted ? f->wt : NULL, f->tw, f->th, t->roi.w,
				  t->roi.h, t->max_shift, t->max_angle, &f->al);
}

/* The first template: of the first few images, the one most like the
 * others, so a stray view (a part caught half in the window) cannot be it. */
static int seed_template(struct fit *f)
{
	struct inspect_trainer *t = f->t;
	struct inspect_pose zero = {0}, p;
	int k = t->n < SEED_CANDIDATES ? t->n : SEED_CANDIDATES, best = 0, rc;
	double best_sum = -1e9;

	for (int c = 0; c < k; c++) {
		double sum = 0;

		inspect__extract(&t->img[c], t->max_shift, f->tw, f->th, &zero, NULL, f->tmpl);
		if ((rc = realign(f, false)))
			return rc;
		for (int i = 0; i < k; i++) {
			inspect__align(f->al, &t->img[i], &p);
			sum += i == c ? 0 : p.ncc;
		}
		if (sum > best_sum) {
			best_sum = sum;
			best = c;
		}
	}
	inspect__extract(&t->img[best], t->max_shift, f->tw, f->th, &zero, NULL, f->tmpl);
	return realign(f, false);
}

/* Passes 1 and 2: a template of the typical part. */
static int first_template(struct fit *f)
{
	struct inspect_trainer *t = f->t;
	struct inspect_pose avg = {0};
	int rc;

	rc = seed_template(f);
	if (rc)
		return rc;
	for (int i = 0; i < t->n; i++) {
		inspect__align(f->al, &t->img[i], &f->pose[i]);
		avg.dx += f->pose[i].dx / t->n;
		avg.dy += f->pose[i].dy / t->n;
		avg.a += f->pose[i].a / t->n;
	}
	memset(f->tmpl, 0, f->n * sizeof(float));
	for (int i = 0; i < t->n; i++) {
		struct inspect_pose p = {f->pose[i].dx - avg.dx, f->pose[i].dy - avg.dy,
					 f->pose[i].a - avg.a, 0};

		inspect__extract(&t->img[i], t->max_shift, f->tw, f->th, &p, NULL, f->x);
		for (size_t j = 0; j < f->n; j++)
			f->tmpl[j] += f->x[j] / (float)t->n;
	}
	return realign(f, false);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Drops the views that match the template much worse than the rest do (a
 * part caught at the window's edge, a hand, an empty belt): one of them
 * would widen the allowed deviation everywhere. Returns how many. */
static int screen(struct fit *f)
{
	struct inspect_trainer *t = f->t;
	double *ncc = malloc(2 * (size_t)t->n * sizeof(*ncc)), *sorted, median, floor_;
	int kept = 0, dropped;

	if (!ncc)
		return MW_ERR_NOMEM;
	sorted = ncc + t->n;
	for (int i = 0; i < t->n; i++) {
		inspect__align(f->al, &t->img[i], &f->pose[i]);
		ncc[i] = sorted[i] = f->pose[i].ncc;
	}
	qsort(sorted, (size_t)t->n, sizeof(*sorted), cmp_double);
	median = sorted[t->n / 2];
	floor_ = median - SCREEN_GAP;
	for (int i = 0; i < t->n; i++) {
		if (ncc[i] < floor_) {
			plane_free(&t->img[i]);
			continue;
		}
		t->img[kept++] = t->img[i];
	}
	free(ncc);
	dropped = t->n - kept;
	t->n = kept;
	if (dropped)
		log_warn("inspection training: views unlike the others left out camera=%s "
			 "dropped=%d kept=%d median_ncc=%.2f", t->camera, dropped, kept, median);
	return dropped;
}

/* Pass 3: Welford's mean and sum of squared deviations. */
static void accumulate(struct fit *f)
{
	memset(f->mean, 0, f->n * sizeof(float));
	memset(f->m2, 0, f->n * sizeof(float));
	for (int i = 0; i < f->t->n; i++) {
		float *x = f->xs + (size_t)i * f->n;

		inspect__align(f->al, &f->t->img[i], &f->pose[i]);
		inspect__extract(&f->t->img[i], f->t->max_shift, f->tw, f->th, &f->pose[i],
				 f->weighted ? f->wt : NULL, x);
		for (size_t j = 0; j < f->n; j++) {
			float d = x[j] - f->mean[j];

			f->mean[j] += d / (float)(i + 1);
			f->m2[j] += d * (x[j] - f->mean[j]);
		}
	}
}

/* Pixels in a (2r+1)^2 box that vary; pixels outside the template count as steady. */
static int box_count(const int32_t *ii, int w, int h, int x, int y, int r)
{
	int x0 = x - r < 0 ? 0 : x - r, y0 = y - r < 0 ? 0 : y - r;
	int x1 = x + r + 1 > w ? w : x + r + 1, y1 = y + r + 1 > h ? h : y + r + 1;
	int W = w + 1;

	return ii[y1 * W + x1] - ii[y0 * W + x1] - ii[y1 * W + x0] + ii[y0 * W + x0];
}

/* Grows each 8-connected region of map to its bounding box: a printed
 * block is free as a whole, its modules that happened not to vary too.
 * seen: scratch of the map's size. */
static void fill_boxes(uint8_t *map, uint8_t *seen, int w, int h)
{
	memset(seen, 0, (size_t)w * h);
	for (int i = 0; i < w * h; i++) {
		int x0 = w, y0 = h, x1 = -1, y1 = -1, top = 0;
		int32_t *stack;

		if (!map[i] || seen[i] || !(stack = malloc((size_t)w * h * sizeof(*stack))))
			continue;
		stack[top++] = i;
		seen[i] = 1;
		while (top) {
			int j = stack[--top], x = j % w, y = j / w;

			x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
			y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int nx = x + dx, ny = y + dy;

					if (nx < 0 || ny < 0 || nx >= w || ny >= h ||
					    !map[ny * w + nx] || seen[ny * w + nx])
						continue;
					seen[ny * w + nx] = 1;
					stack[top++] = ny * w + nx;
				}
		}
		free(stack);
		for (int y = y0; y <= y1; y++)
			for (int x = x0; x <= x1; x++)
				map[y * w + x] = seen[y * w + x] = 1;
	}
}

/* Variable print: where most pixels of a neighbourhood vary from good part
 * to good part (a serial code, a date stamp), the whole neighbourhood is
 * left uninspected, the steady pixels between them too: a code module that
 * happened to be the same on every training part is not a defect when it
 * differs. Single lines of variation (edges, which jitter by a fraction of
 * a pixel) fill less than half of any box and stay inspected. Each such
 * region is then grown to its bounding box (print comes in blocks). Then
 * the user's ignore boxes. Returns the number of free pixels. */
static int free_regions(struct fit *f)
{
	struct inspect_trainer *t = f->t;
	int w = f->tw, h = f->th, W = w + 1, nfree = 0;
	int r = (w < h ? w : h) / 16 > 3 ? (w < h ? w : h) / 16 : 3, side = 2 * r + 1;
	int32_t *ii = calloc((size_t)W * (h + 1), sizeof(*ii));
	uint8_t *maj = calloc(f->n, 1);

	if (!ii || !maj)
		goto out;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double sd = sqrt(fmax(0, f->m2[y * w + x]) / (t->n - 1));

			ii[(y + 1) * W + x + 1] = (sd > VARY_DEV) + ii[y * W + x + 1] +
						  ii[(y + 1) * W + x] - ii[y * W + x];
		}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			maj[y * w + x] = box_count(ii, w, h, x, y, r) * 2 > side * side;
	for (int y = 0; y < h; y++) /* the same sums, now of the majority map */
		for (int x = 0; x < w; x++)
			ii[(y + 1) * W + x + 1] = maj[y * w + x] + ii[y * W + x + 1] +
						  ii[(y + 1) * W + x] - ii[y * W + x];
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			f->free_px[y * w + x] = box_count(ii, w, h, x, y, r) > 0;
	fill_boxes(f->free_px, maj, w, h);
	for (int k = 0; k < t->nignore; k++) {
		const struct bbox *b = &t->ignore[k];
		int x0 = b->x - t->roi.x - t->max_shift, y0 = b->y - t->roi.y - t->max_shift;

		for (int y = y0 < 0 ? 0 : y0; y < y0 + b->h && y < h; y++)
			for (int x = x0 < 0 ? 0 : x0; x < x0 + b->w && x < w; x++)
				f->free_px[y * w + x] = 1;
	}
	for (size_t j = 0; j < f->n; j++) {
		nfree += f->free_px[j];
		f->wt[j] = f->free_px[j] ? 0.0f : 1.0f;
	}
out:
	free(ii);
	free(maj);
	return nfree;
}

static uint16_t q_mean(double v)
{
	return (uint16_t)fmax(0, fmin(65535, lround(v / INSPECT_MEAN_UNIT)));
}

static uint8_t q_dev(double sd)
{
	return (uint8_t)fmin(INSPECT_DEV_FREE - 1, ceil(sd / INSPECT_DEV_UNIT));
}

/* Scores image i against the model without it; as quantised as the real one. */
static double leave_one_out(struct fit *f, int i)
{
	const float *x = f->xs + (size_t)i * f->n;
	double n = f->t->n;
	struct bbox b;

	for (size_t j = 0; j < f->n; j++) {
		double mean = (n * f->mean[j] - x[j]) / (n - 1);

		f->ref[j] = (float)(q_mean(mean) * INSPECT_MEAN_UNIT);
	}
	for (size_t j = 0; j < f->n; j++) {
		double mean = (n * f->mean[j] - x[j]) / (n - 1);
		double m2 = f->m2[j] - (x[j] - f->mean[j]) * (x[j] - mean);
		double sd = sqrt(fmax(0, m2) / (n - 2));
		uint8_t dev = f->free_px[j] ? INSPECT_DEV_FREE : q_dev(sd);
		int px = (int)(j % (size_t)f->tw), py = (int)(j / (size_t)f->tw);

		f->inv[j] = (float)(1.0 / (dev * INSPECT_DEV_UNIT + INSPECT_EPS +
					   inspect__edge(f->ref, f->tw, f->th, px, py)));
	}
	return inspect__score(f->sc, x, f->ref, f->inv, INSPECT_K, &b);
}

static void quantise(struct fit *f, struct inspect_model *m, bool quiet)
{
	struct inspect_trainer *t = f->t;
	double s = 0, s2 = 0, min_ncc = 1, sd, max = 0;

	for (size_t j = 0; j < f->n; j++) {
		m->mean[j] = q_mean(f->mean[j]);
		m->dev[j] = f->free_px[j] ? INSPECT_DEV_FREE
					  : q_dev(sqrt(fmax(0, f->m2[j]) / (t->n - 1)));
	}
	for (int i = 0; i < t->n; i++) {
		double v = leave_one_out(f, i);

		s += v;
		s2 += v * v;
		max = fmax(max, v);
		min_ncc = fmin(min_ncc, f->pose[i].ncc);
	}
	s /= t->n;
	sd = sqrt(fmax(0, s2 / t->n - s * s));
	mw_strlcpy(m->camera, t->camera, sizeof(m->camera));
	m->frame_w = t->frame_w;
	m->frame_h = t->frame_h;
	m->roi = t->roi;
	m->max_shift = t->max_shift;
	m->max_angle_deg = t->max_angle;
	m->k = INSPECT_K;
	m->ntrain = t->n;
	m->threshold = fmax(THRESHOLD_MIN, fmax(s + 4 * sd, 2 * max));
	m->presence = fmax(0.3, fmin(0.8, min_ncc - 0.25));
	if (!quiet)
		log_info("inspection model trained camera=%s images=%d good_mean=%.2f "
			 "good_sd=%.2f good_max=%.2f threshold=%.2f presence=%.2f", m->camera,
			 t->n, s, sd, max, m->threshold, m->presence);
}

int inspect_train_finish(struct inspect_trainer *t, struct inspect_model **out, char *err,
			 size_t errlen)
{
	int rc;

	*out = NULL;
	rc = inspect__video_flush(t, err, errlen);
	if (!rc)
		rc = inspect__train_fit(t, false, out, err, errlen);
	return rc;
}

int inspect__train_fit(struct inspect_trainer *t, bool quiet, struct inspect_model **out,
		       char *err, size_t errlen)
{
	struct fit f = {.t = t, .tw = t->roi.w - 2 * t->max_shift,
			.th = t->roi.h - 2 * t->max_shift};
	struct inspect_model *m = NULL;
	int rc;

	*out = NULL;
	if (t->n < INSPECT_TRAIN_MIN) {
		snprintf(err, errlen, "camera %s: inspection training needs at least %d good images, "
			 "got %d", t->camera, INSPECT_TRAIN_MIN, t->n);
		return MW_ERR_INVALID;
	}
	rc = fit_alloc(&f);
	if (!rc)
		rc = first_template(&f);
	if (!rc && (rc = screen(&f)) > 0)
		rc = t->n < INSPECT_TRAIN_MIN ? MW_ERR_INVALID : first_template(&f);
	if (rc)
		goto out;
	accumulate(&f);
	if (free_regions(&f)) { /* align again, the free pixels left out */
		memcpy(f.tmpl, f.mean, f.n * sizeof(float));
		f.weighted = true;
		rc = realign(&f, true);
		if (rc)
			goto out;
		accumulate(&f);
	}
	rc = MW_ERR_NOMEM;
	m = inspect__model_alloc(f.tw, f.th);
	if (!m)
		goto out;
	quantise(&f, m, quiet);
	*out = m;
	rc = MW_OK;
out:
	if (rc)
		snprintf(err, errlen, "camera %s: inspection training: %s", t->camera,
			 mw_strerror(rc));
	fit_free(&f);
	return rc;
}

/* ---- the file -------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_f64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint32_t get_u32(const uint8_t **p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(*p)[i] << (8 * i);
	*p += 4;
	return v;
}

static double get_f64(const uint8_t **p)
{
	uint64_t v = 0;
	double d;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += 8;
	memcpy(&d, &v, sizeof(d));
	return d;
}

static size_t model_bytes(int tw, int th)
{
	return HEADER_LEN + (size_t)tw * th * 3 + HASH_LEN;
}

static uint8_t *serialise(const struct inspect_model *m, size_t *len)
{
	size_t n = (size_t)m->tw * m->th;
	uint8_t *buf = calloc(1, model_bytes(m->tw, m->th)), *p = buf;

	if (!buf)
		return NULL;
	memcpy(p, MAGIC, 8);
	p = put_u32(p + 8, VERSION);
	memcpy(p, m->camera, strnlen(m->camera, VISION_ID_MAX));
	p += VISION_ID_MAX + 1;
	p = put_u32(p, (uint32_t)m->frame_w);
	p = put_u32(p, (uint32_t)m->frame_h);
	p = put_u32(p, (uint32_t)m->roi.x);
	p = put_u32(p, (uint32_t)m->roi.y);
	p = put_u32(p, (uint32_t)m->roi.w);
	p = put_u32(p, (uint32_t)m->roi.h);
	p = put_u32(p, (uint32_t)m->max_shift);
	p = put_u32(p, (uint32_t)m->tw);
	p = put_u32(p, (uint32_t)m->th);
	p = put_u32(p, (uint32_t)m->ntrain);
	p = put_f64(p, m->threshold);
	p = put_f64(p, m->presence);
	p = put_f64(p, m->k);
	p = put_f64(p, m->max_angle_deg);
	for (size_t i = 0; i < n; i++) {
		*p++ = (uint8_t)m->mean[i];
		*p++ = (uint8_t)(m->mean[i] >> 8);
	}
	memcpy(p, m->dev, n);
	p += n;
	hash_sha256(buf, (size_t)(p - buf), p);
	*len = (size_t)(p - buf) + HASH_LEN;
	return buf;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int inspect_model_save(const struct inspect_model *m, const char *path, char *err,
		       size_t errlen)
{
	char tmp[4096];
	size_t len = 0;
	uint8_t *buf = serialise(m, &len);
	int fd = -1, rc = MW_ERR_NOMEM;

	if (!buf)
		goto out;
	rc = MW_ERR_IO;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "model %s: path too long", path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, len) || fsync(fd) || close(fd)) {
		snprintf(err, errlen, "model %s: cannot write %s: %s", path, tmp, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		snprintf(err, errlen, "model %s: cannot rename %s: %s", path, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = MW_OK;
out:
	if (rc == MW_ERR_NOMEM)
		snprintf(err, errlen, "model %s: out of memory", path);
	free(buf);
	return rc;
}

/* Header fields, each checked so a crafted file cannot reach the planes
 * with sizes that do not add up. */
static int parse_header(const uint8_t *p, size_t len, struct inspect_model *h, char *err,
			size_t errlen)
{
	uint32_t v[10];

	if (memcmp(p, MAGIC, 8)) {
		snprintf(err, errlen, "not an inspection model (bad magic)");
		return MW_ERR_INVALID;
	}
	p += 8;
	if (get_u32(&p) != VERSION) {
		snprintf(err, errlen, "unsupported inspection model version");
		return MW_ERR_INVALID;
	}
	if (memchr(p, 0, VISION_ID_MAX + 1) == NULL || !*p) {
		snprintf(err, errlen, "corrupt model: bad camera id");
		return MW_ERR_INVALID;
	}
	memcpy(h->camera, p, VISION_ID_MAX + 1);
	p += VISION_ID_MAX + 1;
	for (int i = 0; i < 10; i++)
		v[i] = get_u32(&p);
	for (int i = 0; i < 10; i++)
		if (v[i] > VISION_DIM_MAX * 2u) {
			snprintf(err, errlen, "corrupt model: size field out of range");
			return MW_ERR_INVALID;
		}
	h->frame_w = (int)v[0];
	h->frame_h = (int)v[1];
	h->roi = (struct bbox){(int)v[2], (int)v[3], (int)v[4], (int)v[5]};
	h->max_shift = (int)v[6];
	h->tw = (int)v[7];
	h->th = (int)v[8];
	h->ntrain = (int)v[9];
	h->threshold = get_f64(&p);
	h->presence = get_f64(&p);
	h->k = get_f64(&p);
	h->max_angle_deg = get_f64(&p);
	(void)len;
	return MW_OK;
}

static int check_header(const struct inspect_model *h, size_t len, char *err, size_t errlen)
{
	int rc = geometry(h->camera, h->roi, h->frame_w, h->frame_h, h->max_shift,
			  h->max_angle_deg, err, errlen);

	if (rc)
		return rc;
	if (h->tw != h->roi.w - 2 * h->max_shift || h->th != h->roi.h - 2 * h->max_shift ||
	    len != model_bytes(h->tw, h->th)) {
		snprintf(err, errlen, "corrupt model: plane sizes do not match the ROI");
		return MW_ERR_INVALID;
	}
	if (!(h->threshold > 0 && h->threshold < 1e12) || !(h->presence > 0 && h->presence < 1) ||
	    !(h->k > 0 && h->k < 1000) || h->max_angle_deg != round(h->max_angle_deg)) {
		snprintf(err, errlen, "corrupt model: threshold, presence or anomaly factor out of "
			 "range");
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

int inspect_model_parse(const void *data, size_t len, struct inspect_model **out, char *err,
			size_t errlen)
{
	const uint8_t *d = data, *p;
	struct inspect_model h = {0}, *m;
	uint8_t sum[HASH_LEN];
	size_t n;
	int rc;

	*out = NULL;
	if (len < 8 || memcmp(d, MAGIC, 8)) {
		snprintf(err, errlen, "not an inspection model (bad magic)");
		return MW_ERR_INVALID;
	}
	if (len < HEADER_LEN + HASH_LEN || len > MODEL_MAX_BYTES) {
		snprintf(err, errlen, "truncated or corrupt model (%zu bytes)", len);
		return MW_ERR_INVALID;
	}
	hash_sha256(d, len - HASH_LEN, sum);
	if (!hash_equal(sum, d + len - HASH_LEN, HASH_LEN)) {
		snprintf(err, errlen, "truncated or corrupt model (checksum mismatch)");
		return MW_ERR_INVALID;
	}
	rc = parse_header(d, len, &h, err, errlen);
	if (!rc)
		rc = check_header(&h, len, err, errlen);
	if (rc)
		return rc;
	m = inspect__model_alloc(h.tw, h.th);
	if (!m) {
		snprintf(err, errlen, "model: out of memory");
		return MW_ERR_NOMEM;
	}
	h.mean = m->mean;
	h.dev = m->dev;
	*m = h;
	n = (size_t)h.tw * h.th;
	p = d + HEADER_LEN;
	for (size_t i = 0; i < n; i++, p += 2)
		m->mean[i] = (uint16_t)(p[0] | p[1] << 8);
	memcpy(m->dev, p, n);
	*out = m;
	return MW_OK;
}

static int read_whole(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = MW_ERR_IO;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > MODEL_MAX_BYTES) {
		snprintf(err, errlen, "%s is not an inspection model (%lld bytes)", path,
			 (long long)st.st_size);
		rc = MW_ERR_INVALID;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = MW_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*out = buf;
	*len = got;
	buf = NULL;
	rc = MW_OK;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int inspect_model_load(const char *path, const char *camera, int frame_w, int frame_h,
		       struct inspect_model **out, char *err, size_t errlen)
{
	char why[256];
	const char *cam = camera ? camera : "?";
	uint8_t *buf = NULL;
	size_t len = 0;
	struct inspect_model *m = NULL;
	int rc;

	*out = NULL;
	rc = read_whole(path, &buf, &len, why, sizeof(why));
	if (!rc)
		rc = inspect_model_parse(buf, len, &m, why, sizeof(why));
	free(buf);
	if (rc) {
		snprintf(err, errlen, "camera %s: model %s: %s", cam, path, why);
		return rc;
	}
	rc = MW_ERR_INVALID;
	if (camera && strcmp(camera, m->camera)) {
		snprintf(err, errlen, "model %s is for camera %s, not %s", path, m->camera, camera);
		goto fail;
	}
	if (frame_w && (frame_w != m->frame_w || frame_h != m->frame_h)) {
		snprintf(err, errlen, "camera %s: model %s was trained on %dx%d frames, this camera "
			 "gives %dx%d", cam, path, m->frame_w, m->frame_h, frame_w, frame_h);
		goto fail;
	}
	*out = m;
	return MW_OK;
fail:
	inspect_model_free(m);
	return rc;
}
