/* blobs.h -- the hub's content-addressed blob store and its routes.
 *
 * Edges upload evidence snapshots here after the events that reference
 * them: PUT /v1/blobs/HASH with the node's ingest token. The hub checks that
 * SHA-256(body) is HASH, so a blob can never be stored under a name that is
 * not its content's, and keeps it in DATA_DIR/blobs/ab/cdef... (as the edge
 * does). GET and HEAD /v1/blobs/HASH serve it to whoever may read events.
 * Functions are prefixed hub_blobs_ so they never clash with the edge's
 * blobs_ in programs that link both (the tests). */
#ifndef MW_HUB_BLOBS_H
#define MW_HUB_BLOBS_H

#include "core/buf.h"
#include "core/mw.h"
#include "hub/http.h"

#include <stdbool.h>
#include <stdint.h>

#define HUB_BLOBS_PREFIX "/v1/blobs/"

struct hub_blobs;

/* Creates DATA_DIR/blobs when missing, deletes unfinished writes, and
 * counts what is stored. */
int hub_blobs_open(const char *data_dir, struct hub_blobs **out) MW_MUST_CHECK;
void hub_blobs_close(struct hub_blobs *b);

/* Stores data under hex after checking that hex is its SHA-256
 * (MW_ERR_INVALID otherwise, nothing stored). Atomic (temp file, fsync,
 * rename, fsync of the directory) and idempotent: *created is false when
 * the blob was already there. */
int hub_blobs_put(struct hub_blobs *b, const char *hex, const void *data, size_t len,
		  bool *created) MW_MUST_CHECK;
/* Appends the blob's bytes to out; MW_ERR_NOTFOUND when absent. */
int hub_blobs_read(struct hub_blobs *b, const char *hex, struct buf *out) MW_MUST_CHECK;
/* Blobs stored and their bytes. */
void hub_blobs_counts(struct hub_blobs *b, uint64_t *count, uint64_t *bytes);

/* PUT /v1/blobs/HASH (node token) and GET/HEAD /v1/blobs/HASH. */
void hub_blobs_handle_put(struct hub *h, struct http_req *req, struct http_resp *resp);
void hub_blobs_handle_get(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
