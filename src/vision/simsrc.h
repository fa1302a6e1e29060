/* simsrc.h -- a camera that films the synthetic line (scene.h).
 *
 * `url: sim://conveyor?people_per_min=2&defect_rate=0.1` in a camera's
 * config plays generated scenes as if a camera delivered them: at their
 * frame rate when realtime, endlessly (a clip that ends is followed by the
 * next seed). The demo uses it, and so can anyone trying Millwright
 * without a camera. Query keys are scene_params' fields: width, height,
 * fps, seed, design, parts_per_min, defect_rate, people_per_min, drift, noise,
 * blur, code (none|datamatrix|qr), belt_stops (0|1). */
#ifndef MW_VISION_SIMSRC_H
#define MW_VISION_SIMSRC_H

#include "vision/camera.h"
#include "vision/scene.h"

#define SIMSRC_PREFIX "sim://conveyor"

/* Parses a sim:// URL into scene parameters; MW_ERR_INVALID with err
 * naming the key and the camera. */
int simsrc_parse(const char *camera, const char *url, struct scene_params *out, char *err,
		 size_t errlen) MW_MUST_CHECK;

/* A frame_source for camera_start() (it takes it). */
int simsrc_new(const char *camera, const char *url, bool realtime, struct frame_source *out,
	       char *err, size_t errlen) MW_MUST_CHECK;

#endif
