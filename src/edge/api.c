/* api.c -- the edge's local API over libmicrohttpd; see api.h.
 *
 * We bind both listening sockets ourselves and hand them to MHD
 * (MHD_OPTION_LISTEN_SOCKET): that gives one code path for TCP and the unix
 * socket, lets port 0 pick a free port whose number we can read back, and
 * lets us set the socket file's mode. Each socket gets its own MHD daemon
 * with a small thread pool; both use the same handler.
 *
 * A POST is checked (route, method, token, declared length) before its body
 * is read, so a wrong token or an oversized body costs nothing. The body
 * is then gathered into a capped buffer and handled at the last callback:
 * every event is parsed and validated first, and only then are all of them
 * appended with one store_append() call, so a request is all or nothing and
 * the 201 means durable.
 *
 * POST /v1/blobs takes raw bytes (a JPEG snapshot) under blobs.max_size
 * rather than api.max_body, stores them content-addressed (edge/blobs.h)
 * and answers their hash. An event may only name blobs this edge holds:
 * the check happens before the append, so an accepted event's evidence is
 * on disk (the blob quota may still delete it later; see blobs.h). After
 * the append each referenced blob learns the event's severity, which
 * keeps alarm evidence longest under the quota.
 *
 * PUT /v1/cameras is the vision worker's report of every camera's health,
 * sent every few seconds. Each report replaces the last one whole (the
 * worker knows its cameras; the edge keeps no history), under a mutex since
 * the pool threads read it for /v1/status and /metrics. A report older
 * than API_CAMERA_STALE_MS is shown with state "unknown": the worker that
 * would refresh it is gone or stuck. The body parser, api_cameras_parse(),
 * is free of HTTP so the fuzzer reaches it directly. */
#include "edge/api.h"

#include "core/buf.h"
#include "core/event.h"
#include "core/hash.h"
#include "core/log.h"
#include "edge/blobs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define POOL_TCP 4
#define POOL_UNIX 2
#define CONN_TIMEOUT_S 30
#define ERR_MAX 512

struct api {
	struct api_options opt;
	char *token, *node, *socket_path;
	uint8_t token_hash[HASH_LEN];
	struct MHD_Daemon *tcp, *unix_d;
	char address[128];
	pthread_mutex_t cam_mu; /* the cameras' last report */
	struct api_camera *cams;
	size_t ncams;
	int64_t cams_at; /* mw_mono_ns() of the report */
};

enum route { R_NONE, R_EVENTS, R_STATUS, R_HEALTH, R_METRICS, R_BLOBS, R_CAMERAS };

struct request {
	struct buf body;
	bool too_big;
	enum route route;
};

/* ---- answers ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body, size_t len, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_empty(struct MHD_Connection *c, unsigned status)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j,
				  const char *allow)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	size_t n = strlen(text);
	char *body = realloc(text, n + 2);
	if (!body) {
		free(text);
		return MHD_NO;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	return reply(c, status, "application/json", body, n + 1, allow);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *allow,
				   const char *fmt, ...) MW_PRINTF(4, 5);
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *allow,
				   const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_warn("api answer status=%u err=\"%s\"", status, msg);
	else
		log_debug("api answer status=%u err=\"%s\"", status, msg);
	return reply_json(c, status, json_pack("{s:s}", "error", msg), allow);
}

/* ---- POST /v1/events ---- */

/* Finds the list of events in the body; *prefix tells how to name them. */
static const json_t *event_list(const json_t *root, bool *single, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	*single = false;
	if (json_is_array(root))
		return root;
	if (!json_is_object(root)) {
		snprintf(err, errlen,
			 "body: must be an event object, an array of events or "
			 "{\"events\": [...]}");
		return NULL;
	}
	if (!json_object_get(root, "events")) {
		*single = true;
		return root;
	}
	json_object_foreach((json_t *)root, key, v)
	{
		if (strcmp(key, "events") != 0) {
			snprintf(err, errlen,
				 "%.64s: unknown field (a batch is {\"events\": [...]})", key);
			return NULL;
		}
	}
	v = json_object_get(root, "events");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "events: must be an array of events");
		return NULL;
	}
	return v;
}

/* The store writes `store.dropped` events from source `store` itself, and
 * carries their ranges forward when it drops them: a producer must not be
 * able to pass one off as the store's own. */
static int check_reserved(struct event *e, char *err, size_t errlen)
{
	if (strcmp(e->source, "store") != 0 && strncmp(e->kind, "store.", 6) != 0)
		return MW_OK;
	snprintf(err, errlen, "%s: reserved for the edge's own store events",
		 strcmp(e->source, "store") == 0 ? "source" : "kind");
	event_clear(e);
	return MW_ERR_INVALID;
}

