/* ingest.c -- POST /v1/ingest: authenticate, decode, validate, apply.
 *
 * The order of the checks decides the status a bad request gets: the
 * token first (401), then the encoding (415, 413, 400), then the JSON and
 * the batch's node against the token's (403), then every field (400).
 * Validation covers the whole batch before the store is touched, so a
 * refused batch leaves no trace; chain_apply() then stores it in one
 * transaction, and the answer is sent only after that commit.
 *
 * A body in the exact shape mw-edge writes is first read by the one-pass
 * scanner of wire.c, several times faster than jansson's DOM; it either
 * yields the very batch the jansson path would, or declines, and then the
 * jansson path below runs as if the scanner did not exist. So statuses
 * and messages do not depend on which path read the body. */
#include "hub/ingest.h"

#include "core/log.h"
#include "hub/chain.h"
#include "hub/enroll.h"
#include "hub/wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int ingest_zstd_decode(const void *in, size_t len, struct buf *out)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer ib = {in, len, 0};
	size_t ret = 1, chunk = ZSTD_DStreamOutSize();
	unsigned long long want = ZSTD_getFrameContentSize(in, len);
	int rc = MW_OK;

	if (!ds)
		return MW_ERR_NOMEM;
	if (want != ZSTD_CONTENTSIZE_UNKNOWN && want != ZSTD_CONTENTSIZE_ERROR) {
		if (want > out->cap) {
			rc = MW_ERR_TOOBIG;
			goto out;
		}
		if ((rc = buf_reserve(out, (size_t)want)))
			goto out;
	}
	while (ib.pos < ib.size || ret != 0) {
		ZSTD_outBuffer ob;
		size_t before = ib.pos, room;
		if (out->len >= out->cap) {
			rc = MW_ERR_TOOBIG; /* more to come and no room left */
			goto out;
		}
		if ((rc = buf_reserve(out,
				      chunk < out->cap - out->len ? chunk : out->cap - out->len)))
			goto out;
		room = out->alloc - out->len - 1; /* alloc may run past the cap */
		if (room > out->cap - out->len)
			room = out->cap - out->len;
		ob = (ZSTD_outBuffer){out->data + out->len, room, 0};
		ret = ZSTD_decompressStream(ds, &ob, &ib);
		if (ZSTD_isError(ret)) {
			rc = MW_ERR_INVALID;
			goto out;
		}
		out->len += ob.pos;
		out->data[out->len] = '\0';
		if (ob.pos == 0 && ib.pos == before) {
			rc = MW_ERR_INVALID; /* no progress: truncated frame */
			goto out;
		}
	}
out:
	ZSTD_freeDStream(ds);
	return rc;
}

int ingest_json_load(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;

	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out)
		return MW_OK;
	snprintf(err, errlen, "body: invalid JSON at line %d, column %d: %s", jerr.line,
		 jerr.column, jerr.text);
	return MW_ERR_INVALID;
}

void ingest_batch_free(struct ingest_batch *b)
{
	for (size_t i = 0; i < b->n_events; i++)
		event_clear(&b->events[i]);
	free(b->events);
	free(b->drops);
	memset(b, 0, sizeof(*b));
}

static int parse_events(const json_t *arr, struct ingest_batch *b, char *err, size_t errlen)
{
	char msg[384];
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "events: must be an array of events");
		return MW_ERR_INVALID;
	}
	if (json_array_size(arr) && !(b->events = calloc(json_array_size(arr), sizeof(*b->events))))
		return MW_ERR_NOMEM;
	json_array_foreach(arr, i, v)
	{
		struct event *e = &b->events[i];
		int rc = event_from_json(v, EVENT_FORM_WIRE, e, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "events[%zu].%s", i, msg);
			return rc == MW_ERR_TOOBIG ? MW_ERR_INVALID : rc;
		}
		b->n_events++;
		if (strcmp(e->node, b->node) != 0) {
			snprintf(err, errlen, "events[%zu].node: '%s' is not the batch's node '%s'",
				 i, e->node, b->node);
			return MW_ERR_INVALID;
		}
		if (i > 0 && e->seq <= b->events[i - 1].seq) {
			snprintf(err, errlen,
				 "events[%zu].seq: %" PRIu64 " must be greater than the "
				 "previous event's (%" PRIu64 ")",
				 i, e->seq, b->events[i - 1].seq);
			return MW_ERR_INVALID;
		}
	}
	return MW_OK;
}

