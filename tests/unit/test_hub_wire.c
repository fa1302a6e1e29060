/* test_hub_wire.c -- the hub's fast batch path (hub/wire.c) against the
 * general one.
 *
 * What an operator would notice if the fast path were wrong: a batch the
 * edge really sends taking the slow path (the hub's ingest rate halves),
 * or a batch read differently from how the general path reads it (a
 * stored attrs text that no longer matches its hash: a false chain
 * break). So: real uplink bodies, with attrs of every JSON kind, must be
 * taken by the fast path and read exactly as the general path reads them;
 * anything written another way must be declined, whole, and still be
 * accepted by the general path when valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "edge/uplink.h"
#include "hub/ingest.h"
#include "hub/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_CAP (4u << 20)

/* attrs of every kind the edge's producers send, already canonical as
 * event_set_attrs() leaves them. */
static const char *const attrs_kinds[] = {
	"{}",
	"{\"value\":71.25,\"unit\":\"C\"}",
	"{\"a\":-0.0,\"b\":1e300,\"c\":0.10000000000000001,\"d\":1.0000000000000001e-05}",
	"{\"n\":-9223372036854775807,\"z\":0,\"t\":true,\"f\":false,\"x\":null}",
	"{\"nested\":{\"list\":[1,[2,[3,{\"deep\":\"yes\"}]]],\"empty\":{}}}",
	"{\"esc\":\"tab\\there \\\"q\\\" back\\\\slash /\",\"ctl\":\"\\u001F\"}",
	"{\"utf8\":\"\\u00E9t\\u00E9 \\uD83D\\uDE00\"}",
};

/* A sealed chain of n events from seq first, attrs cycling through
 * attrs_kinds (each parsed and re-set as a producer's would be). */
static struct event *make_chain(uint64_t first, size_t n)
{
	struct event *ev = calloc(n, sizeof(*ev));
	uint8_t prev[EVENT_HASH_LEN] = {0};
	struct buf scratch;
	char err[256];

	assert_non_null(ev);
	buf_init(&scratch, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_loads(attrs_kinds[i % MW_ARRAY_LEN(attrs_kinds)], 0, NULL);
		event_init(&ev[i]);
		ev[i].seq = first + i;
		ev[i].ts = 1764065676000000000 + (int64_t)i;
		ev[i].severity = i % 3 ? SEV_INFO : SEV_ALARM;
		snprintf(ev[i].node, sizeof(ev[i].node), "edge-1");
		snprintf(ev[i].source, sizeof(ev[i].source), "line1/press-04");
		snprintf(ev[i].kind, sizeof(ev[i].kind), "sensor.reading");
		assert_non_null(a);
		assert_int_equal(event_set_attrs(&ev[i], a, err, sizeof(err)), MW_OK);
		json_decref(a);
		if (i == 2)
			assert_int_equal(event_set_blobs_text(&ev[i], "[\"" "0123456789abcdef0123456789"
							     "abcdef0123456789abcdef0123456789abcdef\"]"),
					 MW_OK);
		assert_int_equal(event_seal(&ev[i], prev, &scratch), MW_OK);
		memcpy(prev, ev[i].hash, EVENT_HASH_LEN);
	}
	buf_free(&scratch);
	return ev;
}

static void free_chain(struct event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_clear(&ev[i]);
	free(ev);
}

static int slow_parse(const char *text, size_t len, struct ingest_batch *b)
{
	json_t *root = NULL;
	char err[512];
	int rc = ingest_json_load(text, len, &root, err, sizeof(err));

	if (rc == MW_OK)
		rc = ingest_batch_parse(root, b, err, sizeof(err));
	json_decref(root);
	return rc;
}

