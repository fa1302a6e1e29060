/* fuzz_event.c -- libFuzzer harness for the event parser and the chain.
 *
 * Events reach the edge from any local producer and the hub from any edge,
 * so event_from_json() sees hostile JSON. Each input is parsed with jansson
 * and read in both forms (local, from a producer; wire, from an edge). Every
 * event that parses is then sealed, verified, written in the wire form and
 * parsed back, and the harness aborts unless the copy has the very same
 * canonical bytes and hash: the property the whole chain rests on (edge and
 * hub hash the same bytes for the same event, whoever wrote the JSON).
 *
 * When the input is an array, each element is tried, so a seed can hold
 * several events. */
#include "core/buf.h"
#include "core/event.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_CAP (4 * EVENT_ATTRS_MAX)

static void check_error(int rc, const char *err)
{
	if (rc != MW_ERR_INVALID && rc != MW_ERR_TOOBIG && rc != MW_ERR_NOMEM)
		abort();
	if (rc != MW_ERR_NOMEM && err[0] == '\0')
		abort(); /* a refusal must name the field */
}

/* Writes e in the wire form, reads it back and compares the canonical
 * encodings and hashes byte for byte. */
static void round_trip(const struct event *e, struct buf *wire, struct buf *a, struct buf *b)
{
	struct event copy;
	json_error_t jerr;
	json_t *j;
	char err[256] = "";

	buf_reset(wire);
	buf_reset(a);
	buf_reset(b);
	if (event_to_wire(e, wire) || event_canon(e, a))
		abort();
	j = json_loadb(wire->data, wire->len, 0, &jerr);
	if (!j)
		abort(); /* our own output must be JSON */
	if (event_from_json(j, EVENT_FORM_WIRE, &copy, err, sizeof(err)))
		abort(); /* and must parse as a wire event */
	json_decref(j);
	if (event_canon(&copy, b))
		abort();
	if (a->len != b->len || memcmp(a->data, b->data, a->len))
		abort();
	if (memcmp(copy.hash, e->hash, EVENT_HASH_LEN) ||
	    memcmp(copy.prev, e->prev, EVENT_HASH_LEN))
		abort();
	if (event_verify(&copy, b))
		abort();
	event_clear(&copy);
}

static void try_form(const json_t *obj, enum event_form form, struct buf *bufs)
{
	static const uint8_t zero[EVENT_HASH_LEN];
	struct event e, tampered;
	uint8_t prev[EVENT_HASH_LEN];
	char err[256] = "";
	int rc;

	rc = event_from_json(obj, form, &e, err, sizeof(err));
	if (rc) {
		check_error(rc, err);
		return;
	}
	if (form == EVENT_FORM_LOCAL) {
		/* The edge stamps these at append. */
		mw_strlcpy(e.node, "fuzz-edge", sizeof(e.node));
		e.seq = 1;
	}
	rc = event_verify(&e, &bufs[0]); /* a wire event's own hash may be wrong */
	if (rc != MW_OK && rc != MW_ERR_INVALID)
		abort();
	memcpy(prev, form == EVENT_FORM_WIRE ? e.prev : zero, sizeof(prev));
	if (event_seal(&e, prev, &bufs[0]))
		abort();
	if (event_verify(&e, &bufs[0]))
		abort();
	round_trip(&e, &bufs[0], &bufs[1], &bufs[2]);

	/* Any change to a hashed field must fail verification. */
	if (event_copy(&tampered, &e))
		abort();
	tampered.seq++;
	if (event_verify(&tampered, &bufs[0]) != MW_ERR_INVALID)
		abort();
	event_clear(&tampered);
	event_clear(&e);
}

static void try_event(const json_t *obj, struct buf *bufs)
{
	try_form(obj, EVENT_FORM_LOCAL, bufs);
	try_form(obj, EVENT_FORM_WIRE, bufs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf bufs[3];
	json_error_t jerr;
	json_t *root, *v;
	size_t i;

	root = json_loadb((const char *)data, size, 0, &jerr);
	if (!root)
		return 0;
	for (i = 0; i < MW_ARRAY_LEN(bufs); i++)
		buf_init(&bufs[i], WIRE_CAP);
	if (json_is_array(root)) {
		json_array_foreach(root, i, v)
		{
			if (i >= 64)
				break;
			try_event(v, bufs);
		}
	} else {
		try_event(root, bufs);
	}
	for (i = 0; i < MW_ARRAY_LEN(bufs); i++)
		buf_free(&bufs[i]);
	json_decref(root);
	return 0;
}