static int drop_u64(const json_t *obj, size_t i, const char *key, uint64_t *out, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		snprintf(err, errlen, "drops[%zu].%s: must be an integer of at least 1", i, key);
		return MW_ERR_INVALID;
	}
	*out = (uint64_t)json_integer_value(v);
	return MW_OK;
}

static int drop_hash(const json_t *obj, size_t i, const char *key, uint8_t *out, char *err,
		     size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v) || mw_unhex(json_string_value(v), out, EVENT_HASH_LEN)) {
		snprintf(err, errlen, "drops[%zu].%s: must be a hex SHA-256 (64 digits)", i, key);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int parse_drop(const json_t *obj, size_t i, struct db_drop *d, char *err, size_t errlen)
{
	static const char *keys[] = {"from", "to", "prev", "last", "reason"};
	const char *key, *reason;
	const json_t *v;
	int rc;

	if (!json_is_object(obj)) {
		snprintf(err, errlen,
			 "drops[%zu]: must be an object {from, to, prev, last, reason}", i);
		return MW_ERR_INVALID;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		size_t k = 0;
		while (k < MW_ARRAY_LEN(keys) && strcmp(key, keys[k]) != 0)
			k++;
		if (k == MW_ARRAY_LEN(keys)) {
			snprintf(err, errlen, "drops[%zu].%.64s: unknown field", i, key);
			return MW_ERR_INVALID;
		}
	}
	if ((rc = drop_u64(obj, i, "from", &d->from, err, errlen)) ||
	    (rc = drop_u64(obj, i, "to", &d->to, err, errlen)) ||
	    (rc = drop_hash(obj, i, "prev", d->prev, err, errlen)) ||
	    (rc = drop_hash(obj, i, "last", d->last, err, errlen)))
		return rc;
	if (d->to < d->from) {
		snprintf(err, errlen, "drops[%zu].to: %" PRIu64 " is below from (%" PRIu64 ")", i,
			 d->to, d->from);
		return MW_ERR_INVALID;
	}
	v = json_object_get(obj, "reason");
	reason = json_string_value(v);
	if (!reason || strlen(reason) >= sizeof(d->reason) || !event_id_valid(reason)) {
		snprintf(err, errlen, "drops[%zu].reason: must be a short word like \"quota\"", i);
		return MW_ERR_INVALID;
	}
	mw_strlcpy(d->reason, reason, sizeof(d->reason));
	return MW_OK;
}

static int parse_drops(const json_t *arr, struct ingest_batch *b, char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	int rc;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "drops: must be an array of drop ranges");
		return MW_ERR_INVALID;
	}
	if (json_array_size(arr) && !(b->drops = calloc(json_array_size(arr), sizeof(*b->drops))))
		return MW_ERR_NOMEM;
	json_array_foreach(arr, i, v)
	{
		if ((rc = parse_drop(v, i, &b->drops[i], err, errlen)))
			return rc;
		b->n_drops++;
		if (i > 0 && b->drops[i].from <= b->drops[i - 1].to) {
			snprintf(err, errlen,
				 "drops[%zu].from: %" PRIu64 " must be above the previous "
				 "range's to (%" PRIu64 ")",
				 i, b->drops[i].from, b->drops[i - 1].to);
			return MW_ERR_INVALID;
		}
	}
	return MW_OK;
}

/* Both lists are sorted: one merge pass finds an event inside a range. */
static int check_overlap(const struct ingest_batch *b, char *err, size_t errlen)
{
	size_t i = 0, j = 0;

	while (i < b->n_events && j < b->n_drops) {
		const struct event *e = &b->events[i];
		const struct db_drop *d = &b->drops[j];
		if (e->seq < d->from) {
			i++;
		} else if (e->seq > d->to) {
			j++;
		} else {
			snprintf(err, errlen,
				 "events[%zu].seq: %" PRIu64 " lies inside drops[%zu] "
				 "(%" PRIu64 " to %" PRIu64 ")",
				 i, e->seq, j, d->from, d->to);
			return MW_ERR_INVALID;
		}
	}
	return MW_OK;
}

