/* deploy.c -- deployments and their rollouts (deploy.h).
 *
 * A deployment is one JSON document, kept whole in the store: what to run
 * (entry: the app entry every target gets), where (targets, each with its
 * batch, state, the generation it was given and what it had before), and
 * how it goes (status, reason). Each node's desired state is its fleet
 * config (hub/fleet.h: {labels, apps} and a generation), written to the
 * store (node_config) whenever a rollout changes it.
 *
 * Every change -- a new deployment, a tick of the rollouts, a label --
 * runs under one lock (d->op) and works on copies: the documents and node
 * configs it changes are gathered in a struct change, written in one
 * transaction, and only then put in memory, so a failed write leaves
 * nothing half-applied and the next tick tries again. */
#include "hub/deploy.h"

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "hub/auth.h"
#include "hub/chain.h"
#include "hub/enroll.h"
#include "hub/fleet.h"
#include "hub/manifest.h"
#include "hub/users.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL
#define TICK_MS 500
#define SETTLE_DEFAULT_MS 10000
#define SETTLE_MAX_MS (3600 * 1000LL)
#define LIST_DEFAULT 50
#define LIST_MAX 1000

struct deploy {
	struct hub *h;
	pthread_mutex_t op;  /* one change at a time */
	atomic_int rolling;  /* rollouts in progress, so idle ticks cost nothing */
	struct mw_loop loop; /* the rollout thread */
};

/* What one change writes: node configs by node ({labels, apps,
 * generation}), deployment documents, and the hub's events; and the audit
 * lines ({target, detail}) of what the hub did by itself, once written. */
struct change {
	json_t *nodes, *docs, *events, *audits;
};

static void change_init(struct change *c)
{
	c->nodes = json_object();
	c->docs = json_array();
	c->events = json_array();
	c->audits = json_array();
}

static void change_free(struct change *c)
{
	json_decref(c->nodes);
	json_decref(c->docs);
	json_decref(c->events);
	json_decref(c->audits);
}

/* The node's config as this change sees it (borrowed), loaded from the
 * fleet on first use; NULL for a node nothing may be deployed to. */
static json_t *node_cfg(struct hub *h, struct change *c, const char *node)
{
	json_t *cfg = json_object_get(c->nodes, node);
	int64_t gen = 0;

	if (cfg)
		return cfg;
	if (!(cfg = fleet_config(h, node, &gen)))
		return NULL;
	if (json_is_true(json_object_get(cfg, "revoked"))) {
		json_decref(cfg);
		return NULL;
	}
	if (!json_is_object(json_object_get(cfg, "apps")))
		json_object_set_new(cfg, "apps", json_object());
	json_object_set_new(cfg, "generation", json_integer(gen));
	json_object_set_new(c->nodes, node, cfg);
	return cfg;
}

static void bump(json_t *cfg)
{
	json_object_set_new(
		cfg, "generation",
		json_integer(json_integer_value(json_object_get(cfg, "generation")) + 1));
}

static void hub_event(struct change *c, const char *kind, enum severity sev, json_t *attrs)
{
	json_array_append_new(c->events, json_pack("{s:s, s:i, s:o}", "kind", kind, "sev", (int)sev,
						   "attrs", attrs));
}

static int write_change(struct hub *h, void *arg)
{
	struct change *c = arg;
	const char *node;
	json_t *v;
	size_t i;
	int rc = MW_OK;

	json_object_foreach(c->nodes, node, v)
	{
		char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		rc = text ? h->db->ops->node_config_put(h->db, node, text) : MW_ERR_NOMEM;
		free(text);
		if (rc)
			return rc;
	}
	json_array_foreach(c->docs, i, v)
	{
		struct db_doc d = {.id = json_integer_value(json_object_get(v, "id"))};
		mw_strlcpy(d.key, json_string_value(json_object_get(v, "app")), sizeof(d.key));
		mw_strlcpy(d.status, json_string_value(json_object_get(v, "status")),
			   sizeof(d.status));
		if (!(d.doc = json_dumps(v, JSON_COMPACT)))
			return MW_ERR_NOMEM;
		rc = h->db->ops->deployment_put(h->db, &d);
		free(d.doc);
		if (rc)
			return rc;
		json_object_set_new(v, "id", json_integer(d.id));
	}
	json_array_foreach(c->events, i, v)
	{
		rc = chain_hub_event(h->db, "hub/rollout",
				     json_string_value(json_object_get(v, "kind")),
				     (enum severity)json_integer_value(json_object_get(v, "sev")),
				     json_incref(json_object_get(v, "attrs")));
		if (rc)
			return rc;
	}
	return MW_OK;
}

