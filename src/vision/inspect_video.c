/* inspect_video.c -- training from video: take each good part in the view
 * the live trigger would inspect.
 *
 * A model learned from views that differ from the ones it later scores
 * (a part caught a few pixels further along, or a frame early) learns the
 * wrong spread, so training picks parts with the inspector's own trigger
 * (inspect__trigger(), the code inspect_process() runs). The trigger needs
 * a model to find parts, which is what we are building, so training
 * bootstraps one:
 *
 *  1. The motion model (motion.h) finds the first BOOT_PARTS parts: a part
 *     is taken at the frame where its blob's centre comes closest to the
 *     window's centre. Meanwhile every frame's window is kept in a ring
 *     buffer bounded by RING_BYTES.
 *  2. Those views make a provisional model (inspect__train_fit()), and an
 *     inspector with it replays the buffered windows, then sees every
 *     later frame; each view its trigger picks becomes a training view.
 *
 * So every part of the video, the first ones included (while the buffer
 * holds them), is learned from the view the live inspector would score.
 * The motion picks serve only the provisional model; they are used for
 * the real one only if the trigger found too few parts (a video with very
 * few), which is logged. */
#include "vision/inspect_internal.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define BOOT_PARTS 12          /* motion-picked parts for the provisional model */
#define RING_BYTES (64u << 20) /* windows kept until the provisional model exists */
#define RING_MIN 16

struct view {
	struct plane roi;
	bool first; /* the first frame of a video: the trigger starts afresh */
};

struct inspect_video {
	struct motion *motion; /* NULL between videos and after the bootstrap */
	struct blob blobs[MOTION_BLOBS_MAX];
	struct plane best;     /* the window at the part's closest approach so far */
	int64_t best_d2;       /* INT64_MAX: no part in the window */
	bool approaching, new_video;
	struct plane boot[BOOT_PARTS];
	int nboot;
	struct view *ring;
	int ring_cap, ring_len, ring_head; /* head: the oldest */
	struct inspector *ins; /* the provisional inspector, once bootstrapped */
};

static void ring_free(struct inspect_video *v)
{
	for (int i = 0; v->ring && i < v->ring_cap; i++)
		plane_free(&v->ring[i].roi);
	free(v->ring);
	v->ring = NULL;
	v->ring_len = v->ring_head = 0;
}

void inspect__video_free(struct inspect_video *v)
{
	if (!v)
		return;
	motion_free(v->motion);
	plane_free(&v->best);
	for (int i = 0; i < v->nboot; i++)
		plane_free(&v->boot[i]);
	ring_free(v);
	inspect_free(v->ins);
	free(v);
}

static int video_new(struct inspect_trainer *t)
{
	struct inspect_video *v = calloc(1, sizeof(*v));
	size_t bytes = (size_t)t->roi.w * (size_t)t->roi.h;
	int rc;

	if (!v)
		return MW_ERR_NOMEM;
	v->best_d2 = INT64_MAX;
	v->new_video = true;
	v->ring_cap = (int)(RING_BYTES / bytes > RING_MIN ? RING_BYTES / bytes : RING_MIN);
	v->ring = calloc((size_t)v->ring_cap, sizeof(*v->ring));
	rc = v->ring ? plane_alloc(&v->best, t->roi.w, t->roi.h) : MW_ERR_NOMEM;
	if (rc) {
		inspect__video_free(v);
		return rc;
	}
	t->video = v;
	return MW_OK;
}

/* Keeps the window in the ring, overwriting the oldest when full. */
static int ring_push(struct inspect_video *v, const struct plane *roi)
{
	int i = (v->ring_head + v->ring_len) % v->ring_cap, rc;

	if (v->ring_len == v->ring_cap)
		v->ring_head = (v->ring_head + 1) % v->ring_cap;
	else
		v->ring_len++;
	if (!v->ring[i].roi.data && (rc = plane_alloc(&v->ring[i].roi, roi->width, roi->height)))
		return rc;
	plane_copy(&v->ring[i].roi, roi);
	v->ring[i].first = v->new_video;
	v->new_video = false;
	return MW_OK;
}

/* The squared distance from the window's centre to the nearest blob
 * centred inside it; INT64_MAX when none is. */
static int64_t nearest(const struct inspect_trainer *t, const struct blob *blobs, int n)
{
	const struct bbox *r = &t->roi;
	int64_t best = INT64_MAX, cx = r->x + r->w / 2, cy = r->y + r->h / 2;

	for (int i = 0; i < n; i++) {
		const struct blob *b = &blobs[i];
		int64_t dx = b->cx - cx, dy = b->cy - cy;

		if (b->cx < r->x || b->cx >= r->x + r->w || b->cy < r->y || b->cy >= r->y + r->h)
			continue;
		if (dx * dx + dy * dy < best)
			best = dx * dx + dy * dy;
	}
	return best;
}

