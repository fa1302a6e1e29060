/* test_uplink.c -- what the uplink puts on the wire, checked without a hub.
 *
 * The ingest body must be what docs/protocol.md says: {"node", "events",
 * "drops"}, events in seq order in their wire form (so the hub can verify
 * every hash), drop ranges with hex hashes. A batch must stay within its
 * byte cap without ever starving (the first event always goes), and the
 * zstd body must decode to the very same bytes. The sending loop itself is
 * exercised against the real mw-hub by the integration tests. */
#include "core/buf.h"
#include "core/event.h"
#include "edge/uplink.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <cmocka.h>

#define BODY_CAP (8u << 20)

/* n sealed events chained from zeros, attrs of varying size. */
static struct event *make_chain(size_t n)
{
	struct event *ev = calloc(n, sizeof(*ev));
	uint8_t prev[EVENT_HASH_LEN] = {0};
	struct buf scratch;
	char attrs[512];

	assert_non_null(ev);
	buf_init(&scratch, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		event_init(&ev[i]);
		ev[i].seq = i + 1;
		ev[i].ts = 1764065676000000000LL + (int64_t)i;
		ev[i].severity = (enum severity)(i % 4);
		snprintf(ev[i].node, sizeof(ev[i].node), "edge-1");
		snprintf(ev[i].source, sizeof(ev[i].source), "line1/m%zu", i % 7);
		snprintf(ev[i].kind, sizeof(ev[i].kind), "test.kind");
		snprintf(attrs, sizeof(attrs), "{\"i\":%zu,\"pad\":\"%.*s\"}", i,
			 (int)(i * 13 % 200),
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		assert_int_equal(event_set_attrs_text(&ev[i], attrs), MW_OK);
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

static size_t wire_len(const struct event *e)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	assert_int_equal(event_to_wire(e, &b), MW_OK);
	size_t n = b.len;
	buf_free(&b);
	return n;
}

/* Parses body and checks its shape; returns the events array (borrowed from *root). */
static json_t *parse_body(const struct buf *body, json_t **root)
{
	json_error_t je;
	*root = json_loadb(body->data, body->len, 0, &je);
	if (!*root)
		fail_msg("body is not JSON: %s: %.200s", je.text, body->data);
	assert_string_equal(json_string_value(json_object_get(*root, "node")), "edge-1");
	assert_true(json_is_array(json_object_get(*root, "drops")));
	assert_int_equal(json_object_size(*root), 3);
	json_t *evs = json_object_get(*root, "events");
	assert_true(json_is_array(evs));
	return evs;
}

static void body_carries_verifiable_wire_events(void **state)
{
	struct event *ev = make_chain(20);
	struct buf body, scratch;
	json_t *root, *o;
	size_t used = 0, i;
	char err[256];

	buf_init(&body, BODY_CAP);
	buf_init(&scratch, 1 << 20);
	assert_int_equal(uplink_build_body("edge-1", ev, 20, NULL, 0, BODY_CAP, &body, &used),
			 MW_OK);
	assert_int_equal(used, 20);
	json_t *evs = parse_body(&body, &root);
	assert_int_equal(json_array_size(evs), 20);
	assert_int_equal(json_array_size(json_object_get(root, "drops")), 0);
	json_array_foreach(evs, i, o)
	{
		struct event got;
		assert_int_equal(event_from_json(o, EVENT_FORM_WIRE, &got, err, sizeof(err)),
				 MW_OK);
		assert_int_equal(got.seq, i + 1);
		assert_int_equal(event_verify(&got, &scratch), MW_OK); /* the hub can check it */
		assert_memory_equal(got.hash, ev[i].hash, EVENT_HASH_LEN);
		assert_string_equal(got.attrs, ev[i].attrs);
		event_clear(&got);
	}
	json_decref(root);
	buf_free(&body);
	buf_free(&scratch);
	free_chain(ev, 20);
}

static void body_stays_within_byte_cap(void **state)
{
	const size_t n = 300;
	struct event *ev = make_chain(n);
	size_t caps[] = {2000, 5000, 20000, 100000};

	for (size_t c = 0; c < MW_ARRAY_LEN(caps); c++) {
		struct buf body;
		json_t *root;
		size_t used = 0;

		buf_init(&body, BODY_CAP);
		assert_int_equal(uplink_build_body("edge-1", ev, n, NULL, 0, caps[c], &body, &used),
				 MW_OK);
		assert_true(used >= 1 && used < n);
		assert_true(body.len <= caps[c]);
		/* full: the next event would not have fitted */
		assert_true(body.len + 1 + wire_len(&ev[used]) > caps[c]);
		json_t *evs = parse_body(&body, &root);
		assert_int_equal(json_array_size(evs), used);
		assert_int_equal(
			json_integer_value(json_object_get(json_array_get(evs, used - 1), "seq")),
			used);
		json_decref(root);
		buf_free(&body);
	}
	free_chain(ev, n);
}

static void first_event_always_goes(void **state)
{
	struct event *ev = make_chain(3);
	struct buf body;
	json_t *root;
	size_t used = 0;

	buf_init(&body, BODY_CAP);
	assert_int_equal(uplink_build_body("edge-1", ev, 3, NULL, 0, 10, &body, &used), MW_OK);
	assert_int_equal(used, 1); /* a cap below one event must not stall the uplink */
	assert_int_equal(json_array_size(parse_body(&body, &root)), 1);
	json_decref(root);
	buf_free(&body);
	free_chain(ev, 3);
}

static void drops_are_declared(void **state)
{
	struct event *ev = make_chain(2);
	struct store_drop d[2];
	struct buf body;
	json_t *root, *o;
	char hex[EVENT_HEX_LEN + 1];
	size_t used, i;

	memset(d, 0, sizeof(d));
	for (i = 0; i < 2; i++) {
		d[i].from = 101 + 100 * i;
		d[i].to = 149 + 100 * i;
		memset(d[i].prev, (int)(0x11 * (i + 1)), EVENT_HASH_LEN);
		memset(d[i].last, (int)(0xa0 + i), EVENT_HASH_LEN);
		snprintf(d[i].reason, sizeof(d[i].reason), "quota");
	}
	buf_init(&body, BODY_CAP);
	assert_int_equal(uplink_build_body("edge-1", ev, 2, d, 2, BODY_CAP, &body, &used), MW_OK);
	parse_body(&body, &root);
	json_t *drops = json_object_get(root, "drops");
	assert_int_equal(json_array_size(drops), 2);
	json_array_foreach(drops, i, o)
	{
		assert_int_equal(json_integer_value(json_object_get(o, "from")), d[i].from);
		assert_int_equal(json_integer_value(json_object_get(o, "to")), d[i].to);
		mw_hex(d[i].prev, EVENT_HASH_LEN, hex);
		assert_string_equal(json_string_value(json_object_get(o, "prev")), hex);
		mw_hex(d[i].last, EVENT_HASH_LEN, hex);
		assert_string_equal(json_string_value(json_object_get(o, "last")), hex);
		assert_string_equal(json_string_value(json_object_get(o, "reason")), "quota");
	}
	json_decref(root);

	/* drops alone (every unsent event dropped) still make a valid body */
	assert_int_equal(uplink_build_body("edge-1", NULL, 0, d, 1, BODY_CAP, &body, &used), MW_OK);
	assert_int_equal(used, 0);
	assert_int_equal(json_array_size(parse_body(&body, &root)), 0);
	json_decref(root);
	buf_free(&body);
	free_chain(ev, 2);
}

static void zstd_body_decodes_to_the_same_bytes(void **state)
{
	const size_t n = 1000;
	struct event *ev = make_chain(n);
	struct buf body, packed;
	size_t used;

	buf_init(&body, BODY_CAP);
	buf_init(&packed, ZSTD_compressBound(BODY_CAP));
	assert_int_equal(uplink_build_body("edge-1", ev, n, NULL, 0, BODY_CAP, &body, &used),
			 MW_OK);
	assert_int_equal(uplink_compress(body.data, body.len, 1, &packed), MW_OK);
	printf("zstd: %zu events, %zu bytes -> %zu bytes\n", n, body.len, packed.len);
	assert_true(packed.len < body.len / 2); /* hashes don't compress; the rest does */

	unsigned long long size = ZSTD_getFrameContentSize(packed.data, packed.len);
	assert_int_equal(size, body.len); /* the hub can size its buffer before decoding */
	char *out = malloc(body.len);
	assert_non_null(out);
	assert_int_equal(ZSTD_decompress(out, body.len, packed.data, packed.len), body.len);
	assert_memory_equal(out, body.data, body.len);
	free(out);

	/* a cap too small for the compressed body is an error, not an overflow */
	struct buf tiny;
	buf_init(&tiny, 16);
	assert_int_equal(uplink_compress(body.data, body.len, 1, &tiny), MW_ERR_TOOBIG);
	buf_free(&tiny);
	buf_free(&body);
	buf_free(&packed);
	free_chain(ev, n);
}

static void state_names(void **state)
{
	assert_string_equal(uplink_state_name(UPLINK_CONNECTED), "connected");
	assert_string_equal(uplink_state_name(UPLINK_UNREACHABLE), "unreachable");
	assert_string_equal(uplink_state_name(UPLINK_REJECTED), "rejected");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(body_carries_verifiable_wire_events),
		cmocka_unit_test(body_stays_within_byte_cap),
		cmocka_unit_test(first_event_always_goes),
		cmocka_unit_test(drops_are_declared),
		cmocka_unit_test(zstd_body_decodes_to_the_same_bytes),
		cmocka_unit_test(state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
