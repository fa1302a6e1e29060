/* test_event.c -- the event model: canonical bytes, the hash chain, JSON forms.
 *
 * The canonical encoding is a contract between edge and hub (and anyone
 * who re-checks the chain later), so it is pinned against the literal
 * example in docs/protocol.md, and hashes are recomputed here with OpenSSL
 * directly rather than through event.c. Parse errors must name the field,
 * since that text is what a producer sees in a 400 answer. */
#include "core/buf.h"
#include "core/event.h"
#include "core/hash.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The example in docs/protocol.md, section "Canonical encoding". */
static const char protocol_example[] =
	"{\"node\":\"edge-1\",\"seq\":7,\"ts\":1764065676000000000,\"source\":\"sim/temp\","
	"\"kind\":\"sensor.threshold\",\"severity\":\"alarm\","
	"\"attrs\":{\"limit\":80.0,\"value\":83.5},\"blobs\":[]}";

static const uint8_t zeros[EVENT_HASH_LEN];

/* Builds the protocol example from its fields; attrs given in the "wrong"
 * order so sorting is part of what is checked. */
static void example_event(struct event *e)
{
	char err[128] = "";
	json_t *attrs = json_pack("{s:f,s:f}", "value", 83.5, "limit", 80.0);

	event_init(e);
	assert_int_equal(mw_strlcpy(e->node, "edge-1", sizeof(e->node)), MW_OK);
	assert_int_equal(mw_strlcpy(e->source, "sim/temp", sizeof(e->source)), MW_OK);
	assert_int_equal(mw_strlcpy(e->kind, "sensor.threshold", sizeof(e->kind)), MW_OK);
	e->seq = 7;
	e->ts = INT64_C(1764065676000000000);
	e->severity = SEV_ALARM;
	assert_int_equal(event_set_attrs(e, attrs, err, sizeof(err)), MW_OK);
	json_decref(attrs);
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
	return j;
}

/* Parses text in form and expects a refusal whose message starts with want. */
static void expect_error(const char *text, enum event_form form, const char *want)
{
	struct event e;
	char err[256] = "";
	json_t *j = parse(text);
	int rc = event_from_json(j, form, &e, err, sizeof(err));

	json_decref(j);
	if (rc == MW_OK)
		fail_msg("accepted, expected '%s': %s", want, text);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, want);
	assert_null(e.attrs); /* nothing left to free after a refusal */
	assert_null(e.blobs);
}

static void canon_matches_protocol_example(void **state)
{
	struct event e;
	struct buf b;

	example_event(&e);
	buf_init(&b, 1 << 16);
	assert_int_equal(event_canon(&e, &b), MW_OK);
	assert_string_equal(b.data, protocol_example);
	assert_int_equal(b.len, strlen(protocol_example));
	buf_free(&b);
	event_clear(&e);
}

static void canon_sorts_and_escapes_attrs(void **state)
{
	struct event e;
	char err[128] = "";
	json_t *attrs =
		parse("{\"zeta\":1,\"alpha\":{\"y\":true,\"b\":null},\"Zulu\":\"caf\xc3\xa9\","
		      "\"_\":[3,\"\xf0\x9f\x98\x80\"],\"mid\":-0.5,\"big\":1e20}");

	event_init(&e);
	assert_int_equal(event_set_attrs(&e, attrs, err, sizeof(err)), MW_OK);
	/* Byte order: 'Z' < '_' < 'a' < 'b' < 'm' < 'z'; nested keys sorted too;
	 * non-ASCII as \u escapes in upper-case hex, as jansson writes them (a
	 * surrogate pair above U+FFFF); reals as jansson writes them. */
	assert_string_equal(e.attrs, "{\"Zulu\":\"caf\\u00E9\",\"_\":[3,\"\\uD83D\\uDE00\"],"
				     "\"alpha\":{\"b\":null,\"y\":true},\"big\":1e20,"
				     "\"mid\":-0.5,\"zeta\":1}");
	json_decref(attrs);
	event_clear(&e);
}

