/* fleet.c -- heartbeats, node health and the stale/offline monitor (fleet.h). */
#include "hub/fleet.h"

#include "core/log.h"
#include "hub/chain.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL
#define INTERVAL_MIN_MS 100
#define INTERVAL_MAX_MS (3600 * 1000LL)
/* The monitor looks every half of the shortest heartbeat interval, within
 * these bounds, so a node is seen stale before it is due to be offline. */
#define MONITOR_MIN_MS 100
#define MONITOR_MAX_MS 1000

static const char *const status_names[] = {"unknown", "online", "stale", "offline"};

struct fleet {
	struct hub *h;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

/* ---- a heartbeat ---------------------------------------------------------- */

struct beat {
	const char *node;
	json_t *state; /* the report's state member */
	bool full;
	int64_t interval_ms, now;
	bool came_back; /* was stale or offline (or new): node.online */
	int was;
};

static double number_at(json_t *state, const char *group, const char *key)
{
	return json_number_value(json_object_get(json_object_get(state, group), key));
}

static int apply_beat(struct hub *h, void *arg)
{
	struct beat *b = arg;
	struct db_fleet f = {0};
	json_t *merged = NULL;
	int rc = h->db->ops->fleet_get(h->db, b->node, &f);

	if (rc && rc != MW_ERR_NOTFOUND)
		return rc;
	b->was = rc == MW_ERR_NOTFOUND ? NODE_UNKNOWN : f.status;
	merged = b->full || !f.state ? json_deep_copy(b->state) : json_loads(f.state, 0, NULL);
	if (merged && !b->full && f.state)
		json_object_update(merged, b->state);
	free(f.state);
	f = (struct db_fleet){
		.last_heartbeat = b->now, .interval_ms = b->interval_ms, .status = NODE_ONLINE};
	mw_strlcpy(f.node, b->node, sizeof(f.node));
	f.state = merged ? json_dumps(merged, JSON_COMPACT) : NULL;
	rc = f.state ? h->db->ops->fleet_put(h->db, &f) : MW_ERR_NOMEM;
	if (rc == MW_OK)
		rc = h->db->ops->telemetry_put(h->db, b->node, b->now / (60 * 1000000000LL),
					       number_at(merged, "cpu", "percent"),
					       number_at(merged, "memory", "used_percent"),
					       number_at(merged, "disk", "free_bytes"));
	b->came_back = b->was != NODE_ONLINE;
	if (rc == MW_OK && b->came_back)
		rc = chain_hub_event(
			h->db, b->node, "node.online", SEV_INFO,
			json_pack("{s:s, s:s}", "node", b->node, "was", status_names[b->was]));
	free(f.state);
	json_decref(merged);
	return rc;
}

void fleet_heartbeat(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp), *state, *iv;
	struct beat b = {.node = req->who.name, .now = mw_now_ns()};
	int rc;

	if (!o)
		return;
	state = json_object_get(o, "state");
	iv = json_object_get(o, "interval_ms");
	b.full = json_is_true(json_object_get(o, "full"));
	b.interval_ms = json_integer_value(iv);
	if (!json_is_object(state)) {
		http_error(resp, 400, "state: a JSON object expected");
	} else if (!json_is_integer(iv) || b.interval_ms < INTERVAL_MIN_MS ||
		   b.interval_ms > INTERVAL_MAX_MS) {
		http_error(resp, 400, "interval_ms: %d to %lld expected", INTERVAL_MIN_MS,
			   INTERVAL_MAX_MS);
	} else {
		b.state = state;
		rc = hub_write(h, apply_beat, &b);
		if (rc)
			http_error(resp, 503, "cannot store the heartbeat: %s", mw_strerror(rc));
		else
			http_json(resp, 200,
				  json_pack("{s:s, s:n}", "status", "online", "desired"));
		if (rc == MW_OK && b.came_back)
			log_info("msg=\"node online\" node=%s was=%s", b.node, status_names[b.was]);
	}
	json_decref(o);
}

/* ---- the monitor ------------------------------------------------------------ */

/* Where a node with this status, silent for missed intervals, goes next
 * (0: it stays). */
static int next_status(const struct hub *h, int status, int64_t missed)
{
	if ((status == NODE_ONLINE || status == NODE_STALE) && missed >= h->cfg->offline_missed)
		return NODE_OFFLINE;
	if (status == NODE_ONLINE && missed >= h->cfg->stale_missed)
		return NODE_STALE;
	return 0;
}

static int64_t missed_at(const struct db_fleet *f, int64_t now_ns)
{
	int64_t iv = f->interval_ms > 0 ? f->interval_ms : 10000;

	return (now_ns - f->last_heartbeat) / (iv * NS_PER_MS);
}

struct mark {
	const char *node;
	int64_t now, missed;
	int to;
};

/* Under the write lock, on the node's current row: a heartbeat that came
 * after the monitor's look keeps the node online. A node silent long
 * enough to be offline at once (the monitor was late) is marked stale
 * first, so every node's history reads online, stale, offline. */
