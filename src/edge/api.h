/* api.h -- the edge's local HTTP API (docs/protocol.md, "Edge local API").
 *
 * Served by libmicrohttpd on a loopback TCP address and on a unix socket,
 * both with the same routes: POST /v1/events, POST /v1/blobs, PUT /v1/cameras,
 * GET /v1/status, /healthz, /metrics. Producers (apps, scripts) post events
 * here and get the store's durability, the chain and the forwarding for free.
 * The vision worker also reports its cameras' health here (PUT /v1/cameras),
 * which the edge shows in /v1/status and /metrics. */
#ifndef MW_EDGE_API_H
#define MW_EDGE_API_H

#include "core/event.h"
#include "core/mw.h"
#include "edge/actions.h"
#include "edge/blobs.h"
#include "edge/store.h"
#include "edge/uplink.h"
#include "edge/worker.h"

#include <stddef.h>
#include <stdint.h>

struct api;

struct api_options {
	const char *listen;	 /* "host:port" (port 0 = any free); "" = no TCP */
	const char *socket_path; /* unix socket; "" = none */
	const char *token;	 /* bearer token every route but /healthz needs */
	size_t max_body;
	const char *node;
	struct store *store;
	struct uplink *uplink; /* NULL when the uplink is off */
	struct actions *actions;
	struct blobs *blobs;   /* evidence snapshots; NULL = /v1/blobs answers 503 */
	const uint64_t *appended; /* events appended since start (read atomically) */
	struct worker *worker;    /* the vision worker's supervisor; NULL = no cameras */
};

/* PUT /v1/cameras: the vision worker's report of all its cameras. */
#define API_CAMERAS_MAX 64
#define API_CAMERA_ERROR_MAX 256   /* bytes of last_error kept (longer is cut) */
#define API_CAMERA_STALE_MS 10000  /* a report older than this shows state "unknown" */

enum api_camera_state {
	API_CAM_CONNECTING,
	API_CAM_RUNNING,
	API_CAM_RECONNECTING,
	API_CAM_ENDED,
	API_CAM_STOPPED,
	API_CAM_FAILED,
	API_CAM_UNKNOWN, /* never sent: the report is stale */
};

struct api_camera {
	char id[EVENT_ID_MAX + 1];
	enum api_camera_state state;
	uint64_t frames_in, frames_analysed, frames_dropped, reconnects, events;
	double fps_in, fps_analysed;
	int64_t width, height;
	char last_error[API_CAMERA_ERROR_MAX + 1];
};

/* Parses a PUT /v1/cameras body, {"cameras": [{"id": ..., "state": ...,
 * "frames_in": N, ...}]}, into out (room for API_CAMERAS_MAX) and *n. id
 * and state are required, the other fields default to 0 or ""; unknown
 * fields are refused. On MW_ERR_INVALID err names the field
 * ("cameras[2].fps_in: ..."). */
int api_cameras_parse(const char *body, size_t len, struct api_camera *out, size_t *n, char *err,
		      size_t errlen) MW_MUST_CHECK;
/* "connecting", "running", ... "unknown". */
const char *api_camera_state_name(enum api_camera_state s);

int api_start(const struct api_options *opt, struct api **out) MW_MUST_CHECK;
/* The TCP address actually bound ("127.0.0.1:40123"); "" when TCP is off. */
const char *api_address(const struct api *a);
/* {"cameras": [...], "vision_worker": {...}} as /v1/status shows them, for
 * the heartbeat; NULL without memory. */
json_t *api_vision_json(struct api *a);
/* Stops serving (waits for requests in progress) and frees. */
void api_free(struct api *a);

#endif