static int parse_events(const json_t *root, struct event **out, size_t *n, char *err, size_t errlen)
{
	char e1[ERR_MAX - 32];
	bool single;
	const json_t *list = event_list(root, &single, err, errlen);
	struct event *ev;
	size_t count;

	if (!list)
		return MW_ERR_INVALID;
	count = single ? 1 : json_array_size(list);
	if (count == 0) {
		snprintf(err, errlen, "events: empty; send at least one event");
		return MW_ERR_INVALID;
	}
	if (!(ev = calloc(count, sizeof(*ev))))
		return MW_ERR_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const json_t *o = single ? list : json_array_get(list, i);
		int rc;
		if (!single && !json_is_object(o)) {
			snprintf(err, errlen, "events[%zu]: must be a JSON object", i);
			rc = MW_ERR_INVALID;
		} else if ((rc = event_from_json(o, EVENT_FORM_LOCAL, &ev[i], e1, sizeof(e1))) ||
			   (rc = check_reserved(&ev[i], e1, sizeof(e1)))) {
			if (single)
				snprintf(err, errlen, "%s", e1);
			else
				snprintf(err, errlen, "events[%zu].%s", i, e1);
		}
		if (rc) {
			for (size_t k = 0; k < i; k++)
				event_clear(&ev[k]);
			free(ev);
			return rc;
		}
	}
	*out = ev;
	*n = count;
	return MW_OK;
}

/* Calls fn on every blob hash the events name; stops at the first error. */
static int each_blob(struct api *a, struct event *ev, size_t n,
		     int (*fn)(struct api *a, const struct event *e, size_t i, const char *hex,
			       void *arg),
		     void *arg)
{
	int rc = MW_OK;

	for (size_t i = 0; rc == MW_OK && i < n; i++) {
		json_t *arr = ev[i].blobs ? json_loads(ev[i].blobs, 0, NULL) : NULL;
		size_t k;
		json_t *v;
		json_array_foreach(arr, k, v)
		{
			if (rc == MW_OK)
				rc = fn(a, &ev[i], i, json_string_value(v), arg);
		}
		json_decref(arr);
	}
	return rc;
}

struct blob_check {
	char *err;
	size_t errlen;
	size_t n;
};

static int blob_present(struct api *a, const struct event *e, size_t i, const char *hex,
			void *arg)
{
	struct blob_check *bc = arg;

	if (hex && a->opt.blobs && blobs_has(a->opt.blobs, hex))
		return MW_OK;
	if (bc->n == 1)
		snprintf(bc->err, bc->errlen,
			 "blobs: %.64s: no such blob on this edge (POST it to /v1/blobs first)",
			 hex ? hex : "?");
	else
		snprintf(bc->err, bc->errlen,
			 "events[%zu].blobs: %.64s: no such blob on this edge (POST it to "
			 "/v1/blobs first)",
			 i, hex ? hex : "?");
	return MW_ERR_INVALID;
}

static int blob_ref(struct api *a, const struct event *e, size_t i, const char *hex, void *arg)
{
	if (hex && a->opt.blobs && blobs_ref(a->opt.blobs, hex, e->severity))
		log_warn("api cannot record a blob reference blob=%s", hex);
	return MW_OK;
}

static enum MHD_Result post_events(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	char err[ERR_MAX];
	json_error_t je;
	struct event *ev = NULL;
	size_t n = 0;
	enum MHD_Result ret;
	int rc;
	json_t *root = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, &je);

	if (!root)
		return reply_error(c, 400, NULL, "body: invalid JSON at line %d column %d: %s",
				   je.line, je.column, je.text);
	rc = parse_events(root, &ev, &n, err, sizeof(err));
	json_decref(root);
	if (rc == MW_ERR_NOMEM)
		return reply_error(c, 503, NULL, "out of memory; retry later");
	if (rc)
		return reply_error(c, rc == MW_ERR_TOOBIG ? 413 : 400, NULL, "%s", err);
	struct blob_check bc = {err, sizeof(err), n};
	if (each_blob(a, ev, n, blob_present, &bc)) {
		ret = reply_error(c, 400, NULL, "%s", err);
		goto out;
	}
	rc = store_append(a->opt.store, ev, n);
	if (rc == MW_OK)
		(void)each_blob(a, ev, n, blob_ref, NULL);
	if (rc == MW_OK)
		ret = reply_json(c, 201,
				 json_pack("{s:I,s:I,s:I}", "accepted", (json_int_t)n, "first_seq",
					   (json_int_t)ev[0].seq, "last_seq",
					   (json_int_t)ev[n - 1].seq),
				 NULL);
	else if (rc == MW_ERR_INVALID)
		ret = reply_error(c, 400, NULL, "events: refused by the store: %s",
				  mw_strerror(rc));
	else
		ret = reply_error(c, 503, NULL,
				  "store: cannot append now (%s); nothing was "
				  "appended, retry later",
				  mw_strerror(rc));