/* Writes c, then puts its node configs in memory. */
static int commit_change(struct hub *h, struct change *c)
{
	const char *node;
	json_t *v;
	int rc = hub_write(h, write_change, c);

	json_object_foreach(c->nodes, node, v) if (rc == MW_OK)
	{
		int64_t gen = json_integer_value(json_object_get(v, "generation"));
		json_t *cfg = json_deep_copy(v);
		json_object_del(cfg, "generation");
		rc = fleet_config_set(h, node, gen, cfg);
		json_decref(cfg);
	}
	return rc;
}

/* ---- what people see ------------------------------------------------------- */

/* Replaces the values of an entry's secret parameters with "***". */
static void mask_entry(json_t *entry)
{
	json_t *params = json_object_get(entry, "params"), *name;
	size_t i;

	json_array_foreach(json_object_get(entry, "secrets"), i, name)
	{
		const char *k = json_string_value(name);
		if (k && json_object_get(params, k))
			json_object_set_new(params, k, json_string("***"));
	}
}

static json_t *public_doc(json_t *doc, bool with_targets)
{
	json_t *p = json_deep_copy(doc), *t;
	size_t i;

	mask_entry(json_object_get(p, "entry"));
	json_object_set(p, "params", json_object_get(json_object_get(p, "entry"), "params"));
	json_array_foreach(json_object_get(p, "targets"), i, t)
		mask_entry(json_object_get(t, "prev"));
	if (!with_targets) {
		json_t *counts = json_object(), *ts = json_object_get(p, "targets");
		json_array_foreach(ts, i, t)
		{
			const char *st = json_string_value(json_object_get(t, "state"));
			json_object_set_new(
				counts, st,
				json_integer(json_integer_value(json_object_get(counts, st)) + 1));
		}
		json_object_set_new(p, "nodes", json_integer((json_int_t)json_array_size(ts)));
		json_object_set_new(p, "progress", counts);
		json_object_del(p, "targets");
	}
	json_object_del(p, "entry");
	return p;
}

/* ---- a rollout's steps ----------------------------------------------------- */

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool state_is(json_t *t, const char *s)
{
	return !strcmp(sget(t, "state") ? sget(t, "state") : "", s);
}

static void apply_target(struct hub *h, struct change *c, json_t *doc, json_t *t)
{
	json_t *cfg = node_cfg(h, c, sget(t, "node")), *apps, *prev;
	const char *app = sget(doc, "app");

	if (!cfg) {
		json_object_set_new(t, "state", json_string("skipped"));
		json_object_set_new(t, "reason", json_string("the node is not enrolled any more"));
		return;
	}
	apps = json_object_get(cfg, "apps");
	prev = json_object_get(apps, app);
	json_object_set_new(t, "prev", prev ? json_deep_copy(prev) : json_null());
	if (json_is_true(json_object_get(doc, "remove")))
		json_object_del(apps, app);
	else
		json_object_set_new(apps, app, json_deep_copy(json_object_get(doc, "entry")));
	bump(cfg);
	json_object_set(t, "generation", json_object_get(cfg, "generation"));
	json_object_set_new(t, "state", json_string("applying"));
	json_object_set_new(t, "applied", json_integer(mw_now_ns()));
}

/* Where a node that was given this deployment stands: 1 done, 0 not yet,
 * -1 failed (reason set). */
static int observe(struct hub *h, json_t *doc, json_t *t, char *reason, size_t cap)
{
	json_t *st = fleet_node_state(h, sget(t, "node")), *rep;
	json_int_t have, id = json_integer_value(json_object_get(doc, "id"));
	int64_t settle = json_integer_value(json_object_get(doc, "settle_ms")) * NS_PER_MS;
	const char *state;
	int res = 0;

	if (!st)
		return 0;
	rep = json_object_get(json_object_get(st, "apps"), sget(doc, "app"));
	have = json_integer_value(json_object_get(st, "desired_generation"));
	state = sget(rep, "state") ? sget(rep, "state") : "";
	if (json_is_true(json_object_get(doc, "remove")))
		res = have >= json_integer_value(json_object_get(t, "generation")) && !rep;
	else if (json_integer_value(json_object_get(rep, "deployment")) != id)
		res = 0;
	else if (!strcmp(state, "failed")) {
		snprintf(reason, cap, "%s", sget(rep, "reason") ? sget(rep, "reason") : "failed");
		res = -1;
	} else if (!strcmp(state, "running")) {
		/* the edge's own measure: the machines need not share a clock */
		res = json_integer_value(json_object_get(rep, "up_ms")) * NS_PER_MS >= settle;
	}
	json_decref(st);
	return res;
}

