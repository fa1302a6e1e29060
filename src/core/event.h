/* event.h -- the event: one model from detector to hub.
 *
 * Every fact an edge learns becomes an event. Events of one node form a hash
 * chain: hash = SHA-256(prev || canon), where prev is the previous event's
 * hash (32 zero bytes before seq 1) and canon the canonical encoding written
 * by event_canon() and specified in docs/protocol.md. Edge and hub both use
 * this one function, so they cannot disagree on the bytes.
 *
 * Identifiers (node, source, kind) are short and restricted to
 * [A-Za-z0-9._:/-], so they never need escaping. attrs is kept as its
 * canonical JSON text (sorted keys, compact, ASCII), made once where the
 * event enters the system, so appending and hashing never re-parse it. */
#ifndef MW_EVENT_H
#define MW_EVENT_H

#include "core/buf.h"
#include "core/mw.h"

#include <jansson.h>
#include <stdbool.h>

#define EVENT_ID_MAX 64          /* node, source and kind, without the NUL */
#define EVENT_ATTRS_MAX 65536    /* canonical attrs text */
#define EVENT_BLOBS_MAX 16       /* blob references per event */
#define EVENT_HASH_LEN 32
#define EVENT_HEX_LEN (2 * EVENT_HASH_LEN)

enum severity { SEV_DEBUG, SEV_INFO, SEV_WARNING, SEV_ALARM };

struct event {
	uint64_t seq;             /* per node, from 1, never reused */
	int64_t ts;               /* ns since the Unix epoch, UTC */
	enum severity severity;
	char node[EVENT_ID_MAX + 1];
	char source[EVENT_ID_MAX + 1];
	char kind[EVENT_ID_MAX + 1];
	char *attrs;              /* owned canonical JSON object text; NULL = "{}" */
	char *blobs;              /* owned canonical JSON array of hex hashes; NULL = "[]" */
	uint8_t prev[EVENT_HASH_LEN];
	uint8_t hash[EVENT_HASH_LEN];
};

/* Which fields event_from_json() expects. */
enum event_form {
	EVENT_FORM_LOCAL, /* from a producer: source, kind, severity, [ts], [attrs], [blobs] */
	EVENT_FORM_WIRE,  /* edge to hub: all fields, with seq, prev and hash */
};

const char *severity_name(enum severity s);
int severity_parse(const char *name, enum severity *out) MW_MUST_CHECK;
bool event_id_valid(const char *s);

void event_init(struct event *e);
void event_clear(struct event *e); /* frees attrs and blobs, keeps nothing */
/* Deep copy; dst must be initialised or cleared. */
int event_copy(struct event *dst, const struct event *src) MW_MUST_CHECK;

/* Canonicalises attrs (a JSON object) into e->attrs. */
int event_set_attrs(struct event *e, const json_t *attrs, char *err, size_t errlen) MW_MUST_CHECK;
/* Takes already canonical text as is (from our own store). */
int event_set_attrs_text(struct event *e, const char *text) MW_MUST_CHECK;
int event_set_blobs_text(struct event *e, const char *text) MW_MUST_CHECK;

/* Appends the canonical encoding to out. */
int event_canon(const struct event *e, struct buf *out) MW_MUST_CHECK;
/* Sets e->prev and e->hash. scratch is reused between calls to spare mallocs. */
int event_seal(struct event *e, const uint8_t prev[EVENT_HASH_LEN], struct buf *scratch) MW_MUST_CHECK;
/* 0 when e->hash = SHA-256(e->prev || canon(e)), MW_ERR_INVALID otherwise. */
int event_verify(const struct event *e, struct buf *scratch) MW_MUST_CHECK;

/* Parses one event. On bad input returns MW_ERR_INVALID with a message
 * naming the field in err, e.g. "severity: must be one of debug, info,
 * warning, alarm". */
int event_from_json(const json_t *obj, enum event_form form, struct event *e, char *err,
		    size_t errlen) MW_MUST_CHECK;
/* Appends the wire form: the canonical encoding plus "prev" and "hash". */
int event_to_wire(const struct event *e, struct buf *out) MW_MUST_CHECK;
/* The wire form as a jansson object (for the hub's query answers). */
json_t *event_to_json(const struct event *e);

#endif
