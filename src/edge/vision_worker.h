/* vision_worker.h -- the parts of mw-edge-vision, the cameras' worker
 * process (internal to src/edge/vision_*.c).
 *
 * Why a separate process: linking FFmpeg costs ~25 MiB of resident memory
 * before a single frame, and a decoder fed a hostile stream is the likeliest
 * thing on the edge to crash. In its own process neither touches the
 * daemon, which keeps storing and forwarding events and restarts the worker.
 * The worker talks to the daemon like any local app: events and snapshots
 * over the local API's unix socket. */
#ifndef MW_EDGE_VISION_WORKER_H
#define MW_EDGE_VISION_WORKER_H

#include "core/buf.h"
#include "core/http.h"
#include "edge/config.h"
#include "vision/camera.h"
#include "vision/pipeline.h"
#include "vision/snapshot.h"

#include <pthread.h>
#include <stdio.h>

/* ---- setup (vision_setup.c) ---- */

/* The pipeline a camera's config asks for. */
int vw__pipeline_options(const struct edge_config *c, const struct edge_camera_config *cam,
			 struct pipeline_options *out, char *err, size_t errlen) MW_MUST_CHECK;
/* A frame source for the camera's url (a file, stream, device or sim://). */
int vw__source(const struct edge_camera_config *cam, bool realtime, struct frame_source *out,
	       char *err, size_t errlen) MW_MUST_CHECK;
/* The camera with this id, or the only one when id is NULL; NULL and a
 * message in err otherwise. */
const struct edge_camera_config *vw__find_camera(const struct edge_config *c, const char *id,
						 char *err, size_t errlen);

/* ---- sinks (vision_sink.c) ---- */

/* Posts events (and their snapshots, first) to the daemon's local API. One
 * per camera: it is used by that camera's analysis thread alone. */
struct vw_api_sink {
	const char *socket; /* the local API's unix socket */
	const char *token;
	int max_width, quality; /* of snapshots */
	struct http_client *http;
	struct snapshot_encoder *enc;
	struct buf jpeg;
	uint64_t posted, failed;
};

int vw__api_sink_init(struct vw_api_sink *s, const struct edge_config *c,
		      const struct edge_camera_config *cam) MW_MUST_CHECK;
void vw__api_sink_free(struct vw_api_sink *s);
int vw__api_emit(void *arg, struct event *e, const struct plane *snapshot);
/* PUT body to path with the token (camera health); MW_OK on a 2xx answer. */
int vw__api_put(struct vw_api_sink *s, const char *path, const char *body) MW_MUST_CHECK;

/* Writes events as JSON lines (mw-edge analyze). */
struct vw_jsonl_sink {
	FILE *out;
	const char *input;	/* the file being analysed */
	const struct frame *frame; /* the frame being analysed */
	const char *snap_dir;	/* save snapshots here ("" = don't) */
	int max_width, quality;
	struct snapshot_encoder *enc;
	struct buf jpeg;
	uint64_t events;
	uint64_t by_kind_defect, by_kind_pass, by_kind_count, by_kind_zone;
};

int vw__jsonl_sink_init(struct vw_jsonl_sink *s, FILE *out, const char *snap_dir)
	MW_MUST_CHECK;
void vw__jsonl_sink_free(struct vw_jsonl_sink *s);
int vw__jsonl_emit(void *arg, struct event *e, const struct plane *snapshot);

/* ---- modes ---- */

int vw__run(const struct edge_config *c);                            /* vision_run.c */
int vw__analyze(const struct edge_config *c, int argc, char **argv); /* vision_analyze.c */
int vw__train(const struct edge_config *c, int argc, char **argv);   /* vision_train.c */

#endif