/* Whether the node's entry for the app is still the one doc gave it. */
static bool still_ours(json_t *doc, json_t *cfg)
{
	json_t *cur = json_object_get(json_object_get(cfg, "apps"), sget(doc, "app"));

	if (json_is_true(json_object_get(doc, "remove")))
		return !cur;
	return cur && json_integer_value(json_object_get(cur, "deployment")) ==
			      json_integer_value(json_object_get(doc, "id"));
}

static void rollback(struct hub *h, struct change *c, json_t *doc, json_t *failed, const char *why)
{
	const char *app = sget(doc, "app");
	json_t *t, *cfg;
	size_t i, n = 0;
	char reason[400];

	json_array_foreach(json_object_get(doc, "targets"), i, t)
	{
		if (state_is(t, "waiting")) {
			json_object_set_new(t, "state", json_string("skipped"));
			continue;
		}
		if (!state_is(t, "applying") && !state_is(t, "done"))
			continue;
		if ((cfg = node_cfg(h, c, sget(t, "node"))) && still_ours(doc, cfg)) {
			json_t *prev = json_object_get(t, "prev");
			if (json_is_object(prev))
				json_object_set(json_object_get(cfg, "apps"), app, prev);
			else
				json_object_del(json_object_get(cfg, "apps"), app);
			bump(cfg);
			n++;
		}
		json_object_set_new(t, "state",
				    json_string(t == failed ? "failed" : "rolled_back"));
	}
	json_object_set_new(failed, "reason", json_string(why));
	snprintf(reason, sizeof(reason), "%s: %s@%s failed (%s); rolled back on %zu node%s",
		 sget(failed, "node"), app, sget(doc, "version") ? sget(doc, "version") : "-", why,
		 n, n == 1 ? "" : "s");
	json_object_set_new(doc, "status", json_string("rolled_back"));
	json_object_set_new(doc, "reason", json_string(reason));
	hub_event(c, "rollout.rolled_back", SEV_ALARM,
		  json_pack("{s:O, s:s, s:s, s:s, s:s, s:I}", "deployment",
			    json_object_get(doc, "id"), "app", app, "version",
			    sget(doc, "version") ? sget(doc, "version") : "", "node",
			    sget(failed, "node"), "reason", why, "rolled_back", (json_int_t)n));
	json_array_append_new(c->audits, json_pack("{s:s, s:s}", "target", app, "detail", reason));
	log_warn("msg=\"rollout rolled back\" deployment=%lld reason=\"%s\"",
		 (long long)json_integer_value(json_object_get(doc, "id")), reason);
}

/* The lowest batch with a node still waiting or applying; -1: none. */
static json_int_t current_batch(json_t *doc)
{
	json_int_t cur = -1;
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(doc, "targets"), i, t)
	{
		json_int_t b = json_integer_value(json_object_get(t, "batch"));
		if ((state_is(t, "waiting") || state_is(t, "applying")) && (cur < 0 || b < cur))
			cur = b;
	}
	return cur;
}

/* One step of doc's rollout; true when doc changed. */
static bool advance(struct hub *h, struct change *c, json_t *doc, char *why, size_t cap)
{
	json_int_t cur = current_batch(doc);
	bool changed = false;
	json_t *t;
	size_t i;

	if (cur < 0) {
		json_object_set_new(doc, "status", json_string("done"));
		hub_event(c, "rollout.done", SEV_INFO,
			  json_pack("{s:O, s:s, s:s}", "deployment", json_object_get(doc, "id"),
				    "app", sget(doc, "app"), "version",
				    sget(doc, "version") ? sget(doc, "version") : ""));
		log_info("msg=\"rollout done\" deployment=%lld app=%s",
			 (long long)json_integer_value(json_object_get(doc, "id")),
			 sget(doc, "app"));
		return true;
	}
	json_array_foreach(json_object_get(doc, "targets"), i, t)
	{
		int r;
		if (json_integer_value(json_object_get(t, "batch")) != cur)
			continue;
		if (state_is(t, "waiting")) {
			apply_target(h, c, doc, t);
			changed = true;
		} else if (state_is(t, "applying") && (r = observe(h, doc, t, why, cap))) {
			if (r < 0) {
				rollback(h, c, doc, t, why);
				return true;
			}
			json_object_set_new(t, "state", json_string("done"));
			changed = true;
		}
	}
	return changed;
}

