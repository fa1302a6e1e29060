/* motion.h -- what moves in a fixed camera's view: an adaptive background
 * model, the foreground mask, noise clean-up and connected components.
 *
 * Safety zones and part counting both start here: they see a frame as a
 * list of blobs (foreground regions with a box, an area and a centroid).
 * The model is compact on purpose (a few bytes of state per pixel, not the
 * ~60 of a Gaussian mixture) so that one core keeps up with 1080p, and it
 * works on a downscaled copy of the luma plane (options.scale) because a
 * person or a part covers hundreds of pixels even at a quarter of the
 * resolution. Boxes and centroids are reported in full-frame pixels.
 *
 * Lighting that changes over the whole view (drift, clouds, a lamp warming
 * up) is compensated each frame: a gain and offset fitted between the
 * background and the frame, on the pixels that fit it, are applied to the
 * background before comparing. A change no gain explains over most of the
 * frame (the camera bumped, lights switched in one area) restarts the model
 * from the current frame, so detection resumes within two frames instead of
 * reporting one huge blob. */
#ifndef MW_VISION_MOTION_H
#define MW_VISION_MOTION_H

#include "vision/vision.h"

#define MOTION_BLOBS_MAX 256

struct blob {
	struct bbox box; /* full-frame pixels */
	int area;        /* foreground pixels, in full-frame pixels (scaled up) */
	int cx, cy;      /* centroid, full-frame pixels */
};

struct motion_options {
	int scale;          /* analyse at 1/scale resolution: 1, 2, 4 or 8; 0 = 4 */
	int threshold;      /* grey levels of difference that count as foreground; 0 = 25 */
	int learn_frames;   /* frames before the model reports anything; 0 = 25 */
	double learn_rate;  /* background update per frame where no foreground, 0..1; 0 = 0.02 */
	int min_area;       /* smallest blob reported, full-frame pixels; 0 = 400 */
	double relearn_frac; /* fraction of foreground that means a global change; 0 = 0.6 */
};

struct motion;

/* MW_ERR_INVALID with err naming the bad option or size. */
int motion_new(const struct motion_options *opt, int width, int height, struct motion **out,
	       char *err, size_t errlen) MW_MUST_CHECK;
void motion_free(struct motion *m);

/* Updates the model with the frame's luma and finds the blobs, largest
 * first, at most MOTION_BLOBS_MAX. Returns the number of blobs (0 while
 * learning or after a global change) or a negative enum mw_err. The frame
 * must have the size given to motion_new(). */
int motion_process(struct motion *m, const struct plane *luma, struct blob *blobs,
		   int max_blobs) MW_MUST_CHECK;

/* The last foreground mask (0 or 255 per pixel), at analysis resolution;
 * for snapshots and debugging. Valid until the next motion_process(). */
const struct plane *motion_mask(struct motion *m);

#endif
