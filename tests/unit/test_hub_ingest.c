/* test_hub_ingest.c -- batch decoding and validation at the hub.
 *
 * A refused batch must say which field is wrong and why, in the words the
 * edge's operator will read in its log ("events[1].severity: ..."), and a
 * refusal must be total: the parser hands back nothing. zstd bodies are
 * capped after decompression, so a small body cannot expand without
 * bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"
#define ONE64 "1111111111111111111111111111111111111111111111111111111111111111"
#define EV(seq, sev) \
	"{\"node\":\"edge-1\",\"seq\":" #seq ",\"ts\":1,\"source\":\"s\",\"kind\":\"k\"," \
	"\"severity\":\"" sev "\",\"attrs\":{},\"blobs\":[],\"prev\":\"" ZERO64 "\",\"hash\":\"" ZERO64 "\"}"
#define DROP(from, to) \
	"{\"from\":" #from ",\"to\":" #to ",\"prev\":\"" ONE64 "\",\"last\":\"" ONE64 "\",\"reason\":\"quota\"}"

/* Parses text as a batch; returns the rc and leaves the message in err. */
static int parse(const char *text, struct ingest_batch *b, char *err, size_t errlen)
{
	json_t *root = NULL;
	int rc;

	err[0] = '\0';
	rc = ingest_json_load(text, strlen(text), &root, err, errlen);
	if (rc == MW_OK)
		rc = ingest_batch_parse(root, b, err, errlen);
	json_decref(root);
	return rc;
}

static void expect_error(const char *text, const char *want)
{
	struct ingest_batch b;
	char err[512];

	assert_int_equal(parse(text, &b, err, sizeof(err)), MW_ERR_INVALID);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_null(b.events);
	assert_int_equal(b.n_events, 0);
}

static void test_valid_batch(void **state)
{
	struct ingest_batch b;
	char err[512];

	assert_int_equal(parse("{\"node\":\"edge-1\",\"events\":[" EV(1, "info") "," EV(2, "alarm")
			       "," EV(9, "debug") "],\"drops\":[" DROP(3, 5) "," DROP(6, 8) "]}",
			       &b, err, sizeof(err)),
			 MW_OK);
	assert_string_equal(b.node, "edge-1");
	assert_int_equal(b.n_events, 3);
	assert_int_equal(b.events[2].seq, 9);
	assert_int_equal(b.events[1].severity, SEV_ALARM);
	assert_int_equal(b.n_drops, 2);
	assert_int_equal(b.drops[1].to, 8);
	assert_string_equal(b.drops[0].reason, "quota");
	ingest_batch_free(&b);
	/* An empty batch is valid: an edge may ask for its acked seq. */
	assert_int_equal(parse("{\"node\":\"edge-1\",\"events\":[]}", &b, err, sizeof(err)), MW_OK);
	ingest_batch_free(&b);
}

static void test_field_errors(void **state)
{
	expect_error("{\"node\":\"edge-1\",\"events\":[" EV(1, "info") "," EV(2, "loud") "]}",
		     "events[1].severity: must be one of debug, info, warning, alarm");
	expect_error("{\"node\":\"edge-2\",\"events\":[" EV(1, "info") "]}",
		     "events[0].node: 'edge-1' is not the batch's node 'edge-2'");
	expect_error("{\"node\":\"edge-1\",\"events\":[" EV(2, "info") "," EV(2, "info") "]}",
		     "events[1].seq: 2 must be greater than the previous event's (2)");
	expect_error("{\"node\":\"edge-1\",\"events\":[" EV(1, "info") "],\"extra\":1}",
		     "extra: unknown field");
	expect_error("{\"node\":\"bad node\",\"events\":[]}", "node: must be a string");
	expect_error("{\"events\":[]}", "node: must be a string");
	expect_error("{\"node\":\"edge-1\",\"events\":{}}", "events: must be an array");
	expect_error("[1,2]", "body: must be a JSON object");
	expect_error("{\"node\":\"edge-1\",\"events\":[" EV(1, "info") ",{\"node\":\"edge-1\"}]}",
		     "events[1].source: must be");
}