static int parse_top(const json_t *root, struct ingest_batch *b, char *err, size_t errlen)
{
	const char *key;
	const json_t *v;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "body: must be a JSON object {node, events, drops}");
		return MW_ERR_INVALID;
	}
	json_object_foreach((json_t *)root, key, v)
	{
		if (strcmp(key, "node") && strcmp(key, "events") && strcmp(key, "drops")) {
			snprintf(err, errlen,
				 "%.64s: unknown field (a batch has node, events, drops)", key);
			return MW_ERR_INVALID;
		}
	}
	v = json_object_get(root, "node");
	if (!json_is_string(v) || !event_id_valid(json_string_value(v))) {
		snprintf(err, errlen,
			 "node: must be a string of 1 to %d characters from "
			 "A-Z a-z 0-9 . _ : / -",
			 EVENT_ID_MAX);
		return MW_ERR_INVALID;
	}
	mw_strlcpy(b->node, json_string_value(v), sizeof(b->node));
	return MW_OK;
}

int ingest_batch_parse(const json_t *root, struct ingest_batch *out, char *err, size_t errlen)
{
	const json_t *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = parse_top(root, out, err, errlen)))
		goto fail;
	if ((v = json_object_get(root, "events")) && (rc = parse_events(v, out, err, errlen)))
		goto fail;
	if ((v = json_object_get(root, "drops")) && (rc = parse_drops(v, out, err, errlen)))
		goto fail;
	if ((rc = check_overlap(out, err, errlen)))
		goto fail;
	return MW_OK;
fail:
	if (rc == MW_ERR_NOMEM)
		snprintf(err, errlen, "body: out of memory");
	ingest_batch_free(out);
	return rc;
}

/* ---- the HTTP handler ---- */

static void reject(struct hub *h, struct http_resp *resp, enum hub_reject why, unsigned status,
		   const char *node, const char *msg)
{
	atomic_fetch_add(&h->m.rejected[why], 1);
	http_error(resp, status, "%s", msg);
	log_info("msg=\"batch refused\" node=%s status=%u reason=%s error=\"%.200s\"",
		 node ? node : "-", status, hub_reject_name(why), msg);
}

/* The body as JSON text: as sent, or decompressed into plain. */
static int body_text(struct hub *h, struct http_req *req, struct http_resp *resp, const char *node,
		     struct buf *plain, const char **text, size_t *len)
{
	const char *enc = http_header(req, MHD_HTTP_HEADER_CONTENT_ENCODING);
	char msg[256];
	int rc;

	*text = req->body.data ? req->body.data : "";
	*len = req->body.len;
	if (!enc || !*enc || strcasecmp(enc, "identity") == 0)
		return MW_OK;
	if (strcasecmp(enc, "zstd") != 0) {
		snprintf(msg, sizeof(msg),
			 "Content-Encoding '%.40s' is not supported; send zstd "
			 "or no encoding",
			 enc);
		reject(h, resp, REJ_ENCODING, 415, node, msg);
		return MW_ERR_INVALID;
	}
	rc = ingest_zstd_decode(*text, *len, plain);
	if (rc == MW_ERR_TOOBIG) {
		snprintf(msg, sizeof(msg),
			 "body: larger than max_body (%" PRId64 " bytes) once "
			 "decompressed",
			 h->cfg->max_body);
		reject(h, resp, REJ_TOO_LARGE, 413, node, msg);
	} else if (rc) {
		reject(h, resp, REJ_INVALID, 400, node,
		       "body: not valid zstd (Content-Encoding: "
		       "zstd); corrupt or truncated");
	}
	*text = plain->data ? plain->data : "";
	*len = plain->len;
	return rc;
}