out:
	for (size_t i = 0; i < n; i++)
		event_clear(&ev[i]);
	free(ev);
	return ret;
}

/* ---- POST /v1/blobs ---- */

static bool blob_type_ok(struct MHD_Connection *c)
{
	const char *t =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = t ? strcspn(t, "; ") : 0;

	return t && ((n == 10 && strncasecmp(t, "image/jpeg", n) == 0) ||
		     (n == 24 && strncasecmp(t, "application/octet-stream", n) == 0));
}

static enum MHD_Result post_blob(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	struct blob_hash h;
	int rc;

	if (rq->body.len == 0)
		return reply_error(c, 400, NULL, "body: empty; send the blob's bytes");
	rc = blobs_put(a->opt.blobs, rq->body.data, rq->body.len, &h);
	if (rc == MW_OK)
		return reply_json(c, 201, json_pack("{s:s,s:I}", "hash", h.hex, "size",
						    (json_int_t)rq->body.len),
				  NULL);
	if (rc == MW_ERR_TOOBIG)
		return reply_error(c, 413, NULL, "body: larger than blobs.max_size or blobs.quota");
	return reply_error(c, 503, NULL, "blobs: cannot store now (%s); retry later",
			   mw_strerror(rc));
}

/* ---- PUT /v1/cameras ---- */

static const char *const cam_states[] = {"connecting", "running", "reconnecting", "ended",
					 "stopped",    "failed",  "unknown"};

const char *api_camera_state_name(enum api_camera_state s)
{
	return (unsigned)s < MW_ARRAY_LEN(cam_states) ? cam_states[s] : "unknown";
}

enum cam_ftype { F_COUNT, F_RATE, F_PIXELS };

/* The numeric fields of a camera report, read by one loop. */
static const struct {
	const char *name;
	enum cam_ftype type;
	size_t off;
} cam_fields[] = {
	{"frames_in", F_COUNT, offsetof(struct api_camera, frames_in)},
	{"frames_analysed", F_COUNT, offsetof(struct api_camera, frames_analysed)},
	{"frames_dropped", F_COUNT, offsetof(struct api_camera, frames_dropped)},
	{"reconnects", F_COUNT, offsetof(struct api_camera, reconnects)},
	{"events", F_COUNT, offsetof(struct api_camera, events)},
	{"fps_in", F_RATE, offsetof(struct api_camera, fps_in)},
	{"fps_analysed", F_RATE, offsetof(struct api_camera, fps_analysed)},
	{"width", F_PIXELS, offsetof(struct api_camera, width)},
	{"height", F_PIXELS, offsetof(struct api_camera, height)},
};

#define CAM_FPS_MAX 1e6
#define CAM_PIXELS_MAX 65535

static int cam_number(struct api_camera *cam, size_t f, const json_t *v, char *err,
		      size_t errlen)
{
	char *p = (char *)cam + cam_fields[f].off;
	double d;

	switch (cam_fields[f].type) {
	case F_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			goto bad;
		*(uint64_t *)(void *)p = (uint64_t)json_integer_value(v);
		return MW_OK;
	case F_PIXELS:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > CAM_PIXELS_MAX)
			goto bad;
		*(int64_t *)(void *)p = (int64_t)json_integer_value(v);
		return MW_OK;
	case F_RATE:
		d = json_is_number(v) ? json_number_value(v) : -1;
		if (!(d >= 0 && d <= CAM_FPS_MAX)) /* also refuses NaN */
			goto bad;
		*(double *)(void *)p = d;
		return MW_OK;
	}
bad:
	snprintf(err, errlen, "%s: must be %s", cam_fields[f].name,
		 cam_fields[f].type == F_COUNT	  ? "an integer >= 0"
		 : cam_fields[f].type == F_PIXELS ? "an integer from 0 to 65535"
						  : "a number from 0 to 1000000");
	return MW_ERR_INVALID;
}