static void assert_same_batch(const struct ingest_batch *a, const struct ingest_batch *b)
{
	assert_string_equal(a->node, b->node);
	assert_int_equal(a->n_events, b->n_events);
	assert_int_equal(a->n_drops, b->n_drops);
	for (size_t i = 0; i < a->n_events; i++) {
		const struct event *x = &a->events[i], *y = &b->events[i];
		assert_int_equal(x->seq, y->seq);
		assert_int_equal(x->ts, y->ts);
		assert_int_equal(x->severity, y->severity);
		assert_string_equal(x->source, y->source);
		assert_string_equal(x->kind, y->kind);
		assert_string_equal(x->attrs ? x->attrs : "{}", y->attrs ? y->attrs : "{}");
		assert_string_equal(x->blobs ? x->blobs : "[]", y->blobs ? y->blobs : "[]");
		assert_memory_equal(x->prev, y->prev, EVENT_HASH_LEN);
		assert_memory_equal(x->hash, y->hash, EVENT_HASH_LEN);
	}
	for (size_t j = 0; j < a->n_drops; j++) {
		assert_int_equal(a->drops[j].from, b->drops[j].from);
		assert_int_equal(a->drops[j].to, b->drops[j].to);
		assert_string_equal(a->drops[j].reason, b->drops[j].reason);
		assert_memory_equal(a->drops[j].prev, b->drops[j].prev, EVENT_HASH_LEN);
		assert_memory_equal(a->drops[j].last, b->drops[j].last, EVENT_HASH_LEN);
	}
}

/* The body the uplink would send for ev[0..n) and drops. */
static void build(const struct event *ev, size_t n, const struct store_drop *drops,
		  size_t ndrops, struct buf *body)
{
	size_t used = 0;

	buf_init(body, BODY_CAP);
	assert_int_equal(uplink_build_body("edge-1", ev, n, drops, ndrops, BODY_CAP, body, &used),
			 MW_OK);
	assert_int_equal(used, n);
}

static void uplink_bodies_take_the_fast_path(void **state)
{
	const size_t n = 50;
	struct event *ev = make_chain(1, n);
	struct ingest_batch fast, slow;
	struct buf scratch, body;

	buf_init(&scratch, 1 << 20);
	build(ev, n, NULL, 0, &body);
	assert_true(ingest_batch_scan(body.data, body.len, &fast));
	assert_int_equal(slow_parse(body.data, body.len, &slow), MW_OK);
	assert_same_batch(&fast, &slow);
	for (size_t i = 0; i < n; i++) /* what is stored still proves itself */
		assert_int_equal(event_verify(&fast.events[i], &scratch), MW_OK);
	ingest_batch_free(&fast);
	ingest_batch_free(&slow);
	buf_free(&body);
	buf_free(&scratch);
	free_chain(ev, n);
}

static void drops_take_the_fast_path(void **state)
{
	struct event *ev = make_chain(1, 10);
	struct store_drop drop = {.from = 4, .to = 7, .reason = "quota"};
	struct event kept[4];
	struct ingest_batch fast, slow;
	struct buf body;

	memcpy(drop.prev, ev[2].hash, EVENT_HASH_LEN);
	memcpy(drop.last, ev[6].hash, EVENT_HASH_LEN);
	kept[0] = ev[0], kept[1] = ev[1], kept[2] = ev[2], kept[3] = ev[7];
	build(kept, 4, &drop, 1, &body);
	assert_true(ingest_batch_scan(body.data, body.len, &fast));
	assert_int_equal(slow_parse(body.data, body.len, &slow), MW_OK);
	assert_same_batch(&fast, &slow);
	assert_int_equal(fast.n_drops, 1);
	assert_int_equal(fast.drops[0].from, 4);
	ingest_batch_free(&fast);
	ingest_batch_free(&slow);
	buf_free(&body);

	/* An event inside its own batch's drop range: declined here, and the
	 * general path refuses it with a reason. */
	drop.from = 3;
	build(kept, 4, &drop, 1, &body);
	assert_false(ingest_batch_scan(body.data, body.len, &fast));
	assert_null(fast.events);
	assert_int_equal(slow_parse(body.data, body.len, &slow), MW_ERR_INVALID);
	buf_free(&body);
	free_chain(ev, 10);
}