/* Under d->op. */
static void tick_locked(struct hub *h)
{
	struct db_doc *docs = NULL;
	struct change c;
	size_t n = 0;
	char why[256];
	int rc = h->db->ops->deployments_list(h->db, "rolling", 0, 0, &docs, &n), left = 0;

	if (rc || n == 0) { /* a store that cannot be read now is tried again */
		db_docs_free(docs, n);
		if (rc == MW_OK)
			atomic_store(&h->deploy->rolling, 0);
		return;
	}
	change_init(&c);
	for (size_t i = n; i-- > 0;) { /* oldest first */
		json_t *doc = json_loads(docs[i].doc, 0, NULL);
		if (!doc)
			continue;
		json_object_set_new(doc, "id", json_integer(docs[i].id));
		if (advance(h, &c, doc, why, sizeof(why))) {
			json_object_set_new(doc, "updated", json_integer(mw_now_ns()));
			json_array_append(c.docs, doc);
		}
		left += !strcmp(sget(doc, "status"), "rolling");
		json_decref(doc);
	}
	if (json_array_size(c.docs) && (rc = commit_change(h, &c))) {
		log_error("msg=\"rollout step not stored; retrying\" err=\"%s\"", mw_strerror(rc));
	} else {
		json_t *a;
		size_t i;
		atomic_store(&h->deploy->rolling, left);
		json_array_foreach(c.audits, i, a) users_audit_hub(
			h, "deployment.rollback", sget(a, "target"), "ok", sget(a, "detail"));
	}
	change_free(&c);
	db_docs_free(docs, n);
}

/* The rollout thread's step: every rollout in progress, once. */
static int64_t tick(void *arg)
{
	struct deploy *d = arg;

	if (atomic_load(&d->rolling) > 0) {
		pthread_mutex_lock(&d->op);
		tick_locked(d->h);
		pthread_mutex_unlock(&d->op);
	}
	return TICK_MS;
}

/* ---- POST /v1/deployments ---------------------------------------------------- */

struct request {
	json_t *body, *manifest, *params, *nodes; /* nodes: sorted array of ids */
	int64_t settle_ms, batch;
	bool remove;
	char err[400];
};

static int fail(struct request *r, const char *fmt, ...) MW_PRINTF(2, 3);

static int fail(struct request *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return MW_ERR_INVALID;
}

static int find_version(struct hub *h, struct request *r, const char *app, const char *version)
{
	struct db_app *a;
	size_t n;
	char have[200] = "";
	int rc = h->db->ops->apps_list(h->db, app, &a, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && !r->manifest; i++)
		if (!version || !strcmp(a[i].version, version))
			r->manifest = json_loads(a[i].manifest, 0, NULL);
	for (size_t i = 0; i < n; i++)
		snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%s", i ? ", " : "",
			 a[i].version);
	db_apps_free(a, n);
	if (n == 0)
		return fail(r, "app: %.64s is not in the catalog (mw apps; mw apps add)", app);
	if (!r->manifest)
		return fail(r, "version: %.64s has no version %.32s (it has %s)", app, version,
			    have);
	return MW_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool labels_match(json_t *want, json_t *have)
{
	const char *k;
	json_t *v;

	json_object_foreach(want, k, v) if (!json_equal(v, json_object_get(have, k))) return false;
	return true;
}

/* r->nodes from to: the nodes (sorted) that will get the deployment. */
static int resolve_targets(struct hub *h, struct request *r, json_t *to)
{
	json_t *all = fleet_configs(h), *list = json_object_get(to, "nodes"), *v;
	json_t *labels = json_object_get(to, "labels");
	const char *k, **names = NULL;
	size_t i, n = 0;
	int rc = MW_OK;

	if (!json_is_object(to) || json_object_size(to) != 1 ||
	    !(list || labels || json_is_true(json_object_get(to, "all"))))
		rc = fail(r, "to: one of {\"nodes\": [ID, ...]}, {\"labels\": {\"k\": \"v\"}} or "
			     "{\"all\": true}");
	else if (list && (!json_is_array(list) || !json_array_size(list)))
		rc = fail(r, "to.nodes: a list of node ids expected");
	else if (labels && (!json_is_object(labels) || !json_object_size(labels)))
		rc = fail(r, "to.labels: an object of \"key\": \"value\" expected");
	json_array_foreach(list, i, v) if (!rc)
	{
		json_t *cfg =
			json_object_get(all, json_string_value(v) ? json_string_value(v) : "");
		if (!cfg || json_is_true(json_object_get(cfg, "revoked")))
			rc = fail(r,
				  "to.nodes[%zu]: %.64s is not an enrolled node of this hub (mw "
				  "nodes)",
				  i,
				  json_string_value(v) ? json_string_value(v) : "(not a string)");
	}
	if (!rc && !(names = calloc(json_object_size(all) + 1, sizeof(*names))))
		rc = MW_ERR_NOMEM;
	json_object_foreach(all, k, v) if (!rc && !json_is_true(json_object_get(v, "revoked")))
	{
		bool in = list	   ? false
			  : labels ? labels_match(labels, json_object_get(v, "labels"))
				   : true;
		json_array_foreach(list, i, v) in |= !strcmp(json_string_value(v), k);
		if (in)
			names[n++] = k;
	}
	if (!rc && n == 0) {
		char *want = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		rc = fail(r, "%s: no node %s%s", labels ? "to.labels" : "to.all",
			  labels ? "has the labels " : "is enrolled yet", want ? want : "");
		free(want);
	}
	if (!rc) {
		qsort(names, n, sizeof(*names), cmp_str);
		r->nodes = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(r->nodes, json_string(names[i]));
	}
	free(names);
	json_decref(all);
	return rc;
}