/* Copies at most cap-1 bytes of s, cut on a UTF-8 character boundary. */
static void copy_capped(char *dst, const char *s, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int cam_text(struct api_camera *cam, const char *key, const json_t *v, char *err,
		    size_t errlen)
{
	const char *s = json_string_value(v);

	if (strcmp(key, "id") == 0) {
		if (!s || strlen(s) > EVENT_ID_MAX || !event_id_valid(s)) {
			snprintf(err, errlen,
				 "id: must be 1 to %d characters of A-Z a-z 0-9 . _ : / -",
				 EVENT_ID_MAX);
			return MW_ERR_INVALID;
		}
		memcpy(cam->id, s, strlen(s) + 1);
		return MW_OK;
	}
	if (strcmp(key, "state") == 0) {
		for (size_t i = 0; s && i < API_CAM_UNKNOWN; i++)
			if (strcmp(s, cam_states[i]) == 0) {
				cam->state = (enum api_camera_state)i;
				return MW_OK;
			}
		snprintf(err, errlen, "state: must be one of connecting, running, reconnecting, "
				      "ended, stopped, failed");
		return MW_ERR_INVALID;
	}
	if (!s && !json_is_null(v)) { /* last_error */
		snprintf(err, errlen, "last_error: must be a string or null");
		return MW_ERR_INVALID;
	}
	copy_capped(cam->last_error, s ? s : "", sizeof(cam->last_error));
	return MW_OK;
}

static int cam_field(struct api_camera *cam, const char *key, const json_t *v, char *err,
		     size_t errlen)
{
	if (!strcmp(key, "id") || !strcmp(key, "state") || !strcmp(key, "last_error"))
		return cam_text(cam, key, v, err, errlen);
	for (size_t f = 0; f < MW_ARRAY_LEN(cam_fields); f++)
		if (strcmp(key, cam_fields[f].name) == 0)
			return cam_number(cam, f, v, err, errlen);
	snprintf(err, errlen, "%.64s: unknown field", key);
	return MW_ERR_INVALID;
}

static int parse_camera(const json_t *o, struct api_camera *cam, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	memset(cam, 0, sizeof(*cam));
	cam->state = API_CAM_UNKNOWN;
	json_object_foreach((json_t *)o, key, v)
	{
		if ((rc = cam_field(cam, key, v, err, errlen)))
			return rc;
	}
	if (!cam->id[0] || cam->state == API_CAM_UNKNOWN) {
		snprintf(err, errlen, "%s: required", cam->id[0] ? "state" : "id");
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static const json_t *camera_list(const json_t *root, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "body: must be {\"cameras\": [...]}");
		return NULL;
	}
	json_object_foreach((json_t *)root, key, v)
	{
		if (strcmp(key, "cameras") != 0) {
			snprintf(err, errlen,
				 "%.64s: unknown field (the body is {\"cameras\": [...]})", key);
			return NULL;
		}
	}
	v = json_object_get(root, "cameras");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "cameras: %s", v ? "must be an array" : "required");
		return NULL;
	}
	if (json_array_size(v) > API_CAMERAS_MAX) {
		snprintf(err, errlen, "cameras: at most %d cameras", API_CAMERAS_MAX);
		return NULL;
	}
	return v;
}

static int parse_cameras(const json_t *root, struct api_camera *out, size_t *n, char *err,
			 size_t errlen)
{
	char e1[ERR_MAX - 32];
	const json_t *list = camera_list(root, err, errlen);
	size_t i, k;

	if (!list)
		return MW_ERR_INVALID;
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *o = json_array_get(list, i);
		if (!json_is_object(o)) {
			snprintf(err, errlen, "cameras[%zu]: must be a JSON object", i);
			return MW_ERR_INVALID;
		}
		if (parse_camera(o, &out[i], e1, sizeof(e1))) {
			snprintf(err, errlen, "cameras[%zu].%s", i, e1);
			return MW_ERR_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(out[k].id, out[i].id) == 0) {
				snprintf(err, errlen, "cameras[%zu].id: '%s' is reported twice", i,
					 out[i].id);
				return MW_ERR_INVALID;
			}
	}
	*n = i;
	return MW_OK;
}

int api_cameras_parse(const char *body, size_t len, struct api_camera *out, size_t *n, char *err,
		      size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", len, 0, &je);
	int rc;

	*n = 0;
	if (!root) {
		snprintf(err, errlen, "body: invalid JSON at line %d column %d: %s", je.line,
			 je.column, je.text);
		return MW_ERR_INVALID;
	}
	rc = parse_cameras(root, out, n, err, errlen);
	json_decref(root);
	return rc;
}

static enum MHD_Result put_cameras(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	char err[ERR_MAX];
	struct api_camera *cams = calloc(API_CAMERAS_MAX, sizeof(*cams));
	size_t n = 0;

	if (!cams)
		return reply_error(c, 503, NULL, "out of memory; retry later");
	if (api_cameras_parse(rq->body.data, rq->body.len, cams, &n, err, sizeof(err))) {
		free(cams);
		return reply_error(c, 400, NULL, "%s", err);
	}
	pthread_mutex_lock(&a->cam_mu);
	free(a->cams);
	a->cams = cams;
	a->ncams = n;
	a->cams_at = mw_mono_ns();
	pthread_mutex_unlock(&a->cam_mu);
	return reply_empty(c, 204);
}

/* A copy of the last report, states "unknown" when it is stale; NULL when
 * there is none (or no memory: the cameras are then left out). */
static struct api_camera *cameras_now(struct api *a, size_t *n)
{
	struct api_camera *copy = NULL;
	bool stale;

