/* count.h -- counting parts that cross a line on a conveyor, and reading
 * each counted part's serial code.
 *
 * The counter sees each frame as the blobs the motion stage found
 * (vision/motion.h) and follows them with a small tracker: greedy
 * nearest-neighbour matching of blobs to tracks, each track's position
 * predicted from its velocity, so a part missing for a few frames (a hand
 * over it, a light flicker) keeps its track and is not counted twice.
 * A part counts when its track's centroid goes from one side of the line to
 * the other in the counted direction; a band around the line, a quarter of
 * the part's size deep, absorbs the jitter of a part that stops on it.
 * Each count is a `part.counted` event. With codes enabled the code is
 * looked for while the part, wholly in view, approaches the line (a few
 * searches, a couple of frames apart), so the event normally goes out at
 * the crossing with its code; a part seen too briefly before the line has
 * its event held for the searches it has left. */
#ifndef MW_VISION_COUNT_H
#define MW_VISION_COUNT_H

#include "vision/codes.h"
#include "vision/motion.h"
#include "vision/vision.h"

#define COUNT_TRACKS_MAX 64	 /* parts followed at once; extra blobs are ignored */
#define COUNT_CODE_TRIES 3	 /* code searches per part, before and after its crossing */
#define COUNT_CODE_TIMEOUT_MS 50 /* bound on one Data Matrix search */

struct count_options {
	const char *camera;   /* the events' source */
	struct point line[2]; /* the count line, in frame pixels */
	/* +1: count crossings from the left/top side to the other, -1 the opposite, 0 both */
	int direction;
	/* ignore a second crossing of the same track within this time */
	int64_t min_gap_ms;
	/* enum code_symbology mask read on each counted part; 0 = none */
	unsigned codes;
	int max_match_px;	  /* tracking gate; 0 = 80 */
	int64_t track_timeout_ms; /* a track unseen this long is dropped; 0 = 1000 */
};

struct counter;

/* MW_ERR_INVALID with err naming the camera and the bad option: line
 * endpoints outside the frame or equal, direction not -1/0/+1, unknown
 * symbologies, negative times or gate. */
int counter_new(const struct count_options *opt, int width, int height, struct counter **out,
		char *err, size_t errlen) MW_MUST_CHECK;
void counter_free(struct counter *c);

/* Tracks the frame's blobs and emits a `part.counted` event into sink for
 * each crossing (and for earlier crossings whose code wait ended). The frame
 * must have the size given to counter_new(); times come from frame->pts_ns.
 * Returns MW_OK or a negative enum mw_err (bad arguments, no memory). */
int counter_process(struct counter *c, const struct frame *frame, const struct blob *blobs,
		    int nblobs, const struct vision_sink *sink) MW_MUST_CHECK;

/* At the end of a stream: emits the counts still waiting for a code, as
 * code_missing (without a snapshot). */
void counter_flush(struct counter *c, const struct vision_sink *sink);

/* Parts counted since counter_new(), including those whose event waits for a code. */
uint64_t counter_total(const struct counter *c);

#endif
