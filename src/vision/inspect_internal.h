/* inspect_internal.h -- what inspect.c (alignment, scoring, trigger) and
 * inspect_model.c (training, model files) share; not for other modules. */
#ifndef MW_VISION_INSPECT_INTERNAL_H
#define MW_VISION_INSPECT_INTERNAL_H

#include "vision/inspect.h"
#include "vision/motion.h"

#define INSPECT_MEAN_UNIT (1.0 / 64) /* model mean: grey levels per step (uint16) */
#define INSPECT_DEV_UNIT 0.5         /* model deviation: grey levels per step (uint8) */
#define INSPECT_NORM 128.0           /* parts are brightness-normalised to this mean */
#define INSPECT_EPS 2.0              /* added to the deviation: sensor noise floor */
#define INSPECT_K 4.0                /* deviations from the mean that make a pixel anomalous */
#define INSPECT_DEV_FREE 255         /* deviation of a pixel that is not inspected */
#define INSPECT_EDGE_PX 0.4          /* alignment error allowed across edges, pixels */

struct inspect_model {
	char camera[VISION_ID_MAX + 1];
	int frame_w, frame_h;
	struct bbox roi;
	double threshold;     /* default defect score threshold */
	double presence;      /* default part-present correlation */
	double k;             /* anomaly factor */
	double max_angle_deg; /* alignment range; 1 degree steps */
	int max_shift;        /* alignment range, pixels; the template's margin in the ROI */
	int tw, th;           /* template: the ROI less max_shift on every side */
	int ntrain;           /* images it was learned from */
	uint16_t *mean;       /* tw * th, INSPECT_MEAN_UNIT */
	uint8_t *dev;         /* tw * th, INSPECT_DEV_UNIT */
};

/* Where a part lies in the ROI: template pixel u maps to ROI pixel
 * M + c + d + R(a)(u - c), c the template's centre, M the margin. */
struct inspect_pose {
	double dx, dy, a; /* pixels, radians */
	double ncc;       /* normalised cross-correlation at that pose */
};

struct inspect_align;

/* Rotated templates of the tw x th float image t, for ROIs of w x h; a
 * pixel counts in the correlation with its weight (0..1; NULL = all 1). */
int inspect__align_new(const float *t, const float *weight, int tw, int th, int w, int h,
		       int margin, double max_angle_deg, struct inspect_align **out) MW_MUST_CHECK;
void inspect__align_free(struct inspect_align *al);
/* Coarse-to-fine search for the part in roi (w x h). */
void inspect__align(struct inspect_align *al, const struct plane *roi, struct inspect_pose *p);
/* The same, for the trigger: when the coarse search's NCC falls under gate
 * the full-resolution search is skipped and p gets the coarse pose and NCC
 * (the part is not there, or not well enough to matter). Returns whether
 * the full search ran. */
bool inspect__align_gated(struct inspect_align *al, const struct plane *roi, double gate,
			  struct inspect_pose *p);
/* Samples roi at the pose into out (tw x th), brightness-normalised so
 * its mean over the pixels that count (weight, NULL = all) is
 * INSPECT_NORM: a serial code's share of ink must not move the gain.
 * Returns the mean it divided out. */
double inspect__extract(const struct plane *roi, int margin, int tw, int th,
			const struct inspect_pose *p, const float *weight, float *out);

/* Per-pixel reference for scoring: mean and 1 / (deviation + eps); weight
 * 0 where the pixel is free (INSPECT_DEV_FREE: a variable print), else 1. */
void inspect__reference(const struct inspect_model *m, float *mean, float *inv, float *weight);

/* The grey levels an alignment error of INSPECT_EDGE_PX makes at (x, y) of
 * the mean image: added to the allowed deviation, so an edge a fraction of
 * a pixel off is not a defect (a scratch or spot on a flat face, where the
 * mean has no gradient, gains nothing). */
double inspect__edge(const float *mean, int tw, int th, int x, int y);

struct inspect_scorer;
int inspect__scorer_new(int tw, int th, struct inspect_scorer **out) MW_MUST_CHECK;
void inspect__scorer_free(struct inspect_scorer *s);
/* Scores a normalised aligned image x against (mean, inv): the anomaly
 * summed over the worst connected region; box gets that region in
 * template pixels (w = 0 if none). The region's pixels are marked in the
 * scorer's label map (inspect__scorer_region) until the next call. */
double inspect__score(struct inspect_scorer *s, const float *x, const float *mean,
		      const float *inv, double k, struct bbox *box);
/* 1 where the last scored region lies, else 0 (tw x th). */
const uint8_t *inspect__scorer_region(const struct inspect_scorer *s);

struct inspect_model *inspect__model_alloc(int tw, int th);

/* The trainer: the good views it learns from (images given to it, and the
 * parts inspect_video.c picked in videos), and the video picker's state. */
struct inspect_trainer {
	char camera[VISION_ID_MAX + 1];
	int frame_w, frame_h, max_shift;
	double max_angle;
	struct bbox roi;
	struct motion_options motion;
	struct bbox ignore[INSPECT_IGNORE_MAX]; /* frame pixels */
	int nignore;
	struct plane *img;
	int n, cap;
	struct inspect_video *video; /* NULL until the first video frame */
};

/* Adds a copy of img (the ROI's size) to the trainer's good views. */
int inspect__train_keep(struct inspect_trainer *t, const struct plane *img) MW_MUST_CHECK;
/* Learns a model from the trainer's views; the work of inspect_train_finish(). */
int inspect__train_fit(struct inspect_trainer *t, bool quiet, struct inspect_model **out,
		       char *err, size_t errlen) MW_MUST_CHECK;
/* inspect_video.c: picks still pending become views (at inspect_train_finish()). */
int inspect__video_flush(struct inspect_trainer *t, char *err, size_t errlen) MW_MUST_CHECK;
void inspect__video_free(struct inspect_video *v);

/* The live trigger on one view of the ROI (inspect.c): 1 when the part
 * followed so far has just been judged best seen, its view then in
 * inspect__peak(); else 0. */
int inspect__trigger(struct inspector *ins, const struct plane *roi, const struct frame *f);
const struct plane *inspect__peak(const struct inspector *ins);
/* Forgets the part being followed: the next view starts a new video. */
void inspect__trigger_reset(struct inspector *ins);

#endif