	pthread_mutex_lock(&a->cam_mu);
	*n = a->ncams;
	stale = mw_mono_ns() - a->cams_at > (int64_t)API_CAMERA_STALE_MS * 1000000;
	if (a->ncams && (copy = malloc(a->ncams * sizeof(*copy))))
		memcpy(copy, a->cams, a->ncams * sizeof(*copy));
	pthread_mutex_unlock(&a->cam_mu);
	if (!copy)
		*n = 0;
	for (size_t i = 0; stale && i < *n; i++)
		copy[i].state = API_CAM_UNKNOWN;
	return copy;
}

/* ---- GET routes ---- */

static json_t *camera_json(const struct api_camera *cam)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:s}", "id", cam->id,
			 "state", api_camera_state_name(cam->state), "frames_in",
			 (json_int_t)cam->frames_in, "frames_analysed",
			 (json_int_t)cam->frames_analysed, "frames_dropped",
			 (json_int_t)cam->frames_dropped, "reconnects", (json_int_t)cam->reconnects,
			 "fps_in", cam->fps_in, "fps_analysed", cam->fps_analysed, "events",
			 (json_int_t)cam->events, "width", (json_int_t)cam->width, "height",
			 (json_int_t)cam->height, "last_error", cam->last_error);
}

/* Adds "cameras" and "vision_worker" to the status object; false on no memory. */
static bool status_vision(struct api *a, json_t *o)
{
	struct worker_stats ws = {0};
	size_t n;
	struct api_camera *cams = cameras_now(a, &n);
	json_t *arr = json_array();
	bool ok = arr != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = json_array_append_new(arr, camera_json(&cams[i])) == 0;
	free(cams);
	ok = ok && json_object_set_new(o, "cameras", arr) == 0;
	if (!ok)
		return false;
	if (a->opt.worker)
		worker_stats(a->opt.worker, &ws);
	return json_object_set_new(o, "vision_worker",
				   json_pack("{s:b,s:I,s:I}", "running", ws.running, "pid",
					     (json_int_t)ws.pid, "restarts",
					     (json_int_t)ws.restarts)) == 0;
}

json_t *api_vision_json(struct api *a)
{
	json_t *o = json_object();

	if (o && !status_vision(a, o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static enum MHD_Result get_status(struct api *a, struct MHD_Connection *c)
{
	struct store_stats st;
	struct uplink_stats us;
	json_t *o;
	int rc = store_stats(a->opt.store, &st);

	if (rc)
		return reply_error(c, 503, NULL, "store: cannot read its state (%s)",
				   mw_strerror(rc));
	if (a->opt.uplink)
		uplink_stats(a->opt.uplink, &us);
	o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "node", a->node, "last_seq",
		      (json_int_t)st.last_seq, "acked_seq", (json_int_t)st.acked_seq, "unsent",
		      (json_int_t)st.unsent, "stored", (json_int_t)st.stored, "dropped",
		      (json_int_t)st.dropped, "pruned", (json_int_t)st.pruned, "bytes_used",
		      (json_int_t)st.bytes_used, "hub",
		      a->opt.uplink ? uplink_state_name(us.state) : "disabled");
	if (!o || !status_vision(a, o)) {
		json_decref(o);
		return reply_error(c, 503, NULL, "status: out of memory");
	}
	return reply_json(c, 200, o, NULL);
}

static int metric(struct buf *b, const char *name, const char *type, const char *help,
		  unsigned long long v)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
			  v);
}

