/* zone.h -- safety zones: polygons on a fixed camera's view that raise an
 * alarm when something moves inside them.
 *
 * A zone detector runs the motion model (motion.h) on every frame and
 * decides, per zone, whether a blob is inside: a blob counts when at least
 * min_overlap of its box lies within the polygon. Each zone then goes
 * through a small state machine driven by stream time (frame->pts_ns, so
 * a file analysed faster than real time gives the same events):
 *
 *   empty -> pending   something inside, for less than enter_ms (debounce)
 *   pending -> occupied  still inside after enter_ms: emit zone.intrusion
 *   occupied -> clearing nothing inside, for less than leave_ms (hysteresis);
 *                        back to occupied if something returns, no new event
 *   clearing -> empty    emit zone.clear with the time spent in the zone
 *
 * One person walking in, standing and leaving is exactly one intrusion and
 * one clear, even if the person vanishes from the mask for a few frames.
 *
 * Events: zone.intrusion (the zone's severity; attrs zone, bbox [x,y,w,h]
 * of the largest blob inside, area, objects, dwell_ms = 0; snapshot = the
 * frame's luma) and zone.clear (info; attrs zone, dwell_ms = from the first
 * frame something was inside to the first frame nothing was). */
#ifndef MW_VISION_ZONE_H
#define MW_VISION_ZONE_H

#include "vision/motion.h"
#include "vision/vision.h"

#define ZONE_POINTS_MAX 16

/* Vertices are pixel corners: (0,0) is the frame's top-left corner and
 * (width,height) its bottom-right one, both allowed. Points and edges are
 * numbered from 1 in error messages; edge k runs from point k to k+1. */
struct zone_def {
	char name[VISION_ID_MAX + 1];
	struct point pts[ZONE_POINTS_MAX];
	int npts;
	enum severity severity; /* of zone.intrusion; SEV_DEBUG (the zero value) = alarm */
};

struct zone_options {
	const char *camera;	      /* event source */
	const struct zone_def *zones; /* copied by zone_detector_new() */
	int nzones;
	struct motion_options motion;
	int64_t enter_ms; /* an object must be in the zone this long before the event; 0 = 200 */
	int64_t leave_ms; /* the zone must be empty this long before the intrusion ends; 0 = 1000 */
	double min_overlap; /* fraction of a blob's box inside the polygon that counts; 0 = 0.2 */
};

struct zone_detector;

/* Checks every zone and returns MW_ERR_INVALID with err naming the camera,
 * the zone and the cause, e.g. "camera cam1: zone robot-cell: point 3
 * (1950,20) is outside the 1920x1080 frame" or "...: edges 1 and 3 cross";
 * also fewer than 3 points, zero area and duplicate names. */
int zone_detector_new(const struct zone_options *opt, int width, int height,
		      struct zone_detector **out, char *err, size_t errlen) MW_MUST_CHECK;
void zone_detector_free(struct zone_detector *d);

/* Analyses one frame and emits the events it causes into sink. Returns
 * MW_OK, or MW_ERR_INVALID for a frame of another size. A failing sink is
 * logged and otherwise ignored. */
int zone_detector_process(struct zone_detector *d, const struct frame *f,
			  const struct vision_sink *sink) MW_MUST_CHECK;

/* The moving objects found in the last frame processed, for other
 * detectors of the same camera (counting) so the motion model runs once. */
const struct blob *zone_detector_blobs(const struct zone_detector *d, int *n);

/* Validates one polygon alone (what zone_detector_new() does per zone),
 * for config checks that have no detector. */
int zone_check(const char *camera, const struct zone_def *z, int width, int height, char *err,
	       size_t errlen) MW_MUST_CHECK;

#endif
