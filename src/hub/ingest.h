/* ingest.h -- POST /v1/ingest: from an edge's batch to the hub's store.
 *
 * The parsing half (ingest_decode, ingest_batch_parse) has no HTTP in it,
 * so unit tests and the fuzz harness drive it directly. */
#ifndef MW_HUB_INGEST_H
#define MW_HUB_INGEST_H

#include "core/buf.h"
#include "core/event.h"
#include "hub/db.h"
#include "hub/http.h"

#include <jansson.h>

struct ingest_batch {
	char node[EVENT_ID_MAX + 1];
	struct event *events;
	size_t n_events;
	struct db_drop *drops;
	size_t n_drops;
};

/* Decompresses a zstd body into out (whose cap is the limit):
 * MW_ERR_TOOBIG over the cap, MW_ERR_INVALID when not valid zstd. */
int ingest_zstd_decode(const void *in, size_t len, struct buf *out) MW_MUST_CHECK;

/* Parses JSON text; on error err says where ("body: invalid JSON at line
 * 1, column 7: ..."). The caller json_decref()s *out. */
int ingest_json_load(const char *text, size_t len, json_t **out, char *err, size_t errlen)
	MW_MUST_CHECK;

/* Validates a whole batch object (docs/protocol.md, "Hub API"): every
 * event in wire form, of the batch's node, seqs strictly increasing;
 * drop ranges well formed, increasing, overlapping neither each other nor
 * an event. err names the field ("events[3].severity: ..."). */
int ingest_batch_parse(const json_t *root, struct ingest_batch *out, char *err, size_t errlen)
	MW_MUST_CHECK;
void ingest_batch_free(struct ingest_batch *b);

/* The fast path (hub/wire.c): the edge's own shape read in one pass,
 * without a DOM. True with *out filled when text is a batch exactly as
 * mw-edge writes it and is valid; then *out is what ingest_json_load() +
 * ingest_batch_parse() would have made of it. False, with *out empty, for
 * anything else: the caller then takes the general path, which names
 * what is wrong. */
bool ingest_batch_scan(const char *text, size_t len, struct ingest_batch *out) MW_MUST_CHECK;

void ingest_handle(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