/* The per-camera families, one sample per camera; nothing without cameras. */
static int camera_metrics(struct buf *b, const struct api_camera *cams, size_t n)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
		enum cam_ftype ft;
	} fam[] = {
		{"fps_in", "gauge", "Frames per second the camera delivers.",
		 offsetof(struct api_camera, fps_in), F_RATE},
		{"fps_analysed", "gauge", "Frames per second the detectors analyse.",
		 offsetof(struct api_camera, fps_analysed), F_RATE},
		{"frames_in_total", "counter", "Frames decoded from the camera.",
		 offsetof(struct api_camera, frames_in), F_COUNT},
		{"frames_analysed_total", "counter", "Frames the detectors analysed.",
		 offsetof(struct api_camera, frames_analysed), F_COUNT},
		{"frames_dropped_total", "counter",
		 "Frames skipped because the analysis fell behind.",
		 offsetof(struct api_camera, frames_dropped), F_COUNT},
		{"reconnects_total", "counter", "Times the camera's stream was reopened.",
		 offsetof(struct api_camera, reconnects), F_COUNT},
		{"events_total", "counter", "Events the camera's detectors raised.",
		 offsetof(struct api_camera, events), F_COUNT},
	};
	int rc = 0;

	if (n == 0)
		return MW_OK;
	rc |= buf_printf(b, "# HELP mw_edge_camera_up Whether the camera is running (1) as last "
			    "reported by the vision worker.\n# TYPE mw_edge_camera_up gauge\n");
	for (size_t i = 0; i < n; i++)
		rc |= buf_printf(b, "mw_edge_camera_up{camera=\"%s\"} %d\n", cams[i].id,
				 cams[i].state == API_CAM_RUNNING);
	for (size_t f = 0; f < MW_ARRAY_LEN(fam); f++) {
		rc |= buf_printf(b, "# HELP mw_edge_camera_%s %s\n# TYPE mw_edge_camera_%s %s\n",
				 fam[f].name, fam[f].help, fam[f].name, fam[f].type);
		for (size_t i = 0; i < n; i++) {
			const void *p = (const char *)&cams[i] + fam[f].off;
			if (fam[f].ft == F_RATE)
				rc |= buf_printf(b, "mw_edge_camera_%s{camera=\"%s\"} %.3f\n",
						 fam[f].name, cams[i].id, *(const double *)p);
			else
				rc |= buf_printf(b, "mw_edge_camera_%s{camera=\"%s\"} %llu\n",
						 fam[f].name, cams[i].id,
						 (unsigned long long)*(const uint64_t *)p);
		}
	}
	return rc ? MW_ERR_NOMEM : MW_OK;
}

static int vision_metrics(struct api *a, struct buf *b)
{
	struct worker_stats ws = {0};
	size_t n;
	struct api_camera *cams = cameras_now(a, &n);
	int rc = camera_metrics(b, cams, n);

	free(cams);
	if (a->opt.worker)
		worker_stats(a->opt.worker, &ws);
	rc |= metric(b, "mw_edge_vision_worker_up", "gauge",
		     "Whether the vision worker process is running.", ws.running);
	rc |= metric(b, "mw_edge_vision_worker_restarts_total", "counter",
		     "Times the vision worker was restarted after it exited.", ws.restarts);
	return rc ? MW_ERR_NOMEM : MW_OK;
}

static int write_metrics(struct api *a, const struct store_stats *st, struct buf *b)
{
	struct uplink_stats us = {0};
	struct actions_stats as = {0};
	struct blobs_stats bs = {0};
	int rc = 0;

	if (a->opt.uplink)
		uplink_stats(a->opt.uplink, &us);
	if (a->opt.actions)
		actions_stats(a->opt.actions, &as);
	if (a->opt.blobs && blobs_stats(a->opt.blobs, &bs))
		return MW_ERR_IO;
	rc |= metric(b, "mw_edge_events_appended_total", "counter",
		     "Events appended to the store since the edge started.",
		     a->opt.appended ? __atomic_load_n(a->opt.appended, __ATOMIC_RELAXED) : 0);
	rc |= metric(b, "mw_edge_events_unsent", "gauge",
		     "Events stored and not yet acknowledged by the hub.", st->unsent);
	rc |= metric(b, "mw_edge_events_dropped_total", "counter",
		     "Unsent events deleted by the quota policy.", st->dropped);
	rc |= metric(b, "mw_edge_events_pruned_total", "counter",
		     "Sent events deleted to make room.", st->pruned);
	rc |= metric(b, "mw_edge_store_bytes", "gauge", "Bytes the event store uses.",
		     st->bytes_used > 0 ? (unsigned long long)st->bytes_used : 0);
	rc |= metric(b, "mw_edge_uplink_batches_total", "counter", "Batches the hub accepted.",
		     us.batches);
	rc |= metric(b, "mw_edge_uplink_events_sent_total", "counter",
		     "Events in batches the hub accepted.", us.events_sent);
	rc |= metric(b, "mw_edge_uplink_errors_total", "counter",
		     "Failed sends to the hub (network, 4xx, 5xx).", us.errors);
	rc |= metric(b, "mw_edge_uplink_acked_seq", "gauge", "Highest seq the hub acknowledged.",
		     st->acked_seq);
	rc |= metric(b, "mw_edge_blobs_stored", "gauge", "Blobs (snapshots) on this edge.",
		     bs.count);
	rc |= metric(b, "mw_edge_blobs_bytes", "gauge", "Bytes of the blobs on this edge.",
		     bs.bytes);
	rc |= metric(b, "mw_edge_blobs_pending", "gauge", "Blobs not yet uploaded to the hub.",
		     bs.pending);
	rc |= metric(b, "mw_edge_blobs_dropped_total", "counter",
		     "Blobs deleted by blobs.quota before the hub had them.", bs.dropped);
	rc |= metric(b, "mw_edge_uplink_blobs_uploaded_total", "counter",
		     "Blobs the hub accepted from this edge.", us.blobs_uploaded);
	rc |= buf_printf(b,
			 "# HELP mw_edge_actions_total Local actions run, by result.\n"
			 "# TYPE mw_edge_actions_total counter\n"
			 "mw_edge_actions_total{result=\"ok\"} %llu\n"
			 "mw_edge_actions_total{result=\"failed\"} %llu\n"
			 "mw_edge_actions_total{result=\"dropped\"} %llu\n",
			 (unsigned long long)as.ok, (unsigned long long)as.failed,
			 (unsigned long long)as.dropped);
	rc |= vision_metrics(a, b);
	return rc ? MW_ERR_NOMEM : MW_OK;
}

