/* chain.c -- walks a batch along a node's chain and records what breaks.
 *
 * The node's state is (acked, acked_hash): every seq up to acked is stored
 * or inside a declared drop range, and acked_hash is the hash the next
 * link must name as its prev. A batch is merged in seq order (its events
 * and its drop ranges) and walked from acked+1:
 *
 * - an event at acked+1 must have prev == acked_hash (else `linkage`) and
 *   a hash matching its content (else `altered`); either way it is stored,
 *   flagged, and acked moves onto it with the hash it declares;
 * - a drop range at acked+1 must have prev == acked_hash (else `linkage`);
 *   acked moves to its last seq and acked_hash to its `last`;
 * - anything starting above acked+1 leaves seqs nobody accounted for: a
 *   `gap` break from acked+1 to just before it, and acked jumps over the gap
 *   taking the next link's prev on trust, so one loss is reported once.
 *
 * Because gaps are jumped, acked always ends at the batch's highest seq,
 * so nothing stored ever sits beyond acked and the walk needs no reads but
 * the node's state. Events at or below acked are not walked: when the hub
 * already holds them they are duplicates; when they fill an old gap they
 * are stored, flagged late, unverified (the chain has moved on). */
#include "hub/chain.h"

#include "core/log.h"
#include "hub/config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *reason_names[CHAIN_REASONS] = {"altered", "linkage", "gap"};

const char *chain_reason_name(enum chain_reason r)
{
	return (unsigned)r < CHAIN_REASONS ? reason_names[r] : "?";
}

struct brk {
	enum chain_reason reason;
	uint64_t seq, from, to;
};

/* The walk's state for one batch. */
struct walk {
	const struct chain_batch *b;
	struct db_node node;
	int *flags; /* per event */
	struct brk *breaks;
	size_t n_breaks, cap_breaks;
	struct buf scratch;
	struct chain_result *res;
};

static int add_break(struct walk *w, enum chain_reason r, uint64_t seq, uint64_t from, uint64_t to)
{
	struct brk *nb;
	if (w->n_breaks == w->cap_breaks) {
		size_t cap = w->cap_breaks ? 2 * w->cap_breaks : 8;
		if (!(nb = realloc(w->breaks, cap * sizeof(*nb))))
			return MW_ERR_NOMEM;
		w->breaks = nb;
		w->cap_breaks = cap;
	}
	w->breaks[w->n_breaks++] = (struct brk){r, seq, from, to};
	w->res->by_reason[r]++;
	w->res->breaks++;
	return MW_OK;
}

/* Jumps acked over a gap before `start`, taking `prev` as the link. */
static int jump_gap(struct walk *w, uint64_t start, const uint8_t *prev)
{
	uint64_t from = w->node.acked_seq + 1;
	int rc;
	if (start <= from)
		return MW_OK;
	if ((rc = add_break(w, CHAIN_GAP, from, from, start - 1)))
		return rc;
	w->node.acked_seq = start - 1;
	memcpy(w->node.acked_hash, prev, EVENT_HASH_LEN);
	return MW_OK;
}

static int walk_event(struct walk *w, size_t i)
{
	const struct event *e = &w->b->events[i];
	int rc;

	if (e->seq <= w->node.acked_seq) {
		w->flags[i] = DB_FLAG_LATE;
		return MW_OK;
	}
	if ((rc = jump_gap(w, e->seq, e->prev)))
		return rc;
	if (memcmp(e->prev, w->node.acked_hash, EVENT_HASH_LEN)) {
		w->flags[i] |= DB_FLAG_LINKAGE;
		if ((rc = add_break(w, CHAIN_LINKAGE, e->seq, 0, 0)))
			return rc;
	}
	rc = event_verify(e, &w->scratch);
	if (rc == MW_ERR_INVALID) {
		w->flags[i] |= DB_FLAG_ALTERED;
		rc = add_break(w, CHAIN_ALTERED, e->seq, 0, 0);
	}
	if (rc)
		return rc;
	w->node.acked_seq = e->seq;
	memcpy(w->node.acked_hash, e->hash, EVENT_HASH_LEN);
	return MW_OK;
}

static int walk_drop(struct walk *w, const struct db_drop *d)
{
	int rc;

	if (d->to <= w->node.acked_seq)
		return MW_OK; /* bridged by an earlier batch */
	if (d->from > w->node.acked_seq) {
		if ((rc = jump_gap(w, d->from, d->prev)))
			return rc;
		if (memcmp(d->prev, w->node.acked_hash, EVENT_HASH_LEN) &&
		    (rc = add_break(w, CHAIN_LINKAGE, d->from, 0, 0)))
			return rc;
	}
	w->node.acked_seq = d->to;
	memcpy(w->node.acked_hash, d->last, EVENT_HASH_LEN);
	return MW_OK;
}

/* Merges events and drops by their first seq and walks them in order. */
static int walk_batch(struct walk *w)
{
	const struct chain_batch *b = w->b;
	size_t i = 0, j = 0;
	int rc = MW_OK;

	while (rc == MW_OK && (i < b->n_events || j < b->n_drops)) {
		bool take_event =
			j == b->n_drops || (i < b->n_events && b->events[i].seq < b->drops[j].from);
		rc = take_event ? walk_event(w, i++) : walk_drop(w, &b->drops[j++]);
	}
	return rc;
}

static int store_events(struct db *db, struct walk *w)
{
	for (size_t i = 0; i < w->b->n_events; i++) {
		bool is_new = false;
		int rc = db->ops->insert_event(db, &w->b->events[i], w->flags[i], &is_new);
		if (rc)
			return rc;
		if (is_new)
			w->res->stored++;
		else
			w->res->duplicates++;
	}
	return MW_OK;
}

