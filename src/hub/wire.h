/* wire.h -- the fast path of POST /v1/ingest: a batch read in one pass.
 *
 * wire_batch_scan() recognises only the exact text mw-edge writes (see
 * wire.c). When it says MW_OK the batch is the very one that
 * ingest_json_load() + ingest_batch_parse() would have produced from the
 * same text; anything else means "not recognised": the caller runs the
 * general parser, which also writes the error messages. */
#ifndef MW_HUB_WIRE_H
#define MW_HUB_WIRE_H

#include "hub/ingest.h"

/* MW_OK with *out filled (free it with ingest_batch_free), or
 * MW_ERR_INVALID (not the canonical shape, or not valid) / MW_ERR_NOMEM
 * with *out empty. Says nothing about why: the general parser will.
 * Does not check events against drop ranges (ingest.c does both ways). */
int wire_batch_scan(const char *text, size_t len, struct ingest_batch *out) MW_MUST_CHECK;

/* True when text[0..len) is exactly how jansson writes the JSON number it
 * denotes (what event_set_attrs() would make of it). Exposed for tests. */
bool wire_number_canonical(const char *text, size_t len);

#endif