/* A node that reported its peripherals must have each kind the app needs
 * (one that never reported is given the benefit of the doubt). */
static int check_peripherals(struct hub *h, struct request *r)
{
	static const char *const kinds[][2] = {
		{"camera", "cameras"}, {"serial", "serial"}, {"usb", "usb"}, {"gpu", "gpus"}};
	json_t *need = json_object_get(r->manifest, "peripherals"), *node, *kind;
	size_t i, k;
	int rc = MW_OK;

	if (!json_array_size(need))
		return MW_OK;
	json_array_foreach(r->nodes, i, node)
	{
		json_t *st = fleet_node_state(h, json_string_value(node));
		json_t *have = json_object_get(st, "peripherals");
		json_array_foreach(need, k, kind) for (size_t m = 0; have && !rc && m < 4; m++)
		{
			if (strcmp(json_string_value(kind), kinds[m][0]) == 0 &&
			    json_array_size(json_object_get(have, kinds[m][1])) == 0)
				rc = fail(r,
					  "to: %.64s has no %s, which %.64s needs (its manifest's "
					  "peripherals); choose nodes that have one",
					  json_string_value(node), kinds[m][0],
					  sget(r->body, "app"));
		}
		json_decref(st);
		if (rc)
			break;
	}
	return rc;
}

static int check_request(struct hub *h, struct request *r)
{
	static const char *const known[] = {"app",	  "version", "params", "to",
					    "batch_size", "settle",  "remove", NULL};
	const char *app = sget(r->body, "app"), *version = sget(r->body, "version"), *k;
	json_t *v, *settle = json_object_get(r->body, "settle");
	json_t *batch = json_object_get(r->body, "batch_size");
	int rc;

	json_object_foreach(r->body, k, v)
	{
		const char *const *n = known;
		while (*n && strcmp(*n, k))
			n++;
		if (!*n)
			return fail(r,
				    "%.64s: unknown field (app, version, params, to, batch_size, "
				    "settle, remove)",
				    k);
	}
	v = json_object_get(r->body, "remove");
	if (v && !json_is_boolean(v))
		return fail(r, "remove: true or false");
	r->remove = json_is_true(v);
	if (!app || !*app)
		return fail(r, "app: the app's name expected (mw apps)");
	if (!r->remove && (!version || !*version))
		return fail(r, "version: expected (APP@VERSION; mw apps show %.64s)", app);
	if ((rc = find_version(h, r, app, r->remove ? NULL : version)))
		return rc;
	if (!r->remove && manifest_params(r->manifest, json_object_get(r->body, "params"),
					  &r->params, r->err, sizeof(r->err)))
		return MW_ERR_INVALID;
	if (r->remove && json_object_get(r->body, "params"))
		return fail(r, "params: not for a removal");
	r->settle_ms = SETTLE_DEFAULT_MS;
	if (json_is_integer(settle))
		r->settle_ms = json_integer_value(settle);
	else if (settle && (!json_is_string(settle) ||
			    config_parse_duration(json_string_value(settle), &r->settle_ms)))
		return fail(r, "settle: a duration such as 10s or 2m expected");
	if (r->settle_ms < 0 || r->settle_ms > SETTLE_MAX_MS)
		return fail(r, "settle: 0 to 1h");
	if (batch && (!json_is_integer(batch) || json_integer_value(batch) < 1))
		return fail(r, "batch_size: a whole number of nodes, at least 1");
	if ((rc = resolve_targets(h, r, json_object_get(r->body, "to"))) ||
	    (!r->remove && (rc = check_peripherals(h, r))))
		return rc;
	r->batch = batch ? json_integer_value(batch) : ((int64_t)json_array_size(r->nodes) + 3) / 4;
	return MW_OK;
}