static int store_drops(struct db *db, const struct chain_batch *b)
{
	for (size_t j = 0; j < b->n_drops; j++) {
		int rc = db->ops->drop_put(db, b->node, &b->drops[j]);
		if (rc)
			return rc;
	}
	return MW_OK;
}

/* Builds break k as the hub's next chain event. */
static int break_event(const struct chain_batch *b, const struct brk *k, struct db_node *hub,
		       struct buf *scratch, struct event *e)
{
	char err[128];
	json_t *attrs;
	int rc;

	attrs = json_pack("{s:s, s:I, s:s}", "node", b->node, "seq", (json_int_t)k->seq, "reason",
			  chain_reason_name(k->reason));
	if (!attrs)
		return MW_ERR_NOMEM;
	if (k->reason == CHAIN_GAP &&
	    (json_object_set_new(attrs, "from", json_integer((json_int_t)k->from)) ||
	     json_object_set_new(attrs, "to", json_integer((json_int_t)k->to)))) {
		json_decref(attrs);
		return MW_ERR_NOMEM;
	}
	event_init(e);
	mw_strlcpy(e->node, HUB_NODE_SELF, sizeof(e->node));
	mw_strlcpy(e->source, "chain", sizeof(e->source));
	mw_strlcpy(e->kind, "chain.break", sizeof(e->kind));
	e->severity = SEV_ALARM;
	e->seq = hub->acked_seq + 1;
	e->ts = mw_now_ns();
	rc = event_set_attrs(e, attrs, err, sizeof(err));
	json_decref(attrs);
	if (rc == MW_OK)
		rc = event_seal(e, hub->acked_hash, scratch);
	return rc;
}

int chain_hub_event(struct db *db, const char *source, const char *kind, enum severity sev,
		    json_t *attrs)
{
	struct db_node hub;
	struct event e;
	struct buf scratch;
	char err[128];
	bool is_new = false;
	int rc = db->ops->node_get(db, HUB_NODE_SELF, &hub);

	buf_init(&scratch, 4 * EVENT_ATTRS_MAX);
	event_init(&e);
	if (rc == MW_OK) {
		mw_strlcpy(e.node, HUB_NODE_SELF, sizeof(e.node));
		mw_strlcpy(e.source, source, sizeof(e.source));
		mw_strlcpy(e.kind, kind, sizeof(e.kind));
		e.severity = sev;
		e.seq = hub.acked_seq + 1;
		e.ts = mw_now_ns();
		rc = attrs ? event_set_attrs(&e, attrs, err, sizeof(err)) : MW_OK;
	}
	if (rc == MW_OK && (rc = event_seal(&e, hub.acked_hash, &scratch)) == MW_OK &&
	    (rc = db->ops->insert_event(db, &e, 0, &is_new)) == MW_OK) {
		hub.acked_seq = e.seq;
		memcpy(hub.acked_hash, e.hash, EVENT_HASH_LEN);
		hub.events++;
		hub.last_seen = mw_now_ns();
		rc = db->ops->node_put(db, &hub);
	}
	json_decref(attrs);
	event_clear(&e);
	buf_free(&scratch);
	return rc;
}

/* Appends the batch's breaks to the hub's own chain. */
static int store_breaks(struct db *db, struct walk *w)
{
	struct db_node hub;
	int rc;

	if (w->n_breaks == 0)
		return MW_OK;
	if ((rc = db->ops->node_get(db, HUB_NODE_SELF, &hub)))
		return rc;
	for (size_t k = 0; k < w->n_breaks; k++) {
		struct event e;
		bool is_new = false;
		rc = break_event(w->b, &w->breaks[k], &hub, &w->scratch, &e);
		if (rc == MW_OK)
			rc = db->ops->insert_event(db, &e, 0, &is_new);
		if (rc == MW_OK) {
			hub.acked_seq = e.seq;
			memcpy(hub.acked_hash, e.hash, EVENT_HASH_LEN);
			hub.events++;
		}
		event_clear(&e);
		if (rc)
			return rc;
	}
	hub.last_seen = mw_now_ns();
	return db->ops->node_put(db, &hub);
}

static int apply(struct db *db, struct walk *w)
{
	int rc;

	if ((rc = db->ops->node_get(db, w->b->node, &w->node)) || (rc = walk_batch(w)) ||
	    (rc = store_events(db, w)) || (rc = store_drops(db, w->b)) ||
	    (rc = store_breaks(db, w)))
		return rc;
	w->node.events += w->res->stored;
	w->node.breaks += w->n_breaks;
	w->node.last_seen = mw_now_ns();
	w->res->acked = w->node.acked_seq;
	return db->ops->node_put(db, &w->node);
}

int chain_apply(struct db *db, const struct chain_batch *b, struct chain_result *out)
{
	struct walk w = {.b = b, .res = out};
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&w.scratch, 4 * EVENT_ATTRS_MAX);
	if (b->n_events && !(w.flags = calloc(b->n_events, sizeof(*w.flags)))) {
		rc = MW_ERR_NOMEM;
		goto out;
	}
	if ((rc = db->ops->begin(db)))
		goto out;
	rc = apply(db, &w);
	if (rc == MW_OK)
		rc = db->ops->commit(db);
	if (rc)
		db->ops->rollback(db);
	for (size_t k = 0; rc == MW_OK && k < w.n_breaks; k++)
		log_warn("msg=\"chain break\" node=%s seq=%" PRIu64 " reason=%s", b->node,
			 w.breaks[k].seq, chain_reason_name(w.breaks[k].reason));
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	free(w.flags);
	free(w.breaks);
	buf_free(&w.scratch);
	return rc;
}