/* FIPS 180-2 known answers, so the chain rests on a checked primitive. */
static void sha256_known_answers(void **state)
{
	static const char *want_abc =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char *want_empty =
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	uint8_t h[HASH_LEN];
	char hex[2 * HASH_LEN + 1];

	(void)state;
	hash_sha256("abc", 3, h);
	mw_hex(h, HASH_LEN, hex);
	assert_string_equal(hex, want_abc);
	hash_sha256_2("a", 1, "bc", 2, h);
	mw_hex(h, HASH_LEN, hex);
	assert_string_equal(hex, want_abc);
	hash_sha256("", 0, h);
	mw_hex(h, HASH_LEN, hex);
	assert_string_equal(hex, want_empty);
	assert_true(hash_equal("abc", "abc", 3));
	assert_false(hash_equal("abc", "abd", 3));
}

static void seal_hashes_prev_and_canon(void **state)
{
	struct event e;
	struct buf scratch;
	uint8_t prev[EVENT_HASH_LEN], want[EVENT_HASH_LEN];
	unsigned char input[sizeof(prev) + sizeof(protocol_example)];

	for (size_t i = 0; i < sizeof(prev); i++)
		prev[i] = (uint8_t)(i * 7 + 1);
	memcpy(input, prev, sizeof(prev));
	memcpy(input + sizeof(prev), protocol_example, sizeof(protocol_example) - 1);
	hash_sha256(input, sizeof(input) - 1, want); /* one piece, unlike seal */

	example_event(&e);
	buf_init(&scratch, 1 << 17);
	assert_int_equal(event_seal(&e, prev, &scratch), MW_OK);
	assert_memory_equal(e.prev, prev, EVENT_HASH_LEN);
	assert_memory_equal(e.hash, want, EVENT_HASH_LEN);
	assert_int_equal(event_verify(&e, &scratch), MW_OK);
	buf_free(&scratch);
	event_clear(&e);
}

static void flipped_byte_fails_verify(void **state)
{
	struct event e;
	struct buf scratch;
	char *p;

	example_event(&e);
	buf_init(&scratch, 1 << 17);
	assert_int_equal(event_seal(&e, zeros, &scratch), MW_OK);
	p = strstr(e.attrs, "83.5");
	assert_non_null(p);
	p[1] ^= 0x01; /* 83.5 -> 82.5 */
	assert_int_equal(event_verify(&e, &scratch), MW_ERR_INVALID);
	p[1] ^= 0x01;
	assert_int_equal(event_verify(&e, &scratch), MW_OK);
	e.hash[31] ^= 0x80; /* the hash itself */
	assert_int_equal(event_verify(&e, &scratch), MW_ERR_INVALID);
	e.hash[31] ^= 0x80;
	e.prev[0] ^= 0x01; /* or the link */
	assert_int_equal(event_verify(&e, &scratch), MW_ERR_INVALID);
	buf_free(&scratch);
	event_clear(&e);
}

static void chain_of_three(void **state)
{
	struct event ev[3], other;
	struct buf scratch;
	const uint8_t *prev = zeros;

	buf_init(&scratch, 1 << 17);
	for (int i = 0; i < 3; i++) {
		example_event(&ev[i]);
		ev[i].seq = (uint64_t)i + 1;
		ev[i].ts += i;
		assert_int_equal(event_seal(&ev[i], prev, &scratch), MW_OK);
		prev = ev[i].hash;
	}
	assert_memory_equal(ev[0].prev, zeros, EVENT_HASH_LEN);
	for (int i = 0; i < 3; i++)
		assert_int_equal(event_verify(&ev[i], &scratch), MW_OK);
	assert_memory_equal(ev[1].prev, ev[0].hash, EVENT_HASH_LEN);
	assert_memory_equal(ev[2].prev, ev[1].hash, EVENT_HASH_LEN);
	assert_memory_not_equal(ev[0].hash, ev[1].hash, EVENT_HASH_LEN);

	/* Replace the middle link with a different, self-consistent event: it
	 * verifies alone, but the third no longer links to it. */
	assert_int_equal(event_copy(&other, &ev[1]), MW_OK);
	other.severity = SEV_INFO;
	assert_int_equal(event_seal(&other, ev[0].hash, &scratch), MW_OK);
	assert_int_equal(event_verify(&other, &scratch), MW_OK);
	assert_memory_not_equal(ev[2].prev, other.hash, EVENT_HASH_LEN);

	event_clear(&other);
	for (int i = 0; i < 3; i++)
		event_clear(&ev[i]);
	buf_free(&scratch);
}

