/* test_hub_chain.c -- the hub's chain check against a real SQLite store.
 *
 * Each test opens a fresh store in a temporary directory, builds a node's
 * chain of sealed events with event_seal() (as an edge would), feeds
 * chain_apply() batches of it -- in order, again, out of order, tampered,
 * with holes and with declared drops -- and checks what the edge and an
 * operator would see: the acknowledged seq, the counts in the answer, the
 * chain.break events in the hub's own chain, and the stored flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub/chain.h"
#include "hub/config.h"
#include "hub/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 40

struct fixture {
	char dir[64];
	struct db *db;
	struct event ev[N + 1]; /* ev[s] is seq s of node edge-1; ev[0] unused */
};

static void build_chain(struct event *ev, size_t n)
{
	uint8_t prev[EVENT_HASH_LEN] = {0};
	struct buf scratch;
	char attrs[64];

	buf_init(&scratch, 1 << 20);
	for (size_t s = 1; s <= n; s++) {
		struct event *e = &ev[s];
		event_init(e);
		mw_strlcpy(e->node, "edge-1", sizeof(e->node));
		mw_strlcpy(e->source, "line1/temp", sizeof(e->source));
		mw_strlcpy(e->kind, "sensor.threshold", sizeof(e->kind));
		e->severity = SEV_WARNING;
		e->seq = s;
		e->ts = 1764065676000000000 + (int64_t)s;
		snprintf(attrs, sizeof(attrs), "{\"value\":%zu}", s);
		assert_int_equal(event_set_attrs_text(e, attrs), MW_OK);
		assert_int_equal(event_seal(e, prev, &scratch), MW_OK);
		memcpy(prev, e->hash, EVENT_HASH_LEN);
	}
	buf_free(&scratch);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hub_chain.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(db_sqlite_ops.open(f->dir, &f->db), MW_OK);
	build_chain(f->ev, N);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	f->db->ops->close(f->db);
	for (size_t s = 1; s <= N; s++)
		event_clear(&f->ev[s]);
	for (const char *const *x = (const char *const[]){"hub.db", "hub.db-wal", "hub.db-shm", NULL};
	     *x; x++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, *x);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Sends seqs [from, to] of the fixture's chain as one batch. */
static struct chain_result send_range(struct fixture *f, uint64_t from, uint64_t to,
				      const struct db_drop *drops, size_t nd)
{
	struct chain_batch b = {"edge-1", &f->ev[from], to >= from ? to - from + 1 : 0, drops, nd};
	struct chain_result r;
	assert_int_equal(chain_apply(f->db, &b, &r), MW_OK);
	return r;
}

/* Sends an explicit list of events. */
static struct chain_result send_list(struct fixture *f, const struct event *evs, size_t n,
				     const struct db_drop *drops, size_t nd)
{
	struct chain_batch b = {"edge-1", evs, n, drops, nd};
	struct chain_result r;
	assert_int_equal(chain_apply(f->db, &b, &r), MW_OK);
	return r;
}

static int stored_flags(struct fixture *f, const char *node, uint64_t seq)
{
	struct event e;
	int flags = -1;
	assert_int_equal(f->db->ops->get_event(f->db, node, seq, &e, &flags), MW_OK);
	event_clear(&e);
	return flags;
}

/* The hub's chain.break event number seq, checked and parsed. */
static json_t *hub_break(struct fixture *f, uint64_t seq)
{
	struct event e;
	struct buf scratch;
	json_t *attrs;

	buf_init(&scratch, 1 << 20);
	assert_int_equal(f->db->ops->get_event(f->db, HUB_NODE_SELF, seq, &e, NULL), MW_OK);
	assert_string_equal(e.kind, "chain.break");
	assert_string_equal(e.source, "chain");
	assert_int_equal(e.severity, SEV_ALARM);
	assert_int_equal(event_verify(&e, &scratch), MW_OK);
	attrs = json_loads(e.attrs, 0, NULL);
	assert_non_null(attrs);
	event_clear(&e);
	buf_free(&scratch);
	return attrs;
}

static void assert_break(json_t *attrs, const char *reason, uint64_t seq)
{
	assert_string_equal(json_string_value(json_object_get(attrs, "reason")), reason);
	assert_string_equal(json_string_value(json_object_get(attrs, "node")), "edge-1");
	assert_int_equal(json_integer_value(json_object_get(attrs, "seq")), seq);
}

static void test_in_order(void **state)
{
	struct fixture *f = *state;
	struct chain_result r = send_range(f, 1, 10, NULL, 0);
	assert_int_equal(r.acked, 10);
	assert_int_equal(r.stored, 10);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.breaks, 0);
	r = send_range(f, 11, 25, NULL, 0);
	assert_int_equal(r.acked, 25);
	assert_int_equal(r.stored, 15);
	assert_int_equal(r.breaks, 0);
	assert_int_equal(stored_flags(f, "edge-1", 25), 0);
}

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct chain_result r = send_range(f, 1, 10, NULL, 0);
	r = send_range(f, 1, 10, NULL, 0);
	assert_int_equal(r.acked, 10);
	assert_int_equal(r.stored, 0);
	assert_int_equal(r.duplicates, 10);
	assert_int_equal(r.breaks, 0);
	r = send_range(f, 6, 15, NULL, 0); /* half old, half new */
	assert_int_equal(r.acked, 15);
	assert_int_equal(r.stored, 5);
	assert_int_equal(r.duplicates, 5);
	assert_int_equal(r.breaks, 0);
}