static void answer(struct hub *h, struct http_resp *resp, const struct ingest_batch *b,
		   const struct chain_result *r)
{
	atomic_fetch_add(&h->m.batches, 1);
	atomic_fetch_add(&h->m.events_ingested, r->stored);
	atomic_fetch_add(&h->m.events_duplicate, r->duplicates);
	for (int k = 0; k < CHAIN_REASONS; k++)
		atomic_fetch_add(&h->m.breaks[k], r->by_reason[k]);
	log_debug("msg=\"batch\" node=%s events=%zu drops=%zu acked=%" PRIu64 " stored=%" PRIu64
		  " duplicates=%" PRIu64 " breaks=%" PRIu64,
		  b->node, b->n_events, b->n_drops, r->acked, r->stored, r->duplicates, r->breaks);
	http_json(resp, 200,
		  json_pack("{s:I, s:I, s:I, s:I}", "acked", (json_int_t)r->acked, "stored",
			    (json_int_t)r->stored, "duplicates", (json_int_t)r->duplicates,
			    "breaks", (json_int_t)r->breaks));
}

static void apply(struct hub *h, struct http_resp *resp, const struct ingest_batch *b)
{
	struct chain_batch cb = {b->node, b->events, b->n_events, b->drops, b->n_drops};
	struct chain_result r;
	int rc;

	pthread_mutex_lock(&h->write_lock);
	rc = chain_apply(h->db, &cb, &r);
	pthread_mutex_unlock(&h->write_lock);
	if (rc) {
		char msg[160];
		snprintf(msg, sizeof(msg), "store: cannot take the batch now (%s); retry later",
			 mw_strerror(rc));
		reject(h, resp, REJ_STORE, 503, b->node, msg);
		return;
	}
	answer(h, resp, b, &r);
}

/* 403 when the batch names a valid node other than the token's. */
static bool forbidden(struct hub *h, struct http_resp *resp, const char *node, const char *bnode)
{
	char msg[600];

	if (!bnode || !event_id_valid(bnode) || strcmp(bnode, node) == 0)
		return false;
	snprintf(msg, sizeof(msg), "node: this token belongs to node '%s', not to '%s'", node,
		 bnode);
	reject(h, resp, REJ_FORBIDDEN, 403, node, msg);
	return true;
}

/* Checks the batch's node against the token's, then every field. */
static void validate_and_apply(struct hub *h, struct http_resp *resp, const char *node,
			       const json_t *root)
{
	struct ingest_batch b;
	char err[512];

	if (forbidden(h, resp, node, json_string_value(json_object_get(root, "node"))))
		return;
	err[0] = '\0';
	if (ingest_batch_parse(root, &b, err, sizeof(err))) {
		reject(h, resp, REJ_INVALID, 400, node, err);
		return;
	}
	apply(h, resp, &b);
	ingest_batch_free(&b);
}

bool ingest_batch_scan(const char *text, size_t len, struct ingest_batch *b)
{
	char err[256];

	if (wire_batch_scan(text, len, b) != MW_OK)
		return false;
	if (check_overlap(b, err, sizeof(err)) == MW_OK)
		return true;
	ingest_batch_free(b);
	return false;
}

void ingest_handle(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	char node_buf[AUTH_NAME_MAX + 1];
	const char *node = enroll_node_for_token(h, http_bearer(req), node_buf, sizeof(node_buf));
	struct ingest_batch fast;
	struct buf plain;
	const char *text;
	size_t len;
	json_t *root = NULL;
	char err[512];

	atomic_fetch_add(&h->m.ingest_bytes, req->body.len);
	buf_init(&plain, (size_t)h->cfg->max_body);
	if (!node) {
		reject(h, resp, REJ_AUTH, 401, NULL, "missing or unknown node token");
		goto out;
	}
	if (body_text(h, req, resp, node, &plain, &text, &len))
		goto out;
	if (ingest_batch_scan(text, len, &fast)) {
		if (!forbidden(h, resp, node, fast.node))
			apply(h, resp, &fast);
		ingest_batch_free(&fast);
		goto out;
	}
	if (ingest_json_load(text, len, &root, err, sizeof(err))) {
		reject(h, resp, REJ_INVALID, 400, node, err);
		goto out;
	}
	validate_and_apply(h, resp, node, root);
out:
	json_decref(root);
	buf_free(&plain);
}