static int apply_mark(struct hub *h, void *arg)
{
	struct mark *m = arg;
	struct db_fleet f;
	int rc = h->db->ops->fleet_get(h->db, m->node, &f), to;

	if (rc)
		return rc;
	m->missed = missed_at(&f, m->now);
	while (rc == MW_OK && (to = next_status(h, f.status, m->missed))) {
		if (f.status == NODE_ONLINE)
			to = NODE_STALE;
		f.status = m->to = to;
		rc = h->db->ops->fleet_put(h->db, &f);
		if (rc == MW_OK)
			rc = chain_hub_event(
				h->db, f.node, to == NODE_STALE ? "node.stale" : "node.offline",
				to == NODE_STALE ? SEV_WARNING : SEV_ALARM,
				json_pack("{s:s, s:I, s:I}", "node", f.node, "missed_heartbeats",
					  (json_int_t)m->missed, "last_heartbeat",
					  (json_int_t)f.last_heartbeat));
	}
	free(f.state);
	return rc;
}

int64_t fleet_check(struct hub *h, int64_t now_ns)
{
	struct db_fleet *all;
	int64_t shortest = 0;
	size_t n;

	if (h->db->ops->fleet_list(h->db, &all, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct mark m = {.node = all[i].node, .now = now_ns};
		if (all[i].interval_ms > 0 && (!shortest || all[i].interval_ms < shortest))
			shortest = all[i].interval_ms;
		if (!next_status(h, all[i].status, missed_at(&all[i], now_ns)))
			continue;
		if (hub_write(h, apply_mark, &m) == MW_OK && m.to)
			log_warn("msg=\"node %s\" node=%s missed_heartbeats=%lld",
				 status_names[m.to], m.node, (long long)m.missed);
	}
	db_fleet_free_list(all, n);
	return shortest;
}

static void *monitor(void *arg)
{
	struct fleet *f = arg;
	struct timespec ts;

	int64_t period = MONITOR_MAX_MS;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		ts = mw_mono_timespec(mw_mono_ns() + period * NS_PER_MS);
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		period = fleet_check(f->h, mw_now_ns()) / 2;
		period = period < MONITOR_MIN_MS   ? MONITOR_MIN_MS
			 : period > MONITOR_MAX_MS ? MONITOR_MAX_MS
						   : period;
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fleet_start(struct hub *h, struct fleet **out)
{
	struct fleet *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	*out = NULL;
	if (!f)
		return MW_ERR_NOMEM;
	f->h = h;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&f->thread, NULL, monitor, f)) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return MW_ERR_NOMEM;
	}
	pthread_setname_np(f->thread, "fleet");
	*out = f;
	return MW_OK;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* ---- GET /v1/nodes ------------------------------------------------------------ */

static json_t *node_entry(json_t *by_node, const char *node)
{
	json_t *e = json_object_get(by_node, node);

	if (!e) {
		e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:I}", "node", node, "acked_seq",
			      (json_int_t)0, "events", (json_int_t)0, "breaks", (json_int_t)0,
			      "last_seen", (json_int_t)0, "status", "unknown", "last_heartbeat",
			      (json_int_t)0);
		json_object_set_new(by_node, node, e);
	}
	return e;
}

void fleet_nodes(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct db_node *nodes = NULL;
	struct db_fleet *fl = NULL;
	size_t n = 0, nf = 0;
	json_t *by_node = json_object(), *arr = json_array(), *v;
	const char *key;
	int rc = h->db->ops->nodes_list(h->db, &nodes, &n);

	if (rc == MW_OK)
		rc = h->db->ops->fleet_list(h->db, &fl, &nf);
	if (rc) {
		http_error(resp, rc == MW_ERR_BUSY ? 503 : 500, "nodes: cannot read the store (%s)",
			   mw_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = node_entry(by_node, nodes[i].node);
		json_object_set_new(e, "acked_seq", json_integer((json_int_t)nodes[i].acked_seq));
		json_object_set_new(e, "events", json_integer((json_int_t)nodes[i].events));
		json_object_set_new(e, "breaks", json_integer((json_int_t)nodes[i].breaks));
		json_object_set_new(e, "last_seen", json_integer(nodes[i].last_seen));
	}
	for (size_t i = 0; i < nf; i++) {
		json_t *e = node_entry(by_node, fl[i].node);
		json_object_set_new(e, "status",
				    json_string(status_names[(unsigned)fl[i].status % 4]));
		json_object_set_new(e, "last_heartbeat", json_integer(fl[i].last_heartbeat));
		json_object_set_new(e, "state", json_loads(fl[i].state, 0, NULL));
	}
	json_object_foreach(by_node, key, v) json_array_append(arr, v);
	http_json(resp, 200, json_pack("{s:O}", "nodes", arr));
out:
	free(nodes);
	db_fleet_free_list(fl, nf);
	json_decref(by_node);
	json_decref(arr);
}