/* The app entry every target gets; its deployment id is set once known. */
static json_t *make_entry(struct request *r)
{
	json_t *m = r->manifest, *secrets = json_array(), *v;
	const char *k;

	json_object_foreach(json_object_get(m, "parameters"), k,
			    v) if (json_is_true(json_object_get(v, "secret")))
		json_array_append_new(secrets, json_string(k));
	return json_pack("{s:I, s:O, s:O, s:O, s:O*, s:O*, s:o}", "deployment", (json_int_t)0,
			 "version", json_object_get(m, "version"), "runtime",
			 json_object_get(m, "runtime"), "params", r->params, "resources",
			 json_object_get(m, "resources"), "peripherals",
			 json_object_get(m, "peripherals"), "secrets", secrets);
}

static json_t *make_doc(struct http_req *req, struct request *r)
{
	json_t *targets = json_array(), *v, *doc;
	size_t i;

	json_array_foreach(r->nodes, i, v) json_array_append_new(
		targets, json_pack("{s:O, s:I, s:s}", "node", v, "batch",
				   (json_int_t)((int64_t)i / r->batch), "state", "waiting"));
	doc = json_pack("{s:I, s:O, s:O*, s:b, s:O, s:I, s:I, s:s, s:s, s:I, s:s+, s:o}", "id",
			(json_int_t)0, "app", json_object_get(r->body, "app"), "version",
			r->remove ? NULL : json_object_get(r->manifest, "version"), "remove",
			r->remove, "to", json_object_get(r->body, "to"), "batch_size",
			(json_int_t)r->batch, "settle_ms", (json_int_t)r->settle_ms, "status",
			"rolling", "reason", "", "created", (json_int_t)mw_now_ns(), "created_by",
			req->who.kind == PRINCIPAL_USER ? "user:" : "token:", req->who.name,
			"targets", targets);
	if (doc && !r->remove)
		json_object_set_new(doc, "entry", make_entry(r));
	return doc;
}

/* Marks the app's other rollouts in progress superseded, in c. */
static int supersede(struct hub *h, struct change *c, const char *app)
{
	struct db_doc *docs;
	size_t n;
	int rc = h->db->ops->deployments_list(h->db, "rolling", 0, 0, &docs, &n);

	for (size_t i = 0; rc == MW_OK && i < n; i++) {
		json_t *doc, *t;
		size_t k;
		if (strcmp(docs[i].key, app) || !(doc = json_loads(docs[i].doc, 0, NULL)))
			continue;
		json_object_set_new(doc, "id", json_integer(docs[i].id));
		json_object_set_new(doc, "status", json_string("superseded"));
		json_array_foreach(json_object_get(doc, "targets"), k,
				   t) if (state_is(t, "waiting"))
			json_object_set_new(t, "state", json_string("skipped"));
		json_array_append_new(c->docs, doc);
	}
	db_docs_free(docs, n);
	return rc;
}

/* Stores the new deployment (its id set in doc), superseding others. */
static int store_new(struct hub *h, json_t *doc)
{
	struct change c;
	int rc;

	change_init(&c);
	if ((rc = supersede(h, &c, sget(doc, "app"))) == MW_OK) {
		size_t at = json_array_size(c.docs);
		json_array_append(c.docs, doc);
		if ((rc = commit_change(h, &c)) == MW_OK) {
			/* the id is known now: the entry carries it, and is stored again */
			json_object_set(doc, "id",
					json_object_get(json_array_get(c.docs, at), "id"));
			json_object_set(json_object_get(doc, "entry"), "deployment",
					json_object_get(doc, "id"));
			json_array_clear(c.docs);
			json_array_append(c.docs, doc);
			rc = commit_change(h, &c);
		}
	}
	change_free(&c);
	return rc;
}

static json_t *load_doc(struct hub *h, int64_t id)
{
	struct db_doc *docs;
	size_t n;
	json_t *doc = NULL;

	if (h->db->ops->deployments_list(h->db, NULL, id, 1, &docs, &n) == MW_OK && n == 1 &&
	    (doc = json_loads(docs[0].doc, 0, NULL)))
		json_object_set_new(doc, "id", json_integer(docs[0].id));
	db_docs_free(docs, n);
	return doc;
}

