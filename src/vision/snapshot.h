/* snapshot.h -- JPEG evidence snapshots of a luma plane (libjpeg-turbo).
 *
 * A detector that reports a finding hands the sink the plane it saw; the
 * sink turns it into a small grayscale JPEG that the edge stores by content
 * hash (edge/blobs.h) and references from the event's `blobs`.
 *
 * A struct snapshot_encoder holds the TurboJPEG handle and the swscale
 * context for downscaling, so that a camera thread encoding many snapshots
 * allocates them once. An encoder is used by one thread at a time: give
 * each camera thread its own (they are small). */
#ifndef MW_VISION_SNAPSHOT_H
#define MW_VISION_SNAPSHOT_H

#include "core/buf.h"
#include "core/mw.h"
#include "vision/vision.h"

#define SNAPSHOT_QUALITY_DEFAULT 80

struct snapshot_encoder;

int snapshot_encoder_new(struct snapshot_encoder **out) MW_MUST_CHECK;
void snapshot_encoder_free(struct snapshot_encoder *enc);

/* Encodes luma as a grayscale JPEG and appends it to out. highlight, when
 * not NULL, is drawn as a rectangle outline (a white line inside a black
 * one, visible on any background) on a copy; luma is never changed. The
 * image is downscaled (area averaging, aspect kept) so its width is at
 * most max_width (0 = full size). quality is 1..100. enc may be NULL: a
 * handle is then made and freed for this call alone. */
int snapshot_jpeg(struct snapshot_encoder *enc, const struct plane *luma,
		  const struct bbox *highlight, int max_width, int quality,
		  struct buf *out) MW_MUST_CHECK;

#endif
