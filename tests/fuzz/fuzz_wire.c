/* fuzz_wire.c -- differential harness: the hub's fast batch scanner
 * (hub/wire.c, through ingest_batch_scan()) against the general jansson
 * path (hub/ingest.c).
 *
 * The promise wire.h makes is that the scanner either declines or yields
 * the very batch ingest_json_load() + ingest_batch_parse() make of the
 * same text. If it ever accepted a batch the general path refuses, or
 * read a field differently, a hostile edge could store what validation
 * forbids or the chain check would hash text that differs from what is
 * stored. The harness aborts on any such difference.
 *
 * The same input also checks wire_number_canonical() against jansson:
 * a literal is canonical exactly when jansson reads it and writes it back
 * byte for byte (with event_set_attrs()'s flags). */
#include "hub/ingest.h"
#include "hub/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)

static const char *or_empty(const char *s, const char *empty) { return s ? s : empty; }

static bool same_event(const struct event *a, const struct event *b)
{
	return a->seq == b->seq && a->ts == b->ts && a->severity == b->severity &&
	       !strcmp(a->node, b->node) && !strcmp(a->source, b->source) &&
	       !strcmp(a->kind, b->kind) &&
	       !strcmp(or_empty(a->attrs, "{}"), or_empty(b->attrs, "{}")) &&
	       !strcmp(or_empty(a->blobs, "[]"), or_empty(b->blobs, "[]")) &&
	       !memcmp(a->prev, b->prev, EVENT_HASH_LEN) && !memcmp(a->hash, b->hash, EVENT_HASH_LEN);
}

static bool same_batch(const struct ingest_batch *a, const struct ingest_batch *b)
{
	if (strcmp(a->node, b->node) || a->n_events != b->n_events || a->n_drops != b->n_drops)
		return false;
	for (size_t i = 0; i < a->n_events; i++)
		if (!same_event(&a->events[i], &b->events[i]))
			return false;
	for (size_t j = 0; j < a->n_drops; j++) {
		const struct db_drop *x = &a->drops[j], *y = &b->drops[j];
		if (x->from != y->from || x->to != y->to || strcmp(x->reason, y->reason) ||
		    memcmp(x->prev, y->prev, EVENT_HASH_LEN) || memcmp(x->last, y->last, EVENT_HASH_LEN))
			return false;
	}
	return true;
}

static void check_batch(const char *text, size_t len)
{
	struct ingest_batch fast, slow;
	json_t *root = NULL;
	char err[512];

	if (!ingest_batch_scan(text, len, &fast)) {
		if (fast.events || fast.drops || fast.n_events || fast.n_drops)
			abort(); /* a decline hands back nothing */
		return;
	}
	if (ingest_json_load(text, len, &root, err, sizeof(err)) ||
	    ingest_batch_parse(root, &slow, err, sizeof(err)))
		abort(); /* the scanner took what the general path refuses */
	if (!same_batch(&fast, &slow))
		abort();
	ingest_batch_free(&slow);
	ingest_batch_free(&fast);
	json_decref(root);
}

static void check_number(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	bool canonical = false;

	if (v && (json_is_integer(v) || json_is_real(v))) {
		char *out = json_dumps(v, DUMP_FLAGS);
		canonical = out && strlen(out) == len && memcmp(out, text, len) == 0;
		free(out);
	}
	json_decref(v);
	if (wire_number_canonical(text, len) != canonical)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_batch((const char *)data, size);
	if (size <= 40)
		check_number((const char *)data, size);
	return 0;
}