/* The motion picker: a part is taken once it has passed its closest approach. */
static int motion_pick(struct inspect_trainer *t, const struct frame *f, const struct plane *roi)
{
	struct inspect_video *v = t->video;
	char err[256];
	int64_t d2;
	int n, rc;

	if (!v->motion && (rc = motion_new(&t->motion, t->frame_w, t->frame_h, &v->motion, err,
					   sizeof(err)))) {
		log_warn("inspection training: motion model camera=%s err=\"%s\"", t->camera, err);
		return rc;
	}
	n = motion_process(v->motion, &f->y, v->blobs, MOTION_BLOBS_MAX);
	if (n < 0)
		return n;
	d2 = nearest(t, v->blobs, n);
	if (d2 != INT64_MAX && d2 <= v->best_d2) { /* closer (or still): keep this view */
		plane_copy(&v->best, roi);
		v->best_d2 = d2;
		v->approaching = true;
		return MW_OK;
	}
	if (v->approaching && v->nboot < BOOT_PARTS) { /* moving away or gone: the last kept */
		if ((rc = plane_alloc(&v->boot[v->nboot], roi->width, roi->height)))
			return rc;
		plane_copy(&v->boot[v->nboot++], &v->best);
	}
	v->approaching = false;
	if (d2 == INT64_MAX)
		v->best_d2 = INT64_MAX;
	return MW_OK;
}

/* Runs the provisional inspector's trigger on one window. */
static int trigger_pick(struct inspect_trainer *t, const struct plane *roi, const struct frame *f)
{
	if (inspect__trigger(t->video->ins, roi, f) != 1)
		return MW_OK;
	return inspect__train_keep(t, inspect__peak(t->video->ins));
}

/* Steps 1 -> 2: the provisional model from the motion picks, then the
 * buffered windows through its trigger. */
static int bootstrap(struct inspect_trainer *t, char *err, size_t errlen)
{
	struct inspect_video *v = t->video;
	struct inspect_trainer boot = *t;
	struct inspect_model *m = NULL;
	struct inspect_options opt = {.camera = t->camera};
	int rc;

	boot.img = v->boot;
	boot.n = boot.cap = v->nboot;
	boot.video = NULL;
	rc = inspect__train_fit(&boot, true, &m, err, errlen);
	v->nboot = boot.n; /* the views it left out are freed */
	if (!rc)
		rc = inspect_new(&opt, m, &v->ins, err, errlen);
	for (int i = 0; !rc && i < v->ring_len; i++) {
		struct view *w = &v->ring[(v->ring_head + i) % v->ring_cap];

		if (w->first)
			inspect__trigger_reset(v->ins);
		rc = trigger_pick(t, &w->roi, NULL);
	}
	ring_free(v);
	motion_free(v->motion);
	v->motion = NULL;
	log_info("inspection training: provisional model from the first parts camera=%s "
		 "first_parts=%d buffered_parts_picked=%d", t->camera, v->nboot, t->n);
	return rc;
}

int inspect_train_frame(struct inspect_trainer *t, const struct frame *f)
{
	struct plane roi;
	char err[256];
	int rc;

	if (f->y.width != t->frame_w || f->y.height != t->frame_h)
		return MW_ERR_INVALID;
	if (!t->video && (rc = video_new(t)))
		return rc;
	roi = plane_view(&f->y, t->roi.x, t->roi.y, t->roi.w, t->roi.h);
	if (t->video->ins)
		return trigger_pick(t, &roi, f);
	if ((rc = ring_push(t->video, &roi)) || (rc = motion_pick(t, f, &roi)))
		return rc;
	if (t->video->nboot < BOOT_PARTS)
		return MW_OK;
	rc = bootstrap(t, err, sizeof(err));
	if (rc)
		log_warn("inspection training: bootstrap failed camera=%s err=\"%s\"", t->camera,
			 err);
	return rc;
}

void inspect_train_video_end(struct inspect_trainer *t)
{
	struct inspect_video *v = t->video;

	if (!v)
		return;
	v->new_video = true;
	v->approaching = false;
	v->best_d2 = INT64_MAX;
	motion_free(v->motion);
	v->motion = NULL;
	if (v->ins)
		inspect__trigger_reset(v->ins);
}

/* Falls back on the motion picks when the trigger found too few parts. */
static int take_boot(struct inspect_trainer *t)
{
	struct inspect_video *v = t->video;
	int rc = MW_OK;

	log_warn("inspection training: the trigger found only %d parts; learning from the %d "
		 "parts the motion model found instead camera=%s", t->n, v->nboot, t->camera);
	for (int i = 0; i < v->nboot && !rc; i++)
		rc = inspect__train_keep(t, &v->boot[i]);
	return rc;
}

int inspect__video_flush(struct inspect_trainer *t, char *err, size_t errlen)
{
	struct inspect_video *v = t->video;
	int rc = MW_OK, before = t->n;

	if (!v || (v->ins && v->nboot == 0))
		return MW_OK;
	if (!v->ins && v->nboot >= INSPECT_TRAIN_MIN)
		rc = bootstrap(t, err, errlen);
	if (!rc && t->n - before < (v->nboot + 1) / 2 && t->n < INSPECT_TRAIN_MIN)
		rc = take_boot(t);
	for (int i = 0; i < v->nboot; i++)
		plane_free(&v->boot[i]);
	v->nboot = 0;
	ring_free(v);
	return rc;
}
