/* inspect.h -- visual inspection: a variation model learned from good parts.
 *
 * A camera looks at a fixed region of interest (ROI) that parts pass
 * through or stop in. Training learns, from images of good parts cropped
 * to the ROI, the mean appearance of a part and how much each pixel may
 * vary; the inspector then finds each part in the video (a part-present
 * trigger that fires once per part, at the frame where it is best
 * centred), aligns it to the model and reports `inspection.defect` or
 * `inspection.pass`. inspect.c explains the method; inspect_model.c the
 * training and the file format. */
#ifndef MW_VISION_INSPECT_H
#define MW_VISION_INSPECT_H

#include "vision/motion.h"
#include "vision/vision.h"

#define INSPECT_TRAIN_MIN 10 /* good images needed to train */
#define INSPECT_IGNORE_MAX 8 /* ignore boxes */

struct inspect_options {
	const char *camera;   /* camera id: events' source; checked against the model's */
	struct bbox roi;      /* frame pixels; w = h = 0 at inspect_new(): the model's */
	double threshold;     /* defect score threshold; 0 = the model's default */
	double presence;      /* part-present correlation, 0..1; 0 = the model's default */
	int max_shift;        /* alignment range in pixels (training only); 0 = 8 */
	double max_angle_deg; /* alignment range in degrees (training only); 0 = 4 */
	/* severity of inspection.defect; SEV_DEBUG (0, the zero value) means the
	 * default, SEV_WARNING: a defect reported at debug level would be lost. */
	enum severity severity;
	/* training from video only: the motion model that finds the first
	 * parts (inspect_train_frame()); zero values are motion.h's defaults */
	struct motion_options motion;
	/* training only: boxes (frame pixels, where the part lies when centred
	 * in the ROI) left uninspected, e.g. a date stamp that was the same on
	 * every training part; variable print that does vary in training (serial
	 * codes) is found without them. Recorded in the model. */
	struct bbox ignore[INSPECT_IGNORE_MAX];
	int nignore;
};

struct inspect_trainer;
struct inspect_model;
struct inspector;

/* ---- training (inspect_model.c) ---------------------------------------- */

/* MW_ERR_INVALID with err naming the bad option (ROI outside the frame, too
 * small for the alignment range...). */
int inspect_train_new(const struct inspect_options *opt, int frame_w, int frame_h,
		      struct inspect_trainer **out, char *err, size_t errlen) MW_MUST_CHECK;
/* Adds one good part, already cropped to the ROI (its size must be the ROI's). */
int inspect_train_add(struct inspect_trainer *t, const struct plane *roi_image) MW_MUST_CHECK;
/* Feeds one frame (frame_w x frame_h) of a video of good parts. Each part
 * is taken once, in the very view the live trigger (inspect_process())
 * would inspect: the first parts are found with the motion model (their
 * views bootstrap a provisional model), then the frames so far, kept in a
 * bounded buffer, and all later ones go through the inspector's own
 * trigger with that model, and what it picks is what the model learns. */
int inspect_train_frame(struct inspect_trainer *t, const struct frame *f) MW_MUST_CHECK;
/* Ends a video: the next frame starts another one (a part cut off by the
 * end is dropped, as the live trigger would never have inspected it). */
void inspect_train_video_end(struct inspect_trainer *t);
/* Good views taken so far (images added and parts picked in videos; the
 * parts still in the bootstrap buffer count once they are picked). */
int inspect_train_count(const struct inspect_trainer *t);
/* Learns the model from the images added (at least INSPECT_TRAIN_MIN) and
 * chooses its default threshold. The trainer stays valid and must be freed. */
int inspect_train_finish(struct inspect_trainer *t, struct inspect_model **out, char *err,
			 size_t errlen) MW_MUST_CHECK;
void inspect_train_free(struct inspect_trainer *t);

/* ---- model files (inspect_model.c) ------------------------------------- */

/* Writes path.tmp, fsyncs it and renames it over path. */
int inspect_model_save(const struct inspect_model *m, const char *path, char *err,
		       size_t errlen) MW_MUST_CHECK;
/* Reads and checks a model for a camera giving frame_w x frame_h frames;
 * camera NULL or frame_w 0 skip those checks. Refusals (MW_ERR_INVALID, or
 * MW_ERR_IO when unreadable) say why in err, naming the file and camera. */
int inspect_model_load(const char *path, const char *camera, int frame_w, int frame_h,
		       struct inspect_model **out, char *err, size_t errlen) MW_MUST_CHECK;
/* The checks of inspect_model_load() on bytes in memory, except the camera
 * and resolution, which the caller compares. */
int inspect_model_parse(const void *data, size_t len, struct inspect_model **out, char *err,
			size_t errlen) MW_MUST_CHECK;
void inspect_model_free(struct inspect_model *m);

const char *inspect_model_camera(const struct inspect_model *m);
struct bbox inspect_model_roi(const struct inspect_model *m);
double inspect_model_threshold(const struct inspect_model *m);

/* ---- inspection (inspect.c) -------------------------------------------- */

/* Takes the model (freed here on failure too). */
int inspect_new(const struct inspect_options *opt, struct inspect_model *model,
		struct inspector **out, char *err, size_t errlen) MW_MUST_CHECK;
void inspect_free(struct inspector *ins);

/* Feeds one frame (of the model's size). Emits inspection.defect or
 * inspection.pass when a part has been seen best centred. Returns the
 * number of events emitted (0 or 1) or a negative enum mw_err; a sink
 * error is logged, not returned. */
int inspect_process(struct inspector *ins, const struct frame *frame,
		    const struct vision_sink *sink) MW_MUST_CHECK;

/* Aligns and scores one image of the ROI's size, without the trigger: for
 * evaluation and tuning. defect (may be NULL) gets the defect's box in
 * ROI pixels, w = h = 0 when there is none. */
int inspect_score(struct inspector *ins, const struct plane *roi_image, double *score,
		  struct bbox *defect) MW_MUST_CHECK;
/* The threshold in force (the option, or the model's default). */
double inspect_threshold(const struct inspector *ins);

#endif