void deploy_create(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct deploy *d = h->deploy;
	struct request r = {.body = http_body_object(req, resp)};
	json_t *doc = NULL;
	char what[128];
	int rc;

	if (!r.body)
		return;
	pthread_mutex_lock(&d->op);
	rc = check_request(h, &r);
	snprintf(what, sizeof(what), "%.64s@%.32s", sget(r.body, "app") ? sget(r.body, "app") : "",
		 r.remove		   ? "(remove)"
		 : sget(r.body, "version") ? sget(r.body, "version")
					   : "");
	if (rc == MW_OK && !(doc = make_doc(req, &r)))
		rc = MW_ERR_NOMEM;
	if (rc == MW_OK && (rc = store_new(h, doc)) == MW_OK) {
		atomic_fetch_add(&d->rolling, 1);
		tick_locked(h); /* the first batch goes out now */
	}
	pthread_mutex_unlock(&d->op);
	if (rc == MW_ERR_INVALID) {
		http_error(resp, 400, "%s", r.err);
		users_audit(h, req, "deploy", what, "failed", r.err);
	} else if (rc) {
		http_error(resp, 503, "cannot store the deployment: %s", mw_strerror(rc));
		users_audit(h, req, "deploy", what, "failed", mw_strerror(rc));
	} else {
		json_t *now = load_doc(h, json_integer_value(json_object_get(doc, "id")));
		char detail[160];
		snprintf(detail, sizeof(detail), "deployment %lld to %zu node(s)",
			 (long long)json_integer_value(json_object_get(doc, "id")),
			 json_array_size(r.nodes));
		users_audit(h, req, "deploy", what, "ok", detail);
		http_json(resp, 201, public_doc(now ? now : doc, true));
		json_decref(now);
	}
	json_decref(doc);
	json_decref(r.body);
	json_decref(r.manifest);
	json_decref(r.params);
	json_decref(r.nodes);
}

/* ---- GET /v1/deployments[/ID] -------------------------------------------------- */

void deploy_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *lim = http_arg(req, "limit");
	long limit = lim ? strtol(lim, NULL, 10) : LIST_DEFAULT;
	struct db_doc *docs;
	size_t n;
	json_t *arr;
	int rc;

	if (limit < 1 || limit > LIST_MAX) {
		http_error(resp, 400, "limit: 1 to %d", LIST_MAX);
		return;
	}
	if ((rc = h->db->ops->deployments_list(h->db, NULL, 0, (unsigned)limit, &docs, &n))) {
		http_error(resp, 503, "cannot read the deployments: %s", mw_strerror(rc));
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *doc = json_loads(docs[i].doc, 0, NULL);
		if (!doc)
			continue;
		json_object_set_new(doc, "id", json_integer(docs[i].id));
		json_array_append_new(arr, public_doc(doc, false));
		json_decref(doc);
	}
	db_docs_free(docs, n);
	http_json(resp, 200, json_pack("{s:o}", "deployments", arr));
}

void deploy_show(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *rest = req->url + strlen("/v1/deployments/");
	char *end;
	long long id = strtoll(rest, &end, 10);
	json_t *doc, *pub, *t;
	size_t i;

	if (!*rest || *end || id < 1) {
		http_error(resp, 404, "%s: no such path; GET /v1/deployments/ID", req->url);
		return;
	}
	if (!(doc = load_doc(h, id))) {
		http_error(resp, 404, "deployment %lld: no such deployment (mw rollouts)", id);
		return;
	}
	pub = public_doc(doc, true);
	json_array_foreach(json_object_get(pub, "targets"), i, t)
	{
		json_t *st = fleet_node_state(h, sget(t, "node"));
		json_t *rep = json_object_get(json_object_get(st, "apps"), sget(doc, "app"));
		json_object_set(t, "report", rep ? rep : json_null());
		json_decref(st);
	}
	json_decref(doc);
	http_json(resp, 200, pub);
}

/* ---- labels and nodes ---------------------------------------------------------- */

void deploy_label(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct deploy *d = h->deploy;
	const char *node = req->url + strlen("/v1/nodes/");
	json_t *o = http_body_object(req, resp), *set, *cfg, *labels, *v;
	char err[200], text[ENROLL_LABELS_MAX + 1];
	struct change c;
	const char *k;
	int rc;

	if (!o)
		return;
	set = json_object_get(o, "labels");
	change_init(&c);
	pthread_mutex_lock(&d->op);
	if (!json_is_object(set) || json_object_size(o) != 1) {
		rc = 400;
		snprintf(err, sizeof(err),
			 "labels: {\"key\": \"value\" (or null to remove)} expected");
	} else if (!(cfg = node_cfg(h, &c, node))) {
		rc = 404;
		snprintf(err, sizeof(err), "%.64s: not an enrolled node of this hub (mw nodes)",
			 node);
	} else {
		if (!json_is_object(labels = json_object_get(cfg, "labels")))
			json_object_set_new(cfg, "labels", labels = json_object());
		json_object_foreach(set, k, v)
		{
			if (json_is_null(v))
				json_object_del(labels, k);
			else
				json_object_set(labels, k, v);
		}
		rc = enroll_labels_check(labels, text, err, sizeof(err)) ? 400 : 0;
		if (rc == 0 && (rc = commit_change(h, &c))) {
			snprintf(err, sizeof(err), "cannot store the labels: %s", mw_strerror(rc));
			rc = 503;
		}
	}
	pthread_mutex_unlock(&d->op);
	users_audit(h, req, "node.label", node, rc ? "failed" : "ok", rc ? err : text);
	if (rc)
		http_error(resp, rc, "%s", err);
	else
		http_json(resp, 200,
			  json_pack("{s:s, s:O}", "node", node, "labels",
				    json_object_get(json_object_get(c.nodes, node), "labels")));
	change_free(&c);
	json_decref(o);
}