static enum MHD_Result get_metrics(struct api *a, struct MHD_Connection *c)
{
	struct store_stats st;
	struct buf b;
	int rc = store_stats(a->opt.store, &st);

	if (rc)
		return reply_error(c, 503, NULL, "store: cannot read its state (%s)",
				   mw_strerror(rc));
	buf_init(&b, 64 * 1024);
	if (write_metrics(a, &st, &b)) {
		buf_free(&b);
		return reply_error(c, 503, NULL, "metrics: out of memory");
	}
	size_t len = b.len;
	return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_take(&b, NULL), len,
		     NULL);
}

/* ---- dispatch ---- */

static enum route find_route(const char *url, const char **want)
{
	static const struct {
		const char *path, *method;
		enum route r;
	} routes[] = {
		{"/v1/events", "POST", R_EVENTS},
		{"/v1/blobs", "POST", R_BLOBS},
		{"/v1/cameras", "PUT", R_CAMERAS},
		{"/v1/status", "GET", R_STATUS},
		{"/healthz", "GET", R_HEALTH},
		{"/metrics", "GET", R_METRICS},
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(routes); i++) {
		if (strcmp(url, routes[i].path) == 0) {
			*want = routes[i].method;
			return routes[i].r;
		}
	}
	return R_NONE;
}

static bool authorized(struct api *a, struct MHD_Connection *c)
{
	const char *h =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t got[HASH_LEN];

	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return false;
	/* Hash both sides so the comparison takes the same time whatever the length. */
	hash_sha256(h + 7, strlen(h + 7), got);
	return hash_equal(got, a->token_hash, sizeof(got));
}

static bool body_over(struct api *a, struct MHD_Connection *c, size_t max)
{
	const char *cl =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t n;
	return cl && mw_parse_i64(cl, 0, INT64_MAX, &n) == MW_OK && (uint64_t)n > max;
}

static enum MHD_Result first_call_blob(struct api *a, struct MHD_Connection *c, void **con_cls)
{
	struct blobs_stats bs;
	struct request *rq;

	if (!a->opt.blobs || blobs_stats(a->opt.blobs, &bs))
		return reply_error(c, 503, NULL, "blobs: the blob store is not available");
	if (!blob_type_ok(c))
		return reply_error(c, 415, NULL,
				   "content-type: send image/jpeg or application/octet-stream");
	if (body_over(a, c, (size_t)bs.max_size))
		return reply_error(c, 413, NULL, "body: larger than blobs.max_size (%lld bytes)",
				   (long long)bs.max_size);
	if (!(rq = calloc(1, sizeof(*rq))))
		return MHD_NO;
	buf_init(&rq->body, (size_t)bs.max_size);
	rq->route = R_BLOBS;
	*con_cls = rq;
	return MHD_YES;
}

