/* uplink.c -- the "uplink" thread; see uplink.h.
 *
 * One loop: read a batch (open drop ranges and unsent events after the
 * acked seq, from one snapshot of the store), build the body, send it,
 * record the ack. The batch is read again before every attempt, retries
 * included: while the hub is away the quota policy may delete events of a
 * batch built earlier, and a retry must not deliver events the store has
 * since declared dropped (the hub would hold events the edge counts as
 * dropped and lists in a store.dropped event).
 * Re-reading costs a store read and a compression per attempt, which the
 * backoff makes rare. One race remains: events read and sent, then deleted
 * by a quota pass while the POST is in flight and the hub is up; the hub
 * then holds them and a drop range or store.dropped event covering them.
 * It needs the hub up and the quota hit at the same moment; the store
 * could close it by not deleting seqs in flight, which it does not know.
 * The events' wire text comes straight from event_to_wire() and is
 * concatenated into the body, never re-encoded through a JSON tree.
 *
 * Failures change a small state (connected, unreachable, rejected) that
 * /v1/status and /metrics show; a line is logged when the state changes,
 * not on every retry, so an hour without network is a few lines. Waits
 * between retries grow exponentially with full jitter, so a fleet coming
 * back after an outage does not hit the hub in lockstep. A 413 halves the
 * batch (down to one event) instead of waiting: that one can fix itself.
 *
 * Blobs go after events: a round uploads at most UPLINK_BLOBS_PER_ROUND of
 * them, and only after a batch was accepted or when no event is due, so a
 * backlog of snapshots delays alarms by a few uploads at most. A blob is
 * read from disk and PUT whole (blobs are capped by blobs.max_size); the
 * hub answers 201 (stored) or 200 (it had it), either marks it uploaded,
 * so a blob is sent until the hub has it and then never again. A 400 or
 * 413 is final (the file is corrupt, or the hub's cap is smaller): the
 * blob is marked refused and logged, not retried forever; other failures
 * back off like batches do. */
#include "edge/uplink.h"

#include "core/http.h"
#include "core/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define IDLE_WAIT_MS 1000
#define ZSTD_LEVEL 1
#define BODY_SLACK (64 * 1024) /* node, brackets and drop ranges beyond batch_bytes */
#define ANSWER_MAX (64 * 1024)

struct uplink {
	struct uplink_options opt;
	char *node, *url, *token, *base, *ca;
	struct store *store;
	struct http_client *http;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stopping, pending;
	struct uplink_stats stats;    /* under lock */
	uint64_t acked;		      /* thread-local copy */
	size_t max_events, max_bytes; /* current caps (shrink on 413) */
	unsigned attempt;	      /* failures in a row */
	uint64_t rng;
	struct buf body, packed; /* the batch of this attempt */
	size_t body_events;
	uint64_t body_last_seq;
	bool last_ok; /* the last batch was accepted: the hub is there */
};

const char *uplink_state_name(enum uplink_state s)
{
	static const char *const names[] = {"connecting", "connected", "unreachable", "rejected"};
	return (unsigned)s < MW_ARRAY_LEN(names) ? names[s] : "unknown";
}

/* ---- body building (pure, unit-tested) ---- */