static void test_gap(void **state)
{
	struct fixture *f = *state;
	json_t *attrs;
	struct chain_result r = send_range(f, 1, 5, NULL, 0);

	r = send_range(f, 9, 12, NULL, 0);
	assert_int_equal(r.acked, 12);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.by_reason[CHAIN_GAP], 1);
	attrs = hub_break(f, 1);
	assert_break(attrs, "gap", 6);
	assert_int_equal(json_integer_value(json_object_get(attrs, "from")), 6);
	assert_int_equal(json_integer_value(json_object_get(attrs, "to")), 8);
	json_decref(attrs);
	/* The flow goes on with no further break. */
	r = send_range(f, 13, 20, NULL, 0);
	assert_int_equal(r.acked, 20);
	assert_int_equal(r.breaks, 0);
}

static void test_hole_inside_batch(void **state)
{
	struct fixture *f = *state;
	struct event evs[4];
	struct chain_result r;

	evs[0] = f->ev[1], evs[1] = f->ev[2], evs[2] = f->ev[4], evs[3] = f->ev[5];
	r = send_list(f, evs, 4, NULL, 0);
	assert_int_equal(r.acked, 5);
	assert_int_equal(r.stored, 4);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.by_reason[CHAIN_GAP], 1);
	json_t *attrs = hub_break(f, 1);
	assert_break(attrs, "gap", 3);
	json_decref(attrs);
}

static void test_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct chain_result r = send_range(f, 11, 20, NULL, 0);
	json_t *attrs;

	assert_int_equal(r.acked, 20);
	assert_int_equal(r.by_reason[CHAIN_GAP], 1);
	attrs = hub_break(f, 1);
	assert_break(attrs, "gap", 1);
	assert_int_equal(json_integer_value(json_object_get(attrs, "to")), 10);
	json_decref(attrs);
	/* The late batch is kept (nothing is discarded), flagged, not re-judged. */
	r = send_range(f, 1, 10, NULL, 0);
	assert_int_equal(r.acked, 20);
	assert_int_equal(r.stored, 10);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.breaks, 0);
	assert_int_equal(stored_flags(f, "edge-1", 3), DB_FLAG_LATE);
	r = send_range(f, 1, 10, NULL, 0);
	assert_int_equal(r.duplicates, 10);
}

static void test_altered(void **state)
{
	struct fixture *f = *state;
	struct chain_result r;

	/* Content changed on the way, hash left as it was. */
	assert_int_equal(event_set_attrs_text(&f->ev[5], "{\"value\":999}"), MW_OK);
	r = send_range(f, 1, 10, NULL, 0);
	assert_int_equal(r.acked, 10);
	assert_int_equal(r.stored, 10); /* flagged events are stored all the same */
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.by_reason[CHAIN_ALTERED], 1);
	assert_int_equal(stored_flags(f, "edge-1", 5), DB_FLAG_ALTERED);
	assert_int_equal(stored_flags(f, "edge-1", 6), 0);
	json_t *attrs = hub_break(f, 1);
	assert_break(attrs, "altered", 5);
	json_decref(attrs);
}

static void test_linkage(void **state)
{
	struct fixture *f = *state;
	struct buf scratch;
	uint8_t wrong[EVENT_HASH_LEN];
	struct chain_result r;

	/* Event 6 re-sealed onto a prev that is not event 5's hash: an event was
	 * inserted, removed or reordered before it. Its own hash is valid. */
	buf_init(&scratch, 1 << 20);
	memset(wrong, 0xab, sizeof(wrong));
	assert_int_equal(event_seal(&f->ev[6], wrong, &scratch), MW_OK);
	buf_free(&scratch);
	r = send_range(f, 1, 6, NULL, 0);
	assert_int_equal(r.acked, 6);
	assert_int_equal(r.breaks, 1);
	assert_int_equal(r.by_reason[CHAIN_LINKAGE], 1);
	assert_int_equal(stored_flags(f, "edge-1", 6), DB_FLAG_LINKAGE);
	json_t *attrs = hub_break(f, 1);
	assert_break(attrs, "linkage", 6);
	json_decref(attrs);
	/* Event 7 still names the original hash of 6: a second linkage break. */
	r = send_range(f, 7, 8, NULL, 0);
	assert_int_equal(r.by_reason[CHAIN_LINKAGE], 1);
	assert_int_equal(r.acked, 8);
}