/* The first call for a request: everything that can be refused unread. */
static enum MHD_Result first_call(struct api *a, struct MHD_Connection *c, const char *url,
				  const char *method, void **con_cls)
{
	const char *want = NULL;
	enum route r = find_route(url, &want);
	struct request *rq;

	if (r == R_NONE)
		return reply_error(c, 404, NULL,
				   "%.200s: no such path (try /v1/events, /v1/blobs, /v1/cameras, "
				   "/v1/status, /healthz, /metrics)",
				   url);
	if (strcmp(method, want) != 0 && !(strcmp(method, "HEAD") == 0 && strcmp(want, "GET") == 0))
		return reply_error(c, 405, want, "%s %.200s: method not allowed (use %s)", method,
				   url, want);
	if (r == R_HEALTH)
		return reply_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL);
	if (!authorized(a, c))
		return reply_error(c, 401, NULL,
				   "authorization: missing or wrong bearer token (see api.token)");
	if (r == R_STATUS)
		return get_status(a, c);
	if (r == R_METRICS)
		return get_metrics(a, c);
	if (r == R_BLOBS)
		return first_call_blob(a, c, con_cls);
	if (body_over(a, c, a->opt.max_body))
		return reply_error(c, 413, NULL, "body: larger than api.max_body (%zu bytes)",
				   a->opt.max_body);
	if (!(rq = calloc(1, sizeof(*rq))))
		return MHD_NO;
	buf_init(&rq->body, a->opt.max_body);
	rq->route = r;
	*con_cls = rq;
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct request *rq = *con_cls;

	if (!rq)
		return first_call(a, c, url, method, con_cls);
	if (*upload_data_size) {
		if (!rq->too_big && buf_add(&rq->body, upload_data, *upload_data_size))
			rq->too_big = true; /* keep reading, answer at the end */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return reply_error(c, 413, NULL, "body: larger than %s (%zu bytes)",
				   rq->route == R_BLOBS ? "blobs.max_size" : "api.max_body",
				   rq->body.cap);
	if (rq->route == R_BLOBS)
		return post_blob(a, c, rq);
	if (rq->route == R_CAMERAS)
		return put_cameras(a, c, rq);
	return post_events(a, c, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	if (rq) {
		buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ---- sockets ---- */

static int split_hostport(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (!colon || !colon[1])
		return MW_ERR_INVALID;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hcap || strlen(colon + 1) >= pcap)
		return MW_ERR_INVALID;
	memcpy(host, s, hl);
	host[hl] = '\0';
	return mw_strlcpy(port, colon + 1, pcap);
}

static int bind_tcp(const char *listen_at, int *fd_out, char *addr, size_t addrcap)
{
	char host[96], port[16], ip[INET6_ADDRSTRLEN];
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, one = 1, rc = MW_ERR_IO, g;

	if (split_hostport(listen_at, host, sizeof(host), port, sizeof(port))) {
		log_error("api.listen: '%s' is not host:port", listen_at);
		return MW_ERR_INVALID;
	}
	if ((g = getaddrinfo(host, port, &hints, &ai))) {
		log_error("api.listen: '%s': %s", listen_at, gai_strerror(g));
		return MW_ERR_INVALID;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		log_error("api.listen: cannot listen on %s: %s", listen_at, strerror(errno));
		goto out;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(addr, addrcap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(addr, addrcap, "%s:%u", ip, ntohs(s4->sin_port));
	}
	*fd_out = fd;
	fd = -1;
	rc = MW_OK;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static int bind_unix(const char *path, int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (mw_strlcpy(sa.sun_path, path, sizeof(sa.sun_path))) {
		log_error("api.socket: '%s' is longer than %zu bytes", path,
			  sizeof(sa.sun_path) - 1);
		return MW_ERR_INVALID;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("api.socket: '%s' exists and is not a socket; not removing it",
				  path);
			return MW_ERR_INVALID;
		}
		unlink(path); /* stale, from a previous run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0660) ||
	    listen(fd, 128)) {
		log_error("api.socket: cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return MW_ERR_IO;
	}
	*fd_out = fd;
	return MW_OK;
}

static struct MHD_Daemon *serve(struct api *a, int fd, unsigned pool)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handle, a,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, pool,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_END);
	if (!d) {
		log_error("api cannot start the HTTP server");
		close(fd);
	}
	return d;
}

int api_start(const struct api_options *opt, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));
	int fd, rc = MW_ERR_NOMEM;

	if (!a)
		return MW_ERR_NOMEM;
	a->opt = *opt;
	pthread_mutex_init(&a->cam_mu, NULL);
	a->token = strdup(opt->token);
	a->node = strdup(opt->node);
	a->socket_path = strdup(opt->socket_path ? opt->socket_path : "");
	if (!a->token || !a->node || !a->socket_path)
		goto fail;
	a->opt.token = a->token;
	a->opt.node = a->node;
	hash_sha256(a->token, strlen(a->token), a->token_hash);
	if (opt->listen && *opt->listen) {
		if ((rc = bind_tcp(opt->listen, &fd, a->address, sizeof(a->address))))
			goto fail;
		rc = MW_ERR_IO;
		if (!(a->tcp = serve(a, fd, POOL_TCP)))
			goto fail;
	}
	if (*a->socket_path) {
		if ((rc = bind_unix(a->socket_path, &fd)))
			goto fail;
		rc = MW_ERR_IO;
		if (!(a->unix_d = serve(a, fd, POOL_UNIX)))
			goto fail;
	}
	log_info("api listening tcp=%s socket=%s", *a->address ? a->address : "-",
		 *a->socket_path ? a->socket_path : "-");
	*out = a;
	return MW_OK;
fail:
	api_free(a);
	return rc;
}

const char *api_address(const struct api *a) { return a->address; }

void api_free(struct api *a)
{
	if (!a)
		return;
	if (a->tcp)
		MHD_stop_daemon(a->tcp);
	if (a->unix_d) {
		MHD_stop_daemon(a->unix_d);
		unlink(a->socket_path);
	}
	free(a->token);
	free(a->node);
	free(a->socket_path);
	free(a->cams);
	pthread_mutex_destroy(&a->cam_mu);
	free(a);
}