static void local_form_parses(void **state)
{
	struct event e;
	char err[256] = "";
	json_t *j = parse("{\"source\":\"line1/cam0\",\"kind\":\"zone.intrusion\","
			  "\"severity\":\"warning\",\"attrs\":{\"zone\":\"A\"},\"blobs\":[\""
			  "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\"]}");

	assert_int_equal(event_from_json(j, EVENT_FORM_LOCAL, &e, err, sizeof(err)), MW_OK);
	assert_string_equal(e.source, "line1/cam0");
	assert_string_equal(e.kind, "zone.intrusion");
	assert_int_equal(e.severity, SEV_WARNING);
	assert_int_equal(e.ts, 0); /* absent: the edge stamps it at append */
	assert_string_equal(e.attrs, "{\"zone\":\"A\"}");
	assert_string_equal(
		e.blobs, "[\"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"]");
	json_decref(j);
	event_clear(&e);
}

static void errors_name_the_field(void **state)
{
	static const char wire_ok_but[] =
		"{\"node\":\"edge-1\",\"seq\":1,\"ts\":5,\"source\":\"s\",\"kind\":\"k\","
		"\"severity\":\"info\",\"prev\":\"%s\",\"hash\":\"%s\"}";
	char big[EVENT_ATTRS_MAX + 128], wire[512];
	const char *hex64 = "00000000000000000000000000000000000000000000000000000000000000ff";

	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\",\"colour\":1}",
		     EVENT_FORM_LOCAL, "colour: unknown field");
	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\",\"seq\":3}",
		     EVENT_FORM_LOCAL, "seq: unknown field"); /* producers cannot pick seqs */
	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"critical\"}",
		     EVENT_FORM_LOCAL, "severity: must be one of debug, info, warning, alarm");
	expect_error("{\"source\":\"s\",\"kind\":\"k\"}", EVENT_FORM_LOCAL, "severity:");
	expect_error("{\"source\":\"has space\",\"kind\":\"k\",\"severity\":\"info\"}",
		     EVENT_FORM_LOCAL, "source: must be a string");
	expect_error("{\"source\":\"s\",\"kind\":\"\",\"severity\":\"info\"}", EVENT_FORM_LOCAL,
		     "kind:");
	expect_error("{\"source\":\"s\",\"kind\":7,\"severity\":\"info\"}", EVENT_FORM_LOCAL,
		     "kind:");
	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\",\"attrs\":[1]}",
		     EVENT_FORM_LOCAL, "attrs: must be a JSON object");
	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\",\"ts\":-1}",
		     EVENT_FORM_LOCAL, "ts:");
	expect_error("{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\",\"blobs\":[\"abc\"]}",
		     EVENT_FORM_LOCAL, "blobs[0]: must be a hex SHA-256");
	expect_error("[1,2]", EVENT_FORM_LOCAL, "event: must be a JSON object");

	snprintf(wire, sizeof(wire), wire_ok_but, hex64, "xyz");
	expect_error(wire, EVENT_FORM_WIRE, "hash: must be a hex SHA-256");
	snprintf(wire, sizeof(wire), wire_ok_but, "00", hex64);
	expect_error(wire, EVENT_FORM_WIRE, "prev: must be a hex SHA-256");
	expect_error("{\"seq\":1,\"ts\":5,\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\"}",
		     EVENT_FORM_WIRE, "node:");
	expect_error("{\"node\":\"n\",\"seq\":0,\"ts\":5,\"source\":\"s\",\"kind\":\"k\","
		     "\"severity\":\"info\"}",
		     EVENT_FORM_WIRE, "seq: must be an integer of at least 1");

	/* attrs just over the limit once encoded: {"a":"xxxx..."} */
	snprintf(big, sizeof(big),
		 "{\"source\":\"s\",\"kind\":\"k\",\"severity\":\"info\","
		 "\"attrs\":{\"a\":\"");
	size_t n = strlen(big);
	memset(big + n, 'x', EVENT_ATTRS_MAX);
	memcpy(big + n + EVENT_ATTRS_MAX, "\"}}", 4);
	expect_error(big, EVENT_FORM_LOCAL, "attrs: larger than 65536 bytes");
}

