/* pipeline.h -- one camera's analytics: the detectors its configuration
 * asks for, run on each frame in a fixed order, their findings into one
 * sink.
 *
 * The same pipeline serves the live worker (frames from a camera) and
 * `mw-edge analyze` (frames from files, as fast as they decode), so a
 * quality engineer tuning thresholds on recorded footage sees exactly the
 * events the line will raise. Detectors need the frame size, which a
 * camera only tells once it delivers, so the pipeline is built on the
 * first frame; a frame of another size later (a camera reconfigured)
 * rebuilds it. A configuration that does not fit the frames (a zone
 * outside them, a model of another resolution) fails pipeline_process()
 * with an error naming the camera and the cause. */
#ifndef MW_VISION_PIPELINE_H
#define MW_VISION_PIPELINE_H

#include "vision/count.h"
#include "vision/inspect.h"
#include "vision/zone.h"

#define PIPELINE_ZONES_MAX 16

struct pipeline_options {
	const char *camera;

	/* safety zones: none when nzones == 0 */
	struct zone_def zones[PIPELINE_ZONES_MAX];
	int nzones;
	int64_t zone_enter_ms, zone_leave_ms;
	struct motion_options motion; /* for zones and counting */

	/* counting: off when count_line[0] == count_line[1] */
	struct point count_line[2];
	int count_direction;
	unsigned count_codes;
	int64_t count_min_gap_ms;

	/* inspection: off when inspect_model is "" */
	char inspect_model[1024]; /* path of the model file `mw-edge train` wrote */
	double inspect_threshold; /* 0 = the model's own */
	enum severity inspect_severity;
};

struct pipeline_stats {
	uint64_t frames;
	uint64_t events;
	uint64_t sink_errors;
	int64_t busy_ns; /* time spent in the detectors */
};

struct pipeline;

/* Copies the options; nothing is checked against frames yet. */
int pipeline_new(const struct pipeline_options *opt, struct pipeline **out) MW_MUST_CHECK;
void pipeline_free(struct pipeline *p);

/* Runs every configured detector on the frame. MW_OK, or MW_ERR_INVALID
 * when the configuration does not fit the frames (pipeline_error() says
 * why; the pipeline then stays failed until the frame size changes), or
 * MW_ERR_NOMEM. A sink error is counted, not returned. */
int pipeline_process(struct pipeline *p, const struct frame *f, const struct vision_sink *sink)
	MW_MUST_CHECK;
/* At the end of a stream: emits what waits (counted parts whose code was
 * still being read). */
void pipeline_flush(struct pipeline *p, const struct vision_sink *sink);
const char *pipeline_error(const struct pipeline *p);
void pipeline_stats(const struct pipeline *p, struct pipeline_stats *out);
/* Whether any detector is configured at all. */
bool pipeline_has_detectors(const struct pipeline_options *opt);

#endif