static int drops_text(const struct store_drop *drops, size_t n, struct buf *out)
{
	char prev[EVENT_HEX_LEN + 1], last[EVENT_HEX_LEN + 1];
	json_t *arr = json_array(), *o;
	char *text = NULL;
	int rc = MW_ERR_NOMEM;

	if (!arr)
		return MW_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		mw_hex(drops[i].prev, EVENT_HASH_LEN, prev);
		mw_hex(drops[i].last, EVENT_HASH_LEN, last);
		o = json_pack("{s:I,s:I,s:s,s:s,s:s}", "from", (json_int_t)drops[i].from, "to",
			      (json_int_t)drops[i].to, "prev", prev, "last", last, "reason",
			      drops[i].reason);
		if (!o || json_array_append_new(arr, o))
			goto out;
	}
	if (!(text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		goto out;
	rc = buf_printf(out, "],\"drops\":%s}", text);
out:
	free(text);
	json_decref(arr);
	return rc;
}

int uplink_build_body(const char *node, const struct event *events, size_t n,
		      const struct store_drop *drops, size_t ndrops, size_t max_bytes,
		      struct buf *out, size_t *used)
{
	struct buf tail;
	size_t i = 0;
	int rc;

	buf_init(&tail, out->cap);
	buf_reset(out);
	if ((rc = drops_text(drops, ndrops, &tail)))
		goto out;
	if ((rc = buf_printf(out, "{\"node\":\"%s\",\"events\":[", node)))
		goto out;
	for (; i < n; i++) {
		size_t mark = out->len;
		if (i > 0 && (rc = buf_addc(out, ',')))
			break;
		if (!rc)
			rc = event_to_wire(&events[i], out);
		if (i > 0 && (rc == MW_ERR_TOOBIG || out->len + tail.len > max_bytes)) {
			out->len = mark; /* this one waits for the next batch */
			out->data[mark] = '\0';
			rc = MW_OK;
			break;
		}
		if (rc)
			goto out;
	}
	rc = buf_add(out, tail.data, tail.len);
out:
	buf_free(&tail);
	*used = i;
	return rc;
}

int uplink_compress(const void *in, size_t len, int level, struct buf *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	int rc;

	buf_reset(out);
	if ((rc = buf_reserve(out, bound)))
		return rc;
	n = ZSTD_compress(out->data, bound, in, len, level);
	if (ZSTD_isError(n)) {
		log_error("zstd compress failed err=\"%s\"", ZSTD_getErrorName(n));
		return MW_ERR_INVALID;
	}
	out->len = n;
	out->data[n] = '\0';
	return MW_OK;
}

/* ---- lifecycle ---- */

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

int uplink_new(const struct uplink_options *opt, struct store *store, struct uplink **out)
{
	struct uplink *u = calloc(1, sizeof(*u));
	struct store_stats st;
	int rc = MW_ERR_NOMEM;

	if (!u)
		return MW_ERR_NOMEM;
	u->opt = *opt;
	u->store = store;
	pthread_mutex_init(&u->lock, NULL);
	cond_init_mono(&u->cond);
	buf_init(&u->body, opt->batch_bytes + BODY_SLACK);
	buf_init(&u->packed, ZSTD_compressBound(opt->batch_bytes + BODY_SLACK) + 1);
	u->node = strdup(opt->node);
	u->token = strdup(opt->token ? opt->token : "");
	u->ca = strdup(opt->ca_file ? opt->ca_file : "");
	size_t len = strlen(opt->hub_url);
	while (len > 0 && opt->hub_url[len - 1] == '/') /* "http://hub/" works too */
		len--;
	if (!u->node || !u->token || !u->ca ||
	    asprintf(&u->url, "%.*s/v1/ingest", (int)len, opt->hub_url) < 0) {
		u->url = NULL;
		goto fail;
	}
	if (!(u->base = strndup(opt->hub_url, len)))
		goto fail;
	if ((rc = http_client_new(&u->http)) || (rc = store_stats(store, &st)))
		goto fail;
	if (mw_random(&u->rng, sizeof(u->rng)) || u->rng == 0)
		u->rng = 0x9e3779b97f4a7c15ULL;
	u->acked = st.acked_seq;
	u->stats.acked_seq = st.acked_seq;
	u->max_events = opt->batch_events;
	u->max_bytes = opt->batch_bytes;
	*out = u;
	return MW_OK;
fail:
	uplink_free(u);
	return rc ? rc : MW_ERR_NOMEM;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	uplink_stop(u);
	http_client_free(u->http);
	buf_free(&u->body);
	buf_free(&u->packed);
	free(u->node);
	free(u->token);
	free(u->ca);
	free(u->url);
	free(u->base);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

void uplink_stats(struct uplink *u, struct uplink_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}

void uplink_wake(struct uplink *u)
{
	pthread_mutex_lock(&u->lock);
	u->pending = true;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

/* Sleeps up to ms; returns early on stop, and on new events when wakeable. */
static void nap(struct uplink *u, int64_t ms, bool wakeable)
{
	struct timespec ts = mw_mono_timespec(mw_mono_ns() + ms * 1000000);

	pthread_mutex_lock(&u->lock);
	while (!u->stopping && !(wakeable && u->pending))
		if (pthread_cond_timedwait(&u->cond, &u->lock, &ts))
			break;
	pthread_mutex_unlock(&u->lock);
}

static bool stopping(struct uplink *u)
{
	pthread_mutex_lock(&u->lock);
	bool s = u->stopping;
	pthread_mutex_unlock(&u->lock);
	return s;
}

/* ---- one round ---- */

static void set_state(struct uplink *u, enum uplink_state st, const char *why)
{
	pthread_mutex_lock(&u->lock);
	enum uplink_state old = u->stats.state;
	u->stats.state = st;
	if (st != UPLINK_CONNECTED)
		u->stats.errors++;
	pthread_mutex_unlock(&u->lock);
	if (old == st)
		return;
	if (st == UPLINK_CONNECTED)
		log_info("uplink hub=connected url=%s acked_seq=%llu", u->url,
			 (unsigned long long)u->acked);
	else if (st == UPLINK_REJECTED)
		log_error("uplink hub=rejected url=%s err=\"%s\" (retrying every %lldms; fix the "
			  "config or the hub)",
			  u->url, why, (long long)u->opt.backoff_max_ms);
	else
		log_warn("uplink hub=unreachable url=%s err=\"%s\" (events are kept; retrying)",
			 u->url, why);
}

static int64_t backoff_ms(struct uplink *u)
{
	int64_t lo = u->opt.backoff_min_ms, hi = lo;
	for (unsigned i = 0; i < u->attempt && hi < u->opt.backoff_max_ms; i++)
		hi *= 2;
	if (hi > u->opt.backoff_max_ms)
		hi = u->opt.backoff_max_ms;
	u->rng ^= u->rng << 13; /* xorshift64 */
	u->rng ^= u->rng >> 7;
	u->rng ^= u->rng << 17;
	if (u->attempt < 63)
		u->attempt++;
	return lo + (int64_t)(u->rng % (uint64_t)(hi - lo + 1));
}

/* Reads the next batch and builds its body. *empty when nothing is due. */
static int prepare(struct uplink *u, bool *empty)
{
	struct event *ev = NULL;
	struct store_drop *drops = NULL;
	size_t n = 0, nd = 0, used = 0;
	int rc;

	*empty = false;
	if ((rc = store_read_batch(u->store, u->acked, u->max_events, u->max_bytes, &ev, &n, &drops,
				   &nd)))
		goto out;
	if (n == 0 && nd == 0) {
		*empty = true;
		goto out;
	}
	rc = uplink_build_body(u->node, ev, n, drops, nd, u->max_bytes, &u->body, &used);
	if (rc == MW_OK && u->opt.compress)
		rc = uplink_compress(u->body.data, u->body.len, ZSTD_LEVEL, &u->packed);
	if (rc == MW_OK) {
		u->body_events = used;
		u->body_last_seq = used ? ev[used - 1].seq : u->acked;
	}
out:
	store_events_free(ev, n);
	free(drops);
	return rc;
}

static int parse_ack(const struct http_response *r, uint64_t *acked)
{
	json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
	json_t *a = json_object_get(j, "acked");
	int rc = json_is_integer(a) && json_integer_value(a) >= 0 ? MW_OK : MW_ERR_INVALID;
	if (rc == MW_OK)
		*acked = (uint64_t)json_integer_value(a);
	json_decref(j);
	return rc;
}

static void hub_error(const struct http_response *r, char *out, size_t cap)
{
	json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	snprintf(out, cap, "HTTP %ld: %.300s", r->status, msg ? msg : r->body.data);
	json_decref(j);
}

static void accepted(struct uplink *u, uint64_t acked)
{
	int rc;

	if (acked > u->acked) {
		if ((rc = store_ack(u->store, acked))) {
			log_error("uplink cannot record ack seq=%llu err=%s",
				  (unsigned long long)acked, mw_strerror(rc));
			nap(u, backoff_ms(u), false);
			return;
		}
		u->acked = acked;
	}
	u->attempt = 0;
	u->last_ok = true;
	set_state(u, UPLINK_CONNECTED, NULL);
	pthread_mutex_lock(&u->lock);
	u->stats.batches++;
	u->stats.events_sent += u->body_events;
	u->stats.acked_seq = u->acked;
	pthread_mutex_unlock(&u->lock);
	if (acked < u->body_last_seq) {
		/* The hub holds less than we sent; resend from its ack, gently. */
		log_warn("uplink hub acked less than sent acked=%llu sent_to=%llu",
			 (unsigned long long)acked, (unsigned long long)u->body_last_seq);
		nap(u, u->opt.backoff_min_ms, false);
	}
}

static void send_batch(struct uplink *u)
{
	const char *hdr_plain[] = {"Content-Type: application/json", NULL};
	const char *hdr_zstd[] = {"Content-Type: application/json", "Content-Encoding: zstd", NULL};
	const struct buf *b = u->opt.compress ? &u->packed : &u->body;
	struct http_request req = {
		.method = "POST",
		.url = u->url,
		.headers = u->opt.compress ? hdr_zstd : hdr_plain,
		.bearer = u->token,
		.ca_file = u->ca,
		.body = b->data,
		.body_len = b->len,
		.timeout_ms = u->opt.timeout_ms,
		.max_response = ANSWER_MAX,
	};
	struct http_response r;
	char why[400];
	uint64_t acked = 0;
	int rc = http_do(u->http, &req, &r);

	u->last_ok = false;
	if (rc == MW_OK && r.status == 200 && parse_ack(&r, &acked) == MW_OK) {
		accepted(u, acked);
	} else if (rc == MW_OK && r.status == 413 && u->body_events > 1) {
		u->max_events = u->body_events / 2;
		u->max_bytes = u->max_bytes / 2 > 4096 ? u->max_bytes / 2 : 4096;
		log_warn("uplink batch too large for the hub events=%zu bytes=%zu; halving it",
			 u->body_events, b->len);
	} else if (rc == MW_OK && r.status >= 400 && r.status < 500) {
		hub_error(&r, why, sizeof(why));
		set_state(u, UPLINK_REJECTED, why);
		u->attempt = 64;
		nap(u, u->opt.backoff_max_ms, false);
	} else {
		if (rc == MW_OK && r.status == 200)
			snprintf(why, sizeof(why), "HTTP 200 without an acked seq: %.200s",
				 r.body.data);
		else if (rc == MW_OK)
			hub_error(&r, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", r.error);
		set_state(u, UPLINK_UNREACHABLE, why);
		nap(u, backoff_ms(u), false);
	}
	http_response_free(&r);
}

/* ---- blobs ---- */

static void blob_counted(struct uplink *u, bool ok)
{
	pthread_mutex_lock(&u->lock);
	if (ok)
		u->stats.blobs_uploaded++;
	else
		u->stats.blob_errors++;
	pthread_mutex_unlock(&u->lock);
}

/* PUTs one blob. MW_OK when the hub has it or refused it for good (either
 * way it leaves the pending list); MW_ERR_BUSY to stop and back off. */
static int put_blob(struct uplink *u, const char *hex, struct buf *data)
{
	const char *hdr[] = {"Content-Type: application/octet-stream", NULL};
	char url[2200], why[400];
	struct http_response r;
	int rc = blobs_read(u->opt.blobs, hex, data);

	if (rc == MW_ERR_NOTFOUND)
		return MW_OK; /* evicted meanwhile: nothing left to send */
	if (rc)
		return rc;
	snprintf(url, sizeof(url), "%s/v1/blobs/%s", u->base, hex);
	struct http_request req = {.method = "PUT",
				   .url = url,
				   .headers = hdr,
				   .bearer = u->token,
				   .ca_file = u->ca,
				   .body = data->data,
				   .body_len = data->len,
				   .timeout_ms = u->opt.timeout_ms,
				   .max_response = ANSWER_MAX};
	rc = http_do(u->http, &req, &r);
	if (rc == MW_OK && (r.status == 200 || r.status == 201)) {
		rc = blobs_mark_uploaded(u->opt.blobs, hex);
		blob_counted(u, true);
	} else if (rc == MW_OK && (r.status == 400 || r.status == 413)) {
		hub_error(&r, why, sizeof(why));
		log_error("uplink hub refused blob=%s err=\"%s\"; not retrying it", hex, why);
		rc = blobs_mark_refused(u->opt.blobs, hex);
		blob_counted(u, false);
	} else {
		if (rc == MW_OK)
			hub_error(&r, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", r.error);
		set_state(u,
			  rc == MW_OK && r.status >= 400 && r.status < 500 ? UPLINK_REJECTED
									   : UPLINK_UNREACHABLE,
			  why);
		blob_counted(u, false);
		rc = MW_ERR_BUSY;
	}
	http_response_free(&r);
	return rc;
}

/* Uploads up to UPLINK_BLOBS_PER_ROUND pending blobs; returns how many
 * left the pending list, or a negative error after which to back off. */
static int upload_blobs(struct uplink *u)
{
	struct blob_hash *pend = NULL;
	struct buf data;
	size_t n = 0, i = 0;
	int rc;

	if (!u->opt.blobs)
		return 0;
	if ((rc = blobs_pending(u->opt.blobs, UPLINK_BLOBS_PER_ROUND, &pend, &n)))
		return rc;
	buf_init(&data, (size_t)1 << 30);
	for (; i < n && !stopping(u); i++)
		if ((rc = put_blob(u, pend[i].hex, &data)))
			break;
	buf_free(&data);
	free(pend);
	return rc ? rc : (int)i;
}

/* Blobs after the events; backs off like a failed batch when the hub fails. */
static bool blob_round(struct uplink *u)
{
	int done = upload_blobs(u);

	if (done < 0) {
		if (done != MW_ERR_BUSY)
			log_error("uplink cannot read a blob err=%s", mw_strerror(done));
		nap(u, backoff_ms(u), false);
		return false;
	}
	if (done > 0)
		u->attempt = 0;
	return done > 0;
}

static void *run(void *arg)
{
	struct uplink *u = arg;
	bool empty;
	int rc;

	pthread_setname_np(pthread_self(), "uplink");
	while (!stopping(u)) {
		pthread_mutex_lock(&u->lock);
		u->pending = false;
		pthread_mutex_unlock(&u->lock);
		/* Every attempt re-reads: see the comment atop this file. */
		if ((rc = prepare(u, &empty))) {
			log_error("uplink cannot read the store err=%s", mw_strerror(rc));
			nap(u, backoff_ms(u), false);
			continue;
		}
		if (empty) {
			if (!blob_round(u))
				nap(u, IDLE_WAIT_MS, true);
			continue;
		}
		send_batch(u);
		if (u->last_ok)
			(void)blob_round(u);
	}
	return NULL;
}

int uplink_start(struct uplink *u)
{
	if (u->running)
		return MW_ERR_STATE;
	u->stopping = false;
	if (pthread_create(&u->thread, NULL, run, u))
		return MW_ERR_NOMEM;
	u->running = true;
	log_info(
		"uplink started url=%s acked_seq=%llu batch_events=%zu batch_bytes=%zu compress=%s",
		u->url, (unsigned long long)u->acked, u->opt.batch_events, u->opt.batch_bytes,
		u->opt.compress ? "zstd" : "off");
	return MW_OK;
}

void uplink_stop(struct uplink *u)
{
	if (!u->running)
		return;
	pthread_mutex_lock(&u->lock);
	u->stopping = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
	u->running = false;
}