static void ids_have_limits(void **state)
{
	char id[EVENT_ID_MAX + 2];

	memset(id, 'a', sizeof(id));
	id[EVENT_ID_MAX] = '\0';
	assert_true(event_id_valid(id)); /* 64 characters */
	id[EVENT_ID_MAX] = 'a';
	id[EVENT_ID_MAX + 1] = '\0';
	assert_false(event_id_valid(id)); /* 65 */
	assert_false(event_id_valid(""));
	assert_true(event_id_valid("A-z_0.9:/"));
	assert_false(event_id_valid("line1\"x"));
	assert_false(event_id_valid("caf\xc3\xa9"));
}

static void wire_round_trip(void **state)
{
	struct event e, back;
	struct buf wire, c1, c2;
	char err[256] = "";
	json_t *j;

	example_event(&e);
	buf_init(&wire, 1 << 17);
	buf_init(&c1, 1 << 17);
	buf_init(&c2, 1 << 17);
	assert_int_equal(event_seal(&e, zeros, &c1), MW_OK);
	assert_int_equal(event_to_wire(&e, &wire), MW_OK);

	j = parse(wire.data);
	assert_true(json_is_string(json_object_get(j, "hash")));
	assert_int_equal(event_from_json(j, EVENT_FORM_WIRE, &back, err, sizeof(err)), MW_OK);
	json_decref(j);
	assert_string_equal(back.node, "edge-1");
	assert_int_equal(back.seq, 7);
	assert_true(back.ts == e.ts);
	assert_int_equal(back.severity, SEV_ALARM);
	assert_memory_equal(back.hash, e.hash, EVENT_HASH_LEN);
	assert_memory_equal(back.prev, zeros, EVENT_HASH_LEN);
	assert_int_equal(event_verify(&back, &c1), MW_OK);
	buf_reset(&c1);
	assert_int_equal(event_canon(&e, &c1), MW_OK);
	assert_int_equal(event_canon(&back, &c2), MW_OK);
	assert_string_equal(c1.data, c2.data);

	j = event_to_json(&e); /* the hub's query answers use this */
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "alarm");
	assert_true(json_real_value(json_object_get(json_object_get(j, "attrs"), "value")) == 83.5);
	json_decref(j);

	buf_free(&wire);
	buf_free(&c1);
	buf_free(&c2);
	event_clear(&back);
	event_clear(&e);
}

static void severities(void **state)
{
	enum severity s;
	assert_int_equal(severity_parse("alarm", &s), MW_OK);
	assert_int_equal(s, SEV_ALARM);
	assert_true(SEV_DEBUG < SEV_INFO && SEV_INFO < SEV_WARNING && SEV_WARNING < SEV_ALARM);
	assert_int_equal(severity_parse("ALARM", &s), MW_ERR_INVALID);
	assert_string_equal(severity_name(SEV_WARNING), "warning");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canon_matches_protocol_example),
		cmocka_unit_test(canon_sorts_and_escapes_attrs),
		cmocka_unit_test(sha256_known_answers),
		cmocka_unit_test(seal_hashes_prev_and_canon),
		cmocka_unit_test(flipped_byte_fails_verify),
		cmocka_unit_test(chain_of_three),
		cmocka_unit_test(local_form_parses),
		cmocka_unit_test(errors_name_the_field),
		cmocka_unit_test(ids_have_limits),
		cmocka_unit_test(wire_round_trip),
		cmocka_unit_test(severities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