static struct db_drop drop_of(struct fixture *f, uint64_t from, uint64_t to)
{
	struct db_drop d = {.from = from, .to = to};
	if (from > 1)
		memcpy(d.prev, f->ev[from - 1].hash, EVENT_HASH_LEN);
	memcpy(d.last, f->ev[to].hash, EVENT_HASH_LEN);
	mw_strlcpy(d.reason, "quota", sizeof(d.reason));
	return d;
}

static void test_drop_bridges(void **state)
{
	struct fixture *f = *state;
	struct db_drop d = drop_of(f, 6, 9);
	struct db_drop *got = NULL;
	size_t n = 0;
	struct chain_result r;

	r = send_range(f, 1, 5, &d, 1);
	assert_int_equal(r.acked, 9);
	assert_int_equal(r.breaks, 0);
	r = send_range(f, 10, 20, &d, 1); /* declared again: no effect */
	assert_int_equal(r.acked, 20);
	assert_int_equal(r.breaks, 0);
	assert_int_equal(f->db->ops->drops_get(f->db, "edge-1", 0, &got, &n), MW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].from, 6);
	assert_int_equal(got[0].to, 9);
	assert_string_equal(got[0].reason, "quota");
	free(got);
}

static void test_drop_only_and_events_around(void **state)
{
	struct fixture *f = *state;
	struct db_drop d[2] = {drop_of(f, 1, 3), drop_of(f, 7, 7)};
	struct event evs[3] = {f->ev[4], f->ev[5], f->ev[6]};
	struct chain_result r = send_list(f, evs, 3, d, 2);

	assert_int_equal(r.acked, 7);
	assert_int_equal(r.stored, 3);
	assert_int_equal(r.breaks, 0);
}

static void test_drop_bad_prev(void **state)
{
	struct fixture *f = *state;
	struct db_drop d = drop_of(f, 6, 9);
	struct chain_result r;

	d.prev[0] ^= 1;
	r = send_range(f, 1, 5, &d, 1);
	assert_int_equal(r.acked, 9);
	assert_int_equal(r.by_reason[CHAIN_LINKAGE], 1);
	json_t *attrs = hub_break(f, 1);
	assert_break(attrs, "linkage", 6);
	json_decref(attrs);
}

static void test_hub_chain_links(void **state)
{
	struct fixture *f = *state;
	struct event a, b;
	struct db_node hub, node;
	struct chain_result r;

	r = send_range(f, 3, 4, NULL, 0);  /* gap 1-2 */
	r = send_range(f, 8, 9, NULL, 0);  /* gap 5-7 */
	assert_int_equal(r.acked, 9);
	assert_int_equal(f->db->ops->get_event(f->db, HUB_NODE_SELF, 1, &a, NULL), MW_OK);
	assert_int_equal(f->db->ops->get_event(f->db, HUB_NODE_SELF, 2, &b, NULL), MW_OK);
	assert_memory_equal(b.prev, a.hash, EVENT_HASH_LEN);
	assert_int_equal(f->db->ops->node_get(f->db, HUB_NODE_SELF, &hub), MW_OK);
	assert_int_equal(hub.acked_seq, 2);
	assert_memory_equal(hub.acked_hash, b.hash, EVENT_HASH_LEN);
	assert_int_equal(f->db->ops->node_get(f->db, "edge-1", &node), MW_OK);
	assert_int_equal(node.acked_seq, 9);
	assert_int_equal(node.events, 4);
	assert_int_equal(node.breaks, 2);
	event_clear(&a);
	event_clear(&b);
}

static void test_state_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct chain_result r = send_range(f, 1, 10, NULL, 0);

	f->db->ops->close(f->db);
	assert_int_equal(db_sqlite_ops.open(f->dir, &f->db), MW_OK);
	r = send_range(f, 11, 12, NULL, 0);
	assert_int_equal(r.acked, 12);
	assert_int_equal(r.breaks, 0);
}

static void test_query_pages(void **state)
{
	struct fixture *f = *state;
	struct db_query q = {.min_severity = -1, .limit = 7, .node = "edge-1"};
	struct db_page p;
	uint64_t seen = 0;
	struct chain_result r = send_range(f, 1, 20, NULL, 0);

	assert_int_equal(r.acked, 20);
	for (;;) {
		assert_int_equal(f->db->ops->query(f->db, &q, &p), MW_OK);
		for (size_t i = 0; i < p.n; i++)
			assert_int_equal(p.events[i].seq, ++seen);
		bool more = p.more;
		if (p.n)
			q.after = p.ids[p.n - 1];
		db_page_free(&p);
		if (!more)
			break;
	}
	assert_int_equal(seen, 20);
	q = (struct db_query){.min_severity = SEV_ALARM, .limit = 100};
	assert_int_equal(f->db->ops->query(f->db, &q, &p), MW_OK);
	assert_int_equal(p.n, 0);
	db_page_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hole_inside_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_altered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linkage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_bridges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_only_and_events_around, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_bad_prev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hub_chain_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