/* Replaces the first occurrence of from by to in text (a new string). */
static char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t head, n;
	char *out;

	if (!at)
		fail_msg("'%s' is not in the body", from);
	head = (size_t)(at - text);
	n = strlen(text) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, text, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	return out;
}

/* Texts the edge never writes. Each is declined whole; the general path
 * decides (valid ones are still accepted, and read the same). */
static void other_spellings_are_declined(void **state)
{
	static const struct {
		const char *from, *to;
		bool valid;
	} cases[] = {
		{"\"events\":[", "\"events\": [", true},		 /* white space inside */
		{"{\"node\":\"edge-1\",\"events\"", "{\"events\"", false}, /* no node */
		{"\"unit\":\"C\"", "\"unit\":\"\\u0043\"", true},	 /* needless escape */
		{"\"esc\":\"tab", "\"esc\":\"\\/tab", true},		 /* \/ */
		{"{\"unit\":\"C\",\"value\":71.25}", "{\"value\":71.25,\"unit\":\"C\"}", true},
		{"\"value\":71.25", "\"value\":71.250", true},		 /* not as jansson writes */
		{"\"value\":71.25", "\"value\":7.125e1", true},
		{"\"z\":0", "\"z\":-0", true},
		{"\"value\":71.25", "\"value\":71.25,\"value\":1", false}, /* duplicate key */
		{"\"seq\":2", "\"seq\":1", false},			   /* not increasing */
		{"\"severity\":\"info\"", "\"severity\":\"loud\"", false},
		{"\"hash\":\"", "\"extra\":1,\"hash\":\"", false},	   /* unknown field */
		{"0123456789abcdef", "0123456789ABCDEF", true},	   /* blob in upper case */
		{"\"node\":\"edge-1\",\"seq\":3", "\"node\":\"edge-2\",\"seq\":3", false},
	};
	struct event *ev = make_chain(1, 7);
	struct buf body;

	build(ev, 7, NULL, 0, &body);
	for (size_t c = 0; c < MW_ARRAY_LEN(cases); c++) {
		char *text = edit(body.data, cases[c].from, cases[c].to);
		struct ingest_batch fast, slow;
		int rc;

		if (ingest_batch_scan(text, strlen(text), &fast))
			fail_msg("case %zu (%s): taken by the fast path", c, cases[c].to);
		assert_null(fast.events);
		assert_int_equal(fast.n_events, 0);
		rc = slow_parse(text, strlen(text), &slow);
		if ((rc == MW_OK) != cases[c].valid)
			fail_msg("case %zu (%s): general path said %d", c, cases[c].to, rc);
		if (rc == MW_OK)
			ingest_batch_free(&slow);
		free(text);
	}
	buf_free(&body);
	free_chain(ev, 7);
}

static void numbers_are_canonical_as_jansson_writes_them(void **state)
{
	static const char *const yes[] = {
		"0", "-1", "9223372036854775807", "-9223372036854775807", "1.5", "-0.0",
		"2.0", "0.0001", "71.25", "1e22", "1e20", "0.10000000000000001",
		"1.0000000000000001e-5", "1.0000000000000001e300", "1.7976931348623157e308",
	};
	static const char *const no[] = {
		"-0", "01", "1.50", "1.", ".5", "1e300", "1e+22", "1E22", "1e-05", "0.1",
		"1.0000000000000001e-05", "100000000000000000000.0",
		"9223372036854775808", "1e400", "+1", "1.0e-05", "00", "1 ", "",
	};

	for (size_t i = 0; i < MW_ARRAY_LEN(yes); i++)
		if (!wire_number_canonical(yes[i], strlen(yes[i])))
			fail_msg("'%s' should be canonical", yes[i]);
	for (size_t i = 0; i < MW_ARRAY_LEN(no); i++)
		if (wire_number_canonical(no[i], strlen(no[i])))
			fail_msg("'%s' should not be canonical", no[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uplink_bodies_take_the_fast_path),
		cmocka_unit_test(drops_take_the_fast_path),
		cmocka_unit_test(other_spellings_are_declined),
		cmocka_unit_test(numbers_are_canonical_as_jansson_writes_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
