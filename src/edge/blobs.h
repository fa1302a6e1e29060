/* blobs.h -- the edge's content-addressed blob store (evidence snapshots).
 *
 * A blob is an opaque byte string (a JPEG snapshot, mostly) named by the
 * lower-case hex SHA-256 of its bytes, the name events carry in `blobs`.
 * Files live in DATA_DIR/blobs/ab/cdef... (the hash split after two digits,
 * as git does, so no directory holds more than 1/256 of them); an index in
 * DATA_DIR/blobs.db records each blob's size, age, the most severe event
 * that references it, and whether the hub has it.
 *
 * A blob is written to DATA_DIR/blobs/tmp/, fsynced, renamed to its final
 * name and its directory fsynced, and only then indexed: a kill -9 or a
 * power loss never leaves a partial file under a final name. Leftover temp
 * files, and final files the index does not know (a put or an eviction cut
 * short), are deleted at open; index rows whose file is gone are dropped.
 *
 * Blobs have their own disk quota (blobs.quota). A put that would exceed
 * it first deletes, oldest first: blobs the hub already has (or refused),
 * then blobs not yet uploaded that no alarm references, then the rest. Each
 * deletion of a blob not yet at the hub is counted as a drop.
 *
 * Thread-safe: every call takes one mutex (puts are rare next to events,
 * and serialising them keeps eviction and writing from racing). */
#ifndef MW_EDGE_BLOBS_H
#define MW_EDGE_BLOBS_H

#include "core/blobdir.h"
#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOBS_HEX_LEN BLOBDIR_HEX_LEN

struct blobs;

struct blobs_options {
	const char *data_dir; /* blobs/ and blobs.db go here */
	int64_t quota;	      /* bytes of blob files; 0 = no limit */
	int64_t max_size;     /* largest blob accepted */
};

/* A blob name: 64 lower-case hex digits and a NUL. */
struct blob_hash {
	char hex[BLOBS_HEX_LEN + 1];
};

struct blobs_stats {
	uint64_t count;	  /* blobs stored */
	uint64_t bytes;	  /* bytes of their files */
	uint64_t pending; /* stored and not yet uploaded */
	uint64_t dropped; /* deleted by the quota before the hub had them, ever */
	uint64_t evicted; /* deleted by the quota after upload, ever */
	int64_t quota, max_size;
};

int blobs_open(const struct blobs_options *opt, struct blobs **out) MW_MUST_CHECK;
void blobs_close(struct blobs *b);

/* Stores data (idempotent: the same bytes give the same hash and are stored
 * once) and writes its hash into hash_out. MW_ERR_TOOBIG over max_size or
 * over the whole quota; MW_ERR_IO when the disk refuses. */
int blobs_put(struct blobs *b, const void *data, size_t len,
	      struct blob_hash *hash_out) MW_MUST_CHECK;
/* The file of a stored blob; MW_ERR_NOTFOUND when there is none. */
int blobs_get_path(struct blobs *b, const char *hex, char *path, size_t cap) MW_MUST_CHECK;
bool blobs_has(struct blobs *b, const char *hex);
/* The stored blob's bytes into out (replacing them); MW_ERR_NOTFOUND when
 * there is none. */
int blobs_read(struct blobs *b, const char *hex, struct buf *out) MW_MUST_CHECK;
/* Records that an event of this severity references the blob (it raises
 * the blob's priority under the quota); unknown hashes are ignored. */
int blobs_ref(struct blobs *b, const char *hex, enum severity sev) MW_MUST_CHECK;
int blobs_mark_uploaded(struct blobs *b, const char *hex) MW_MUST_CHECK;
/* The hub refused the blob for good (400, 413): never retried, evicted
 * first. */
int blobs_mark_refused(struct blobs *b, const char *hex) MW_MUST_CHECK;
/* Up to max blobs not yet uploaded, oldest first. Free *out with free(). */
int blobs_pending(struct blobs *b, size_t max, struct blob_hash **out, size_t *n) MW_MUST_CHECK;
int blobs_stats(struct blobs *b, struct blobs_stats *out) MW_MUST_CHECK;

#endif
