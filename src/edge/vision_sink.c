/* vision_sink.c -- where the worker's detectors put their findings.
 *
 * The API sink posts a finding's snapshot to POST /v1/blobs first, then
 * the event naming it by hash to POST /v1/events: the daemon refuses an
 * event whose blob it does not hold, so the order matters. When the
 * daemon does not answer (it is restarting), a post is retried for a few
 * seconds; the analysis thread waits meanwhile and the camera's mailbox
 * drops frames rather than queueing them. Past that the event is counted
 * as failed and logged.
 *
 * The JSON-lines sink serves `mw-edge analyze`: one object per event, with
 * the input file and the frame's stream time, so an engineer can find the
 * moment in the footage. */
#include "edge/vision_worker.h"

#include "core/hash.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JPEG_CAP (16u << 20)
#define RETRY_FOR_NS 5000000000LL

/* The bbox attr a detector set, for the snapshot's highlight. */
static bool attrs_bbox(const struct event *e, struct bbox *out)
{
	json_t *a = e->attrs ? json_loads(e->attrs, 0, NULL) : NULL;
	json_t *b = json_object_get(a, "bbox");
	bool ok = json_is_array(b) && json_array_size(b) == 4;

	if (ok)
		*out = (struct bbox){(int)json_integer_value(json_array_get(b, 0)),
				     (int)json_integer_value(json_array_get(b, 1)),
				     (int)json_integer_value(json_array_get(b, 2)),
				     (int)json_integer_value(json_array_get(b, 3))};
	json_decref(a);
	return ok;
}

static int encode(struct snapshot_encoder *enc, const struct event *e, const struct plane *p,
		  int max_width, int quality, struct buf *out)
{
	struct bbox box;
	bool hl = attrs_bbox(e, &box) && box.w > 0 && box.h > 0 && box.x >= 0 && box.y >= 0 &&
		  box.x + box.w <= p->width && box.y + box.h <= p->height;

	buf_reset(out);
	return snapshot_jpeg(enc, p, hl ? &box : NULL, max_width, quality, out);
}

/* The event as the local API takes it (source, kind, severity, ts, attrs, blobs). */
static char *local_json(const struct event *e)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "source", e->source, "kind", e->kind,
			      "severity", severity_name(e->severity), "ts", (json_int_t)e->ts);
	char *text;

	if (!o)
		return NULL;
	if (e->attrs)
		json_object_set_new(o, "attrs", json_loads(e->attrs, 0, NULL));
	if (e->blobs)
		json_object_set_new(o, "blobs", json_loads(e->blobs, 0, NULL));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int vw__api_sink_init(struct vw_api_sink *s, const struct edge_config *c,
		      const struct edge_camera_config *cam)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->socket = c->api_socket;
	s->token = c->api_token;
	s->max_width = (int)cam->snapshot_max_width;
	s->quality = (int)cam->snapshot_quality;
	buf_init(&s->jpeg, JPEG_CAP);
	if ((rc = http_client_new(&s->http)) || (rc = snapshot_encoder_new(&s->enc)))
		vw__api_sink_free(s);
	return rc;
}

void vw__api_sink_free(struct vw_api_sink *s)
{
	http_client_free(s->http);
	snapshot_encoder_free(s->enc);
	buf_free(&s->jpeg);
	s->http = NULL;
	s->enc = NULL;
}

/* One request to the daemon, retried while it does not answer. */
static int call(struct vw_api_sink *s, const char *method, const char *path, const char *ctype,
		const void *body, size_t len, struct http_response *resp)
{
	char url[256], header[96];
	const char *headers[] = {header, NULL};
	struct http_request req = {.method = method, .url = url, .headers = headers,
				   .bearer = s->token, .body = body, .body_len = len,
				   .timeout_ms = 10000, .unix_socket = s->socket};
	int64_t give_up = mw_mono_ns() + RETRY_FOR_NS;
	long wait_ms = 100;
	int rc;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	snprintf(header, sizeof(header), "Content-Type: %s", ctype);
	for (;;) {
		rc = http_do(s->http, &req, resp);
		if (rc != MW_ERR_IO || mw_mono_ns() > give_up)
			return rc;
		log_debug("vision: local API unreachable, retrying err=\"%s\"", resp->error);
		http_response_free(resp);
		nanosleep(&(struct timespec){0, wait_ms * 1000000L}, NULL);
		wait_ms = wait_ms * 2 > 1000 ? 1000 : wait_ms * 2;
	}
}

/* Posts the snapshot; on success e's blobs name it. */
static int post_snapshot(struct vw_api_sink *s, struct event *e, const struct plane *snapshot)
{
	struct http_response resp;
	char blobs[EVENT_HEX_LEN + 8];
	const char *hash;
	json_t *ans;
	int rc;

	if ((rc = encode(s->enc, e, snapshot, s->max_width, s->quality, &s->jpeg)))
		return rc;
	rc = call(s, "POST", "/v1/blobs", "image/jpeg", s->jpeg.data, s->jpeg.len, &resp);
	if (rc == MW_OK && resp.status != 201)
		rc = MW_ERR_IO;
	ans = rc ? NULL : json_loadb(resp.body.data, resp.body.len, 0, NULL);
	hash = json_string_value(json_object_get(ans, "hash"));
	if (!rc && hash && strlen(hash) == EVENT_HEX_LEN) {
		snprintf(blobs, sizeof(blobs), "[\"%s\"]", hash);
		rc = event_set_blobs_text(e, blobs);
	} else if (!rc) {
		rc = MW_ERR_INVALID;
	}
	if (rc)
		log_warn("vision: snapshot not stored camera=%s status=%ld err=\"%s\"", e->source,
			 resp.status, resp.error[0] ? resp.error : resp.body.data ? resp.body.data : "");
	json_decref(ans);
	http_response_free(&resp);
	return rc;
}

