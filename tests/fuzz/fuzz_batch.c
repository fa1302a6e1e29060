/* fuzz_batch.c -- libFuzzer harness for the hub's batch decoder.
 *
 * POST /v1/ingest takes a body from any holder of a node token, so
 * ingest_zstd_decode(), ingest_json_load() and ingest_batch_parse() see
 * hostile bytes. An input starting with the zstd magic number is
 * decompressed first (capped at 1 MiB, as max_body caps it in the hub).
 * The harness aborts when a refusal does not name its cause, or when a
 * batch that passes breaks the promises chain_apply() relies on: every
 * event of the batch's node, seqs strictly increasing, drop ranges sorted,
 * disjoint from each other and from the events. */
#include "core/buf.h"
#include "hub/ingest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_CAP (1u << 20)

static void check_batch(const struct ingest_batch *b)
{
	struct buf scratch;

	buf_init(&scratch, 4 * EVENT_ATTRS_MAX);
	for (size_t i = 0; i < b->n_events; i++) {
		if (strcmp(b->events[i].node, b->node) != 0)
			abort();
		if (i && b->events[i].seq <= b->events[i - 1].seq)
			abort();
		int rc = event_verify(&b->events[i], &scratch); /* any answer, no crash */
		if (rc != MW_OK && rc != MW_ERR_INVALID)
			abort();
		buf_reset(&scratch);
		if (event_to_wire(&b->events[i], &scratch))
			abort();
	}
	for (size_t j = 0; j < b->n_drops; j++) {
		if (b->drops[j].to < b->drops[j].from || b->drops[j].from < 1)
			abort();
		if (j && b->drops[j].from <= b->drops[j - 1].to)
			abort();
		for (size_t i = 0; i < b->n_events; i++)
			if (b->events[i].seq >= b->drops[j].from && b->events[i].seq <= b->drops[j].to)
				abort();
	}
	buf_free(&scratch);
}

static void try_json(const char *text, size_t len)
{
	struct ingest_batch b;
	json_t *root = NULL;
	char err[512] = "";
	int rc;

	if (ingest_json_load(text, len, &root, err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	rc = ingest_batch_parse(root, &b, err, sizeof(err));
	if (rc == MW_OK) {
		check_batch(&b);
		ingest_batch_free(&b);
	} else if ((rc != MW_ERR_INVALID && rc != MW_ERR_NOMEM) || !err[0] || b.events || b.drops) {
		abort(); /* a refusal names its cause and hands back nothing */
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	struct buf plain;

	if (size >= 4 && memcmp(data, zstd_magic, 4) == 0) {
		buf_init(&plain, PLAIN_CAP);
		int rc = ingest_zstd_decode(data, size, &plain);
		if (plain.len > PLAIN_CAP)
			abort();
		if (rc == MW_OK)
			try_json(plain.data ? plain.data : "", plain.len);
		else if (rc != MW_ERR_INVALID && rc != MW_ERR_TOOBIG)
			abort();
		buf_free(&plain);
		return 0;
	}
	try_json((const char *)data, size);
	return 0;
}
