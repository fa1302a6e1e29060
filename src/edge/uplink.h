/* uplink.h -- forwards the store's unsent events to the hub.
 *
 * A thread named "uplink" reads unsent events and open drop ranges from the
 * store, POSTs them as one batch to HUB/v1/ingest (zstd-compressed when
 * asked), and records the hub's acknowledged seq with store_ack(). It never
 * deletes anything: on failure it backs off (network errors and 5xx:
 * exponential with full jitter; 4xx: straight to the longest wait, since
 * retrying will not fix it) and reads the batch again from the store
 * before the next attempt, so a retry never sends events the quota policy
 * deleted meanwhile. After a restart it resumes from the store's acked seq.
 *
 * Evidence blobs (edge/blobs.h) follow the events: after each accepted
 * batch, and when no events are due, the thread PUTs a few blobs not yet
 * uploaded (oldest first) to HUB/v1/blobs/HASH and marks each uploaded on
 * 200/201. Blobs never hold events back for more than UPLINK_BLOBS_PER_ROUND
 * uploads. */
#ifndef MW_EDGE_UPLINK_H
#define MW_EDGE_UPLINK_H

#include "core/buf.h"
#include "core/event.h"
#include "core/mw.h"
#include "edge/blobs.h"
#include "edge/store.h"

#include <stdbool.h>
#include <stdint.h>

struct uplink;

struct uplink_options {
	const char *node;
	const char *hub_url; /* base URL; "/v1/ingest" is appended */
	const char *token;
	const char *ca_file; /* https: the hub's CA (PEM); NULL or "" = the system's */
	size_t batch_events;
	size_t batch_bytes;
	bool compress;
	int64_t backoff_min_ms, backoff_max_ms;
	long timeout_ms;
	struct blobs *blobs; /* evidence to upload after the events; NULL = none */
};

#define UPLINK_BLOBS_PER_ROUND 4

enum uplink_state { UPLINK_CONNECTING, UPLINK_CONNECTED, UPLINK_UNREACHABLE, UPLINK_REJECTED };

struct uplink_stats {
	uint64_t batches;     /* batches the hub accepted */
	uint64_t errors;      /* failed sends (transport, 4xx, 5xx) */
	uint64_t events_sent; /* events in accepted batches */
	uint64_t acked_seq;
	uint64_t blobs_uploaded; /* blobs the hub answered 200 or 201 to */
	uint64_t blob_errors;	 /* failed blob uploads */
	enum uplink_state state;
};

int uplink_new(const struct uplink_options *opt, struct store *store,
	       struct uplink **out) MW_MUST_CHECK;
int uplink_start(struct uplink *u) MW_MUST_CHECK;
/* Tells the thread new events are there (from the store's append path). */
void uplink_wake(struct uplink *u);
void uplink_stop(struct uplink *u);
void uplink_free(struct uplink *u);
void uplink_stats(struct uplink *u, struct uplink_stats *out);
const char *uplink_state_name(enum uplink_state s);

/* Builds the ingest body {"node", "events", "drops"} from events[0..n) in
 * out, stopping before the event that would take the body past max_bytes
 * (the first event always goes in). Returns the number of events written
 * through *used. Events are written in their wire form, as is. */
int uplink_build_body(const char *node, const struct event *events, size_t n,
		      const struct store_drop *drops, size_t ndrops, size_t max_bytes,
		      struct buf *out, size_t *used) MW_MUST_CHECK;
/* zstd-compresses in[0..len) into out (replacing its contents). */
int uplink_compress(const void *in, size_t len, int level, struct buf *out) MW_MUST_CHECK;

#endif