int vw__api_emit(void *arg, struct event *e, const struct plane *snapshot)
{
	struct vw_api_sink *s = arg;
	struct http_response resp;
	char *body;
	int rc;

	if (snapshot && post_snapshot(s, e, snapshot))
		log_warn("vision: event sent without its snapshot camera=%s kind=%s", e->source,
			 e->kind);
	if (!(body = local_json(e)))
		return MW_ERR_NOMEM;
	rc = call(s, "POST", "/v1/events", "application/json", body, strlen(body), &resp);
	if (rc == MW_OK && resp.status != 201) {
		log_error("vision: event refused camera=%s kind=%s status=%ld answer=\"%.200s\"",
			  e->source, e->kind, resp.status, resp.body.data ? resp.body.data : "");
		rc = MW_ERR_INVALID;
	} else if (rc) {
		log_error("vision: event lost, local API unreachable camera=%s kind=%s err=\"%s\"",
			  e->source, e->kind, resp.error);
	}
	if (rc)
		s->failed++;
	else
		s->posted++;
	http_response_free(&resp);
	free(body);
	return rc;
}

int vw__api_put(struct vw_api_sink *s, const char *path, const char *body)
{
	struct http_response resp;
	char url[256], header[] = "Content-Type: application/json";
	const char *headers[] = {header, NULL};
	struct http_request req = {.method = "PUT", .url = url, .headers = headers,
				   .bearer = s->token, .body = body, .body_len = strlen(body),
				   .timeout_ms = 5000, .unix_socket = s->socket};
	int rc;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	rc = http_do(s->http, &req, &resp);
	if (rc == MW_OK && (resp.status < 200 || resp.status > 299))
		rc = MW_ERR_INVALID;
	http_response_free(&resp);
	return rc;
}

/* ---- JSON lines ---- */

int vw__jsonl_sink_init(struct vw_jsonl_sink *s, FILE *out, const char *snap_dir)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->snap_dir = snap_dir ? snap_dir : "";
	s->max_width = 960;
	s->quality = SNAPSHOT_QUALITY_DEFAULT;
	buf_init(&s->jpeg, JPEG_CAP);
	return s->snap_dir[0] ? snapshot_encoder_new(&s->enc) : MW_OK;
}

void vw__jsonl_sink_free(struct vw_jsonl_sink *s)
{
	snapshot_encoder_free(s->enc);
	buf_free(&s->jpeg);
	s->enc = NULL;
}

/* Writes the snapshot as SNAP_DIR/HASH.jpg; the path goes to out. */
static int save_snapshot(struct vw_jsonl_sink *s, const struct event *e,
			 const struct plane *snapshot, char *out, size_t cap)
{
	uint8_t hash[EVENT_HASH_LEN];
	char hex[EVENT_HEX_LEN + 1];
	FILE *f;
	int rc;

	if ((rc = encode(s->enc, e, snapshot, s->max_width, s->quality, &s->jpeg)))
		return rc;
	hash_sha256(s->jpeg.data, s->jpeg.len, hash);
	mw_hex(hash, sizeof(hash), hex);
	snprintf(out, cap, "%s/%s.jpg", s->snap_dir, hex);
	if (!(f = fopen(out, "wb")))
		return MW_ERR_IO;
	rc = fwrite(s->jpeg.data, 1, s->jpeg.len, f) == s->jpeg.len ? MW_OK : MW_ERR_IO;
	if (fclose(f))
		rc = MW_ERR_IO;
	return rc;
}

static void count_kind(struct vw_jsonl_sink *s, const char *kind)
{
	if (!strcmp(kind, "inspection.defect"))
		s->by_kind_defect++;
	else if (!strcmp(kind, "inspection.pass"))
		s->by_kind_pass++;
	else if (!strcmp(kind, "part.counted"))
		s->by_kind_count++;
	else if (!strcmp(kind, "zone.intrusion"))
		s->by_kind_zone++;
}

int vw__jsonl_emit(void *arg, struct event *e, const struct plane *snapshot)
{
	struct vw_jsonl_sink *s = arg;
	char path[1200] = "";
	json_t *o;
	int rc = MW_OK;

	if (snapshot && s->snap_dir[0] && (rc = save_snapshot(s, e, snapshot, path, sizeof(path))))
		log_warn("vision: cannot save snapshot dir=%s err=%s", s->snap_dir, mw_strerror(rc));
	o = json_pack("{s:s,s:I,s:f,s:s,s:s,s:s}", "input", s->input ? s->input : "", "frame",
		      (json_int_t)(s->frame ? s->frame->index : 0), "t",
		      s->frame ? (double)s->frame->pts_ns / 1e9 : 0.0, "source", e->source, "kind",
		      e->kind, "severity", severity_name(e->severity));
	if (!o)
		return MW_ERR_NOMEM;
	json_object_set_new(o, "attrs", e->attrs ? json_loads(e->attrs, 0, NULL) : json_object());
	if (path[0] && rc == MW_OK)
		json_object_set_new(o, "snapshot", json_string(path));
	rc = json_dumpf(o, s->out, JSON_COMPACT) || fputc('\n', s->out) == EOF ? MW_ERR_IO : MW_OK;
	json_decref(o);
	s->events++;
	count_kind(s, e->kind);
	return rc;
}