static void test_drop_errors(void **state)
{
	expect_error("{\"node\":\"edge-1\",\"drops\":[" DROP(5, 3) "]}",
		     "drops[0].to: 3 is below from (5)");
	expect_error("{\"node\":\"edge-1\",\"drops\":[" DROP(1, 5) "," DROP(5, 8) "]}",
		     "drops[1].from: 5 must be above the previous range's to (5)");
	expect_error("{\"node\":\"edge-1\",\"events\":[" EV(4, "info") "],\"drops\":[" DROP(3, 5) "]}",
		     "events[0].seq: 4 lies inside drops[0] (3 to 5)");
	expect_error("{\"node\":\"edge-1\",\"drops\":[{\"from\":1,\"to\":2,\"prev\":\"xyz\","
		     "\"last\":\"" ONE64 "\",\"reason\":\"quota\"}]}",
		     "drops[0].prev: must be a hex SHA-256");
	expect_error("{\"node\":\"edge-1\",\"drops\":[{\"from\":1,\"to\":2,\"prev\":\"" ONE64
		     "\",\"last\":\"" ONE64 "\",\"reason\":\"quota\",\"why\":1}]}",
		     "drops[0].why: unknown field");
}

static void test_bad_json_names_position(void **state)
{
	expect_error("{\"node\":\"edge-1\",\n \"events\": [,]}", "body: invalid JSON at line 2");
	expect_error("{\"node\":\"edge-1\",\"node\":\"edge-1\"}", "body: invalid JSON");
}

static void test_zstd(void **state)
{
	const char *text = "{\"node\":\"edge-1\",\"events\":[]}";
	size_t bound = ZSTD_compressBound(strlen(text));
	char *z = malloc(bound);
	size_t zn = ZSTD_compress(z, bound, text, strlen(text), 3);
	struct buf out;

	assert_false(ZSTD_isError(zn));
	buf_init(&out, 1024);
	assert_int_equal(ingest_zstd_decode(z, zn, &out), MW_OK);
	assert_string_equal(out.data, text);
	buf_free(&out);

	buf_init(&out, 10); /* decompressed size over the cap */
	assert_int_equal(ingest_zstd_decode(z, zn, &out), MW_ERR_TOOBIG);
	buf_free(&out);

	buf_init(&out, 1024);
	assert_int_equal(ingest_zstd_decode(z, zn - 3, &out), MW_ERR_INVALID); /* truncated */
	buf_free(&out);

	buf_init(&out, 1024);
	assert_int_equal(ingest_zstd_decode(text, strlen(text), &out), MW_ERR_INVALID);
	buf_free(&out);
	free(z);
}

static void test_zstd_bomb_capped(void **state)
{
	size_t big = 8u << 20;
	char *zeros = calloc(1, big);
	size_t bound = ZSTD_compressBound(big);
	char *z = malloc(bound);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_inBuffer in = {zeros, big, 0};
	ZSTD_outBuffer o = {z, bound, 0};
	struct buf out;

	/* Streamed, so the frame does not declare its size: the cap must hold
	 * while decompressing. */
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
	assert_int_equal(ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end), 0);
	assert_int_equal(ZSTD_getFrameContentSize(z, o.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	buf_init(&out, 1 << 20);
	assert_int_equal(ingest_zstd_decode(z, o.pos, &out), MW_ERR_TOOBIG);
	assert_true(out.len <= 1 << 20);
	buf_free(&out);
	ZSTD_freeCCtx(cc);
	free(z);
	free(zeros);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_batch),
		cmocka_unit_test(test_field_errors),
		cmocka_unit_test(test_drop_errors),
		cmocka_unit_test(test_bad_json_names_position),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_zstd_bomb_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
