/* store.h -- the edge's durable event store (SQLite, WAL).
 *
 * store_append() assigns each event its seq, chains its hash to the
 * previous event and returns once the events are committed: to the WAL
 * (sync=normal) or to the disk (sync=full). Appends from many threads share
 * commits (group commit): the first waiting thread becomes the leader and
 * commits everything queued behind it in one transaction.
 *
 * Events at or below the acknowledged seq are at the hub; the rest are
 * unsent. Under the disk quota the store deletes sent events first (oldest
 * first), then unsent ones by policy: lowest severity first, oldest first
 * within a severity, its own store.dropped events after other warnings,
 * alarms last. Every deletion of unsent events is recorded: a drop range
 * (from, to, prev hash, last hash, reason) that the uplink declares to the
 * hub, and a `store.dropped` event in the chain; when a store.dropped event
 * is deleted, its ranges are carried forward into the next one. */
#ifndef MW_EDGE_STORE_H
#define MW_EDGE_STORE_H

#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>

struct store;

enum store_sync { STORE_SYNC_NORMAL, STORE_SYNC_FULL };

struct store_options {
	const char *path;       /* database file; created when missing */
	const char *node;       /* this edge's node id, stamped on every event */
	enum store_sync sync;
	int64_t quota_bytes;    /* 0 = no quota */
};

/* One run of consecutive seqs deleted while unsent. */
struct store_drop {
	uint64_t from, to;               /* inclusive */
	uint8_t prev[EVENT_HASH_LEN];    /* hash of seq from-1 (zeros for seq 1) */
	uint8_t last[EVENT_HASH_LEN];    /* hash of seq to */
	char reason[32];                 /* "quota" */
};

struct store_stats {
	uint64_t last_seq;       /* highest seq appended */
	uint64_t acked_seq;      /* highest seq the hub acknowledged */
	uint64_t unsent;         /* events stored and not acknowledged */
	uint64_t stored;         /* events stored */
	uint64_t dropped;        /* unsent events deleted by the quota policy, ever */
	uint64_t pruned;         /* sent events deleted to make room, ever */
	int64_t bytes_used;      /* database pages in use */
};

/* Called after each commit with the events just made durable, in seq
 * order, from the committing thread: keep it short (queue, don't block). */
typedef void (*store_append_fn)(const struct event *events, size_t n, void *arg);

int store_open(const struct store_options *opt, struct store **out) MW_MUST_CHECK;
void store_close(struct store *s);
void store_on_append(struct store *s, store_append_fn fn, void *arg);

/* Appends n events: sets node, seq, ts (when 0: now), prev and hash in the
 * caller's structs. Returns once they are committed. Thread-safe. */
int store_append(struct store *s, struct event *events, size_t n) MW_MUST_CHECK;

/* Reads up to max_events unsent events with seq > after, in seq order,
 * whose wire size stays within max_bytes (at least one event is returned
 * when any is unsent). The caller frees with store_events_free(). */
int store_read_unsent(struct store *s, uint64_t after, size_t max_events, size_t max_bytes,
		      struct event **out, size_t *n) MW_MUST_CHECK;
void store_events_free(struct event *events, size_t n);

/* Drop ranges with to > after (not yet covered by an ack), in seq order. */
int store_read_drops(struct store *s, uint64_t after, struct store_drop **out, size_t *n)
	MW_MUST_CHECK;

/* Both reads above from one snapshot of the database, so a quota pass in
 * between cannot put a seq both in an event and in a range, nor in
 * neither. Free with store_events_free() and free(). */
int store_read_batch(struct store *s, uint64_t after, size_t max_events, size_t max_bytes,
		     struct event **ev, size_t *n, struct store_drop **drops, size_t *nd)
	MW_MUST_CHECK;

/* Records that the hub holds everything up to seq. Never moves backwards. */
int store_ack(struct store *s, uint64_t seq) MW_MUST_CHECK;

int store_stats(struct store *s, struct store_stats *out) MW_MUST_CHECK;

#endif