/* A node enrolled (labels: its enrollment's, JSON) or revoked (NULL).
 * Its apps and generation stay, so an edge enrolled again goes on from
 * the state it has. */
static void node_changed(struct hub *h, const char *node, const char *labels)
{
	struct deploy *d = h->deploy;
	int64_t gen = 0;
	json_t *cfg;

	if (!d)
		return;
	pthread_mutex_lock(&d->op);
	cfg = fleet_config(h, node, &gen);
	if (!cfg && labels)
		cfg = json_pack("{s:{}}", "apps");
	if (cfg && labels) {
		json_object_del(cfg, "revoked");
		json_object_set_new(cfg, "labels", json_loads(*labels ? labels : "{}", 0, NULL));
	} else if (cfg) {
		json_object_set_new(cfg, "revoked", json_true());
	}
	if (cfg && fleet_config_set(h, node, gen, cfg))
		log_error("msg=\"node config not kept\" node=%s err=\"out of memory\"", node);
	pthread_mutex_unlock(&d->op);
	json_decref(cfg);
}

void deploy_node_enrolled(struct hub *h, const char *node, const char *labels)
{
	node_changed(h, node, labels ? labels : "");
}

void deploy_node_revoked(struct hub *h, const char *node) { node_changed(h, node, NULL); }

/* ---- start and stop ------------------------------------------------------------ */

/* Every node that may be deployed to gets its config: the stored one, or
 * its enrollment's labels and no apps. Configured (nodes:) ones too. */
static int load_configs(struct hub *h)
{
	struct db_doc *docs = NULL;
	struct db_token *t = NULL;
	size_t nd = 0, nt = 0;
	json_t *stored = json_object();
	int rc = h->db->ops->node_configs_list(h->db, &docs, &nd);

	for (size_t i = 0; rc == MW_OK && i < nd; i++)
		json_object_set_new(stored, docs[i].key, json_loads(docs[i].doc, 0, NULL));
	if (rc == MW_OK)
		rc = h->db->ops->tokens_list(h->db, NULL, &t, &nt);
	for (size_t i = 0; rc == MW_OK && i < nt + h->cfg->nodes.n; i++) {
		const char *node = i < nt ? t[i].owner : h->cfg->nodes.names[i - nt];
		json_t *cfg = json_object_get(stored, node);
		if (i < nt && (t[i].kind != TOKEN_NODE || t[i].revoked))
			continue;
		cfg = cfg ? json_deep_copy(cfg)
			  : json_pack("{s:{}, s:o}", "apps", "labels",
				      json_loads(i < nt ? t[i].labels : "{}", 0, NULL));
		if (!cfg)
			continue;
		rc = fleet_config_set(h, node,
				      json_integer_value(json_object_get(cfg, "generation")),
				      (json_object_del(cfg, "generation"), cfg));
		json_decref(cfg);
	}
	free(t);
	db_docs_free(docs, nd);
	json_decref(stored);
	return rc;
}

static void deploy_free(struct deploy *d)
{
	pthread_mutex_destroy(&d->op);
	free(d);
}

int deploy_start(struct hub *h, struct deploy **out)
{
	struct deploy *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return MW_ERR_NOMEM;
	d->h = h;
	pthread_mutex_init(&d->op, NULL);
	d->loop = (struct mw_loop){.step = tick, .arg = d, .first_ms = TICK_MS};
	if ((rc = load_configs(h))) {
		deploy_free(d);
		return rc;
	}
	atomic_store(&d->rolling, 1); /* the first tick reads how many there are */
	h->deploy = d;
	if ((rc = mw_loop_start(&d->loop, "rollout"))) {
		h->deploy = NULL;
		deploy_free(d);
		return rc;
	}
	*out = d;
	return MW_OK;
}

void deploy_stop(struct deploy *d)
{
	if (!d)
		return;
	mw_loop_stop(&d->loop);
	d->h->deploy = NULL;
	deploy_free(d);
}
